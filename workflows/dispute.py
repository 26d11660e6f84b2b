"""Dispute arbitration (纠纷仲裁, SPEC §5.3): the platform opens a dispute on an order → the
merchant has a response window → a normal admin of the buyer's region mediates → unresolved
(escalated) or cross-region disputes go to a regional admin of the buyer's region for a
ruling → either side may appeal within a window, and a super admin upholds or overturns.

The refund is paid once the decision is final (no appeal in the window, or the appeal
decided), so an overturned ruling never needs a payment reversed. A refund at or under the
threshold is written to the ledger by the dispute itself; above it, it is a fund operation
needing dual review: the dispute starts a FundOperation child (``refund``, maker = the admin
whose decision awarded it) and waits for it; the refund is paid only if that is approved.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.disputes import DisputeContext, DisputeContextQuery, DisputeOpen, DisputeOpened, DisputeUpdate
    from activities.funds import FundExecuted, FundExecution
    from workflows.domain.policy import DEFAULT_POLICY, Actor, Subject
    from workflows.fund_operation import FundOperationInput, fund_operation_id
    from workflows.process import TRUST_CORE, Decided, Process, Start
    from workflows.spec import ActionSpec, WorkflowSpec

REFUSED = ("rejected", "vetoed", "lapsed")
"""How a refund's fund operation ends unpaid."""
OUTCOME_ZH = {"resolved": "调解结果", "ruled": "裁决", "appealed": "终审结果"}


class DisputeInput(msgspec.Struct, frozen=True, kw_only=True):
    dispute_code: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_-]{2,32}$", examples=["D00123"])]
    order_code: Annotated[str, msgspec.Meta(min_length=1, max_length=32, examples=["O0001234"])]
    reason: Annotated[str, msgspec.Meta(min_length=2, max_length=2000)]
    amount_claimed: Annotated[int, msgspec.Meta(gt=0)]
    """In cents, at most the order amount."""


class MerchantResponse(msgspec.Struct, frozen=True, kw_only=True):
    statement: Annotated[str, msgspec.Meta(min_length=2, max_length=4000)]
    evidence: tuple[str, ...] = ()
    """References to uploaded proof (delivery logs, chat screenshots)."""


class AppealInput(msgspec.Struct, frozen=True, kw_only=True):
    appellant: Literal["buyer", "merchant"]
    reason: Annotated[str, msgspec.Meta(min_length=2, max_length=2000)]


class EscalateInput(msgspec.Struct, frozen=True, kw_only=True):
    reason: Annotated[str, msgspec.Meta(min_length=2, max_length=2000)]


class DecisionInput(msgspec.Struct, frozen=True, kw_only=True):
    """A mediated resolution, a ruling or an overturning appeal decision: the refund awarded."""

    refund_amount: Annotated[int, msgspec.Meta(ge=0)] = 0
    """In cents, at most the order amount; 0 dismisses the claim."""
    reason: Annotated[str, msgspec.Meta(min_length=2, max_length=2000)]


class RefundInput(msgspec.Struct, frozen=True, kw_only=True):
    """A refused refund proposed again: smaller than the one refused."""

    refund_amount: Annotated[int, msgspec.Meta(gt=0)]
    reason: Annotated[str, msgspec.Meta(min_length=2, max_length=2000)]


class NoRefundInput(msgspec.Struct, frozen=True, kw_only=True):
    """Why the dispute ends with no refund paid after its refund was refused."""

    reason: Annotated[str, msgspec.Meta(min_length=4, max_length=2000)]


class UpholdInput(msgspec.Struct, frozen=True, kw_only=True):
    reason: Annotated[str, msgspec.Meta(min_length=2, max_length=2000)]


class Ruling(msgspec.Struct, frozen=True, kw_only=True):
    outcome: str
    """``resolved`` (mediated), ``ruled`` (regional ruling) or ``appealed`` (decided on appeal)."""
    by: Actor
    refund_amount: int
    reason: str
    step: str
    at: datetime

    @classmethod
    def of(cls, outcome: str, decided: Decided, step: str) -> Ruling:
        body = decided.as_(DecisionInput)
        return cls(outcome=outcome, by=decided.actor, refund_amount=body.refund_amount, reason=body.reason, step=step, at=decided.at)


def dispute_id(start: Start[DisputeInput]) -> str:
    return f"dispute-{start.body.dispute_code}"


def check_claim(claim: DisputeInput, actor: Actor | None) -> tuple[str, str] | None:
    """Why this dispute cannot be opened (before looking at the order), or None."""
    if claim.amount_claimed <= 0:
        return ("amount_required", "the amount claimed is a positive number of cents")
    if not 2 <= len(claim.dispute_code) <= 32:
        return ("bad_code", "a dispute code has 2 to 32 characters")
    if len(claim.reason.strip()) < 2:
        return ("reason_required", "say what went wrong")
    return None


def _yuan(cents: int) -> str:
    return f"¥{cents / 100:,.2f}"


@workflow.defn(name="Dispute")
class DisputeWorkflow(Process):
    KIND = "dispute"
    ACTIONS = (
        ActionSpec("resolve", DecisionInput, "disputes.mediate", "调解结案", "Resolve", {"refund_amount": 3_000, "reason": "双方同意部分退款"}, role="mediator"),
        ActionSpec("escalate", EscalateInput, "disputes.mediate", "升级裁决", "Escalate", {"reason": "双方各执一词，调解不成"}, role="mediator"),
        ActionSpec("rule", DecisionInput, "disputes.rule", "裁决", "Rule", {"refund_amount": 12_000, "reason": "商家未能证明已发货，全额退款"}, role="ruler"),
        ActionSpec(
            "uphold", UpholdInput, "disputes.rule_appeal", "维持原裁决", "Uphold", {"reason": "申诉理由不成立"},
            role="appeal_judge", independent_of=("mediator", "ruler"),
        ),
        ActionSpec(
            "overturn", DecisionInput, "disputes.rule_appeal", "改判", "Overturn",
            {"refund_amount": 6_000, "reason": "证据显示部分点卡已使用，改判退一半"},
            role="appeal_judge", independent_of=("mediator", "ruler"),
        ),
        # A refund its dual review refused comes back to the tier that awarded it.
        ActionSpec(
            "repropose_refund", RefundInput, "disputes.mediate", "重新提出退款", "Propose a smaller refund",
            {"refund_amount": 40_000, "reason": "复核驳回后按已核实部分退款"}, role="ruler",
        ),
        ActionSpec(
            "record_no_refund", NoRefundInput, "disputes.mediate", "记录不予退款", "Record why none is paid",
            {"reason": "复核认定商家举证充分，不予退款"},
        ),
    )

    PLATFORM_EVENTS = {"merchant_response": MerchantResponse, "appeal": AppealInput}

    @workflow.run
    async def run(self, params: Start[DisputeInput]) -> dict:
        if (refused := await self.admit(params)) is not None:
            return refused
        claim = self.claim = params.body
        self.code = claim.dispute_code
        self.configure(params.config, None)
        problem = check_claim(claim, params.by)
        if problem is not None:
            return await self.finish("rejected", problem[1], code=problem[0])
        ctx = self.ctx = msgspec.convert(
            await self._activity("load_dispute_context", DisputeContextQuery(order_code=claim.order_code)), DisputeContext
        )
        if not ctx.found:
            return await self.finish("rejected", f"there is no order {claim.order_code}", code="unknown_order")
        if ctx.order_status == "refunded":
            return await self.finish("rejected", f"order {claim.order_code} has already been refunded", code="already_refunded")
        if claim.amount_claimed > ctx.order_amount:
            too_high = f"the claim {_yuan(claim.amount_claimed)} exceeds the order's {_yuan(ctx.order_amount)}"
            return await self.finish("rejected", too_high, code="claim_too_high")
        self.cross_region = ctx.buyer_region != ctx.merchant_region
        self.subject = Subject(kind="dispute", id=self.code, region=ctx.buyer_region, amount=claim.amount_claimed)
        self.deciders: list[str] = []
        self.appeal: dict[str, Any] | None = None
        self.response: MerchantResponse | None = None
        self.escalation = ""
        summary = f"订单 {ctx.order_code} 纠纷：{claim.reason}（索赔 {_yuan(claim.amount_claimed)}）"
        await self.start(params.by, summary, params.config, ctx.buyer_region)
        opened = msgspec.convert(
            await self._activity(
                "open_dispute",
                DisputeOpen(code=self.code, order_code=ctx.order_code, region=ctx.order_region, reason=claim.reason,
                            opened_at=workflow.now(), process_id=self.process_id),
            ),
            DisputeOpened,
        )
        if opened.conflict:
            return await self.finish("rejected", opened.conflict, code="dispute_conflict")

        self.response = await self._merchant_response()
        ruling = await self._decide()
        ruling = await self._appeal_window(ruling)
        refund = await self._refund(ruling)
        awarded = ruling.refund_amount
        if refund["status"] in REFUSED and workflow.patched(TRUST_CORE):
            refund, awarded = await self._refused_refund(ruling, refund)
        await self._update(ruling.outcome, self._resolution(ruling, refund), refund_amount=refund["amount"])
        return await self.finish(
            ruling.outcome, ruling.reason, decided_by=ruling.by.id, refund_awarded=awarded,
            refund=refund, appeal=self.appeal, cross_region=self.cross_region,
        )

    async def _refused_refund(self, ruling: Ruling, refund: dict[str, Any]) -> tuple[dict[str, Any], int]:
        """A refund its dual review refused (rejected, vetoed, lapsed) goes back to the tier
        whose decision awarded it, as a task: propose a smaller refund (paid at once under the
        threshold, reviewed again above it) or record why none is paid. Never a silent end."""
        attempt, awarded = 1, ruling.refund_amount
        tier = ruling.by.tier if ruling.by.tier in DEFAULT_POLICY.ladder else "regional"
        while refund["status"] in REFUSED:
            self._refused_amount = awarded
            self._step = "refund_refused"
            await self.audit("dispute.refund_refused", refund["status"], reason=refund.get("reason", ""),
                             after={"fund_operation": refund.get("operation_id"), "awarded": awarded})
            decided = await self.human_step(
                "refund_refused",
                title=f"纠纷退款复核未通过：{self.code}（{_yuan(awarded)}），请重新提出或记录不予退款",
                tier=tier, actions=("repropose_refund", "record_no_refund"), subject=self.subject,
                evidence={**self._evidence(), "refund": refund, "awarded": awarded, "attempt": attempt},
            )
            if decided.action != "repropose_refund":
                reason = decided.reason or "no decision"
                await self.audit("dispute.no_refund", "recorded", actor=decided.actor, reason=reason)
                return {**refund, "amount": 0, "awarded": awarded, "no_refund": {"by": decided.actor.id, "reason": reason}}, awarded
            body = decided.as_(RefundInput)
            attempt, awarded = attempt + 1, body.refund_amount
            again = Ruling(outcome=ruling.outcome, by=decided.actor, refund_amount=awarded, reason=body.reason, step="refund_refused", at=decided.at)
            refund = await self._refund(again, attempt)
        return refund, awarded

    async def _merchant_response(self) -> MerchantResponse | None:
        """Wait for the merchant's answer; a reminder goes out before the window closes."""
        timing = self.timing("merchant_response")
        self._step = "merchant_response"
        deadline = workflow.now() + timing.due
        self.expect("merchant_response")
        event = None
        if timing.remind_before and timing.remind_before < timing.due:
            event = await self.next_event(timing.due - timing.remind_before)
            if event is None:
                await self.audit("dispute.merchant_reminded", "reminded", target=f"merchant:{self.ctx.merchant_code}",
                                 reason=f"商家须在 {deadline.isoformat()} 前回应")
        if event is None:
            event = await self.next_event(deadline - workflow.now())
        self.unexpect("merchant_response")
        if event is None:
            await self.audit("dispute.merchant_silent", "no_response", target=f"merchant:{self.ctx.merchant_code}",
                             reason=f"商家未在 {timing.due} 内回应，进入处理 / no response within {timing.due}")
            return None
        response = event.as_(MerchantResponse)
        self.handled(event)
        await self.audit("dispute.merchant_responded", "responded", actor=event.actor, target=f"merchant:{self.ctx.merchant_code}",
                         reason=response.statement[:500])
        return response

    async def _decide(self) -> Ruling:
        """Mediation in the buyer's region; escalated or cross-region disputes are ruled on by a regional admin."""
        if not self.cross_region:
            await self._update("mediating")
            decided = await self.human_step(
                "mediate",
                title=f"纠纷调解：订单 {self.ctx.order_code}，买家 {self.ctx.buyer_code} 索赔 {_yuan(self.claim.amount_claimed)}",
                tier="normal", actions=("resolve", "escalate"), subject=self.subject, evidence=self._evidence(),
            )
            self.deciders.append(decided.actor.id)
            if decided.action == "resolve":
                return Ruling.of("resolved", decided, "mediate")
            self.escalation = decided.reason
            await self.audit("dispute.escalated", "escalated", actor=decided.actor, reason=decided.reason)
        await self._update("escalated")
        decided = await self.human_step(
            "rule",
            title=f"纠纷裁决{'（跨区域）' if self.cross_region else '（调解升级）'}：订单 {self.ctx.order_code}，索赔 {_yuan(self.claim.amount_claimed)}",
            tier="regional", actions=("rule",), subject=self.subject,
            evidence={**self._evidence(), "escalation": self.escalation or None},
        )
        self.deciders.append(decided.actor.id)
        return Ruling.of("ruled", decided, "rule")

    async def _appeal_window(self, ruling: Ruling) -> Ruling:
        """Either side may appeal once within the window; a super admin who took no part decides."""
        await self._update(ruling.outcome, self._resolution(ruling, None), refund_amount=0)
        self._step = "appeal_window"
        self._result = {"outcome": ruling.outcome, "decided_by": ruling.by.id, "refund_awarded": ruling.refund_amount}
        self.expect("appeal")
        event = await self.next_event(self.timing("appeal_window").due)
        self.unexpect("appeal")
        if event is None:
            return ruling
        appeal = event.as_(AppealInput)
        self.handled(event)
        self.appeal = {"appellant": appeal.appellant, "reason": appeal.reason, "filed_at": event.at.isoformat()}
        await self._update("appealed", self._resolution(ruling, None))
        await self.audit("dispute.appealed", "appealed", actor=event.actor, reason=f"{appeal.appellant}: {appeal.reason}")
        decided = await self.human_step(
            "appeal",
            title=f"纠纷申诉终审：{self.code}（{'买家' if appeal.appellant == 'buyer' else '商家'}不服{OUTCOME_ZH[ruling.outcome]}）",
            tier="super", actions=("uphold", "overturn"),
            subject=msgspec.structs.replace(self.subject, excluded=tuple(self.deciders)),
            evidence={**self._evidence(), "decision": self._resolution(ruling, None), "appeal": self.appeal},
            excluded=tuple(self.deciders),
        )
        verdict = "upheld" if decided.action == "uphold" else "overturned"
        self.appeal |= {"decision": verdict, "by": decided.actor.id, "reason": decided.reason}
        if decided.action == "uphold":
            return msgspec.structs.replace(ruling, outcome="appealed", reason=f"{ruling.reason}（终审维持：{decided.reason}）")
        return Ruling.of("appealed", decided, "appeal")

    async def _refund(self, ruling: Ruling, attempt: int = 1) -> dict[str, Any]:
        amount, threshold = ruling.refund_amount, self.ctx.refund_threshold
        if amount == 0:
            return {"status": "none", "amount": 0}
        if amount <= threshold:
            executed = msgspec.convert(
                await self._activity(
                    "execute_fund_operation",
                    FundExecution(
                        operation_id=f"{self.process_id}:refund", kind="refund", amount=amount, account=self.ctx.merchant_code,
                        proposed_by=ruling.by.id, approved_by=ruling.by.id, executed_at=workflow.now(),
                        details={"dispute_code": self.code, "order_code": self.ctx.order_code,
                                 "buyer": self.ctx.buyer_code, "step": ruling.step},
                    ),
                ),
                FundExecuted,
            )
            return {"status": "executed", "amount": amount, "operation_id": executed.operation_id, "ledger_entry": executed.entry_id}
        start = Start(
            by=ruling.by,
            body=FundOperationInput(
                operation="refund", account=self.ctx.merchant_code, amount=amount, dispute_code=self.code,
                reason=f"纠纷 {self.code} 退款（订单 {self.ctx.order_code}）：{ruling.reason}", attempt=attempt,
            ),
            key=self.code,
            config=self._config,
            case=self.case(),  # the refund's checkers are none of the case's deciders
        )
        child_id = fund_operation_id(start)
        self._step = "refund_review"
        await self.audit("dispute.refund_review", "pending", reason=f"退款 {_yuan(amount)} 超过 {_yuan(threshold)}，需资金双人复核",
                         after={"fund_operation": child_id, "amount": amount, "threshold": threshold})
        await self.waiting()
        result = await workflow.execute_child_workflow(
            "FundOperation", start, id=child_id, task_queue=workflow.info().task_queue, result_type=dict,
        )
        status = result.get("status", "failed")
        return {
            "status": status, "amount": amount if status == "executed" else 0, "awarded": amount,
            "operation_id": child_id, "ledger_entry": result.get("ledger_entry"), "reason": result.get("reason", ""),
        }

    async def _update(self, status: str, resolution: dict[str, Any] | None = None, refund_amount: int | None = None) -> None:
        update = DisputeUpdate(code=self.code, status=status, resolution=resolution, refund_amount=refund_amount)
        await self._activity("update_dispute", update)

    def _evidence(self) -> dict[str, Any]:
        ctx = self.ctx
        return {
            "dispute": self.code, "order": ctx.order_code, "order_amount": ctx.order_amount, "product": ctx.product_name,
            "buyer": ctx.buyer_code, "buyer_region": ctx.buyer_region, "merchant": ctx.merchant_code,
            "merchant_name": ctx.merchant_name, "merchant_region": ctx.merchant_region, "cross_region": self.cross_region,
            "reason": self.claim.reason, "amount_claimed": self.claim.amount_claimed, "refund_threshold": ctx.refund_threshold,
            "merchant_response": msgspec.to_builtins(self.response) if self.response else "商家未在时限内回应 / no response",
        }

    def _resolution(self, ruling: Ruling, refund: dict[str, Any] | None) -> dict[str, Any]:
        return {
            "outcome": ruling.outcome, "decided_by": ruling.by.id, "decided_tier": ruling.by.tier, "step": ruling.step,
            "decided_at": ruling.at.isoformat(), "reason": ruling.reason, "refund_awarded": ruling.refund_amount,
            "amount_claimed": self.claim.amount_claimed, "cross_region": self.cross_region, "escalation": self.escalation or None,
            "merchant_responded": self.response is not None, "appeal": self.appeal, "refund": refund,
        }

    def check_action(self, task, actor, action, body):
        if action == "repropose_refund" and body.refund_amount >= self._refused_amount:
            return ("refund_not_smaller", f"propose less than the {_yuan(self._refused_amount)} refused, or record why none is paid")
        refund = getattr(body, "refund_amount", None)
        if refund is not None and refund > self.ctx.order_amount:
            return ("refund_too_high", f"a refund of {_yuan(refund)} exceeds the order's {_yuan(self.ctx.order_amount)}")
        return None


SPEC = WorkflowSpec(
    kind="dispute",
    workflow=DisputeWorkflow,
    input=DisputeInput,
    workflow_id=dispute_id,
    start_permission="disputes.triage",
    title_zh="纠纷仲裁",
    title_en="Dispute arbitration",
    description=(
        "A buyer's dispute on an order: merchant response window, mediation in the buyer's region, a regional "
        "ruling when escalated or cross-region, an appeal to a super; refunds above the threshold need dual review."
    ),
    validate_start=check_claim,
    example={"dispute_code": "D00123", "order_code": "O0001234", "reason": "点卡卡密无效，已充值失败", "amount_claimed": 10_000},
    platform_start=True,
)
