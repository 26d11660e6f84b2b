"""How well the detectors find what was planted: precision and recall per planted kind.

A generated platform (``infra.seed.build_plan``, labelled in its ``anomaly`` fields) is
scanned with the default rules; a kind's predicted rows are the evidence rows of the rule
that hunts it, its actual rows those labelled with it.

    report = await measure()                     # a generated history (seed 7, 12,000 orders)
    report = await measure(history, labels)      # any labelled history, e.g. the live database's
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import msgspec

from activities.risk.detectors import History, OrderRow, PriceEditRow, scan
from activities.risk.rules import DEFAULT_RULES, RiskRule

KIND_RULES = {"brushing": "brushing", "duplicate": "duplicate_orders", "night_burst": "admin_off_hours_edits"}
"""Planted kind -> the rule that should find it."""


class KindQuality(msgspec.Struct, frozen=True):
    kind: str
    rule: str
    planted: int
    flagged: int
    correct: int
    precision: float
    recall: float


class QualityReport(msgspec.Struct, frozen=True):
    kinds: dict[str, KindQuality]
    findings: int
    orders: int
    price_edits: int
    seconds: float
    """How long the scan took."""

    def passes(self, threshold: float = 0.9) -> bool:
        return all(k.precision >= threshold and k.recall >= threshold for k in self.kinds.values())


def labelled_history(now: datetime | None = None, rng_seed: int = 7, sizes=None) -> tuple[History, dict[str, str]]:
    """A generated platform as a History, and the label of every planted row (row id -> kind)."""
    from infra.seed import PlanSizes, build_plan

    plan = build_plan(now or datetime.now(UTC), rng_seed, sizes or PlanSizes(orders=12_000, buyers=1_500, rings=4, duplicate_pairs=20, burst_nights=5))
    regions = {m["code"]: m["region"] for m in plan.merchants}
    orders = [
        OrderRow(code=o["code"], buyer=o["buyer"], merchant=o["merchant"], product=o["product"], region=o["region"],
                 amount=o["amount"], status=o["status"], at=o["created_at"], anomaly=o["anomaly"])
        for o in plan.orders
    ]
    product_regions = {p["sku"]: p["region"] for p in plan.products}
    edits = [
        PriceEditRow(id=i, admin=c["admin"], product=c["product"], region=product_regions[c["product"]], old_price=c["old_price"],
                     new_price=c["new_price"], at=c["changed_at"], anomaly=c["anomaly"])
        for i, c in enumerate(plan.price_changes, start=1)
    ]
    return History(orders=orders, price_edits=edits, merchant_regions=regions), labels_of(History(orders=orders, price_edits=edits))


def labels_of(history: History) -> dict[str, str]:
    labels = {f"order:{o.code}": o.anomaly for o in history.orders if o.anomaly}
    labels |= {f"price_change:{e.id}": e.anomaly for e in history.price_edits if e.anomaly}
    return labels


async def measure(history: History | None = None, labels: dict[str, str] | None = None, rules: dict[str, RiskRule] | None = None) -> QualityReport:
    """Precision and recall of the planted kinds (each row counted once)."""
    if history is None:
        history, labels = labelled_history()
    labels = labels if labels is not None else labels_of(history)
    rules = rules or DEFAULT_RULES
    started = time.perf_counter()
    findings = scan(history, rules.values())
    seconds = time.perf_counter() - started
    kinds = {}
    for kind, rule_key in KIND_RULES.items():
        flagged = {row for f in findings if f.rule == rule_key for row in f.rows}
        planted = {row for row, label in labels.items() if label == kind}
        correct = len(flagged & planted)
        kinds[kind] = KindQuality(
            kind=kind, rule=rule_key, planted=len(planted), flagged=len(flagged), correct=correct,
            precision=round(correct / len(flagged), 4) if flagged else (1.0 if not planted else 0.0),
            recall=round(correct / len(planted), 4) if planted else 1.0,
        )
    return QualityReport(kinds=kinds, findings=len(findings), orders=len(history.orders), price_edits=len(history.price_edits), seconds=round(seconds, 3))


async def measure_database(now: datetime | None = None, days: int = 90) -> QualityReport:
    """The same figures over the live database's labelled history (the demo platform's
    ``anomaly`` columns), with the rules in force."""
    from activities.risk.store import load_history, load_rules

    history = await load_history(now or datetime.now(UTC), days)
    return await measure(history, labels_of(history), await load_rules())
