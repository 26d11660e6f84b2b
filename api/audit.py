"""Audit writes from the HTTP layer: sign-ins, denials, sensitive reads."""

from __future__ import annotations

from typing import Protocol

from infra.db.audit import append
from workflows.domain.messages import AuditRecord
from workflows.domain.policy import Actor


class Asker(Protocol):
    """Who asked and from where: an API principal or the command layer's ``Requester``."""

    @property
    def actor(self) -> Actor: ...

    @property
    def source(self) -> str: ...


async def audit_denied(principal: Asker, action: str, target: str, code: str, reason: str, region: str | None = None) -> None:
    await append(
        AuditRecord(
            actor=principal.actor.id, actor_tier=principal.actor.tier, action=action, target=target,
            outcome="denied", reason=f"{code}: {reason}", region=region, source=principal.source,
        )
    )
