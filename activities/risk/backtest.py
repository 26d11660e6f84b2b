"""Backtesting a rule change: what the rule as it is and as proposed would have raised over
the same history, with examples. Pure: the activity loads the history and calls this."""

from __future__ import annotations

from datetime import datetime

import msgspec

from activities.risk.detectors import Finding, History, scan
from activities.risk.rules import RiskRule, major_reasons

EXAMPLES = 5


class BacktestExample(msgspec.Struct, frozen=True, kw_only=True):
    subject_kind: str
    subject: str
    region: str | None
    score: float
    at: datetime
    explanation: str
    explanation_en: str
    rows: int


class BacktestReport(msgspec.Struct, frozen=True, kw_only=True):
    rule: str
    days: int
    since: datetime
    until: datetime
    before: RiskRule
    after: RiskRule
    signals_before: int
    signals_after: int
    subjects_after: int
    """Distinct subjects: how many reviews the change would have opened."""
    added: int
    """Signals only the proposed rule raises."""
    dropped: int
    """Signals only the rule as it is raises."""
    examples: list[BacktestExample]
    """The strongest signals of the proposed rule, new ones first."""
    dropped_examples: list[BacktestExample]
    major: list[str]
    """Why this change needs a second super (empty: minor)."""
    major_zh: list[str] = []
    orders: int
    price_edits: int


def _example(f: Finding) -> BacktestExample:
    return BacktestExample(
        subject_kind=f.subject_kind, subject=f.subject, region=f.region, score=f.score, at=f.at,
        explanation=f.explanation, explanation_en=f.explanation_en, rows=len(f.rows),
    )


def _run(history: History, rule: RiskRule, others: list[RiskRule], since: datetime) -> list[Finding]:
    """The rule's findings in a whole scan, so what other rules explain better is left out
    exactly as a real scan leaves it out."""
    return [f for f in scan(history, [*others, rule], since) if f.rule == rule.key]


def _episode(f: Finding) -> tuple:
    """What an episode is, whatever the thresholds: its subject and its first evidence row."""
    return (f.subject_kind, f.subject, f.rows[0] if f.rows else f.key)


def compare(
    history: History, before: RiskRule, after: RiskRule, *, since: datetime, until: datetime, days: int, others: list[RiskRule] | None = None
) -> BacktestReport:
    """``others``: the other rules in force (their findings are computed, not reported)."""
    others = [r for r in (others or []) if r.key != before.key]
    old = _run(history, before, others, since)
    new = _run(history, after, others, since)
    old_keys, new_keys = {_episode(f) for f in old}, {_episode(f) for f in new}
    added = [f for f in new if _episode(f) not in old_keys]
    dropped = [f for f in old if _episode(f) not in new_keys]
    ranked = sorted(added, key=lambda f: -f.score) + sorted((f for f in new if _episode(f) in old_keys), key=lambda f: -f.score)
    return BacktestReport(
        rule=after.key, days=days, since=since, until=until, before=before, after=after,
        signals_before=len(old), signals_after=len(new), subjects_after=len({(f.subject_kind, f.subject) for f in new}),
        added=len(added), dropped=len(dropped),
        examples=[_example(f) for f in ranked[:EXAMPLES]],
        dropped_examples=[_example(f) for f in sorted(dropped, key=lambda f: -f.score)[:EXAMPLES]],
        major=major_reasons(before, after, len(old), len(new)),
        major_zh=major_reasons(before, after, len(old), len(new), "zh"),
        orders=len(history.orders), price_edits=len(history.price_edits),
    )
