"""Forensic questions to the audit trail, each one indexed query.

- who read a buyer's sensitive data since a moment: ``(target, at)``;
- everything an admin did in a period: ``(actor, at)``;
- a case's whole timeline: ``process_id`` and ``target``.

``regions`` None reads every region (global scope); otherwise only events in those regions.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from infra.db.tables import AuditEvent

SENSITIVE_READS = ("users.view_sensitive",)
"""Actions that record a read of sensitive user data (``api/routes/data.py`` writes them)."""


def _scoped(query, regions: tuple[str, ...] | None):
    if regions is None:
        return query
    return query.where(AuditEvent.region.is_in(list(regions) or ["-"]))


async def who_read(target: str, since: datetime, *, regions: tuple[str, ...] | None = None, limit: int = 500) -> list[dict[str, Any]]:
    """Sensitive reads of ``target`` (``buyer:<code>``) since ``since``, newest first."""
    query = (
        AuditEvent.select()
        .where((AuditEvent.target == target) & (AuditEvent.at >= since) & AuditEvent.action.is_in(list(SENSITIVE_READS)))
        .order_by(AuditEvent.at, ascending=False)
        .limit(limit)
        .output(load_json=True)
    )
    return await _scoped(query, regions)


async def actor_activity(
    actor: str, start: datetime, end: datetime, *, regions: tuple[str, ...] | None = None, limit: int = 1000
) -> list[dict[str, Any]]:
    """Everything ``actor`` did in ``[start, end)``, oldest first: allowed, denied and done."""
    query = (
        AuditEvent.select()
        .where((AuditEvent.actor == actor) & (AuditEvent.at >= start) & (AuditEvent.at < end))
        .order_by(AuditEvent.at)
        .limit(limit)
        .output(load_json=True)
    )
    return await _scoped(query, regions)


async def process_timeline(process_id: str, batch: int = 1000) -> AsyncIterator[dict[str, Any]]:
    """Every event of one case in chain order: its own, its tasks', denials on it."""
    last = 0
    while True:
        rows = await (
            AuditEvent.select()
            .where(((AuditEvent.process_id == process_id) | (AuditEvent.target == f"process:{process_id}")) & (AuditEvent.seq > last))
            .order_by(AuditEvent.seq)
            .limit(batch)
            .output(load_json=True)
        )
        for row in rows:
            yield row
        if len(rows) < batch:
            return
        last = rows[-1]["seq"]
