"""Reads the console needs beyond the inbox: admins, tiers, a case's audit events, audit search,
open risk by region, personal throughput. Read-only; every scope decision is the caller's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from infra.accounts import grant_from_row
from infra.db.tables import Admin, AuditEvent, PermissionGrant, Region, Task, TierConfig


async def list_admins() -> list[dict[str, Any]]:
    return await Admin.select(
        Admin.username, Admin.display_name, Admin.tier, Admin.regions, Admin.station_master, Admin.status,
    ).order_by(Admin.username)


async def active_grants(now: datetime | None = None) -> dict[str, list[dict[str, Any]]]:
    """Grants active now, by username."""
    now = now or datetime.now(UTC)
    rows = await PermissionGrant.select(
        PermissionGrant.all_columns(), PermissionGrant.admin.username.as_alias("username"),
    ).where((PermissionGrant.ends_at > now) & (PermissionGrant.starts_at <= now) & PermissionGrant.revoked_at.is_null())
    found: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        if grant_from_row(row).active_at(now):
            found.setdefault(row["username"], []).append(row)
    return found


async def tiers() -> list[dict[str, Any]]:
    """The tier configuration with each tier's head-count."""
    rows = await TierConfig.select().order_by(TierConfig.rank, ascending=False)
    counts: dict[str, int] = {}
    for admin in await Admin.select(Admin.tier).where(Admin.status == "active"):
        counts[admin["tier"]] = counts.get(admin["tier"], 0) + 1
    return [{**row, "count": counts.get(row["key"], 0)} for row in rows]


async def regions() -> list[dict[str, Any]]:
    return await Region.select().order_by(Region.key)


async def process_events(process_id: str) -> list[dict[str, Any]]:
    """Every audit event about one process, oldest first (its own, its tasks', denials on it)."""
    return await (
        AuditEvent.select()
        .where((AuditEvent.process_id == process_id) | (AuditEvent.target == f"process:{process_id}"))
        .order_by(AuditEvent.seq)
        .limit(1000)
        .output(load_json=True)
    )


async def open_processes(kind: str) -> list[dict[str, Any]]:
    """The open inbox tasks of one process kind (a pending appointment shows beside its admin)."""
    return await (
        Task.select(Task.process_id, Task.task_id, Task.evidence, Task.created_at)
        .where((Task.kind == kind) & Task.status.is_in(["open", "claimed"]))
        .order_by(Task.id, ascending=False)
        .output(load_json=True)
    )


async def process_tasks(process_id: str) -> list[dict[str, Any]]:
    return await Task.select().where(Task.process_id == process_id).order_by(Task.id).output(load_json=True)


async def search_audit(
    *,
    regions: tuple[str, ...] | None,
    actor: str | None = None,
    action: str | None = None,
    target: str | None = None,
    process_id: str | None = None,
    outcome: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 50,
    cursor: int | None = None,
) -> tuple[list[dict[str, Any]], int | None]:
    """A page of audit events, newest first; ``regions`` None means every region (global scope)."""
    query = AuditEvent.select().order_by(AuditEvent.seq, ascending=False).limit(limit).output(load_json=True)
    if regions is not None:
        query = query.where(AuditEvent.region.is_in(list(regions) or ["-"]))
    if actor:
        query = query.where(AuditEvent.actor == actor)
    if action:
        query = query.where(AuditEvent.action.like(f"%{action}%"))
    if target:
        query = query.where(AuditEvent.target.like(f"%{target}%"))
    if process_id:
        query = query.where(AuditEvent.process_id == process_id)
    if outcome:
        query = query.where(AuditEvent.outcome == outcome)
    if since:
        query = query.where(AuditEvent.at >= since)
    if until:
        query = query.where(AuditEvent.at < until)
    if cursor:
        query = query.where(AuditEvent.seq < cursor)
    rows = await query
    return rows, (rows[-1]["seq"] if len(rows) == limit else None)


async def open_risk_by_region() -> dict[str, int]:
    rows = await Task.select(Task.region).where((Task.kind == "risk-review") & Task.status.is_in(["open", "claimed"]))
    found: dict[str, int] = {}
    for row in rows:
        key = row["region"] or "-"
        found[key] = found.get(key, 0) + 1
    return found


async def decided_per_day(username: str, days: int = 14, now: datetime | None = None) -> list[tuple[str, int]]:
    """(date, tasks this admin decided that day), oldest first, days with none included."""
    now = now or datetime.now(UTC)
    start = (now - timedelta(days=days - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
    rows = await Task.select(Task.closed_at).where((Task.decided_by == username) & (Task.closed_at >= start))
    counts: dict[str, int] = {}
    for row in rows:
        day = row["closed_at"].astimezone(UTC).strftime("%m-%d")
        counts[day] = counts.get(day, 0) + 1
    out = []
    for offset in range(days):
        day = (start + timedelta(days=offset)).strftime("%m-%d")
        out.append((day, counts.get(day, 0)))
    return out


async def hints_for(regions: tuple[str, ...], limit: int = 20) -> list[dict[str, Any]]:
    """Open duplicate-order risk hints in these regions: what an intern may see (SPEC §3 risk row)."""
    rows = await (
        Task.select(Task.task_id, Task.title, Task.region, Task.evidence, Task.created_at)
        .where((Task.kind == "risk-review") & Task.status.is_in(["open", "claimed"]) & Task.region.is_in(list(regions) or ["-"]))
        .order_by(Task.id, ascending=False)
        .limit(200)
        .output(load_json=True)
    )
    hints = [r for r in rows if isinstance(r["evidence"], dict) and r["evidence"].get("signal") == "duplicate_order"]
    return hints[:limit]
