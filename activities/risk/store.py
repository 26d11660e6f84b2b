"""Risk control against the database: the rules in force, the event history, the signals
found and the reviews they open (one open review per subject and signal type)."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import msgspec
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError

from activities.risk.detectors import Finding, History, OrderRow, PriceEditRow, ReadRow, SettlementRow, scan
from activities.risk.rules import DEFAULT_RULES, RiskRule
from infra.db.tables import AuditEvent, LedgerEntry, Merchant, Order, ProductPriceChange
from infra.db.tables import RiskRule as RiskRuleRow
from infra.db.tables import RiskSignal

READ_ACTIONS = ("users.view", "users.view_sensitive", "users.export")
"""Audit actions that read (or export) user data."""
MAX_REVIEW_EVIDENCE = 60


class OpenedReview(msgspec.Struct, frozen=True, kw_only=True):
    process_id: str
    signal: str
    subject_kind: str
    subject: str
    region: str | None
    tier: str
    findings: int
    joined: bool
    """True when a review of this subject and signal was already open: the findings joined it."""


class ScanResult(msgspec.Struct, frozen=True, kw_only=True):
    findings: list[Finding]
    new: int
    """Findings not seen by an earlier scan."""
    reviews: list[OpenedReview]
    orders: int
    seconds: float = 0.0


# ----- rules -------------------------------------------------------------------------------------


async def load_rules() -> dict[str, RiskRule]:
    """The shipped defaults, each overlaid by the version a super last applied."""
    rules = dict(DEFAULT_RULES)
    for row in await RiskRuleRow.select().output(load_json=True):
        base = rules.get(row["key"])
        if base is None:
            continue
        rules[row["key"]] = msgspec.structs.replace(
            base, tier=row["tier"], enabled=row["enabled"], params={**base.params, **row["params"]},
            version=row["version"], updated_by=row["updated_by"],
        )
    return rules


async def save_rule(rule: RiskRule, *, expected_version: int, at: datetime, process_id: str | None) -> bool:
    """Store ``rule`` if the stored version is still ``expected_version``; False if another
    change came first (or this one was stored already by an earlier attempt)."""
    current = await RiskRuleRow.select(RiskRuleRow.version).where(RiskRuleRow.key == rule.key).first()
    values = dict(
        detector=rule.detector, signal=rule.signal, tier=rule.tier, enabled=rule.enabled, params=dict(rule.params),
        version=rule.version, updated_by=rule.updated_by, updated_at=at, process_id=process_id,
    )
    if current is None:
        if expected_version != 0:
            return False
        inserted = await RiskRuleRow.insert(RiskRuleRow(key=rule.key, **values)).on_conflict(action="DO NOTHING").returning(RiskRuleRow.id)
        return bool(inserted)
    if current["version"] != expected_version:
        return False
    updated = (
        await RiskRuleRow.update({getattr(RiskRuleRow, k): v for k, v in values.items()})
        .where((RiskRuleRow.key == rule.key) & (RiskRuleRow.version == expected_version))
        .returning(RiskRuleRow.id)
    )
    return bool(updated)


# ----- history -----------------------------------------------------------------------------------


async def load_history(now: datetime, days: int) -> History:
    """The last ``days`` of orders, price edits, reads of user data and settlements."""
    since = now - timedelta(days=days)
    orders = await Order.select(
        Order.code, Order.buyer.code, Order.merchant.code, Order.product.sku, Order.region, Order.amount,
        Order.status, Order.created_at, Order.anomaly,
    ).where((Order.created_at >= since) & (Order.created_at <= now))
    edits = await ProductPriceChange.select(
        ProductPriceChange.id, ProductPriceChange.admin.username, ProductPriceChange.product.sku,
        ProductPriceChange.product.region, ProductPriceChange.old_price, ProductPriceChange.new_price,
        ProductPriceChange.changed_at, ProductPriceChange.anomaly,
    ).where((ProductPriceChange.changed_at >= since) & (ProductPriceChange.changed_at <= now))
    reads = await AuditEvent.select(
        AuditEvent.seq, AuditEvent.actor, AuditEvent.action, AuditEvent.target, AuditEvent.region, AuditEvent.at
    ).where(AuditEvent.action.is_in(list(READ_ACTIONS)) & (AuditEvent.outcome == "allowed") & (AuditEvent.at >= since) & (AuditEvent.at <= now))
    settled = await LedgerEntry.select(
        LedgerEntry.operation_id, LedgerEntry.account, LedgerEntry.amount, LedgerEntry.executed_at
    ).where((LedgerEntry.kind == "merchant_settlement") & (LedgerEntry.executed_at >= since) & (LedgerEntry.executed_at <= now))
    regions = {m["code"]: m["region"] for m in await Merchant.select(Merchant.code, Merchant.region)}
    return History(
        orders=[
            OrderRow(o["code"], o["buyer.code"], o["merchant.code"], o["product.sku"], o["region"], o["amount"], o["status"], o["created_at"], o["anomaly"])
            for o in orders
        ],
        price_edits=[
            PriceEditRow(e["id"], e["admin.username"], e["product.sku"], e["product.region"], e["old_price"], e["new_price"], e["changed_at"], e["anomaly"])
            for e in edits
        ],
        reads=[ReadRow(r["seq"], r["actor"], r["action"], r["target"], r["region"], r["at"]) for r in reads],
        settlements=[SettlementRow(s["operation_id"], s["account"], regions.get(s["account"]), s["amount"], s["executed_at"]) for s in settled],
        merchant_regions=regions,
    )


# ----- signals and reviews -----------------------------------------------------------------------


def review_input(findings: list[Finding], rules: dict[str, RiskRule]):
    """One risk review's body for a subject's findings of one signal type."""
    from workflows.risk_review import RiskSignalInput

    top = max(findings, key=lambda f: f.score)
    explanation = "\n".join(f"· {f.explanation}" for f in sorted(findings, key=lambda f: f.at)[:8])
    if len(findings) > 8:
        explanation += f"\n· 另有 {len(findings) - 8} 条同类信号"
    evidence: list[dict] = []
    for f in sorted(findings, key=lambda f: -f.score):
        evidence += [row | {"rule": f.rule} for row in f.evidence]
    return RiskSignalInput(
        signal=top.signal, subject_kind=top.subject_kind, subject=top.subject, region=top.region,  # type: ignore[arg-type]
        score=top.score, explanation=explanation[:4000], evidence=evidence[:MAX_REVIEW_EVIDENCE],
        baseline=top.baseline | {"rule": top.rule, "signals": len(findings)},
        tier=rules[top.rule].tier if top.rule in rules else top.tier,  # type: ignore[arg-type]
    )


def _group_key(signal: str, subject_kind: str, subject: str, keys: list[str]) -> str:
    digest = hashlib.sha256("\n".join(sorted(keys)).encode()).hexdigest()[:10]
    return f"{signal}-{subject_kind}-{subject}-{digest}"


async def _open_review(client: Client, signal: str, subject_kind: str, subject: str) -> str | None:
    rows = await RiskSignal.select(RiskSignal.process_id).where(
        (RiskSignal.signal == signal) & (RiskSignal.subject_kind == subject_kind) & (RiskSignal.subject == subject) & RiskSignal.process_id.is_not_null()
    ).distinct()
    for row in rows:
        try:
            description = await client.get_workflow_handle(row["process_id"]).describe()
        except RPCError:
            continue
        if description.status == WorkflowExecutionStatus.RUNNING:
            return row["process_id"]
    return None


async def joined_findings(process_id: str) -> list[dict]:
    """The findings that joined a risk review after it opened (oldest first): the review's
    task holds the evidence of the findings that opened it, these came later."""
    return await (
        RiskSignal.select(
            RiskSignal.key, RiskSignal.rule, RiskSignal.score, RiskSignal.explanation, RiskSignal.explanation_en,
            RiskSignal.evidence, RiskSignal.baseline, RiskSignal.occurred_at,
        )
        .where((RiskSignal.process_id == process_id) & (RiskSignal.status == "joined"))
        .order_by(RiskSignal.occurred_at)
        .output(load_json=True)
    )


async def report_signal(
    body, key: str, *, by, client: Client, task_queue: str, config, now: datetime | None = None,
) -> tuple[str, bool]:
    """A signal reported by the platform (``by`` None) or by an admin, stored as a finding like
    the scan's: it opens a review, or joins the open review of the same subject and signal
    type. Returns (review process id, joined). The same ``key`` again answers the same review."""
    now = now or datetime.now(UTC)
    finding = Finding(
        key=key, rule="intake" if by is None else "reported", signal=body.signal, subject_kind=body.subject_kind,
        subject=body.subject, region=body.region, score=body.score, baseline=dict(body.baseline),
        evidence=[dict(row) for row in body.evidence], rows=[key], explanation=body.explanation,
        explanation_en=body.explanation, at=now, tier=body.tier,
    )
    _, reviews = await record_signals([finding], await load_rules(), client=client, task_queue=task_queue, config=config, now=now, by=by)
    if reviews:
        return reviews[0].process_id, reviews[0].joined
    row = await RiskSignal.select(RiskSignal.process_id, RiskSignal.status).where(RiskSignal.key == key).first()
    return row["process_id"], row["status"] == "joined"


async def record_signals(
    findings: list[Finding], rules: dict[str, RiskRule], *, client: Client | None, task_queue: str, config, now: datetime,
    by=None,
) -> tuple[int, list[OpenedReview]]:
    """Store the findings no earlier scan stored; with a client, open (or join) their reviews.

    Idempotent: a review's id comes from its findings' keys, so a retried call starts nothing
    twice, and stored findings are skipped.
    """
    from infra.temporal.processes import ProcessError, start_process
    from workflows.process import Start
    from workflows.risk_review import ROUTES
    from workflows.risk_review import SPEC as REVIEW

    keys = [f.key for f in findings]
    seen: set[str] = set()
    for i in range(0, len(keys), 500):
        seen |= {r["key"] for r in await RiskSignal.select(RiskSignal.key).where(RiskSignal.key.is_in(keys[i : i + 500]))}
    fresh = [f for f in findings if f.key not in seen]
    groups: dict[tuple[str, str, str], list[Finding]] = defaultdict(list)
    for f in fresh:
        groups[(f.signal, f.subject_kind, f.subject)].append(f)
    reviews: list[OpenedReview] = []
    for (signal, subject_kind, subject), group in groups.items():
        process_id, joined = None, False
        if client is not None:
            process_id = await _open_review(client, signal, subject_kind, subject)
            joined = process_id is not None
            if process_id is None:
                body = review_input(group, rules)
                key = _group_key(signal, subject_kind, subject, [f.key for f in group])
                try:
                    process_id = await start_process(client, REVIEW, by=by, body=body, key=key, task_queue=task_queue, config=config)
                except ProcessError as exc:
                    if exc.code != "already_started":
                        raise
                    process_id = REVIEW.workflow_id(Start(by=by, body=body, key=key))
            top = max(group, key=lambda f: f.score)
            reviews.append(
                OpenedReview(
                    process_id=process_id, signal=signal, subject_kind=subject_kind, subject=subject, region=top.region,
                    tier=rules[top.rule].tier if top.rule in rules else (top.tier or ROUTES[signal]), findings=len(group), joined=joined,
                )
            )
        await RiskSignal.insert(
            *(
                RiskSignal(
                    key=f.key, rule=f.rule, signal=f.signal, subject_kind=f.subject_kind, subject=f.subject, region=f.region,
                    score=f.score, baseline=f.baseline, evidence=f.evidence, rows=f.rows, explanation=f.explanation,
                    explanation_en=f.explanation_en, occurred_at=f.at, detected_at=now, process_id=process_id,
                    status="joined" if joined else ("opened" if process_id else "recorded"),
                )
                for f in group
            )
        ).on_conflict(action="DO NOTHING")
    return len(fresh), reviews


async def run_scan(
    now: datetime, *, days: int, client: Client | None, task_queue: str, config, since: datetime | None = None
) -> ScanResult:
    import time

    rules = await load_rules()
    history = await load_history(now, days)
    started = time.perf_counter()
    findings = scan(history, rules.values(), since)
    new, reviews = await record_signals(findings, rules, client=client, task_queue=task_queue, config=config, now=now)
    return ScanResult(findings=findings, new=new, reviews=reviews, orders=len(history.orders), seconds=round(time.perf_counter() - started, 3))
