"""Account ban (封禁, SPEC §5.4): a regional admin requests the ban of a buyer of their region
(or a risk signal opens it and a regional admin of the region decides to request it) → a super
approves or rejects (never the requester) → the ban is applied; a super may ban directly. The
buyer may appeal once within the appeal window; a super other than the one who approved the ban
upholds it or lifts it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec
from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.buyers import BuyerInfo, BuyerRef, BuyerStatusChange, BuyerStatusResult
    from workflows.domain.policy import DEFAULT_POLICY, Actor, Subject
    from workflows.domain.routing import approver_tier
    from workflows.process import Process, Start
    from workflows.spec import ActionSpec, WorkflowSpec


class BanInput(msgspec.Struct, frozen=True, kw_only=True):
    buyer: Annotated[str, msgspec.Meta(min_length=1, max_length=32, examples=["B00042"])]
    region: Annotated[str, msgspec.Meta(max_length=64, examples=["game-cards"])]
    """The buyer's region as the requester sees it; the process checks it against the buyer."""
    reason: Annotated[str, msgspec.Meta(min_length=4, max_length=2000)]
    evidence: dict[str, Any] = {}
    flagged_by: str | None = None
    """The admin (or risk rule) that flagged the buyer, when a signal opened the ban."""
    source_process: str | None = None
    """The risk review that opened it, if any."""


class RequestInput(msgspec.Struct, frozen=True, kw_only=True):
    reason: Annotated[str, msgspec.Meta(min_length=2, max_length=2000)]


class DecideInput(msgspec.Struct, frozen=True, kw_only=True):
    reason: Annotated[str, msgspec.Meta(max_length=2000)] = ""


class AppealInput(msgspec.Struct, frozen=True, kw_only=True):
    """What the buyer says in their appeal, relayed by the platform."""

    statement: Annotated[str, msgspec.Meta(min_length=4, max_length=4000)]
    contact: Annotated[str, msgspec.Meta(max_length=128)] = ""


def ban_workflow_id(start: Start[BanInput]) -> str:
    return f"account-ban-{start.body.buyer}-{start.key}"


def check_ban_request(body: BanInput, actor: Actor | None, now: datetime | None = None) -> tuple[str, str] | None:
    """Why this admin cannot ask for (or impose) this ban, or None. A signal (no actor) may open one."""
    if actor is None:
        return None
    now = now or datetime.now(UTC)
    subject = Subject(kind="buyer", id=body.buyer, region=body.region)
    if DEFAULT_POLICY.can(actor, "users.ban", subject, now=now).allowed:
        return None
    decision = DEFAULT_POLICY.can(actor, "users.request_ban", subject, now=now)
    return None if decision.allowed else (decision.code, decision.reason)


@workflow.defn(name="AccountBan")
class AccountBanWorkflow(Process):
    KIND = "account-ban"
    ACTIONS = (
        ActionSpec("request_ban", RequestInput, "users.request_ban", "申请封禁", "Request the ban", {"reason": "风控提示多次刷单，确认属实"}, role="requester"),
        ActionSpec("dismiss", RequestInput, "users.request_ban", "不予封禁", "Dismiss", {"reason": "核实为正常购买行为"}, role="requester"),
        ActionSpec("approve", DecideInput, "users.approve_ban", "批准封禁", "Approve the ban", {"reason": "证据充分"},
                   role="ban_judge", independent_of=("reviewer", "requester")),
        ActionSpec("reject", DecideInput, "users.approve_ban", "驳回封禁", "Reject the ban", {"reason": "证据不足"},
                   role="ban_judge", independent_of=("reviewer", "requester")),
        ActionSpec("uphold", DecideInput, "users.decide_appeal", "维持封禁", "Uphold the ban", {"reason": "申诉理由不成立"},
                   role="appeal_judge", independent_of=("reviewer", "requester", "ban_judge")),
        ActionSpec("lift", DecideInput, "users.decide_appeal", "解除封禁", "Lift the ban", {"reason": "申诉成立，误封"},
                   role="appeal_judge", independent_of=("reviewer", "requester", "ban_judge")),
    )
    PLATFORM_EVENTS = {"appeal": AppealInput}

    @workflow.run
    async def run(self, params: Start[BanInput]) -> dict:
        if (refused := await self.admit(params)) is not None:
            return refused
        request = params.body
        self.join_case(params)  # the review that opened it, if one did
        found = await self._activity("load_buyer", BuyerRef(code=request.buyer))
        region = found["region"] if found else request.region
        await self.start(params.by, f"封禁 {request.buyer}：{request.reason}", params.config, region)
        if found is None:
            return await self.finish("rejected", f"there is no buyer {request.buyer}")
        self.buyer = msgspec.convert(found, BuyerInfo)
        if self.buyer.region != request.region:
            return await self.finish("rejected", f"buyer {request.buyer} is in region {self.buyer.region}, not {request.region}")
        if self.buyer.status == "banned":
            return await self.finish("rejected", f"buyer {request.buyer} is already banned")
        problem = check_ban_request(request, params.by, workflow.now())
        if problem is not None:
            return await self.finish("rejected", problem[1], code=problem[0])
        self.subject = Subject(kind="buyer", id=self.buyer.code, region=self.buyer.region)
        self.evidence = {
            **request.evidence, "buyer": self.buyer.code, "nickname": self.buyer.nickname, "region": self.buyer.region,
            "reason": request.reason, "flagged_by": request.flagged_by, "source_process": request.source_process,
        }

        requester = params.by
        if requester is not None:
            self.took_part("requester", requester)
        if requester is None:  # opened by a signal: a regional admin of the region decides to request it
            decided = await self.human_step(
                "request",
                title=f"封禁提示：买家 {self.buyer.nickname}（{self.buyer.code}）",
                tier="regional", actions=("request_ban", "dismiss"), subject=self.subject, evidence=self.evidence,
                excluded=tuple(x for x in (request.flagged_by,) if x),
            )
            if decided.action == "dismiss":
                return await self.finish("dismissed", decided.reason, decided_by=decided.actor.id)
            requester = decided.actor
            await self.audit("account-ban.requested", "requested", actor=requester, reason=decided.reason, target=self._target)

        if self._may_ban_directly(requester):
            approver = requester
            self.took_part("ban_judge", approver)
            await self.audit("account-ban.direct", "approved", actor=approver, reason=request.reason, target=self._target)
        else:
            decided = await self.human_step(
                "approve",
                title=f"封禁审批：{requester.id} 申请封禁买家 {self.buyer.nickname}（{self.buyer.code}）",
                tier=approver_tier("users.approve_ban", requester.tier), actions=("approve", "reject"),
                subject=msgspec.structs.replace(self.subject, requester=requester.id),
                evidence={**self.evidence, "requester": requester.id},
                excluded=(requester.id,),
            )
            if decided.action == "reject":
                return await self.finish("rejected", decided.reason, requester=requester.id, decided_by=decided.actor.id)
            approver = decided.actor
        await self._set_status("banned", ("active",), approver, request.reason)
        return await self._appeal_window(requester, approver)

    async def _appeal_window(self, requester: Actor, approver: Actor) -> dict:
        """The buyer may appeal once; a super other than the approver decides."""
        self._status = "banned"
        self._step = "appeal_window"
        self._result = {"buyer": self.buyer.code, "banned_by": approver.id, "requester": requester.id}
        self.expect("appeal")
        appeal = await self.next_event(self.timing("appeal_window").due)
        self.unexpect("appeal")  # one appeal only: a second is refused as not expected
        if appeal is None:
            return await self.finish("banned", "the appeal window closed without an appeal", **self._result)
        statement = appeal.as_(AppealInput)
        await self.audit("account-ban.appealed", "appealed", actor=appeal.actor, reason=statement.statement, target=self._target)
        self.handled(appeal)
        decided = await self.human_step(
            "appeal",
            title=f"封禁申诉：买家 {self.buyer.nickname}（{self.buyer.code}）",
            tier="super", actions=("uphold", "lift"),
            subject=msgspec.structs.replace(self.subject, requester=approver.id),
            evidence={**self.evidence, "banned_by": approver.id, "appeal": statement.statement, "contact": statement.contact},
            excluded=tuple(dict.fromkeys((approver.id, requester.id))),
        )
        if decided.action == "uphold":
            return await self.finish("banned", decided.reason, appeal="upheld", appeal_decided_by=decided.actor.id, **self._result)
        await self._set_status("active", ("banned",), decided.actor, decided.reason)
        return await self.finish("lifted", decided.reason, appeal="lifted", appeal_decided_by=decided.actor.id, **self._result)

    def _may_ban_directly(self, actor: Actor) -> bool:
        return DEFAULT_POLICY.can(actor, "users.ban", self.subject, now=workflow.now()).allowed

    @property
    def _target(self) -> str:
        return f"buyer:{self.buyer.code}"

    async def _set_status(self, status: str, expected: tuple[str, ...], actor: Actor, reason: str) -> None:
        result = msgspec.convert(
            await self._activity(
                "set_buyer_status",
                BuyerStatusChange(code=self.buyer.code, status=status, expected=expected, process_id=self.process_id),
            ),
            BuyerStatusResult,
        )
        await self.audit(
            "account-ban.ban_applied" if status == "banned" else "account-ban.ban_lifted", status, actor=actor, reason=reason,
            target=self._target, after={"status": result.status, "changed": result.changed},
        )


SPEC = WorkflowSpec(
    kind="account-ban",
    workflow=AccountBanWorkflow,
    input=BanInput,
    workflow_id=ban_workflow_id,
    start_permission="users.request_ban",
    also_checks=("users.ban",),
    title_zh="账户封禁",
    title_en="Account ban",
    description="A regional admin requests a buyer's ban and a super approves; a super may ban directly; one appeal.",
    validate_start=check_ban_request,
    example={"buyer": "B00042", "region": "game-cards", "reason": "同一账号短时间内大量小额刷单", "evidence": {"orders": 37}},
    platform_start=True,
)
