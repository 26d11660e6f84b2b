"""The tier configuration (弹性级别设置) as supers change it: one audited write per change."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from infra.db.audit import append
from infra.db.engine import serialize_writers, write_transaction
from infra.db.tables import Admin, TierConfig
from workflows.domain.messages import AuditRecord
from workflows.domain.tiers import DEFAULT_LADDER, Tier, TierLadder, check_cap

TIER_LOCK_KEY = 7_401_002
"""Serializes tier changes and cap changes, so a promotion cannot take a seat a new cap removes."""


class TierRefused(Exception):
    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


async def ladder_from_db() -> TierLadder:
    """The tiers as configured (tiers are data); the default ladder on an empty table."""
    rows = await TierConfig.select()
    if not rows:
        return DEFAULT_LADDER
    return TierLadder(tuple(Tier(r["key"], r["rank"], r["name_zh"], r["name_en"], cap=r["cap"]) for r in rows))


async def set_tier_cap(key: str, cap: int | None, *, actor: str, actor_tier: str, reason: str, source: str = "") -> dict[str, Any]:
    """Give tier ``key`` a new head-count cap (None: no cap). The caller has asked the policy
    (``admins.configure_tiers``); the SPEC's rules on caps are checked here, against the
    head-count at this moment. Raises TierRefused; returns the tier's row."""
    async with write_transaction():
        await serialize_writers(TIER_LOCK_KEY)
        row = await TierConfig.select().where(TierConfig.key == key).first()
        if row is None:
            raise TierRefused("unknown_tier", f"there is no tier {key!r}")
        headcount = await Admin.count().where(Admin.tier == key)
        problem = check_cap(await ladder_from_db(), key, cap, headcount)
        if problem is not None:
            raise TierRefused(*problem)
        if row["cap"] != cap:
            await TierConfig.update({TierConfig.cap: cap}).where(TierConfig.key == key)
    if row["cap"] != cap:
        await append(
            AuditRecord(
                actor=actor, actor_tier=actor_tier, action="tiers.configure", target=f"tier:{key}", outcome="done",
                reason=reason, scope="global", source=source, before={"cap": row["cap"]}, after={"cap": cap},
                at=datetime.now(UTC),
            )
        )
    return {**row, "cap": cap, "count": headcount}
