"""Admins, tiers and assessment metrics as the promotion process reads and changes them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
from temporalio import activity

from infra.db.engine import serialize_writers, write_transaction
from infra.db.tables import Admin, AuditEvent, Region, Task
from infra.db.tiers import TIER_LOCK_KEY, ladder_from_db


class AdminRefs(msgspec.Struct, frozen=True, kw_only=True):
    usernames: tuple[str, ...]


class AdminInfo(msgspec.Struct, frozen=True, kw_only=True):
    username: str
    tier: str
    regions: tuple[str, ...]
    station_master: bool
    active: bool


class PromotionResume(msgspec.Struct, frozen=True, kw_only=True):
    """What a promotion carries across continue-as-new once the assessment is over. (Defined
    here, outside the workflow sandbox, where msgspec sees the real ``datetime`` class.)"""

    nominee: AdminInfo
    assessed_from: datetime
    assessed_until: datetime


class MetricsRequest(msgspec.Struct, frozen=True, kw_only=True):
    nominee: str
    tier: str
    """The nominee's tier during the assessment."""
    since: datetime
    until: datetime
    process_id: str
    """The promotion asking; its own review tasks are not "prior reviews"."""


class PromotionMetrics(msgspec.Struct, frozen=True, kw_only=True):
    """What the nominee did during the assessment period, from the inbox and the audit trail.

    - ``tasks_decided``: inbox tasks the nominee closed with a decision (``Task.decided_by``).
    - ``tasks_assisted``: tasks the nominee claimed (audit ``task.claimed``) that someone
      else then decided: work they helped with without owning the decision.
    - ``audit_events``: every audit event with the nominee as actor.
    - ``accuracy``: the share of the nominee's decisions that *stood*. A decision does not
      stand when its task had escalated before the nominee decided it (late), or when a later
      task of the same process was decided by an admin of a higher tier than the nominee with
      a different action (overturned, e.g. ``approve`` followed by a regional's ``reject``).
      None when the nominee decided nothing.
    - ``prior_reviews`` / ``prior_mean_score``: scores of earlier promotion reviews of the nominee.
    """

    nominee: str
    since: datetime
    until: datetime
    tasks_decided: int
    tasks_assisted: int
    audit_events: int
    decisions_stood: int
    accuracy: float | None
    prior_reviews: int
    prior_mean_score: float | None


class TierRef(msgspec.Struct, frozen=True, kw_only=True):
    tier: str


class TierHeadcount(msgspec.Struct, frozen=True, kw_only=True):
    tier: str
    count: int
    cap: int | None
    full: str | None
    """Why one more admin cannot join (``TierLadder.check_capacity``), or None."""
    station_masters: tuple[str, ...]


class TierChange(msgspec.Struct, frozen=True, kw_only=True):
    username: str
    from_tier: str
    to_tier: str
    process_id: str


class TierChangeResult(msgspec.Struct, frozen=True, kw_only=True):
    status: str
    """``changed``, ``already`` (a retry), ``cap_reached``, ``tier_moved`` or ``missing``."""
    tier: str | None
    reason: str = ""


def _aware(at: datetime | None) -> datetime | None:
    return at.replace(tzinfo=UTC) if at is not None and at.tzinfo is None else at


def _action(row: dict[str, Any]) -> str:
    outcome = row.get("outcome") or {}
    return outcome.get("action", "") if isinstance(outcome, dict) else ""


class PromotionActivities:
    @activity.defn(name="load_admins")
    async def load_admins(self, refs: AdminRefs) -> list[AdminInfo]:
        rows = await Admin.select(
            Admin.username, Admin.tier, Admin.regions, Admin.station_master, Admin.status
        ).where(Admin.username.is_in(list(refs.usernames) or [""]))
        return [
            AdminInfo(
                username=r["username"], tier=r["tier"], regions=tuple(r["regions"] or ()),
                station_master=bool(r["station_master"]), active=r["status"] == "active",
            )
            for r in rows
        ]

    @activity.defn(name="gather_promotion_metrics")
    async def gather_promotion_metrics(self, request: MetricsRequest) -> PromotionMetrics:
        ladder = await ladder_from_db()
        own_rank = ladder.rank(request.tier) if request.tier in ladder else 0
        decided = await Task.select().where(
            (Task.decided_by == request.nominee) & (Task.status == "done")
            & (Task.closed_at >= request.since) & (Task.closed_at < request.until)
        ).output(load_json=True)
        later: dict[str, list[dict[str, Any]]] = {}
        if decided:
            for row in await Task.select().where(
                Task.process_id.is_in(sorted({d["process_id"] for d in decided})) & (Task.status == "done")
            ).output(load_json=True):
                later.setdefault(row["process_id"], []).append(row)

        def overturned(mine: dict[str, Any]) -> bool:
            for other in later.get(mine["process_id"], []):
                if other["task_id"] == mine["task_id"] or other["decided_by"] in (None, "system", request.nominee):
                    continue
                if _aware(other["created_at"]) < _aware(mine["closed_at"]):
                    continue
                higher = other["tier"] in ladder and ladder.rank(other["tier"]) > own_rank
                if higher and _action(other) not in (_action(mine), "withdrawn", "lapsed"):
                    return True
            return False

        stood = sum(1 for d in decided if not d["escalated"] and not overturned(d))
        claims = await AuditEvent.select(AuditEvent.target).where(
            (AuditEvent.actor == request.nominee) & (AuditEvent.action == "task.claimed")
            & (AuditEvent.at >= request.since) & (AuditEvent.at < request.until)
        )
        claimed = {c["target"].removeprefix("task:") for c in claims}
        assisted = claimed - {d["task_id"] for d in decided}
        events = await AuditEvent.count().where(
            (AuditEvent.actor == request.nominee) & (AuditEvent.at >= request.since) & (AuditEvent.at < request.until)
        )
        scores = [
            float(r["outcome"]["score"])
            for r in await Task.select(Task.evidence, Task.outcome).where(
                (Task.kind == "promotion") & (Task.step == "review") & (Task.status == "done")
                & (Task.process_id != request.process_id)
            ).output(load_json=True)
            if (r["evidence"] or {}).get("nominee") == request.nominee and isinstance((r["outcome"] or {}).get("score"), int | float)
        ]
        return PromotionMetrics(
            nominee=request.nominee, since=request.since, until=request.until,
            tasks_decided=len(decided), tasks_assisted=len(assisted), audit_events=events,
            decisions_stood=stood, accuracy=round(stood / len(decided), 4) if decided else None,
            prior_reviews=len(scores), prior_mean_score=round(sum(scores) / len(scores), 2) if scores else None,
        )

    @activity.defn(name="count_tier")
    async def count_tier(self, ref: TierRef) -> TierHeadcount:
        ladder = await ladder_from_db()
        count = await Admin.count().where(Admin.tier == ref.tier)
        masters = await Admin.select(Admin.username).where((Admin.station_master == True) & (Admin.status == "active"))  # noqa: E712
        return TierHeadcount(
            tier=ref.tier, count=count, cap=ladder[ref.tier].cap, full=ladder.check_capacity(ref.tier, count),
            station_masters=tuple(sorted(m["username"] for m in masters)),
        )

    @activity.defn(name="change_admin_tier")
    async def change_admin_tier(self, change: TierChange) -> TierChangeResult:
        async with write_transaction():
            await serialize_writers(TIER_LOCK_KEY)
            row = await Admin.select(Admin.tier).where(Admin.username == change.username).first()
            if row is None:
                return TierChangeResult(status="missing", tier=None, reason=f"no admin {change.username!r}")
            if row["tier"] == change.to_tier:
                return TierChangeResult(status="already", tier=row["tier"])
            if row["tier"] != change.from_tier:
                return TierChangeResult(status="tier_moved", tier=row["tier"], reason=f"{change.username} is now {row['tier']}")
            ladder = await ladder_from_db()
            full = ladder.check_capacity(change.to_tier, await Admin.count().where(Admin.tier == change.to_tier))
            if full is not None:
                return TierChangeResult(status="cap_reached", tier=row["tier"], reason=full)
            values: dict = {Admin.tier: change.to_tier}
            if change.to_tier == ladder.top.key:  # the top tier is global: it covers every region
                values[Admin.regions] = [r["key"] for r in await Region.select(Region.key).order_by(Region.id)]
            await Admin.update(values).where((Admin.username == change.username) & (Admin.tier == change.from_tier))
            return TierChangeResult(status="changed", tier=change.to_tier)
