"""Audit writes from workflows, and the periodic seal of the trail's head."""

from __future__ import annotations

import msgspec
from temporalio import activity

from infra.db.audit import append, seal
from infra.settings import get_settings
from workflows.domain.messages import AuditRecord


class SealAuditResult(msgspec.Struct, frozen=True, kw_only=True):
    seal_id: int
    seq: int
    next_in_seconds: int
    """When the next seal is due (``KAMENG_AUDIT_SEAL_MINUTES``)."""


class AuditActivities:
    @activity.defn(name="write_audit")
    async def write_audit(self, record: AuditRecord) -> int:
        return await append(record)

    @activity.defn(name="seal_audit")
    async def seal_audit(self) -> SealAuditResult:
        sealed = await seal()
        return SealAuditResult(seal_id=sealed.id, seq=sealed.seq, next_in_seconds=max(1, get_settings().audit_seal_minutes) * 60)
