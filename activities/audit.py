"""Audit writes from workflows, and the periodic seal of the trail's head."""

from __future__ import annotations

import logging

import msgspec
from temporalio import activity

from infra.db.audit import AuditChainBroken, append, seal
from infra.db.engine import write_transaction
from infra.db.processes import record_event
from infra.settings import get_settings
from workflows.domain.messages import AuditRecord


log = logging.getLogger("kameng.audit")


class SealAuditResult(msgspec.Struct, frozen=True, kw_only=True):
    seal_id: int | None
    seq: int | None
    refused: str | None = None
    """Why no seal was made: the chain since the previous seal does not verify."""
    next_in_seconds: int
    """When the next seal is due (``KAMENG_AUDIT_SEAL_MINUTES``)."""


class AuditActivities:
    @activity.defn(name="write_audit")
    async def write_audit(self, record: AuditRecord) -> int:
        """The event, and with it the process's row (its start, its latest event, its end)."""
        if record.process_id is None:
            return await append(record)
        async with write_transaction():
            seq = await append(record)
            await record_event(record)
        return seq

    @activity.defn(name="seal_audit")
    async def seal_audit(self) -> SealAuditResult:
        """Seal now; a broken chain is refused (logged as an error) and tried again next time."""
        next_in_seconds = max(1, get_settings().audit_seal_minutes) * 60
        try:
            sealed = await seal()
        except AuditChainBroken as exc:
            log.error("audit seal refused: %s", exc)
            return SealAuditResult(seal_id=None, seq=None, refused=str(exc), next_in_seconds=next_in_seconds)
        return SealAuditResult(seal_id=sealed.id, seq=sealed.seq, next_in_seconds=next_in_seconds)
