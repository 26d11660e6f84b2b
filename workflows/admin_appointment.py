"""Admin appointment (任免区域管理员, SPEC §3 admins row): a super admin proposes to appoint a
normal admin as regional admin of one or more regions, or to remove a regional admin back to
normal admin of a region → a different super admin approves or rejects (双人复核: the proposer
never approves, nor does the admin concerned) before the deadline, or the proposal lapses →
the admin's tier and regions change once, in the directory, and the change is audited → the
tasks they had claimed that are no longer theirs to decide go back to the inbox.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

import msgspec
from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.appointments import Appointee, AppointeeQuery, ClaimsRelease, ClaimsReleased, RoleChange, RoleChangeResult
    from workflows.domain.policy import DEFAULT_POLICY, Actor, Subject
    from workflows.process import Process, Start
    from workflows.spec import ActionSpec, WorkflowSpec

CHANGES = {"appoint": ("normal", "regional"), "remove": ("regional", "normal")}
"""Change -> (the tier the admin holds, the tier they get)."""
CHANGE_ZH = {"appoint": "任命区域管理员", "remove": "免去区域管理员"}
PERMISSION = "admins.appoint_regional"
RELEASE_CLAIMS = "release-claims"
"""Patch: a changed admin's claimed tasks that are out of their reach go back to the inbox
(runs approved before it did not release them)."""


class AppointInput(msgspec.Struct, frozen=True, kw_only=True):
    admin: Annotated[str, msgspec.Meta(min_length=1, max_length=64, examples=["normal-game-items-2"])]
    change: Literal["appoint", "remove"]
    regions: Annotated[tuple[str, ...], msgspec.Meta(max_length=8, examples=[["game-items"]])] = ()
    """Appoint: the regions they will govern (at least one). Remove: the region they stay a normal
    admin of (one; empty keeps their first region)."""
    reason: Annotated[str, msgspec.Meta(min_length=4, max_length=2000)]


class DecideInput(msgspec.Struct, frozen=True, kw_only=True):
    reason: Annotated[str, msgspec.Meta(max_length=2000)] = ""


class RejectInput(msgspec.Struct, frozen=True, kw_only=True):
    reason: Annotated[str, msgspec.Meta(min_length=2, max_length=2000)]


def appointment_id(start: Start[AppointInput]) -> str:
    return f"admin-appointment-{start.body.admin}-{start.key}"


def check_appointment(body: AppointInput, actor: Actor | None, now: datetime | None = None) -> tuple[str, str] | None:
    """Why this admin cannot propose this change, or None (the admin's record is checked later)."""
    if actor is None:
        return ("admin_required", "an appointment is proposed by an admin")
    if body.admin == actor.id:
        return ("self_appointment", "no one proposes a change of their own tier")
    if body.change == "appoint" and not body.regions:
        return ("regions_required", "name at least one region the new regional admin will govern")
    if body.change == "remove" and len(body.regions) > 1:
        return ("one_region", "a normal admin is assigned one region")
    if len(set(body.regions)) != len(body.regions):
        return ("duplicate_region", "a region is named twice")
    subject = Subject(kind="admin", id=body.admin, excluded=(body.admin,))
    decision = DEFAULT_POLICY.can(actor, PERMISSION, subject, now=now or datetime.now(UTC))
    return None if decision.allowed else (decision.code, decision.reason)


@workflow.defn(name="AdminAppointment")
class AdminAppointmentWorkflow(Process):
    KIND = "admin-appointment"
    ACTIONS = (
        ActionSpec("approve", DecideInput, PERMISSION, "同意任免", "Approve", {"reason": "区域业绩突出，同意任命"}),
        ActionSpec("reject", RejectInput, PERMISSION, "驳回任免", "Reject", {"reason": "考核期未满"}),
    )

    @workflow.run
    async def run(self, params: Start[AppointInput]) -> dict:
        if (refused := await self.admit(params)) is not None:
            return refused
        body = params.body
        found = msgspec.convert(
            await self._activity("load_appointee", AppointeeQuery(username=body.admin, regions=body.regions)), Appointee
        )
        await self.start(params.by, f"{CHANGE_ZH[body.change]}：{body.admin}（{'、'.join(body.regions) or '—'}）：{body.reason}", params.config, None)
        problem = check_appointment(body, params.by, workflow.now()) or self._check_appointee(body, found)
        if problem is not None or params.by is None:
            return await self.finish("rejected", problem[1] if problem else "", code=problem[0] if problem else "")
        proposer = params.by
        from_tier, to_tier = CHANGES[body.change]
        regions = body.regions or found.regions[:1]
        evidence = {
            "admin": found.username, "display_name": found.display_name, "change": body.change,
            "from_tier": from_tier, "to_tier": to_tier, "current_regions": list(found.regions),
            "regions": list(regions), "proposal": body.reason, "proposed_by": proposer.id,
        }
        decided = await self.human_step(
            "approve",
            title=f"{CHANGE_ZH[body.change]}：{found.display_name}（{found.username}），提议人 {proposer.id}",
            tier=DEFAULT_POLICY.ladder.top.key, actions=("approve", "reject"),
            subject=Subject(kind="admin", id=found.username, subject_tier=found.tier, requester=proposer.id,
                            excluded=(proposer.id, found.username)),
            evidence=evidence, excluded=(proposer.id, found.username), on_timeout="lapse",
        )
        if decided.action == "lapsed":
            return await self.finish("lapsed", decided.reason, **evidence)
        if decided.action == "reject":
            return await self.finish("rejected", decided.reason, rejected_by=decided.actor.id, **evidence)
        change = msgspec.convert(
            await self._activity("change_admin_role", RoleChange(
                username=found.username, from_tier=from_tier, to_tier=to_tier, regions=tuple(regions), process_id=self.process_id,
            )),
            RoleChangeResult,
        )
        if change.status not in ("changed", "already"):
            return await self.finish("failed", change.reason, code=change.status, approved_by=decided.actor.id, **evidence)
        await self.audit(
            f"admin-appointment.{body.change}", "done", actor=decided.actor, target=f"admin:{found.username}", reason=decided.reason,
            after={"before": {"tier": from_tier, "regions": list(found.regions)}, "after": {"tier": to_tier, "regions": list(regions)}},
        )
        released: tuple[str, ...] = ()
        if workflow.patched(RELEASE_CLAIMS):
            released = msgspec.convert(
                await self._activity("release_claims_out_of_reach", ClaimsRelease(username=found.username, by=decided.actor), long=True),
                ClaimsReleased,
            ).released
        status = "appointed" if body.change == "appoint" else "removed"
        extra = {"released_tasks": list(released)} if released else {}
        return await self.finish(status, decided.reason or body.reason, approved_by=decided.actor.id, **evidence, **extra)

    @staticmethod
    def _check_appointee(body: AppointInput, found: Appointee) -> tuple[str, str] | None:
        if not found.found or not found.active:
            return ("unknown_admin", f"{body.admin} is not an active admin")
        if found.unknown_regions:
            return ("unknown_region", f"no region {', '.join(found.unknown_regions)}")
        holds = CHANGES[body.change][0]
        if found.tier != holds:
            return ("wrong_tier", f"{body.admin} is a {found.tier} admin; to {body.change} is for a {holds} admin")
        return None


SPEC = WorkflowSpec(
    kind="admin-appointment",
    workflow=AdminAppointmentWorkflow,
    input=AppointInput,
    workflow_id=appointment_id,
    start_permission=PERMISSION,
    title_zh="任免区域管理员",
    title_en="Regional admin appointment",
    description="A super admin proposes to appoint a normal admin as regional admin (or to remove one); a second super approves; the tier and regions change once.",
    validate_start=check_appointment,
    example={"admin": "normal-game-items-2", "change": "appoint", "regions": ["game-items"], "reason": "协助区域运营一年，纠纷处理及时"},
)
