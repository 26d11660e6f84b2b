"""The tier configuration (弹性级别设置): anyone signed in reads it; a super changes a tier's
head-count cap, audited, within the SPEC's rules (the super tier holds 1 to 3)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import msgspec
from litestar import get, patch
from litestar.di import Provide
from litestar.params import Parameter

from api.audit import audit_denied
from api.errors import ApiError, error_responses
from api.schemas import TierUpdate
from api.security import Principal, provide_principal
from infra.db.directory import tiers as tier_rows
from infra.db.tiers import TierRefused, set_tier_cap
from workflows.domain.policy import DEFAULT_POLICY, Subject

PRINCIPAL = {"principal": Provide(provide_principal)}
PERMISSION = "admins.configure_tiers"


class TierRead(msgspec.Struct, frozen=True):
    key: str
    rank: int
    name_zh: str
    name_en: str
    cap: int | None
    count: int
    """Active admins of the tier now."""


def _read(row: dict) -> TierRead:
    return TierRead(key=row["key"], rank=row["rank"], name_zh=row["name_zh"], name_en=row["name_en"], cap=row["cap"], count=row["count"])


@get("/api/tiers", summary="The tier configuration with head-counts", tags=["admins"], dependencies=PRINCIPAL, responses=error_responses(401))
async def list_tiers(principal: Principal) -> list[TierRead]:
    return [_read(row) for row in await tier_rows()]


@patch(
    "/api/tiers/{key:str}", summary="Change a tier's head-count cap (supers; audited)", tags=["admins"], dependencies=PRINCIPAL,
    responses=error_responses(400, 401, 403, 404, 409, 422),
)
async def configure_tier(principal: Principal, key: Annotated[str, Parameter(max_length=32)], data: TierUpdate) -> TierRead:
    actor = principal.actor
    target = f"tier:{key}"
    decision = DEFAULT_POLICY.can(actor, PERMISSION, Subject(kind="tier", id=key), now=datetime.now(UTC))
    if not decision.allowed:
        await audit_denied(principal, "tiers.configure", target, decision.code, decision.reason)
        raise ApiError(403, decision.code, decision.reason)
    try:
        await set_tier_cap(key, data.cap, actor=actor.id, actor_tier=actor.tier, reason=data.reason, source=principal.source)
    except TierRefused as exc:
        await audit_denied(principal, "tiers.configure", target, exc.code, exc.reason)
        status = {"unknown_tier": 404, "cap_out_of_range": 422}.get(exc.code, 409)
        raise ApiError(status, exc.code, exc.reason) from None
    return next(_read(row) for row in await tier_rows() if row["key"] == key)


TIER_ROUTES = [list_tiers, configure_tier]
