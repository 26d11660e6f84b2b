"""The tier configuration (弹性级别设置): anyone signed in reads it; a super changes a tier's
head-count cap, audited, within the SPEC's rules (the super tier holds 1 to 3)."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import get, patch
from litestar.di import Provide
from litestar.params import Parameter

from api import commands
from api.errors import error_responses
from api.schemas import TierUpdate
from api.security import Principal, provide_principal
from infra.db.directory import tiers as tier_rows

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
    await commands.set_tier_cap(commands.Requester(actor=principal.actor, source=principal.source), key, data.cap, data.reason)
    return next(_read(row) for row in await tier_rows() if row["key"] == key)


TIER_ROUTES = [list_tiers, configure_tier]
