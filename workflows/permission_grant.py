"""Temporary permission grant (动态权限, SPEC §4): request → approval by a higher tier (a super
for funds) → active from max(start, approval) → expires by itself; extension needs another
approval; the grantee or a super may revoke it early; an unanswered request lapses.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

import msgspec
from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.grants import GrantActivation, GrantEnd, GrantExtension, GrantResume
    from workflows.domain.permissions import PERMISSIONS_BY_KEY, Delegation, Scope
    from workflows.domain.policy import DEFAULT_POLICY, Actor, Subject
    from workflows.domain.routing import approver_tier, delegation_tier
    from workflows.process import TRUST_CORE, SYSTEM, Decided, Process, Start
    from workflows.spec import ActionSpec, WorkflowSpec

MAX_DURATION = timedelta(days=90)


class RequestGrantInput(msgspec.Struct, frozen=True, kw_only=True):
    permission: Annotated[str, msgspec.Meta(examples=["funds.approve"])]
    scope: Scope = Scope.REGION
    regions: tuple[str, ...] = ()
    """For region scope; empty means the requester's own regions."""
    duration: Annotated[timedelta, msgspec.Meta(examples=["P3D"])]
    starts_at: datetime | None = None
    justification: Annotated[str, msgspec.Meta(min_length=4, max_length=2000)]


class DecideInput(msgspec.Struct, frozen=True, kw_only=True):
    reason: Annotated[str, msgspec.Meta(max_length=2000)] = ""


class ExtendInput(msgspec.Struct, frozen=True, kw_only=True):
    duration: Annotated[timedelta, msgspec.Meta(examples=["P1D"])]
    reason: Annotated[str, msgspec.Meta(min_length=4, max_length=2000)]


class RevokeInput(msgspec.Struct, frozen=True, kw_only=True):
    reason: Annotated[str, msgspec.Meta(min_length=2, max_length=2000)]


def grant_workflow_id(start: Start[RequestGrantInput]) -> str:
    requester = start.by.id if start.by else "unknown"
    return f"permission-grant-{requester}-{start.body.permission}-{start.key}"


@workflow.defn(name="PermissionGrant")
class PermissionGrantWorkflow(Process):
    KIND = "permission-grant"
    ACTIONS = (
        ActionSpec("approve", DecideInput, "grants.approve", "批准", "Approve", {"reason": "大促期间需要区域资金审批"}),
        ActionSpec("reject", DecideInput, "grants.approve", "驳回", "Reject", {"reason": "理由不充分"}),
        ActionSpec("extend", ExtendInput, "grants.request", "申请延期", "Request extension", {"duration": "P1D", "reason": "大促延长一天"}, standing=True),
        ActionSpec("revoke", RevokeInput, "grants.revoke", "撤销", "Revoke", {"reason": "任务已完成"}, standing=True),
        ActionSpec("approve_extension", DecideInput, "grants.approve", "批准延期", "Approve extension", {"reason": "同意"}),
        ActionSpec("reject_extension", DecideInput, "grants.approve", "驳回延期", "Reject extension", {"reason": "不再需要"}),
    )

    @workflow.run
    async def run(self, params: Start[RequestGrantInput]) -> dict:
        if (refused := await self.admit(params)) is not None:
            return refused
        request = self._request = params.body
        if params.by is None:
            return await self.finish("rejected", "a grant needs a requesting admin")
        self.requester = params.by
        self.regions = request.regions or self.requester.regions
        region = self.regions[0] if self.regions else None
        problem = check_grant_request(request, self.requester)
        if problem is not None:
            self.configure(params.config, region)
            return await self.finish("rejected", problem[1])
        perm = PERMISSIONS_BY_KEY[request.permission]
        ceiling = workflow.patched(TRUST_CORE)
        self.subject = Subject(
            kind="grant", id=self.process_id, region=region, requester=self.requester.id,
            subject_tier=self.requester.tier, permission=request.permission, owners=(self.requester.id,),
            grant_scope=request.scope if ceiling else None,
            grant_regions=tuple(self.regions) if ceiling and request.scope is Scope.REGION else (),
        )
        approvers = (
            delegation_tier(request.permission, request.scope, self.requester.tier)
            if ceiling else approver_tier("grants.approve", self.requester.tier)
        )
        if params.resume is None:
            await self.start(self.requester, f"{perm.name_zh} ({request.scope.value}) {request.duration}", params.config, region)
            decided = await self.human_step(
                "approve",
                title=f"临时权限申请：{self.requester.id} 申请「{perm.name_zh}」{_days(request.duration)}",
                tier=approvers,
                actions=("approve", "reject"),
                subject=self.subject,
                evidence={
                    "requester": self.requester.id, "requester_tier": self.requester.tier,
                    "permission": request.permission, "scope": request.scope.value,
                    "regions": list(self.regions), "duration": str(request.duration),
                    "justification": request.justification,
                },
                excluded=(self.requester.id,),
                on_timeout="lapse",
            )
            if decided.action == "lapsed":
                return await self.finish("lapsed", decided.reason)
            if decided.action == "reject":
                return await self.finish("rejected", decided.reason, decided_by=decided.actor.id)
            now = workflow.now()
            starts_at = max(request.starts_at or now, now)
            state = GrantResume(
                grant_id=self.process_id, starts_at=starts_at, ends_at=starts_at + request.duration,
                approved_by=decided.actor.id,
            )
            await self.write(
                "activate_grant",
                GrantActivation(
                    grant_id=state.grant_id, username=self.requester.id, permission=request.permission,
                    scope=request.scope.value, regions=tuple(self.regions), starts_at=state.starts_at,
                    ends_at=state.ends_at, approved_by=state.approved_by, justification=request.justification,
                    process_id=self.process_id,
                ),
            )
            self._status, self._step = "active", "active"  # what the process's row says from now on too
            await self.audit("permission-grant.activated", "active", reason=f"until {state.ends_at.isoformat()}", after={"ends_at": state.ends_at.isoformat()})
        else:
            self.configure(params.config, region)
            state = msgspec.convert(params.resume, GrantResume)
        return await self._active(params, state)

    async def _active(self, params: Start[RequestGrantInput], state: GrantResume) -> dict:
        self._status = "active"
        self._step = "active"
        self._result = {"grant_id": state.grant_id, "starts_at": state.starts_at.isoformat(), "ends_at": state.ends_at.isoformat()}
        self.offer("revoke", self.subject)
        self.offer("extend", self.subject)
        while True:
            event = await self.next_event(state.ends_at - workflow.now())
            if event is None:
                self.withdraw("revoke", "extend")
                return await self.finish("expired", f"ended at {state.ends_at.isoformat()}", grant_id=state.grant_id)
            if event.action == "revoke":
                await self.write("revoke_grant", GrantEnd(grant_id=state.grant_id, at=event.at))
                self.handled(event)
                return await self.finish("revoked", event.reason, revoked_by=event.actor.id, grant_id=state.grant_id)
            extension = event.as_(ExtendInput)
            self.handled(event)
            self.withdraw("extend")
            state = await self._extend(state, extension) or state
            self._result["ends_at"] = state.ends_at.isoformat()
            if workflow.info().is_continue_as_new_suggested() or workflow.info().get_current_history_length() > params.config.history_limit:
                await self.continue_as_new(
                    Start(by=params.by, body=params.body, key=params.key, config=params.config, resume=msgspec.to_builtins(state))
                )
            self.offer("extend", self.subject)

    async def _extend(self, state: GrantResume, extension: ExtendInput) -> GrantResume | None:
        request: RequestGrantInput = self._request
        decided = await self.human_step(
            "approve_extension",
            title=f"临时权限延期：{self.requester.id} 申请延长 {_days(extension.duration)}",
            tier=(
                delegation_tier(request.permission, request.scope, self.requester.tier)
                if self.subject.grant_scope is not None else approver_tier("grants.approve", self.requester.tier)
            ),
            actions=("approve_extension", "reject_extension"),
            subject=self.subject,
            evidence={"grant_id": state.grant_id, "ends_at": state.ends_at.isoformat(), "extra": str(extension.duration), "reason": extension.reason},
            excluded=(self.requester.id,),
            on_timeout="lapse",
        )
        if decided.action != "approve_extension":
            return None
        if workflow.now() >= state.ends_at:
            await self.audit("permission-grant.extension_late", "expired", reason="approved after the grant had ended")
            return None
        extended = GrantResume(
            grant_id=state.grant_id, starts_at=state.starts_at, ends_at=state.ends_at + extension.duration,
            approved_by=decided.actor.id,
        )
        await self.write("extend_grant", GrantExtension(grant_id=state.grant_id, ends_at=extended.ends_at, approved_by=decided.actor.id))
        await self.audit("permission-grant.extended", "active", actor=decided.actor, reason=f"until {extended.ends_at.isoformat()}", key=f"extended-{extended.ends_at.isoformat()}")
        return extended

    @workflow.signal(name="revoke_out_of_ceiling")
    def revoke_out_of_ceiling(self, reason: str) -> None:
        """The grant exceeds what its approver may delegate (``infra/grants_check.py``): it is
        revoked as the grantee's own revocation would be, by the system."""
        self._events.append(
            Decided(action="revoke", actor=SYSTEM, reason=reason, at=workflow.now(), request_id=f"ceiling:{len(self._events)}:{workflow.now().isoformat()}")
        )

    def check_action(self, task, actor, action, body):
        if action in ("approve", "approve_extension") and PERMISSIONS_BY_KEY[self.subject.permission or ""].module == "funds" and actor.tier != "super":
            return ("funds_need_super", "fund permissions are approved by a super admin")
        if action == "extend" and actor.id != self.requester.id:
            return ("not_grantee", "only the grantee asks to extend a grant")
        if isinstance(body, ExtendInput) and body.duration > MAX_DURATION:
            return ("too_long", f"a grant lasts at most {MAX_DURATION.days} days")
        return None


def check_grant_request(request: RequestGrantInput, requester: Actor) -> tuple[str, str] | None:
    """Why this request cannot even be filed, or None."""
    if request.permission not in PERMISSIONS_BY_KEY:
        return ("unknown_permission", f"there is no permission {request.permission!r}")
    if not timedelta(0) < request.duration <= MAX_DURATION:
        return ("bad_duration", f"a grant lasts more than nothing and at most {MAX_DURATION.days} days")
    if request.scope is Scope.REGION:
        outside = [r for r in request.regions if r not in requester.regions]
        if outside:
            return ("out_of_region", f"you can ask only for your own regions, not {', '.join(outside)}")
        if not (request.regions or requester.regions):
            return ("region_required", "a region-scoped grant needs a region")
    if request.scope is Scope.GLOBAL and requester.tier != "super" and request.permission.startswith("funds."):
        return ("scope_too_wide", "global fund permissions are not granted below the super tier")
    if DEFAULT_POLICY.permissions[request.permission].delegation is Delegation.NEVER:
        return ("not_delegable", f"{request.permission} is never granted temporarily: it comes only with a tier")
    return None


def _days(duration: timedelta) -> str:
    hours = duration.total_seconds() / 3600
    return f"{hours / 24:g} 天" if hours >= 24 else f"{hours:g} 小时"


SPEC = WorkflowSpec(
    kind="permission-grant",
    workflow=PermissionGrantWorkflow,
    input=RequestGrantInput,
    workflow_id=grant_workflow_id,
    start_permission="grants.request",
    title_zh="临时权限申请",
    title_en="Temporary permission grant",
    description="Request a module permission for a scope and a duration; a higher tier approves.",
    validate_start=check_grant_request,
    example={"permission": "funds.approve", "scope": "region", "duration": "P3D", "justification": "双十一大促期间需要区域资金审批权"},
)
