"""Risk control (SPEC §6): detectors and baselines over the platform's event history
(``detectors``, ``baseline``), rules as data (``rules``), backtests (``backtest``), the
database side (``store``) and the quality measure (``quality``). ``RiskActivities`` is what
the worker runs.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
from temporalio import activity

from activities.risk.backtest import BacktestReport, compare
from activities.risk.rules import DEFAULT_RULES, RiskRule, RuleChange, apply_change


class ScanRequest(msgspec.Struct, frozen=True, kw_only=True):
    at: datetime | None = None
    """The scan's "now" (the workflow's clock); None: the wall clock. A clock ahead of the
    wall clock (a test server skipping time) is taken as the wall clock: no history lies in
    the future."""
    open_reviews: bool = True


def scan_time(at: datetime | None) -> datetime:
    wall = datetime.now(UTC)
    return wall if at is None else min(at, wall)


class ScanSummary(msgspec.Struct, frozen=True, kw_only=True):
    findings: int
    new: int
    reviews: list[str]
    """Risk reviews opened by this scan."""
    joined: int
    """New findings that joined a review already open for their subject."""
    orders: int
    seconds: float
    next_scan_seconds: int
    """How long to sleep before the next scan (``KAMENG_RISK_SCAN_SECONDS``)."""


class BacktestRequest(msgspec.Struct, frozen=True, kw_only=True):
    rule: str
    change: RuleChange
    days: int
    at: datetime | None = None


class RuleApply(msgspec.Struct, frozen=True, kw_only=True):
    rule: RiskRule
    """The new version (its ``version`` is the stored one plus one)."""
    expected_version: int
    at: datetime
    process_id: str


class RuleApplied(msgspec.Struct, frozen=True, kw_only=True):
    applied: bool
    version: int
    """The version stored after the call."""


async def run_backtest(rule_key: str, change: RuleChange, days: int, at: datetime | None = None) -> BacktestReport:
    """Load the rule in force and the history, and compare it with the proposed version."""
    from activities.risk.store import load_history, load_rules
    from infra.settings import get_settings

    now = scan_time(at)
    rules = await load_rules()
    before = rules[rule_key]
    after = apply_change(before, change)
    history = await load_history(now, max(days, get_settings().risk_lookback_days))
    return compare(history, before, after, since=now - timedelta(days=days), until=now, days=days, others=list(rules.values()))


class RiskActivities:
    @activity.defn(name="run_risk_scan")
    async def run_risk_scan(self, request: ScanRequest) -> ScanSummary:
        from activities.risk.store import run_scan
        from infra.settings import get_settings
        from workflows.process import ProcessConfig

        settings = get_settings()
        info = activity.info()
        result = await run_scan(
            scan_time(request.at), days=settings.risk_lookback_days,
            client=activity.client() if request.open_reviews else None, task_queue=info.task_queue,
            config=ProcessConfig(search_attributes=settings.search_attributes),
        )
        return ScanSummary(
            findings=len(result.findings), new=result.new,
            reviews=[r.process_id for r in result.reviews if not r.joined],
            joined=sum(r.findings for r in result.reviews if r.joined), orders=result.orders,
            seconds=result.seconds, next_scan_seconds=max(settings.risk_scan_seconds, 1),
        )

    @activity.defn(name="load_risk_rule")
    async def load_risk_rule(self, key: str) -> RiskRule:
        from activities.risk.store import load_rules

        return (await load_rules()).get(key) or DEFAULT_RULES[key]

    @activity.defn(name="backtest_risk_rule")
    async def backtest_risk_rule(self, request: BacktestRequest) -> BacktestReport:
        return await run_backtest(request.rule, request.change, request.days, request.at)

    @activity.defn(name="apply_risk_rule")
    async def apply_risk_rule(self, request: RuleApply) -> RuleApplied:
        from activities.risk.store import load_rules, save_rule

        stored = await save_rule(request.rule, expected_version=request.expected_version, at=request.at, process_id=request.process_id)
        current = (await load_rules())[request.rule.key]
        # A retried call finds its own version stored: that is success too.
        return RuleApplied(applied=stored or current.version == request.rule.version and current.params == request.rule.params, version=current.version)
