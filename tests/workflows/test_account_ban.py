"""Account ban on the time-skipping server, with the real database."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from temporalio.client import WorkflowUpdateFailedError

from infra.accounts import hash_password, load_actor
from infra.db.tables import Admin, AuditEvent, Buyer, PermissionGrant, Task
from infra.temporal.processes import ProcessError, _from_update_error
from workflows.account_ban import SPEC, BanInput
from workflows.domain.timing import StepTiming
from workflows.process import ActionResult, PlatformEventInput

pytestmark = [pytest.mark.db, pytest.mark.timeout(60)]

HOUR = timedelta(hours=1)


async def actor(username: str):
    found = await load_actor(username, datetime.now(UTC) - timedelta(days=400))
    assert found is not None, username
    return found


async def make_buyer(region: str, status: str = "active") -> str:
    """A buyer of our own, so banning it disturbs no seeded data."""
    code = f"TB{uuid.uuid4().hex[:10].upper()}"
    await Buyer.insert(
        Buyer(
            code=code, nickname=f"测试买家{code[-4:]}", region=region, contact_phone="13800000000",
            email=f"{code.lower()}@example.com", login_ip="114.80.1.1", spending_profile={"payment": "alipay"},
            sensitive_ops=[], handled_by=[], status=status, registered_at=datetime.now(UTC) - timedelta(days=200),
        )
    )
    return code


async def make_admin(tier: str, regions: tuple[str, ...]) -> str:
    """An admin of our own, so grants given to it disturb no seeded admin."""
    username = f"t-{tier}-{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC)
    await Admin.insert(
        Admin(
            username=username, display_name=f"测试{tier}", tier=tier, regions=list(regions), station_master=False,
            status="active", password_hash=hash_password(uuid.uuid4().hex), password_changed_at=now, created_at=now,
        )
    )
    return username


async def give_expired_grant(username: str, permission: str, scope: str = "region") -> None:
    admin = await Admin.select(Admin.id, Admin.regions).where(Admin.username == username).first()
    now = datetime.now(UTC)
    await PermissionGrant.insert(
        PermissionGrant(
            grant_id=f"test-expired-{uuid.uuid4().hex[:10]}", admin=admin["id"], permission=permission, scope=scope,
            regions=list(admin["regions"]), starts_at=now - timedelta(days=10), ends_at=now - timedelta(days=1),
            approved_by="super-2", justification="测试：已过期的临时权限",
        )
    )


def ban(buyer: str, region: str, reason: str = "短时间内大量小额刷单", **extra) -> BanInput:
    return BanInput(buyer=buyer, region=region, reason=reason, **extra)


async def buyer_status(code: str) -> str:
    return (await Buyer.select(Buyer.status).where(Buyer.code == code).first())["status"]


async def appeal(harness, pid: str, statement: str = "我是正常购买，请核实") -> ActionResult:
    handle = harness.client.get_workflow_handle(pid)
    request = PlatformEventInput(event="appeal", request_id=uuid.uuid4().hex, source="buyer-portal", body={"statement": statement})
    try:
        return await handle.execute_update("platform_event", request, result_type=ActionResult)
    except WorkflowUpdateFailedError as exc:
        raise _from_update_error(exc) from None


async def refused(call) -> str:
    with pytest.raises(ProcessError) as info:
        await call
    return info.value.code


async def audit_actions(pid: str) -> list[str]:
    rows = await AuditEvent.select(AuditEvent.action).where(AuditEvent.process_id == pid).order_by(AuditEvent.seq)
    return [r["action"] for r in rows]


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



async def test_regional_request_super_approval_and_a_single_appeal_that_lifts_it(harness, demo):
    code = await make_buyer("game-cards")
    regional = await actor("regional-game-cards")
    pid = await harness.start("account-ban", regional, ban(code, "game-cards"), key="k1")
    assert pid == f"account-ban-{code}-k1"
    view = await task_ready(harness, pid, lambda v: v.tasks)
    task = view.tasks[0]
    assert (task.step, task.tier, task.actions) == ("approve", "super", ["approve", "reject"])
    assert task.evidence["requester"] == "regional-game-cards"
    row = await eventually(lambda: Task.select().where(Task.task_id == task.task_id).first())
    assert row["tier"] == "super" and row["region"] == "game-cards" and "regional-game-cards" in row["excluded"]

    assert await refused(appeal(harness, pid)) == "not_expected"  # nothing to appeal yet
    assert await refused(harness.act(pid, regional, "approve", {})) == "conflict_of_interest"
    assert await refused(harness.act(pid, await actor("regional-game-items"), "approve", {})) == "tier_too_low"
    assert await buyer_status(code) == "active"

    result = await harness.act(pid, await actor("super-2"), "approve", {"reason": "证据充分"})
    assert result.status == "banned"
    assert await buyer_status(code) == "banned"

    await appeal(harness, pid, "我没有刷单，是给朋友代充")
    view = await task_ready(harness, pid, lambda v: v.tasks and v.tasks[0].step == "appeal")
    assert view.tasks[0].evidence["appeal"] == "我没有刷单，是给朋友代充"
    assert await refused(appeal(harness, pid, "再申诉一次")) == "not_expected"  # one appeal only
    assert await refused(harness.act(pid, await actor("super-2"), "lift", {})) == "conflict_of_interest"

    result = await harness.act(pid, await actor("super-3"), "lift", {"reason": "申诉成立"})
    assert result.status == "lifted"
    assert await buyer_status(code) == "active"
    outcome = await harness.result(pid)
    assert outcome["appeal"] == "lifted" and outcome["banned_by"] == "super-2" and outcome["appeal_decided_by"] == "super-3"
    actions = await audit_actions(pid)
    assert actions[0] == "account-ban.started" and actions[-1] == "account-ban.lifted"
    for expected in ("account-ban.approve", "account-ban.ban_applied", "account-ban.appealed", "account-ban.lift", "account-ban.ban_lifted"):
        assert expected in actions
    bans = await AuditEvent.select().where((AuditEvent.process_id == pid) & (AuditEvent.action == "account-ban.ban_applied")).first()
    assert bans["target"] == f"buyer:{code}" and bans["actor"] == "super-2"


async def test_super_rejects_the_request(harness, demo):
    code = await make_buyer("east-china")
    pid = await harness.start("account-ban", await actor("regional-east-china"), ban(code, "east-china"))
    await task_ready(harness, pid, lambda v: v.tasks)
    result = await harness.act(pid, await actor("station-master"), "reject", {"reason": "证据不足"})
    assert result.status == "rejected"
    assert await buyer_status(code) == "active"
    outcome = await harness.result(pid)
    assert outcome["decided_by"] == "station-master" and outcome["reason"] == "证据不足"
    task = await Task.select().where(Task.process_id == pid).first()
    assert task["status"] == "done" and task["decided_by"] == "station-master"


async def test_super_bans_directly_and_the_appeal_window_closes(harness, demo):
    code = await make_buyer("mobile-topup")
    timings = {"account-ban.appeal_window": StepTiming(due=timedelta(days=3))}
    pid = await harness.start("account-ban", await actor("super-2"), ban(code, "mobile-topup"), timings=timings)
    view = await harness.wait_for(pid, lambda v: v.status == "banned")
    assert view.tasks == [] and view.step == "appeal_window"
    assert await buyer_status(code) == "banned"
    assert not await Task.exists().where(Task.process_id == pid)
    outcome = await harness.result(pid)  # time skips past the appeal window
    assert outcome["status"] == "banned" and "appeal window closed" in outcome["reason"]
    actions = await audit_actions(pid)
    assert {"account-ban.direct", "account-ban.ban_applied"} <= set(actions) and actions[-1] == "account-ban.banned"
    assert await buyer_status(code) == "banned"


async def test_appeal_upheld_by_another_super(harness, demo):
    code = await make_buyer("game-items")
    pid = await harness.start("account-ban", await actor("super-3"), ban(code, "game-items"))
    await harness.wait_for(pid, lambda v: v.status == "banned")
    await appeal(harness, pid)
    await task_ready(harness, pid, lambda v: v.tasks)
    assert await refused(harness.act(pid, await actor("super-3"), "uphold", {})) == "conflict_of_interest"
    assert await refused(harness.act(pid, await actor("regional-game-items"), "lift", {})) == "tier_too_low"
    result = await harness.act(pid, await actor("station-master"), "uphold", {"reason": "刷单证据确凿"})
    assert result.status == "banned"
    outcome = await harness.result(pid)
    assert outcome["appeal"] == "upheld" and await buyer_status(code) == "banned"


async def test_signal_opens_it_and_the_regional_of_the_region_requests(harness, demo):
    code = await make_buyer("game-items")
    body = ban(code, "game-items", "风控：疑似刷单团伙成员", flagged_by="normal-game-items-1")
    pid = await harness.start("account-ban", None, body)
    view = await task_ready(harness, pid, lambda v: v.tasks)
    assert (view.tasks[0].step, view.tasks[0].tier) == ("request", "regional")
    assert await refused(harness.act(pid, await actor("regional-game-cards"), "request_ban", {"reason": "同意"})) == "out_of_region"
    assert await refused(harness.act(pid, await actor("normal-game-items-2"), "request_ban", {"reason": "同意"})) == "tier_too_low"
    await harness.act(pid, await actor("regional-game-items"), "request_ban", {"reason": "核实属实"})
    view = await task_ready(harness, pid, lambda v: v.tasks and v.tasks[0].step == "approve")
    assert view.tasks[0].evidence["requester"] == "regional-game-items"
    assert await refused(harness.act(pid, await actor("regional-game-items"), "approve", {})) == "conflict_of_interest"
    await harness.act(pid, await actor("super-2"), "approve", {})
    await harness.wait_for(pid, lambda v: v.status == "banned")
    assert await buyer_status(code) == "banned"


async def test_signal_dismissed_by_the_regional(harness, demo):
    code = await make_buyer("game-cards")
    pid = await harness.start("account-ban", None, ban(code, "game-cards", "风控：异常退款"))
    await task_ready(harness, pid, lambda v: v.tasks)
    result = await harness.act(pid, await actor("regional-game-cards"), "dismiss", {"reason": "核实为正常退款"})
    assert result.status == "dismissed"
    assert (await harness.result(pid))["decided_by"] == "regional-game-cards"
    assert await buyer_status(code) == "active"


async def test_overdue_request_reminds_then_escalates_to_super_who_bans(harness, demo):
    code = await make_buyer("east-china")
    timings = {"account-ban.request": StepTiming(due=2 * HOUR, remind_before=HOUR)}
    pid = await harness.start("account-ban", None, ban(code, "east-china", "风控：重复下单"), timings=timings)
    view = await task_ready(harness, pid, lambda v: v.tasks)
    task_id = view.tasks[0].task_id
    await harness.skip(90 * timedelta(minutes=1))
    row = await eventually(lambda: Task.select().where((Task.task_id == task_id) & (Task.reminded == True)).first())  # noqa: E712
    assert row["tier"] == "regional" and not row["escalated"]
    await harness.skip(HOUR)
    view = await task_ready(harness, pid, lambda v: v.tasks and v.tasks[0].tier == "super")
    assert view.tasks[0].escalations == 1
    row = await eventually(lambda: Task.select().where((Task.task_id == task_id) & (Task.escalated == True)).first())  # noqa: E712
    assert row["tier"] == "super" and "escalated from regional to super" in row["escalation_reason"]
    assert "task.escalated" in await audit_actions(pid)
    # A super taking up the escalated request bans directly (a super holds users.ban).
    result = await harness.act(pid, await actor("super-2"), "request_ban", {"reason": "超时升级，确认封禁"}, task_id=task_id)
    assert result.status == "banned"
    assert await buyer_status(code) == "banned"


async def test_overdue_approval_is_reminded_and_flagged_again_at_the_top(harness, demo):
    code = await make_buyer("mobile-topup")
    timings = {"account-ban.approve": StepTiming(due=2 * HOUR, remind_before=HOUR)}
    pid = await harness.start("account-ban", await actor("regional-mobile-topup"), ban(code, "mobile-topup"), timings=timings)
    view = await task_ready(harness, pid, lambda v: v.tasks)
    task_id = view.tasks[0].task_id
    await harness.skip(150 * timedelta(minutes=1))
    view = await task_ready(harness, pid, lambda v: v.tasks and v.tasks[0].escalations == 1)
    assert view.tasks[0].tier == "super"
    row = await eventually(lambda: Task.select().where((Task.task_id == task_id) & (Task.escalated == True)).first())  # noqa: E712
    assert "already at the top tier" in row["escalation_reason"]
    assert "task.reminded" in await audit_actions(pid)
    await harness.act(pid, await actor("super-3"), "approve", {})
    await harness.wait_for(pid, lambda v: v.status == "banned")
    assert await buyer_status(code) == "banned"


async def test_refusals_at_the_start(harness, demo):
    code = await make_buyer("game-cards")
    body = ban(code, "game-cards")
    assert SPEC.validate_start(body, await actor("normal-game-cards-1"))[0] == "no_permission"
    assert SPEC.validate_start(body, await actor("regional-east-china"))[0] == "out_of_region"
    assert SPEC.validate_start(body, None) is None  # a signal may open one
    assert SPEC.validate_start(body, await actor("regional-game-cards")) is None

    # The process checks again, and checks what only the database knows.
    outcome = await harness.result(await harness.start("account-ban", await actor("regional-east-china"), body))
    assert outcome["status"] == "rejected" and outcome["code"] == "out_of_region"
    wrong_region = await harness.result(await harness.start("account-ban", await actor("regional-east-china"), ban(code, "east-china")))
    assert wrong_region["status"] == "rejected" and "is in region game-cards" in wrong_region["reason"]
    unknown = await harness.result(await harness.start("account-ban", None, ban("NO-SUCH-BUYER", "game-cards")))
    assert unknown["status"] == "rejected" and "no buyer" in unknown["reason"]
    banned = await make_buyer("game-cards", status="banned")
    already = await harness.result(await harness.start("account-ban", await actor("super-2"), ban(banned, "game-cards")))
    assert already["status"] == "rejected" and "already banned" in already["reason"]
    assert await buyer_status(code) == "active"


async def test_expired_grants_authorize_nothing(harness, demo):
    # A normal admin whose temporary right to request bans has ended.
    normal = await make_admin("normal", ("mobile-topup",))
    await give_expired_grant(normal, "users.request_ban")
    holder = await actor(normal)
    assert holder.grants
    code = await make_buyer("mobile-topup")
    assert SPEC.validate_start(ban(code, "mobile-topup"), holder)[0] == "grant_expired"
    pid = await harness.start("account-ban", holder, ban(code, "mobile-topup"))
    outcome = await harness.result(pid)
    assert outcome["status"] == "rejected" and outcome["code"] == "grant_expired"
    assert not await Task.exists().where(Task.process_id == pid)

    # A regional whose temporary right to ban directly has ended: the ban needs a super's approval.
    regional = await make_admin("regional", ("mobile-topup",))
    await give_expired_grant(regional, "users.ban")
    pid = await harness.start("account-ban", await actor(regional), ban(code, "mobile-topup"))
    view = await task_ready(harness, pid, lambda v: v.tasks)
    assert view.tasks[0].step == "approve" and await buyer_status(code) == "active"


def test_the_ban_decisions_name_the_roles_of_the_case_they_are_independent_of():
    """signal → review → ban: the review's reviewer, the ban's requester and its judge are the
    case's roles; the ban's approval and its appeal are independent of the earlier ones."""
    from workflows.registry import BY_KIND

    review, ban = BY_KIND["risk-review"], BY_KIND["account-ban"]
    assert {a.role for a in review.actions} == {"reviewer"}
    assert {a.name: set(a.independent_of) for a in ban.actions if a.independent_of} == {
        "approve": {"reviewer", "requester"}, "reject": {"reviewer", "requester"},
        "uphold": {"reviewer", "requester", "ban_judge"}, "lift": {"reviewer", "requester", "ban_judge"},
    }
