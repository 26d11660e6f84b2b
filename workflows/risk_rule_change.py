"""Risk rule change (风控规则变更, SPEC §3: supers define thresholds and anti-fraud rules): a
super proposes new parameters, a new reviewing tier, or turning a rule on or off → the change
is backtested against the last N days (how many signals the rule as it is and as proposed
would have raised, with examples) → a minor change is applied at once; a major one (a rule
turned off, reviews sent to a lower tier, a threshold moved by more than a quarter, or a
backtest that swings by more than half) waits for a second super, whose task shows the
backtest, and lapses unanswered → applied only if no other change came first.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.risk import BacktestRequest, RuleApplied, RuleApply
    from activities.risk.backtest import BacktestReport
    from activities.risk.rules import DEFAULT_RULES, ReviewTier, RiskRule, RuleChange, RuleKey, apply_change, check_change
    from workflows.domain.policy import DEFAULT_POLICY, Actor, Subject
    from workflows.process import Process, Start
    from workflows.spec import ActionSpec, WorkflowSpec


class RiskRuleChangeInput(msgspec.Struct, frozen=True, kw_only=True):
    rule: Annotated[RuleKey, msgspec.Meta(examples=["brushing"])]
    params: dict[str, float] = {}
    """Only the parameters that change."""
    tier: ReviewTier | None = None
    enabled: bool | None = None
    reason: Annotated[str, msgspec.Meta(min_length=4, max_length=2000)]
    backtest_days: Annotated[int, msgspec.Meta(ge=1, le=365)] = 30

    @property
    def change(self) -> RuleChange:
        return RuleChange(params=dict(self.params), tier=self.tier, enabled=self.enabled)


class ApproveRuleInput(msgspec.Struct, frozen=True, kw_only=True):
    reason: Annotated[str, msgspec.Meta(max_length=2000)] = ""


class RejectRuleInput(msgspec.Struct, frozen=True, kw_only=True):
    reason: Annotated[str, msgspec.Meta(min_length=2, max_length=2000)]


def rule_change_id(start: Start[RiskRuleChangeInput]) -> str:
    return f"risk-rule-change-{start.body.rule.replace('_', '-')}-{start.key}"


def check_rule_change(body: RiskRuleChangeInput, actor: Actor | None, now=None) -> tuple[str, str] | None:
    """Why this change cannot be proposed, or None."""
    if actor is None:
        return ("proposer_required", "a risk rule is changed by a super admin, not by the platform")
    problem = check_change(body.rule, body.change)
    if problem is not None:
        return problem
    if now is not None and not DEFAULT_POLICY.can(actor, "risk.define_rules", Subject(kind="risk-rule", id=body.rule), now=now).allowed:
        return ("no_permission", "only super admins define risk rules (SPEC §3)")
    return None


def _changes(before: RiskRule, after: RiskRule) -> dict[str, Any]:
    changed: dict[str, Any] = {k: {"from": before.params.get(k), "to": v} for k, v in after.params.items() if before.params.get(k) != v}
    if before.tier != after.tier:
        changed["tier"] = {"from": before.tier, "to": after.tier}
    if before.enabled != after.enabled:
        changed["enabled"] = {"from": before.enabled, "to": after.enabled}
    return changed


@workflow.defn(name="RiskRuleChange")
class RiskRuleChangeWorkflow(Process):
    KIND = "risk-rule-change"
    ACTIONS = (
        ActionSpec("approve", ApproveRuleInput, "risk.define_rules", "批准变更", "Approve", {"reason": "回测结果合理，同意调整"}),
        ActionSpec("reject", RejectRuleInput, "risk.define_rules", "驳回变更", "Reject", {"reason": "回测显示漏报过多"}),
    )

    @workflow.run
    async def run(self, params: Start[RiskRuleChangeInput]) -> dict:
        if (refused := await self.admit(params)) is not None:
            return refused
        body = params.body
        self.configure(params.config, None)
        problem = check_rule_change(body, params.by, workflow.now())
        if problem is not None or params.by is None:
            code, reason = problem or ("proposer_required", "")
            return await self.finish("rejected", reason, code=code)
        proposer = params.by
        title = DEFAULT_RULES[body.rule].title_zh
        await self.start(proposer, f"风控规则变更「{title}」：{body.reason}", params.config, None)

        before = await self._activity("load_risk_rule", body.rule, RiskRule)
        report = await self._activity(
            "backtest_risk_rule", BacktestRequest(rule=body.rule, change=body.change, days=body.backtest_days, at=workflow.now()), BacktestReport, long=True,
        )
        after = apply_change(before, body.change, by=proposer.id)
        changes = _changes(before, after)
        if not changes:
            return await self.finish("rejected", "the proposal changes nothing", code="no_change")
        summary = {
            "rule": body.rule, "title": title, "changes": changes, "reason": body.reason, "proposed_by": proposer.id,
            "backtest": msgspec.to_builtins(report), "major": report.major, "major_zh": report.major_zh,
        }
        approved_by = None
        if report.major:
            decided = await self.human_step(
                "approve",
                title=f"风控规则变更复核：「{title}」，发起人 {proposer.id}（回测 {report.days} 天：{report.signals_before} → {report.signals_after} 条信号）",
                tier="super", actions=("approve", "reject"),
                subject=Subject(kind="risk-rule", id=body.rule, requester=proposer.id, excluded=(proposer.id,)),
                evidence=summary, excluded=(proposer.id,), on_timeout="lapse",
            )
            if decided.action == "lapsed":
                return await self.finish("lapsed", decided.reason, rule=body.rule)
            if decided.action == "reject":
                return await self.finish("rejected", decided.reason, rule=body.rule, rejected_by=decided.actor.id)
            approved_by = decided.actor.id

        applied = await self._activity(
            "apply_risk_rule", RuleApply(rule=after, expected_version=before.version, at=workflow.now(), process_id=self.process_id), RuleApplied
        )
        if not applied.applied:
            return await self.finish("superseded", f"rule {body.rule} changed meanwhile (now version {applied.version}); propose again", rule=body.rule)
        await self.audit(
            "risk.rule_changed", "applied", actor=proposer, target=f"risk-rule:{body.rule}", reason=body.reason,
            after={"version": after.version, "changes": changes, "approved_by": approved_by, "major": report.major},
        )
        return await self.finish(
            "applied", body.reason, rule=body.rule, version=after.version, changes=changes, approved_by=approved_by,
            major=report.major, signals_before=report.signals_before, signals_after=report.signals_after,
        )


SPEC = WorkflowSpec(
    kind="risk-rule-change",
    workflow=RiskRuleChangeWorkflow,
    input=RiskRuleChangeInput,
    workflow_id=rule_change_id,
    start_permission="risk.define_rules",
    title_zh="风控规则变更",
    title_en="Risk rule change",
    description=(
        "A super proposes new thresholds, reviewing tier or on/off for a risk rule; it is backtested over the last "
        "N days; a major change needs a second super's approval (the task shows the backtest); then it takes effect."
    ),
    validate_start=check_rule_change,
    example={"rule": "brushing", "params": {"min_orders": 10}, "reason": "大促期间正常订单增多，提高刷单阈值", "backtest_days": 30},
)
