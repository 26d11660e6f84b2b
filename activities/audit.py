"""Audit writes from workflows."""

from __future__ import annotations

from temporalio import activity

from infra.db.audit import append
from workflows.domain.messages import AuditRecord


class AuditActivities:
    @activity.defn(name="write_audit")
    async def write_audit(self, record: AuditRecord) -> int:
        return await append(record)
