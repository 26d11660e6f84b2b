"""Risk review (风控, SPEC §5.8 and §6): a risk signal arrives with its evidence and explanation
→ a review task opens at the tier SPEC §3 lets act on it (duplicate-order hints with normal
admins, brushing and unusual refunds with regional admins, admin misuse with supers) → the
reviewer dismisses it, flags or intercepts the subject, or, for a buyer, requests a ban: that
starts an account-ban process of its own, which outlives this review.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import msgspec
from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.buyers import BanStart
    from workflows.account_ban import BanInput
    from workflows.domain.policy import DEFAULT_POLICY, Actor, Subject
    from workflows.domain.regions import DEFAULT_REGIONS
    from workflows.process import Decided, Process, Start
    from workflows.spec import ActionSpec, WorkflowSpec

ROUTES = {"duplicate_order": "normal", "brushing": "regional", "unusual_refund": "regional", "admin_misuse": "super"}
"""SPEC §3 risk row: normals execute set actions on hints, regionals intercept in their regions,
supers own the rules and judge admins. Interns only *see* duplicate-order hints: the task stays
with the normal tier and carries the hint text."""
SIGNALS_ZH = {"duplicate_order": "重复下单", "brushing": "疑似刷单", "unusual_refund": "异常退款/结算", "admin_misuse": "管理员异常操作"}
SUBJECTS_ZH = {"buyer": "买家", "merchant": "商家", "admin": "管理员", "order": "订单"}
OUTCOMES = {"dismiss": "dismissed", "flag": "flagged", "intercept": "intercepted", "request_ban": "ban_requested"}


class RiskSignalInput(msgspec.Struct, frozen=True, kw_only=True):
    signal: Literal["admin_misuse", "brushing", "duplicate_order", "unusual_refund"]
    subject_kind: Literal["buyer", "merchant", "admin", "order"]
    subject: Annotated[str, msgspec.Meta(min_length=1, max_length=64, examples=["B00042"])]
    region: Annotated[str, msgspec.Meta(max_length=64)] | None = None
    """Required except for admin misuse, which is judged globally."""
    score: Annotated[float, msgspec.Meta(ge=0, le=1)]
    """How unusual against the actor's own baseline (0 ordinary, 1 extreme)."""
    explanation: Annotated[str, msgspec.Meta(min_length=4, max_length=4000)]
    evidence: list[dict[str, Any]] = []
    baseline: dict[str, Any] = {}
    """The actor's own baseline the score was measured against (median, MAD, buckets...)."""
    tier: Literal["super", "regional", "normal"] | None = None
    """The reviewing tier a risk rule names; by default the signal's (``ROUTES``)."""


class DismissInput(msgspec.Struct, frozen=True, kw_only=True):
    reason: Annotated[str, msgspec.Meta(min_length=2, max_length=2000)]


class OutcomeInput(msgspec.Struct, frozen=True, kw_only=True):
    reason: Annotated[str, msgspec.Meta(max_length=2000)] = ""


class BanRequestInput(msgspec.Struct, frozen=True, kw_only=True):
    reason: Annotated[str, msgspec.Meta(min_length=4, max_length=2000)]


def risk_workflow_id(start: Start[RiskSignalInput]) -> str:
    return f"risk-review-{start.key}"


def check_signal(body: RiskSignalInput, actor: Actor | None, now: datetime | None = None) -> tuple[str, str] | None:
    """Why this signal cannot open a review, or None. Signals come from the risk service (no
    actor); an admin may also open one by flagging, within their own scope."""
    if body.region is not None and body.region not in {r.key for r in DEFAULT_REGIONS}:
        return ("unknown_region", f"there is no region {body.region!r}")
    if body.region is None and body.signal != "admin_misuse":
        return ("region_required", "a buyer, merchant or order signal names its region")
    if (body.signal == "admin_misuse") != (body.subject_kind == "admin"):
        return ("subject_mismatch", "admin misuse is about an admin, and an admin is reviewed only for misuse")
    if body.signal == "admin_misuse" and body.tier not in (None, "super"):
        return ("tier_not_allowed", "admin misuse is reviewed by super admins only")
    if actor is not None:
        decision = DEFAULT_POLICY.can(actor, "risk.flag", Subject(kind=body.subject_kind, id=body.subject, region=body.region), now=now or datetime.now(UTC))
        if not decision.allowed:
            return (decision.code, decision.reason)
    return None


@workflow.defn(name="RiskReview")
class RiskReviewWorkflow(Process):
    KIND = "risk-review"
    ACTIONS = (
        ActionSpec("dismiss", DismissInput, "risk.review", "排除", "Dismiss", {"reason": "核实为同一买家正常复购"}, role="reviewer"),
        ActionSpec("flag", OutcomeInput, "risk.flag", "标记可疑", "Flag", {"reason": "持续观察"}, role="reviewer"),
        ActionSpec("intercept", OutcomeInput, "risk.intercept", "拦截", "Intercept", {"reason": "拦截该商家的可疑订单"}, role="reviewer"),
        ActionSpec("request_ban", BanRequestInput, "users.flag", "申请封禁", "Request a ban", {"reason": "多次参与刷单，建议封禁"}, role="reviewer"),
    )

    @workflow.run
    async def run(self, params: Start[RiskSignalInput]) -> dict:
        if (refused := await self.admit(params)) is not None:
            return refused
        signal = params.body
        await self.start(params.by, f"{SIGNALS_ZH[signal.signal]}：{SUBJECTS_ZH[signal.subject_kind]} {signal.subject}（{signal.score:.2f}）", params.config, signal.region)
        problem = check_signal(signal, params.by, workflow.now())
        if problem is not None:
            return await self.finish("rejected", problem[1], code=problem[0])
        actions = ("dismiss", "flag") + (("intercept",) if signal.subject_kind != "admin" else ()) + (
            ("request_ban",) if signal.subject_kind == "buyer" else ()
        )
        excluded = tuple(x for x in (params.by.id if params.by else None, signal.subject if signal.subject_kind == "admin" else None) if x)
        subject = Subject(kind=signal.subject_kind, id=signal.subject, region=signal.region, excluded=excluded)
        evidence = {
            "signal": signal.signal, "subject_kind": signal.subject_kind, "subject": signal.subject,
            "region": signal.region, "score": signal.score, "explanation": signal.explanation, "rows": signal.evidence,
        }
        if signal.baseline:
            evidence["baseline"] = signal.baseline
        if signal.signal == "duplicate_order":
            evidence["hint_zh"] = f"系统提示：{SUBJECTS_ZH[signal.subject_kind]} {signal.subject} 疑似重复下单"
        decided = await self.human_step(
            "review",
            title=f"风控审核：{SIGNALS_ZH[signal.signal]} · {SUBJECTS_ZH[signal.subject_kind]} {signal.subject}",
            tier=signal.tier or ROUTES[signal.signal], actions=actions, subject=subject, evidence=evidence, excluded=excluded,
        )
        outcome = OUTCOMES[decided.action]
        result: dict[str, Any] = {"signal": signal.signal, "subject": f"{signal.subject_kind}:{signal.subject}", "decided_by": decided.actor.id}
        if decided.action == "request_ban":
            result["ban_process"] = await self._start_ban(params, decided)
        await self.audit(  # on the subject, where a search by target finds it
            f"risk.{outcome}", outcome, actor=decided.actor, target=f"{signal.subject_kind}:{signal.subject}",
            reason=decided.reason, after=result,
        )
        return await self.finish(outcome, decided.reason, **result)

    async def _start_ban(self, params: Start[RiskSignalInput], decided: Decided) -> str:
        """An account ban for the buyer: the reviewer requests it if they may, else the signal does.

        Started as a process of its own (by an activity, idempotent on the ban's id) rather than
        as a child: it runs for weeks after this review ends, and nothing here waits for it.
        """
        signal, reviewer = params.body, decided.actor
        buyer = Subject(kind="buyer", id=signal.subject, region=signal.region)
        may_request = DEFAULT_POLICY.can(reviewer, "users.request_ban", buyer, now=workflow.now()).allowed
        body = BanInput(
            buyer=signal.subject, region=signal.region or "", reason=decided.reason,
            evidence={"signal": signal.signal, "score": signal.score, "explanation": signal.explanation},
            flagged_by=None if may_request else reviewer.id, source_process=self.process_id,
        )
        return await self._activity(
            "start_account_ban",
            BanStart(by=reviewer if may_request else None, body=msgspec.to_builtins(body), key=params.key, config=params.config,
                     case=self.case()),
        )

SPEC = WorkflowSpec(
    kind="risk-review",
    workflow=RiskReviewWorkflow,
    input=RiskSignalInput,
    workflow_id=risk_workflow_id,
    start_permission="risk.flag",
    also_checks=("users.request_ban",),
    title_zh="风控审核",
    title_en="Risk review",
    description="A risk signal with its evidence opens a review at the tier that may act on it; a ban may follow.",
    validate_start=check_signal,
    example={
        "signal": "brushing", "subject_kind": "buyer", "subject": "B00042", "region": "game-cards", "score": 0.93,
        "explanation": "40 分钟内向同一商家下单 16 笔小额点卡，远超该买家历史基线（日均 0.3 笔）",
        "evidence": [{"order": "O000123", "amount": 1000, "at": "2026-11-20T14:03:00Z"}],
    },
    platform_start=True,
    opener="activities.risk.store:report_signal",  # one open review per subject and signal type, whoever reports it
)
