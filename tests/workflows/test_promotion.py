"""Promotion on the time-skipping server, with the real database.

Nominees are admins these tests create (promotions change tiers); the seeded admins only
nominate, review and confirm. The seeded super tier is full (3 of 3): the regional→super happy
path raises the configured cap for its duration and puts everything back.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from activities.promotions import PromotionActivities, TierChange
from infra.accounts import hash_password, load_actor
from infra.db.audit import append
from infra.db.tables import Admin, AuditEvent, PermissionGrant, Task, TierConfig
from infra.temporal.processes import ProcessError
from workflows.domain.messages import AuditRecord
from workflows.domain.timing import StepTiming
from workflows.promotion import SPEC, NominateInput

pytestmark = [pytest.mark.db, pytest.mark.timeout(60)]

HOUR = timedelta(hours=1)
ASSESSMENT = timedelta(days=30)
INTERN_REVIEWERS = ("normal-game-items-2", "regional-mobile-topup", "super-2")


async def actor(username: str):
    found = await load_actor(username, datetime.now(UTC) - timedelta(days=400))
    assert found is not None, username
    return found


async def make_admin(tier: str, regions: tuple[str, ...]) -> str:
    username = f"t-{tier}-{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC)
    await Admin.insert(
        Admin(
            username=username, display_name=f"测试{tier}", tier=tier, regions=list(regions), station_master=False,
            status="active", password_hash=hash_password(uuid.uuid4().hex), password_changed_at=now, created_at=now,
        )
    )
    return username


def nomination(nominee: str, target: str = "normal", reviewers: tuple[str, ...] = INTERN_REVIEWERS) -> NominateInput:
    return NominateInput(nominee=nominee, target_tier=target, reasons="实习期表现突出，商品分类准确", reviewers=reviewers)


async def refused(call) -> str:
    with pytest.raises(ProcessError) as info:
        await call
    return info.value.code


async def eventually(check, timeout: float = 10.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await check()
        if value:
            return value
        assert asyncio.get_running_loop().time() < deadline, "condition never held"
        await asyncio.sleep(0.05)

async def task_ready(harness, pid: str, predicate=lambda v: v.tasks):
    """The view once ``predicate`` holds and its open tasks are in the inbox table: the process
    has then settled at its step (acting earlier can race the base's bookkeeping)."""
    view = await harness.wait_for(pid, predicate)
    ids = [t.task_id for t in view.tasks]
    await eventually(lambda: _recorded(ids))
    return await harness.view(pid)


async def _recorded(ids: list[str]) -> bool:
    return await Task.count().where(Task.task_id.is_in(ids or [""])) == len(ids)



async def tier_of(username: str) -> str:
    return (await Admin.select(Admin.tier).where(Admin.username == username).first())["tier"]


async def review_tasks(pid: str, harness) -> dict[str, str]:
    """reviewer -> task id, once the three review tasks are open."""
    await harness.wait_for(pid, lambda v: len([t for t in v.tasks if t.step == "review"]) == 3)
    query = Task.select(Task.task_id, Task.candidates).where((Task.process_id == pid) & (Task.step == "review"))
    rows = await eventually(lambda: _rows_if(query, 3))
    return {r["candidates"][0]: r["task_id"] for r in rows}


async def _rows_if(query, count: int) -> list[dict] | None:
    rows = await query
    return rows if len(rows) == count else None


async def through_assessment(harness, pid: str) -> dict[str, str]:
    view = await harness.wait_for(pid, lambda v: v.status in ("assessment", "rejected"))
    assert view.status == "assessment" and view.tasks == [], view.result
    await harness.skip(ASSESSMENT + HOUR)
    return await review_tasks(pid, harness)


async def audit_rows(pid: str) -> list[dict]:
    return await AuditEvent.select().where(AuditEvent.process_id == pid).order_by(AuditEvent.seq)


async def plant_history(nominee: str, since: datetime) -> None:
    """What the nominee did during the assessment: three decisions and one claim."""
    day = since + timedelta(days=1)
    tag = uuid.uuid4().hex[:8]

    def task(task_id: str, process: str, *, by: str, tier: str, action: str, at: datetime, escalated=False) -> Task:
        return Task(
            task_id=task_id, kind="test-metrics", process_id=process, step="check", title="测试", tier=tier,
            region="game-items", candidates=[], excluded=[], status="done", actions=[], evidence={},
            outcome={"action": action}, decided_by=by, created_at=at - HOUR, closed_at=at, escalated=escalated,
        )

    await Task.insert(
        # decided, then overturned by a regional admin's different decision later in the process
        task(f"m-{tag}-1", f"p-{tag}-a", by=nominee, tier="intern", action="approve", at=day),
        task(f"m-{tag}-2", f"p-{tag}-a", by="regional-game-items", tier="regional", action="reject", at=day + 2 * HOUR),
        # decided and left standing (a regional later agreeing does not count against it)
        task(f"m-{tag}-3", f"p-{tag}-b", by=nominee, tier="intern", action="approve", at=day),
        task(f"m-{tag}-4", f"p-{tag}-b", by="regional-game-items", tier="regional", action="approve", at=day + 2 * HOUR),
        # decided only after it had escalated: late
        task(f"m-{tag}-5", f"p-{tag}-c", by=nominee, tier="normal", action="approve", at=day, escalated=True),
        # claimed by the nominee, decided by someone else: assisted
        task(f"m-{tag}-6", f"p-{tag}-d", by="normal-game-items-1", tier="intern", action="approve", at=day),
    )
    for action, target in (("task.claimed", f"task:m-{tag}-6"), ("products.classify", "product:P00001")):
        await append(AuditRecord(actor=nominee, actor_tier="intern", action=action, target=target, outcome="done", at=day))


async def test_intern_is_assessed_reviewed_and_confirmed_by_the_regional(harness, demo):
    nominee = await make_admin("intern", ("game-items",))
    nominator = await actor("normal-game-items-1")
    pid = await harness.start("promotion", nominator, nomination(nominee), key="n1")
    assert pid == f"promotion-{nominee}-n1"
    started = await harness.wait_for(pid, lambda v: v.status == "assessment")
    assert started.step == "assessment"
    first = (await audit_rows(pid))[0]
    assert first["action"] == "promotion.started" and first["actor"] == "normal-game-items-1"
    await plant_history(nominee, first["at"])

    tasks = await through_assessment(harness, pid)
    assert set(tasks) == set(INTERN_REVIEWERS)
    view = await harness.view(pid)
    before = view.tasks[0].evidence
    metrics = before["metrics"]
    assert metrics["tasks_decided"] == 3 and metrics["decisions_stood"] == 1
    assert metrics["accuracy"] == pytest.approx(1 / 3, abs=1e-3)
    assert metrics["tasks_assisted"] == 1 and metrics["audit_events"] == 2
    rows = await Task.select().where((Task.process_id == pid) & (Task.step == "review"))
    assert all(r["tier"] == "reviewer" and len(r["candidates"]) == 1 for r in rows)

    # Parties to the case and admins who are not the named reviewer are refused.
    some_task = tasks["super-2"]
    assert await refused(harness.act(pid, nominator, "score", {"score": 99}, task_id=some_task)) == "conflict_of_interest"
    assert await refused(harness.act(pid, await actor(nominee), "score", {"score": 99}, task_id=some_task)) == "conflict_of_interest"
    assert await refused(harness.act(pid, await actor("super-3"), "score", {"score": 99}, task_id=some_task)) == "not_reviewer"
    assert await refused(harness.act(pid, await actor("normal-game-items-2"), "score", {"score": 99}, task_id=some_task)) == "not_reviewer"
    assert await refused(harness.act(pid, await actor("super-2"), "score", {"score": 101}, task_id=some_task)) == "invalid_body"

    first_score = await harness.act(pid, await actor("normal-game-items-2"), "score", {"score": 85, "notes": "认真"}, task_id=tasks["normal-game-items-2"])
    assert (first_score.status, first_score.step) == ("running", "review")
    view = await harness.view(pid)
    assert len(view.tasks) == 2  # the others still score, without seeing this score
    assert all(t.evidence == before for t in view.tasks) and "scores" not in before
    assert all("认真" not in e.detail for e in view.timeline)

    await harness.act(pid, await actor("super-2"), "score", {"score": 90}, task_id=tasks["super-2"])
    view = await task_ready(harness, pid, lambda v: v.tasks and v.tasks[0].step == "confirm")
    confirm = view.tasks[0]
    assert (confirm.tier, confirm.region, confirm.actions) == ("regional", "game-items", ["confirm", "decline"])
    withdrawn = await Task.select().where(Task.task_id == tasks["regional-mobile-topup"]).first()
    assert withdrawn["status"] == "cancelled"
    assert await refused(harness.act(pid, await actor("regional-mobile-topup"), "score", {"score": 10}, task_id=tasks["regional-mobile-topup"])) == "already_decided"

    assert await refused(harness.act(pid, await actor("regional-game-cards"), "confirm", {})) == "out_of_region"
    assert await refused(harness.act(pid, await actor("normal-game-items-2"), "confirm", {})) == "tier_too_low"
    assert await tier_of(nominee) == "intern"
    result = await harness.act(pid, await actor("regional-game-items"), "confirm", {"reason": "考核合格"})
    assert result.status == "promoted"
    assert await tier_of(nominee) == "normal"
    outcome = await harness.result(pid)
    assert outcome["scores"] == {"normal-game-items-2": 85, "super-2": 90} and outcome["confirmed_by"] == "regional-game-items"

    audit = await audit_rows(pid)
    actions = [r["action"] for r in audit]
    for expected in ("promotion.assessed", "promotion.metrics", "promotion.score", "promotion.reviewed", "promotion.confirm", "promotion.tier_changed"):
        assert expected in actions, expected
    assert actions[-1] == "promotion.promoted"
    changed = next(r for r in audit if r["action"] == "promotion.tier_changed")
    assert changed["target"] == f"admin:{nominee}" and changed["actor"] == "regional-game-items"
    # The review ran on a fresh history: continue-as-new after the assessment.
    runs = {r["dedup_key"].rsplit(":", 1)[1] for r in audit if r["dedup_key"] and r["action"].startswith("promotion.") and r["target"].startswith("process:")}
    assert len(runs) == 2


async def test_scores_below_the_threshold_do_not_pass(harness, demo):
    nominee = await make_admin("intern", ("game-cards",))
    pid = await harness.start("promotion", await actor("regional-game-cards"), nomination(nominee))
    tasks = await through_assessment(harness, pid)
    await harness.act(pid, await actor("super-2"), "score", {"score": 50}, task_id=tasks["super-2"])
    result = await harness.act(pid, await actor("regional-mobile-topup"), "score", {"score": 69}, task_id=tasks["regional-mobile-topup"])
    assert result.status == "not_passed"
    outcome = await harness.result(pid)
    assert outcome["passing"] == 0 and outcome["quorum"] == 2
    left = await Task.select().where(Task.task_id == tasks["normal-game-items-2"]).first()
    assert left["status"] == "cancelled"
    assert await tier_of(nominee) == "intern"


async def test_silent_reviewers_are_reminded_then_their_reviews_lapse(harness, demo):
    nominee = await make_admin("intern", ("east-china",))
    timings = {
        "promotion.assessment": StepTiming(due=timedelta(days=1)),
        "promotion.review": StepTiming(due=2 * HOUR, remind_before=HOUR),
    }
    pid = await harness.start("promotion", await actor("normal-east-china-1"), nomination(nominee), timings=timings)
    await harness.skip(timedelta(days=1, minutes=5))
    tasks = await review_tasks(pid, harness)
    await harness.act(pid, await actor("super-2"), "score", {"score": 95}, task_id=tasks["super-2"])
    outcome = await harness.result(pid)
    assert outcome["status"] == "not_passed" and outcome["scores"] == {"super-2": 95}
    rows = await Task.select().where((Task.process_id == pid) & (Task.step == "review")).output(load_json=True)
    silent = [r for r in rows if r["candidates"][0] != "super-2"]
    assert all(r["reminded"] for r in silent)
    assert any(r["outcome"]["action"] == "lapsed" for r in silent)
    assert await tier_of(nominee) == "intern"


async def test_an_overdue_confirmation_escalates_to_a_super(harness, demo):
    nominee = await make_admin("intern", ("mobile-topup",))
    timings = {"promotion.confirm": StepTiming(due=2 * HOUR, remind_before=HOUR)}
    pid = await harness.start("promotion", await actor("normal-mobile-topup-1"), nomination(nominee), timings=timings)
    tasks = await through_assessment(harness, pid)
    for reviewer in ("super-2", "regional-mobile-topup"):
        await harness.act(pid, await actor(reviewer), "score", {"score": 80}, task_id=tasks[reviewer])
    view = await task_ready(harness, pid, lambda v: v.tasks and v.tasks[0].step == "confirm")
    assert view.tasks[0].tier == "regional"
    await harness.skip(3 * HOUR)
    view = await task_ready(harness, pid, lambda v: v.tasks and v.tasks[0].tier == "super")
    assert view.tasks[0].escalations == 1
    row = await eventually(lambda: Task.select().where((Task.task_id == view.tasks[0].task_id) & (Task.escalated == True)).first())  # noqa: E712
    assert "escalated from regional to super" in row["escalation_reason"]
    # Any super confirms an escalated intern promotion (the station-master rule is for supers).
    result = await harness.act(pid, await actor("super-3"), "confirm", {"reason": "区域管理员超时，代为确认"})
    assert result.status == "promoted" and await tier_of(nominee) == "normal"
    assert (await harness.result(pid))["confirmed_by"] == "super-3"


async def test_promotion_to_super_is_confirmed_by_the_station_master_only(harness, demo):
    nominee = await make_admin("regional", ("east-china",))
    reviewers = ("super-3", "regional-game-items", "regional-mobile-topup")
    await TierConfig.update({TierConfig.cap: 4}).where(TierConfig.key == "super")
    try:
        nominator = await actor("super-2")
        pid = await harness.start("promotion", nominator, nomination(nominee, "super", reviewers))
        tasks = await through_assessment(harness, pid)
        await harness.act(pid, await actor("super-3"), "score", {"score": 80}, task_id=tasks["super-3"])
        await harness.act(pid, await actor("regional-game-items"), "score", {"score": 75}, task_id=tasks["regional-game-items"])
        view = await task_ready(harness, pid, lambda v: v.tasks and v.tasks[0].step == "confirm")
        assert view.tasks[0].tier == "super" and view.tasks[0].evidence["seats"] == "3/4"
        row = await eventually(lambda: Task.select().where(Task.task_id == view.tasks[0].task_id).first())
        assert row["candidates"] == ["station-master"]
        assert await refused(harness.act(pid, await actor("super-3"), "confirm", {})) == "not_station_master"
        assert await refused(harness.act(pid, await actor("super-3"), "decline", {})) == "not_station_master"
        assert await refused(harness.act(pid, nominator, "confirm", {})) == "conflict_of_interest"
        assert await refused(harness.act(pid, await actor("regional-game-items"), "confirm", {})) == "tier_too_low"
        result = await harness.act(pid, await actor("station-master"), "confirm", {"reason": "总站长确认"})
        assert result.status == "promoted"
        assert (await harness.result(pid))["tier"] == "super"
        promoted = await Admin.select().where(Admin.username == nominee).first()
        assert promoted["tier"] == "super" and set(promoted["regions"]) == {"game-items", "mobile-topup", "game-cards", "east-china"}
    finally:
        await Admin.update({Admin.tier: "regional", Admin.regions: ["east-china"]}).where(Admin.username == nominee)
        await TierConfig.update({TierConfig.cap: 3}).where(TierConfig.key == "super")


async def test_a_nomination_into_a_full_tier_is_refused_at_once(harness, demo):
    """Found in use: a regional→super nomination was accepted with the super tier full (3/3)
    and could only fail after the 30-day assessment."""
    assert await Admin.count().where(Admin.tier == "super") == 3
    nominee = await make_admin("regional", ("game-cards",))
    reviewers = ("super-3", "regional-game-items", "regional-east-china")
    pid = await harness.start("promotion", await actor("super-2"), nomination(nominee, "super", reviewers))
    outcome = await harness.result(pid)
    assert (outcome["status"], outcome["code"]) == ("rejected", "tier_full") and "capped at 3" in outcome["reason"]
    assert not await Task.exists().where(Task.process_id == pid)


async def test_the_super_cap_is_respected(harness, demo):
    """The cap is checked again when the reviews pass: a seat free at the nomination may be
    gone (here the cap is lowered during the assessment)."""
    assert await Admin.count().where(Admin.tier == "super") == 3
    nominee = await make_admin("regional", ("game-cards",))
    reviewers = ("super-3", "regional-game-items", "regional-east-china")
    await TierConfig.update({TierConfig.cap: 4}).where(TierConfig.key == "super")
    try:
        pid = await harness.start("promotion", await actor("super-2"), nomination(nominee, "super", reviewers))
        await harness.wait_for(pid, lambda v: v.status == "assessment")
    finally:
        await TierConfig.update({TierConfig.cap: 3}).where(TierConfig.key == "super")
    tasks = await through_assessment(harness, pid)
    await harness.act(pid, await actor("super-3"), "score", {"score": 88}, task_id=tasks["super-3"])
    result = await harness.act(pid, await actor("regional-east-china"), "score", {"score": 91}, task_id=tasks["regional-east-china"])
    assert result.status == "cap_reached"
    outcome = await harness.result(pid)
    assert "capped at 3" in outcome["reason"]
    assert not await Task.exists().where((Task.process_id == pid) & (Task.step == "confirm"))
    assert await tier_of(nominee) == "regional"
    # The tier change itself refuses a full tier, whoever calls it.
    change = await PromotionActivities().change_admin_tier(TierChange(username=nominee, from_tier="regional", to_tier="super", process_id=pid))
    assert change.status == "cap_reached" and await tier_of(nominee) == "regional"


async def test_nominations_that_cannot_be_filed(harness, demo):
    intern = await make_admin("intern", ("game-items",))
    check = SPEC.validate_start
    assert check(nomination(intern), await actor("normal-game-items-1")) is None
    assert check(nomination(intern), await actor("intern-game-items-1"))[0] == "no_permission"
    assert check(nomination(intern, "super"), await actor("normal-game-items-1"))[0] == "not_outranking"
    assert check(nomination(intern, "super"), await actor("regional-game-items"))[0] == "not_outranking"
    assert check(nomination(intern, reviewers=(intern, "super-2", "super-3")), await actor("normal-game-items-1"))[0] == "conflict_of_interest"
    assert check(nomination(intern, reviewers=("normal-game-items-1", "super-2", "super-3")), await actor("normal-game-items-1"))[0] == "conflict_of_interest"
    assert check(nomination(intern, reviewers=("super-2", "super-3")), await actor("normal-game-items-1"))[0] == "reviewers_required"
    assert check(nomination(intern, "super", ("super-2", "super-3", "regional-game-cards")), await actor("station-master"))[0] == "station_master_confirms"
    assert check(nomination(intern), None)[0] == "admin_required"

    # The process checks what only the database knows.
    async def outcome(by: str, body: NominateInput) -> dict:
        return await harness.result(await harness.start("promotion", await actor(by), body))

    other_region = await outcome("normal-game-cards-1", nomination(intern))
    assert (other_region["status"], other_region["code"]) == ("rejected", "out_of_region")
    a_normal = await outcome("regional-game-items", nomination("normal-game-items-2", reviewers=("super-2", "super-3", "regional-east-china")))
    assert a_normal["code"] == "wrong_tier"
    intern_reviewer = await outcome("normal-game-items-1", nomination(intern, reviewers=("intern-game-cards-1", "super-2", "super-3")))
    assert intern_reviewer["code"] == "reviewer_not_allowed"
    nobody = await outcome("normal-game-items-1", nomination("no-such-admin"))
    assert nobody["code"] == "unknown_nominee"
    assert await tier_of(intern) == "intern"


async def test_an_expired_grant_does_not_let_an_intern_nominate(harness, demo):
    holder = await make_admin("intern", ("game-items",))
    nominee = await make_admin("intern", ("game-items",))
    admin = await Admin.select(Admin.id).where(Admin.username == holder).first()
    now = datetime.now(UTC)
    await PermissionGrant.insert(
        PermissionGrant(
            grant_id=f"test-expired-{uuid.uuid4().hex[:10]}", admin=admin["id"], permission="admins.nominate", scope="region",
            regions=["game-items"], starts_at=now - timedelta(days=5), ends_at=now - timedelta(days=1), approved_by="super-2",
            justification="测试：已过期",
        )
    )
    intern = await actor(holder)
    assert SPEC.validate_start(nomination(nominee), intern)[0] == "grant_expired"
    outcome = await harness.result(await harness.start("promotion", intern, nomination(nominee)))
    assert outcome["status"] == "rejected" and outcome["code"] == "grant_expired"
    assert await tier_of(nominee) == "intern"


async def test_the_nominator_or_a_super_withdraws_a_running_nomination(harness, demo):
    intern = await make_admin("intern", ("game-items",))
    nominator = await actor("normal-game-items-1")
    pid = await harness.start("promotion", nominator, nomination(intern))
    view = await harness.wait_for(pid, lambda v: v.status == "assessment" and "withdraw" in v.standing)
    with pytest.raises(ProcessError) as stranger:
        await harness.act(pid, await actor("normal-game-items-2"), "withdraw", {"reason": "不是我提名的"})
    assert stranger.value.code in ("not_nominator", "no_permission", "not_outranking")
    result = await harness.act(pid, nominator, "withdraw", {"reason": "被提名人已调岗"})
    assert result.status == "withdrawn"
    outcome = await harness.result(pid)
    assert outcome["withdrawn_by"] == "normal-game-items-1" and await tier_of(intern) == "intern"


async def test_a_super_withdraws_a_nomination_during_its_reviews(harness, demo):
    intern = await make_admin("intern", ("game-items",))
    pid = await harness.start("promotion", await actor("normal-game-items-1"), nomination(intern))
    tasks = await through_assessment(harness, pid)
    await harness.wait_for(pid, lambda v: "withdraw" in v.standing)
    result = await harness.act(pid, await actor("super-3"), "withdraw", {"reason": "考核期内违规"})
    assert result.status == "withdrawn"
    assert not await Task.exists().where((Task.process_id == pid) & Task.status.is_in(["open", "claimed"]))
    assert set(tasks) and await tier_of(intern) == "intern"
