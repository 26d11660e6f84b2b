"""The overview report each tier may see (SPEC §3 data row): global, regional, personal."""

from __future__ import annotations

from datetime import datetime, timedelta

import msgspec

from infra.db.tables import Dispute, LedgerEntry, Order, Task


class RegionFigures(msgspec.Struct, frozen=True):
    region: str
    gmv: int
    """Completed order value in cents."""
    orders: int
    refunds: int
    disputes: int
    complaint_rate: float
    """Disputes per order."""
    open_tasks: int
    overdue_tasks: int


class PersonalFigures(msgspec.Struct, frozen=True):
    tasks_decided: int
    tasks_claimed_open: int
    escalated_away: int
    """Tasks of my tier in my regions that escalated because nobody decided in time."""
    on_time_rate: float
    """Tasks decided before their due time, of those decided."""
    disputes_settled: int = 0
    """Disputes this admin mediated or ruled on that are settled (the appeal window closed or the appeal decided)."""
    disputes_unappealed: int = 0
    satisfaction: float | None = None
    """Of those, the share neither the buyer nor the merchant appealed: the parties' own verdict
    on the admin's decision. None when no dispute of theirs has settled yet."""


class Overview(msgspec.Struct, frozen=True):
    scope: str
    """``global``, ``region`` or ``own``."""
    since: datetime
    until: datetime
    regions: list[RegionFigures] = []
    fund_flows: dict[str, int] = {}
    """Ledger totals by operation kind (global only)."""
    personal: PersonalFigures | None = None


async def region_figures(region: str, since: datetime, now: datetime) -> RegionFigures:
    in_window = (Order.region == region) & (Order.created_at >= since)
    completed = await Order.select(Order.amount).where(in_window & (Order.status == "completed"))
    orders = await Order.count().where(in_window)
    refunds = await Order.count().where(in_window & (Order.status == "refunded"))
    disputes = await Dispute.count().where((Dispute.region == region) & (Dispute.opened_at >= since))
    open_tasks = await Task.count().where((Task.region == region) & Task.status.is_in(["open", "claimed"]))
    overdue = await Task.count().where((Task.region == region) & Task.status.is_in(["open", "claimed"]) & (Task.due_at < now))
    return RegionFigures(
        region=region, gmv=sum(r["amount"] for r in completed), orders=orders, refunds=refunds, disputes=disputes,
        complaint_rate=round(disputes / orders, 4) if orders else 0.0, open_tasks=open_tasks, overdue_tasks=overdue,
    )


async def fund_flows(since: datetime) -> dict[str, int]:
    totals: dict[str, int] = {}
    for row in await LedgerEntry.select(LedgerEntry.kind, LedgerEntry.amount).where(LedgerEntry.executed_at >= since):
        totals[row["kind"]] = totals.get(row["kind"], 0) + row["amount"]
    return totals


async def personal_figures(username: str, tier: str, regions: tuple[str, ...], since: datetime) -> PersonalFigures:
    decided = await Task.select(Task.closed_at, Task.due_at).where((Task.decided_by == username) & (Task.closed_at >= since))
    on_time = sum(1 for t in decided if t["due_at"] is None or t["closed_at"] <= t["due_at"])
    claimed = await Task.count().where((Task.assignee == username) & (Task.status == "claimed"))
    escalated = await Task.count().where(Task.region.is_in(list(regions) or ["-"]) & (Task.escalated == True) & (Task.created_at >= since))  # noqa: E712
    settled, unappealed = await dispute_satisfaction(username, since)
    return PersonalFigures(
        tasks_decided=len(decided), tasks_claimed_open=claimed, escalated_away=escalated,
        on_time_rate=round(on_time / len(decided), 4) if decided else 1.0,
        disputes_settled=settled, disputes_unappealed=unappealed,
        satisfaction=round(unappealed / settled, 4) if settled else None,
    )


async def dispute_satisfaction(username: str, since: datetime) -> tuple[int, int]:
    """(settled disputes this admin mediated or ruled on, of which neither party appealed)."""
    decided = await Task.select(Task.process_id).where(
        (Task.kind == "dispute") & Task.step.is_in(["mediate", "rule"]) & (Task.decided_by == username)
        & (Task.status == "done") & (Task.closed_at >= since)
    )
    process_ids = sorted({r["process_id"] for r in decided})
    if not process_ids:
        return 0, 0
    rows = await Dispute.select(Dispute.resolution).where(Dispute.process_id.is_in(process_ids)).output(load_json=True)
    settled = [r["resolution"] for r in rows if isinstance(r["resolution"], dict) and r["resolution"].get("refund") is not None]
    return len(settled), sum(1 for r in settled if not r.get("appeal"))


async def overview(scope: str, *, username: str, tier: str, regions: tuple[str, ...], all_regions: list[str], now: datetime, days: int = 30) -> Overview:
    since = now - timedelta(days=days)
    if scope == "global":
        return Overview(
            scope=scope, since=since, until=now,
            regions=[await region_figures(r, since, now) for r in all_regions],
            fund_flows=await fund_flows(since),
        )
    if scope == "region":
        return Overview(scope=scope, since=since, until=now, regions=[await region_figures(r, since, now) for r in regions])
    return Overview(scope=scope, since=since, until=now, personal=await personal_figures(username, tier, regions, since))
