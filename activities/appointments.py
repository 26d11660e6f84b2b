"""The admin directory as the appointment process reads and changes it: who an admin is now,
their tier and regions once two super admins have agreed, and the tasks they had claimed
that are no longer theirs to decide."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
from temporalio import activity

from infra.db.engine import serialize_writers, write_transaction
from infra.db.tables import Admin, Region, Task
from infra.db.tiers import TIER_LOCK_KEY, ladder_from_db
from workflows.domain.policy import Actor


class AppointeeQuery(msgspec.Struct, frozen=True, kw_only=True):
    username: str
    regions: tuple[str, ...] = ()


class Appointee(msgspec.Struct, frozen=True, kw_only=True):
    found: bool
    username: str
    display_name: str = ""
    tier: str = ""
    regions: tuple[str, ...] = ()
    active: bool = False
    unknown_regions: tuple[str, ...] = ()
    """Regions the request names that the platform does not have."""


class RoleChange(msgspec.Struct, frozen=True, kw_only=True):
    username: str
    from_tier: str
    to_tier: str
    regions: tuple[str, ...]
    process_id: str


class RoleChangeResult(msgspec.Struct, frozen=True, kw_only=True):
    status: str
    """``changed``, ``already`` (a retry), ``tier_moved``, ``cap_reached`` or ``missing``."""
    tier: str | None = None
    regions: tuple[str, ...] = ()
    reason: str = ""


class ClaimsRelease(msgspec.Struct, frozen=True, kw_only=True):
    username: str
    """The admin whose tier or regions changed."""
    by: Actor
    """The super admin who approved the change: the releases are theirs."""


class ClaimsReleased(msgspec.Struct, frozen=True, kw_only=True):
    released: tuple[str, ...] = ()
    """Tasks put back in their inboxes."""


class AppointmentActivities:
    @activity.defn(name="load_appointee")
    async def load_appointee(self, query: AppointeeQuery) -> Appointee:
        row = await Admin.select(
            Admin.username, Admin.display_name, Admin.tier, Admin.regions, Admin.status
        ).where(Admin.username == query.username).first()
        known = {r["key"] for r in await Region.select(Region.key)}
        unknown = tuple(r for r in query.regions if r not in known)
        if row is None:
            return Appointee(found=False, username=query.username, unknown_regions=unknown)
        return Appointee(
            found=True, username=row["username"], display_name=row["display_name"], tier=row["tier"],
            regions=tuple(row["regions"] or ()), active=row["status"] == "active", unknown_regions=unknown,
        )

    @activity.defn(name="change_admin_role")
    async def change_admin_role(self, change: RoleChange) -> RoleChangeResult:
        """Move the admin from ``from_tier`` to ``to_tier`` with ``regions``, exactly once
        (a retry finds the change made; a change made meanwhile by someone else wins)."""
        async with write_transaction():
            await serialize_writers(TIER_LOCK_KEY)
            row = await Admin.select(Admin.id, Admin.tier, Admin.regions).where(Admin.username == change.username).first()
            if row is None:
                return RoleChangeResult(status="missing", reason=f"no admin {change.username!r}")
            if row["tier"] == change.to_tier and tuple(row["regions"] or ()) == change.regions:
                return RoleChangeResult(status="already", tier=row["tier"], regions=change.regions)
            if row["tier"] != change.from_tier:
                return RoleChangeResult(status="tier_moved", tier=row["tier"], reason=f"{change.username} is now {row['tier']}")
            ladder = await ladder_from_db()
            full = ladder.check_capacity(change.to_tier, await Admin.count().where(Admin.tier == change.to_tier))
            if full is not None:
                return RoleChangeResult(status="cap_reached", tier=row["tier"], reason=full)
            await Admin.update({Admin.tier: change.to_tier, Admin.regions: list(change.regions)}).where(
                (Admin.username == change.username) & (Admin.tier == change.from_tier)
            )
            return RoleChangeResult(status="changed", tier=change.to_tier, regions=change.regions)

    @activity.defn(name="release_claims_out_of_reach")
    async def release_claims_out_of_reach(self, request: ClaimsRelease) -> ClaimsReleased:
        """Once an admin's tier or regions have changed: each task they had claimed that their
        inbox would no longer offer them (its tier, its region) goes back to the inbox it came
        from, released by the approving super through the task's own process (its state, its
        row and the audit trail move together), so no decision waits on someone who can no
        longer take it. A task decided or gone meanwhile is left as it is; a retry releases
        only what is still claimed."""
        from infra.accounts import load_actor
        from infra.db.inbox import visible
        from infra.temporal.processes import ProcessError, claim
        from workflows.process import ClaimInput

        now = datetime.now(UTC)
        admin = await load_actor(request.username, now)
        rows = await Task.select().where((Task.assignee == request.username) & (Task.status == "claimed")).order_by(Task.id)
        released = []
        for row in rows:
            if admin is not None and visible(admin, {**row, "assignee": None}, now):
                continue  # still theirs to decide as they now are
            release = ClaimInput(actor=request.by, task_id=row["task_id"], request_id=f"release:{row['task_id']}:{request.username}")
            try:
                await claim(activity.client(), row["process_id"], release, release=True)
            except ProcessError as exc:
                if exc.status == 503:
                    raise  # the process did not answer: the activity retries
                activity.logger.info("task %s not released: %s", row["task_id"], exc)
                continue
            released.append(row["task_id"])
        return ClaimsReleased(released=tuple(released))
