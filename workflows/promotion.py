"""Promotion (晋升, SPEC §5.5): an intern to normal (nominated by a normal or regional admin of
the intern's region) or a regional admin to super (nominated by a super) → an assessment period
(30 days by default) → metrics gathered from the platform data → three reviewers, none of them
the nominee or the nominator, score independently → a quorum of passing scores decides → the
regional admin of the region (interns) or the station master (supers, within the cap) confirms
→ the tier changes. Everything is audited.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated, Literal

import msgspec
from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.promotions import (
        AdminInfo, AdminRefs, MetricsRequest, PromotionMetrics, PromotionResume, TierChange, TierChangeResult, TierHeadcount, TierRef,
    )
    from workflows.domain.policy import DEFAULT_POLICY, Actor, Subject
    from workflows.domain.routing import approver_tier
    from workflows.process import TRUST_CORE, Decided, Process, Start
    from workflows.spec import ActionSpec, WorkflowSpec

PROMOTIONS = {"normal": "intern", "super": "regional"}
"""Target tier -> the tier a nominee must hold (实习→普通, 区域→超级)."""
REVIEWERS = 3
QUORUM = 2
"""Passing scores needed out of REVIEWERS."""
PASS_SCORE = 70
REVIEW_TIER = "reviewer"
"""Review tasks are addressed to their named reviewer only: a tier no admin holds keeps the
task out of everyone else's inbox (``task_visible`` matches candidates first)."""


class NominateInput(msgspec.Struct, frozen=True, kw_only=True):
    nominee: Annotated[str, msgspec.Meta(min_length=1, max_length=64, examples=["intern-game-items-1"])]
    target_tier: Literal["normal", "super"]
    reasons: Annotated[str, msgspec.Meta(min_length=4, max_length=4000)]
    reviewers: tuple[str, ...]


class WithdrawInput(msgspec.Struct, frozen=True, kw_only=True):
    reason: Annotated[str, msgspec.Meta(min_length=2, max_length=2000)]




class ScoreInput(msgspec.Struct, frozen=True, kw_only=True):
    score: Annotated[int, msgspec.Meta(ge=0, le=100)]
    notes: Annotated[str, msgspec.Meta(max_length=4000)] = ""
    """Not named ``reason``/``comment``: those go to the process timeline, which other reviewers can read."""


class ConfirmInput(msgspec.Struct, frozen=True, kw_only=True):
    reason: Annotated[str, msgspec.Meta(max_length=2000)] = ""


def promotion_workflow_id(start: Start[NominateInput]) -> str:
    return f"promotion-{start.body.nominee}-{start.key}"


def check_nomination(body: NominateInput, actor: Actor | None, now: datetime | None = None) -> tuple[str, str] | None:
    """Why this admin cannot file this nomination, or None (the nominee's record is checked later)."""
    if actor is None:
        return ("admin_required", "a nomination is made by an admin")
    if body.target_tier not in PROMOTIONS:
        return ("unsupported_promotion", "promotions go from intern to normal or from regional to super")
    if body.nominee == actor.id:
        return ("self_nomination", "no one nominates themselves")
    if len(body.reviewers) != REVIEWERS or len(set(body.reviewers)) != REVIEWERS:
        return ("reviewers_required", f"name {REVIEWERS} different reviewers")
    if {body.nominee, actor.id} & set(body.reviewers):
        return ("conflict_of_interest", "neither the nominee nor the nominator may review the nomination")
    if body.target_tier == DEFAULT_POLICY.ladder.top.key and actor.station_master:
        return ("station_master_confirms", "the station master confirms promotions to super, so another super nominates")
    subject = Subject(kind="admin", id=body.nominee, subject_tier=PROMOTIONS[body.target_tier], excluded=(body.nominee,))
    decision = DEFAULT_POLICY.can(actor, "admins.nominate", subject, now=now or datetime.now(UTC))
    return None if decision.allowed else (decision.code, decision.reason)


@workflow.defn(name="Promotion")
class PromotionWorkflow(Process):
    KIND = "promotion"
    to_super = False
    ACTIONS = (
        ActionSpec("score", ScoreInput, "admins.review_promotion", "评分", "Score", {"score": 82, "notes": "分类准确，响应及时"}),
        ActionSpec("confirm", ConfirmInput, "admins.confirm_promotion", "确认晋升", "Confirm", {"reason": "考核合格"}),
        ActionSpec("decline", ConfirmInput, "admins.confirm_promotion", "不予晋升", "Decline", {"reason": "需再观察一个周期"}),
        ActionSpec("withdraw", WithdrawInput, "admins.nominate", "撤回提名", "Withdraw the nomination", {"reason": "被提名人已调岗"}, standing=True),
    )

    @workflow.run
    async def run(self, params: Start[NominateInput]) -> dict:
        if (refused := await self.admit(params)) is not None:
            return refused
        body = params.body
        self.nominator = params.by
        if params.resume is not None:
            state = msgspec.convert(params.resume, PromotionResume)
            self.nominee = state.nominee
            self.configure(params.config, self._region_of(state.nominee))
            return await self._assessed(params, state)
        loaded = await self._activity("load_admins", AdminRefs(usernames=(body.nominee, *body.reviewers)))
        found = {a.username: a for a in msgspec.convert(loaded, list[AdminInfo])}
        region = self._region_of(found[body.nominee]) if body.nominee in found else None
        await self.start(params.by, f"提名 {body.nominee} 晋升{self._path(body)}：{body.reasons}", params.config, region)
        problem = check_nomination(body, params.by, workflow.now()) or self._check_parties(body, found)
        if problem is not None:
            return await self.finish("rejected", problem[1], code=problem[0])
        self.nominee = found[body.nominee]
        follow = workflow.patched(TRUST_CORE)
        if follow:  # a full tier is said now, not after weeks of assessment
            seats = msgspec.convert(await self._activity("count_tier", TierRef(tier=body.target_tier)), TierHeadcount)
            if seats.full is not None:
                return await self.finish("rejected", seats.full, code="tier_full")
        await self._search(status="assessment")
        self._status, self._step = "assessment", "assessment"
        since = workflow.now()
        if follow:
            self.offer("withdraw", self._standing_subject(self.nominee))
            event = await self.next_event(self.timing("assessment").due)
            if event is not None:
                return await self._withdrawn(event)
            self.withdraw("withdraw")
        else:
            await self.waiting()  # the nomination is written before the weeks of assessment
            await workflow.sleep(self.timing("assessment").due)
        state = PromotionResume(nominee=self.nominee, assessed_from=since, assessed_until=workflow.now())
        await self.audit("promotion.assessed", "assessed", reason=f"{since.isoformat()} – {state.assessed_until.isoformat()}")
        # The assessment may have lasted months: the reviews start on a fresh history.
        await self.continue_as_new(Start(by=params.by, body=body, key=params.key, config=params.config, resume=msgspec.to_builtins(state)))

    def _check_parties(self, body: NominateInput, found: dict[str, AdminInfo]) -> tuple[str, str] | None:
        nominee = found.get(body.nominee)
        if nominee is None or not nominee.active:
            return ("unknown_nominee", f"{body.nominee} is not an active admin")
        if nominee.tier != PROMOTIONS[body.target_tier]:
            return ("wrong_tier", f"{body.nominee} is a {nominee.tier}; promotion to {body.target_tier} is for a {PROMOTIONS[body.target_tier]}")
        nominated = Subject(kind="admin", id=nominee.username, region=self._region_of(nominee), subject_tier=nominee.tier, excluded=(nominee.username,))
        decision = DEFAULT_POLICY.can(self.nominator, "admins.nominate", nominated, now=workflow.now())
        if not decision.allowed:
            return (decision.code, decision.reason)
        for name in body.reviewers:
            reviewer = found.get(name)
            if reviewer is None or not reviewer.active:
                return ("unknown_reviewer", f"{name} is not an active admin")
            as_actor = Actor(id=name, tier=reviewer.tier, regions=reviewer.regions)
            if not DEFAULT_POLICY.can(as_actor, "admins.review_promotion", nominated).allowed:
                return ("reviewer_not_allowed", f"{name} ({reviewer.tier}) may not review promotions")
            if DEFAULT_POLICY.ladder.rank(reviewer.tier) < DEFAULT_POLICY.ladder.rank(nominee.tier):
                return ("reviewer_not_allowed", f"{name} ranks below the nominee")
        return None

    def _standing_subject(self, nominee: AdminInfo) -> Subject:
        """What withdrawing the nomination is about: the nominee, whom the nominator outranks."""
        return Subject(
            kind="admin", id=nominee.username, region=self._region_of(nominee), subject_tier=nominee.tier,
            owners=(self.nominator.id,) if self.nominator else (), excluded=(nominee.username,),
        )

    async def _withdrawn(self, event: Decided) -> dict:
        self.handled(event)
        self.withdraw("withdraw")
        for task_id in self.open_task_ids():
            self.withdraw_task(task_id, f"the nomination was withdrawn by {event.actor.id}")
        return await self.finish("withdrawn", event.reason, withdrawn_by=event.actor.id, nominee=self.nominee.username)

    def _subject(self, nominee: AdminInfo, **extra) -> Subject:
        return Subject(
            kind="admin", id=nominee.username, region=self._region_of(nominee), subject_tier=nominee.tier,
            excluded=(nominee.username, self.nominator.id if self.nominator else ""), **extra,
        )

    def _path(self, body: NominateInput) -> str:
        ladder = DEFAULT_POLICY.ladder
        return f"{ladder[PROMOTIONS[body.target_tier]].name_zh}→{ladder[body.target_tier].name_zh}"

    @staticmethod
    def _region_of(admin: AdminInfo) -> str | None:
        return admin.regions[0] if admin.tier != DEFAULT_POLICY.ladder.top.key and admin.regions else None

    async def _assessed(self, params: Start[NominateInput], state: PromotionResume) -> dict:
        body = params.body
        metrics = msgspec.convert(
            await self._activity("gather_promotion_metrics", MetricsRequest(
                nominee=self.nominee.username, tier=self.nominee.tier, since=state.assessed_from,
                until=state.assessed_until, process_id=self.process_id,
            )),
            PromotionMetrics,
        )
        await self.audit("promotion.metrics", "gathered", after=msgspec.to_builtins(metrics))
        self.evidence = {
            "nominee": self.nominee.username, "nominee_tier": self.nominee.tier, "target_tier": body.target_tier,
            "reasons": body.reasons, "metrics": msgspec.to_builtins(metrics), "pass_score": PASS_SCORE,
        }
        self.scores: dict[str, int] = {}
        self.outcome: str | None = None
        reviews = asyncio.gather(*(self._review(name, body) for name in body.reviewers))
        if workflow.patched(TRUST_CORE):
            self.offer("withdraw", self._standing_subject(self.nominee))
            event: Decided | None = None
            while not reviews.done():
                watcher = asyncio.create_task(self.next_event(self.timing("review").due))
                await workflow.wait([reviews, watcher], return_when=asyncio.FIRST_COMPLETED)
                if watcher.done():
                    if (event := watcher.result()) is not None:
                        break
                else:
                    watcher.cancel()
            self.withdraw("withdraw")
            if event is not None:
                self.outcome = "withdrawn"
                for task_id in self.open_task_ids("review"):
                    self.withdraw_task(task_id, f"the nomination was withdrawn by {event.actor.id}")
                await reviews
                return await self._withdrawn(event)
        await reviews
        passed = sum(1 for s in self.scores.values() if s >= PASS_SCORE)
        result = {"nominee": self.nominee.username, "scores": dict(self.scores), "passing": passed, "quorum": QUORUM}
        await self.audit("promotion.reviewed", self.outcome or "not_passed", after=result)
        if self.outcome != "passed":
            return await self.finish("not_passed", f"{passed} of {REVIEWERS} scores reached {PASS_SCORE}; {QUORUM} needed", **result)
        return await self._confirm(body, result)

    async def _review(self, reviewer: str, body: NominateInput) -> None:
        decided = await self.human_step(
            "review",
            title=f"晋升评审：{self.nominee.username} {self._path(body)}（请独立评分）",
            tier=REVIEW_TIER, actions=("score",), subject=self._subject(self.nominee),
            evidence=self.evidence, candidates=(reviewer,),
            excluded=(self.nominee.username, self.nominator.id), on_timeout="lapse",
        )
        if decided.action == "withdrawn" or self.outcome is not None:
            return
        if decided.action == "score":
            self.scores[reviewer] = decided.as_(ScoreInput).score
        passed = sum(1 for s in self.scores.values() if s >= PASS_SCORE)
        pending = len(self.open_task_ids("review"))
        if passed >= QUORUM or passed + pending < QUORUM:
            self.outcome = "passed" if passed >= QUORUM else "not_passed"
            for task_id in self.open_task_ids("review"):
                self.withdraw_task(task_id, f"the reviews are decided: {self.outcome}")
        elif decided.action == "score":
            await self.audit("promotion.review_received", "received", actor=decided.actor, reason=f"{len(self.scores)} of {REVIEWERS} reviews in", key=f"review-{reviewer}")

    async def _confirm(self, body: NominateInput, result: dict) -> dict:
        self.to_super = to_super = body.target_tier == DEFAULT_POLICY.ladder.top.key
        candidates: tuple[str, ...] = ()
        if to_super:
            seats = msgspec.convert(await self._activity("count_tier", TierRef(tier=body.target_tier)), TierHeadcount)
            if seats.full is not None:
                return await self.finish("cap_reached", seats.full, **result)
            candidates = seats.station_masters
            result = {**result, "seats": f"{seats.count}/{seats.cap}"}
        decided: Decided = await self.human_step(
            "confirm",
            title=f"确认晋升：{self.nominee.username} {self._path(body)}",
            tier=approver_tier("admins.confirm_promotion", self.nominee.tier), actions=("confirm", "decline"),
            subject=self._subject(self.nominee, requester=self.nominator.id),
            evidence={**self.evidence, **result}, candidates=candidates,
            excluded=(self.nominee.username, self.nominator.id),
        )
        if decided.action == "decline":
            return await self.finish("declined", decided.reason, confirmed_by=decided.actor.id, **result)
        change = msgspec.convert(
            await self._activity("change_admin_tier", TierChange(
                username=self.nominee.username, from_tier=self.nominee.tier, to_tier=body.target_tier, process_id=self.process_id,
            )),
            TierChangeResult,
        )
        if change.status == "cap_reached":
            return await self.finish("cap_reached", change.reason, confirmed_by=decided.actor.id, **result)
        if change.status not in ("changed", "already"):
            return await self.finish("failed", change.reason, confirmed_by=decided.actor.id, **result)
        await self.audit(
            "promotion.tier_changed", "done", actor=decided.actor, target=f"admin:{self.nominee.username}",
            reason=decided.reason, after={"before": self.nominee.tier, "after": body.target_tier},
        )
        return await self.finish("promoted", decided.reason, confirmed_by=decided.actor.id, tier=body.target_tier, **result)

    def check_action(self, task, actor, action, body):
        if action == "withdraw" and actor.id != getattr(self.nominator, "id", None) and actor.tier != DEFAULT_POLICY.ladder.top.key:
            return ("not_nominator", "only the nominator or a super admin withdraws a nomination")
        if task is not None and task.step == "review" and actor.id not in task.candidates:
            return ("not_reviewer", "only the reviewer this task names may score it")
        if task is not None and task.step == "confirm" and self.to_super and not actor.station_master:
            return ("not_station_master", "only the station master confirms a promotion to super")
        return None


SPEC = WorkflowSpec(
    kind="promotion",
    workflow=PromotionWorkflow,
    input=NominateInput,
    workflow_id=promotion_workflow_id,
    start_permission="admins.nominate",
    title_zh="管理员晋升",
    title_en="Promotion",
    description="Nomination, an assessment period, three independent reviews, a quorum, then confirmation by the tier above.",
    validate_start=check_nomination,
    example={
        "nominee": "intern-game-items-1", "target_tier": "normal", "reasons": "实习期内协助审核商品分类三百余件，准确率高",
        "reviewers": ["normal-game-items-2", "regional-mobile-topup", "super-2"],
    },
)
