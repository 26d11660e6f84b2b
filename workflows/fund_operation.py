"""Fund operation (资金操作, 双人复核, SPEC §5.7): a withdrawal from the fund pool, a fee-rate
change or a merchant settlement, proposed by one super admin (the maker) and approved by a
different one (the checker) before the deadline, or it lapses. While it is pending any super
admin may veto it (一票否决) with a reason. Approved, it is executed exactly once against the
ledger: one LedgerEntry keyed by this workflow's id.

A dispute whose refund is above the threshold starts one of these as a child (operation
``refund``); its maker is the admin who ruled. Two distinct super admins still sign: when the
maker is not a super, the refund needs two approvals by two different checkers, neither the
maker. A regional admin holding an active temporary grant of ``funds.approve`` for the
merchant's region may act as a checker on region-bound operations (settlement, refund).
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Literal

import msgspec
from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.funds import (
        ApproverQuery,
        FundContext,
        FundContextQuery,
        FundExecuted,
        FundExecution,
        fee_rate_text,
    )
    from workflows.domain.policy import Actor, Subject
    from workflows.process import SYSTEM, Decided, Process, Start
    from workflows.spec import ActionSpec, WorkflowSpec

Operation = Literal["withdrawal", "fee_rate_change", "merchant_settlement", "refund"]
OPERATION_ZH = {"withdrawal": "资金池提现", "fee_rate_change": "费率调整", "merchant_settlement": "商家结算", "refund": "纠纷退款"}
MAX_FEE_RATE_BPS = 3_000
"""A fee rate above 30% is a typo, not a decision."""


class FundOperationInput(msgspec.Struct, frozen=True, kw_only=True):
    operation: Annotated[Operation, msgspec.Meta(examples=["merchant_settlement"])]
    account: Annotated[str, msgspec.Meta(min_length=1, max_length=64, examples=["M0007"])]
    """The merchant code (settlement, refund) or the platform account a withdrawal pays into."""
    amount: Annotated[int, msgspec.Meta(ge=0)] = 0
    """In cents; required for every operation but a fee-rate change."""
    fee_rate_bps: Annotated[int, msgspec.Meta(ge=0, le=MAX_FEE_RATE_BPS)] | None = None
    """The new platform fee rate in basis points (350 = 3.50%), for a fee-rate change."""
    reason: Annotated[str, msgspec.Meta(min_length=4, max_length=2000)]
    dispute_code: str | None = None
    """For a refund: the dispute that awarded it."""
    attempt: Annotated[int, msgspec.Meta(ge=1, le=10)] = 1
    """For a refund: which proposal of the dispute this is (a refused refund may be proposed
    again, smaller)."""


class ApproveInput(msgspec.Struct, frozen=True, kw_only=True):
    reason: Annotated[str, msgspec.Meta(max_length=2000)] = ""


class RejectInput(msgspec.Struct, frozen=True, kw_only=True):
    reason: Annotated[str, msgspec.Meta(min_length=2, max_length=2000)]


class VetoInput(msgspec.Struct, frozen=True, kw_only=True):
    reason: Annotated[str, msgspec.Meta(min_length=2, max_length=2000)]


CASE_DECIDERS = ("mediator", "ruler", "appeal_judge")
"""The deciders of a dispute a refund's checker must be independent of."""


def fund_operation_id(start: Start[FundOperationInput]) -> str:
    if start.body.operation == "refund" and start.body.dispute_code:
        again = f"-{start.body.attempt}" if start.body.attempt > 1 else ""
        return f"fund-operation-refund-{start.body.dispute_code}{again}"
    return f"fund-operation-{start.key}"


def check_proposal(op: FundOperationInput, maker: Actor | None, *, from_dispute: bool = False) -> tuple[str, str] | None:
    """Why this operation cannot even be proposed, or None."""
    if maker is None:
        return ("maker_required", "a fund operation is proposed by an admin")
    if op.operation == "refund" and not from_dispute:
        return ("refund_from_dispute", "a refund is opened by the dispute that awarded it, not directly")
    if op.operation != "refund" and maker.tier != "super":
        return ("funds_need_super", "fund operations are proposed by a super admin (资金操作须由超级管理员发起)")
    if op.operation == "fee_rate_change":
        if op.fee_rate_bps is None or not 0 <= op.fee_rate_bps <= MAX_FEE_RATE_BPS:
            return ("bad_fee_rate", f"a fee-rate change names the new rate in basis points, 0 to {MAX_FEE_RATE_BPS}")
    elif op.amount <= 0:
        return ("amount_required", f"a {op.operation} moves a positive amount (in cents)")
    if len(op.reason.strip()) < 4:
        return ("reason_required", "say why (at least 4 characters)")
    return None


def _yuan(cents: int) -> str:
    return f"¥{cents / 100:,.2f}"


@workflow.defn(name="FundOperation")
class FundOperationWorkflow(Process):
    KIND = "fund-operation"
    ACTIONS = (
        # A refund's checkers took no part in the dispute that awarded it (its maker is excluded too).
        ActionSpec("approve", ApproveInput, "funds.approve", "复核通过", "Approve", {"reason": "金额与结算单一致"},
                   role="checker", independent_of=CASE_DECIDERS),
        ActionSpec("reject", RejectInput, "funds.approve", "复核驳回", "Reject", {"reason": "结算单金额不符"},
                   role="checker", independent_of=CASE_DECIDERS),
        ActionSpec("veto", VetoInput, "funds.veto", "一票否决", "Veto", {"reason": "大促期间暂停费率调整"}, standing=True),
    )

    @workflow.run
    async def run(self, params: Start[FundOperationInput]) -> dict:
        op = params.body
        self.configure(params.config, None)
        self.join_case(params)
        problem = check_proposal(op, params.by, from_dispute=workflow.info().parent is not None)
        if problem is not None or params.by is None:
            return await self.finish("rejected", problem[1] if problem else "", code=problem[0] if problem else "")
        if (refused := await self.admit(params)) is not None:  # after its own, more telling, check
            return refused
        self.maker, self.op = params.by, op
        context = msgspec.convert(
            await self._activity("load_fund_context", FundContextQuery(operation=op.operation, account=op.account)), FundContext
        )
        if not context.found:
            return await self.finish("rejected", context.problem, code="unknown_account")
        self.context = context
        await self.start(self.maker, f"{OPERATION_ZH[op.operation]} {self._what()}：{op.reason}", params.config, context.region)

        # Two distinct supers sign every operation: a super maker needs one checker, anyone else two.
        needed = 1 if self.maker.tier == "super" else 2
        self._vetoed = False
        veto, decided, approvers = await self._review(needed)
        if veto is not None:
            await self.audit("fund-operation.veto", "vetoed", actor=veto.actor, reason=veto.reason)
            self.handled(veto)
            return await self.finish("vetoed", veto.reason, vetoed_by=veto.actor.id)
        if decided.action == "lapsed":
            return await self._end("lapsed", decided.reason, approved_by=approvers)
        if decided.action == "reject":
            return await self._end("rejected", decided.reason, rejected_by=decided.actor.id, approved_by=approvers)

        executed = msgspec.convert(
            await self._activity(
                "execute_fund_operation",
                FundExecution(
                    operation_id=self.process_id, kind=op.operation, amount=op.amount, account=op.account,
                    proposed_by=self.maker.id, approved_by=",".join(approvers), executed_at=workflow.now(),
                    fee_rate_bps=op.fee_rate_bps if op.operation == "fee_rate_change" else None,
                    details={"reason": op.reason, "dispute_code": op.dispute_code, "approvers": approvers, "region": context.region},
                ),
            ),
            FundExecuted,
        )
        return await self._end(
            "executed", f"{OPERATION_ZH[op.operation]} {self._what()} executed", approved_by=approvers,
            ledger_entry=executed.entry_id, operation=op.operation, amount=op.amount,
            fee_rate=fee_rate_text(op.fee_rate_bps) if op.fee_rate_bps is not None else None,
        )

    async def _review(self, needed: int) -> tuple[Decided | None, Decided, list[str]]:
        """The approvals, with the veto standing beside them: (veto, last decision, approvers)."""
        self.offer("veto", self._subject(()))
        approval = asyncio.create_task(self._approvals(needed))
        self._watcher: asyncio.Task | None = None
        veto: Decided | None = None
        while not approval.done():
            self._watcher = asyncio.create_task(self.next_event(self.timing("approve").due))
            await workflow.wait([approval, self._watcher], return_when=asyncio.FIRST_COMPLETED)
            if self._watcher.done() and (veto := self._watcher.result()) is not None:
                break
        self.withdraw("veto")  # from here on a veto is refused: the operation is no longer pending
        if veto is not None:
            self._vetoed = True
            for task_id in self.open_task_ids("approve"):
                self.withdraw_task(task_id, f"vetoed by {veto.actor.id}: {veto.reason}")
        decided, approvers = await approval
        return veto, decided, approvers

    async def _approvals(self, needed: int) -> tuple[Decided, list[str]]:
        approvers: list[str] = []
        while True:
            excluded = (self.maker.id, *approvers)
            named: tuple[str, ...] = ()
            if self.context.region is not None:
                found = await self._activity("find_fund_approvers", ApproverQuery(region=self.context.region, at=workflow.now()))
                named = tuple(name for name in found if name not in excluded)
            if self._vetoed:  # vetoed between two approvals: open no further task
                return Decided(action="withdrawn", actor=SYSTEM, reason="vetoed", at=workflow.now()), approvers
            ordinal = f"（第 {len(approvers) + 1}/{needed} 位复核）" if needed > 1 else ""
            decided = await self.human_step(
                "approve",
                title=f"资金操作复核{ordinal}：{OPERATION_ZH[self.op.operation]} {self._what()}，发起人 {self.maker.id}",
                tier="super",
                actions=("approve", "reject"),
                subject=self._subject(excluded),
                evidence={
                    "operation": self.op.operation, "account": self.op.account, "account_name": self.context.account_name,
                    "amount": self.op.amount, "fee_rate_bps": self.op.fee_rate_bps, "current_fee_rate": self.context.fee_rate,
                    "reason": self.op.reason, "maker": self.maker.id, "maker_tier": self.maker.tier,
                    "dispute_code": self.op.dispute_code, "approved_by": list(approvers), "approvals_needed": needed,
                },
                candidates=named,
                excluded=excluded,
                on_timeout="lapse",
            )
            if decided.action != "approve":
                return decided, approvers
            approvers.append(decided.actor.id)
            if len(approvers) >= needed:
                return decided, approvers

    def _subject(self, excluded: tuple[str, ...]) -> Subject:
        return Subject(
            kind="fund-operation", id=self.process_id, region=self.context.region, requester=self.maker.id,
            excluded=excluded, amount=self.op.amount,
        )

    def _what(self) -> str:
        if self.op.operation == "fee_rate_change" and self.op.fee_rate_bps is not None:
            return f"费率 → {self.op.fee_rate_bps / 100:.2f}%"
        return f"{_yuan(self.op.amount)} → {self.op.account}"

    async def _end(self, status: str, reason: str, **result) -> dict:
        """Finish, first answering a veto that arrived together with the last decision (too late)."""
        watcher = getattr(self, "_watcher", None)
        if watcher is not None and watcher.done() and watcher.result() is not None:
            late = watcher.result()
            await self.audit("fund-operation.veto_too_late", "refused", actor=late.actor, reason=f"the operation was already {status}")
            self.handled(late)
        elif watcher is not None:
            watcher.cancel()
        return await self.finish(status, reason, **result)

    def check_action(self, task, actor, action, body):
        if action in ("approve", "reject") and self.context.region is None and actor.tier != "super":
            return ("funds_need_super", "platform-wide fund operations are checked by a super admin")
        return None


SPEC = WorkflowSpec(
    kind="fund-operation",
    workflow=FundOperationWorkflow,
    input=FundOperationInput,
    workflow_id=fund_operation_id,
    start_permission="funds.propose",
    title_zh="资金操作（双人复核）",
    title_en="Fund operation (dual review)",
    description=(
        "A withdrawal, fee-rate change or merchant settlement: one super proposes, a different super approves "
        "before the deadline or it lapses, any super may veto; executed exactly once against the ledger."
    ),
    validate_start=check_proposal,
    example={"operation": "merchant_settlement", "account": "M0007", "amount": 1_280_000, "reason": "十一月第二期商家结算"},
)
