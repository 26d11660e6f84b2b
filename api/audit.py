"""Audit writes from the HTTP layer: sign-ins, denials, sensitive reads."""

from __future__ import annotations

from api.security import Principal
from infra.db.audit import append
from workflows.domain.messages import AuditRecord


async def audit_denied(principal: Principal, action: str, target: str, code: str, reason: str, region: str | None = None) -> None:
    await append(
        AuditRecord(
            actor=principal.actor.id, actor_tier=principal.actor.tier, action=action, target=target,
            outcome="denied", reason=f"{code}: {reason}", region=region, source=principal.source,
        )
    )
