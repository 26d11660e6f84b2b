"""Risk review on the time-skipping server, with the real database."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from infra.accounts import hash_password, load_actor
from infra.db.tables import Admin, AuditEvent, Buyer, PermissionGrant, Task
from infra.temporal.processes import ProcessError
from workflows.domain.timing import StepTiming
from workflows.risk_review import SPEC, RiskSignalInput

pytestmark = [pytest.mark.db, pytest.mark.timeout(60)]

HOUR = timedelta(hours=1)


async def actor(username: str):
    found = await load_actor(username, datetime.now(UTC) - timedelta(days=400))
    assert found is not None, username
    return found


async def make_buyer(region: str) -> str:
    code = f"TR{uuid.uuid4().hex[:10].upper()}"
    await Buyer.insert(
        Buyer(
            code=code, nickname=f"风控测试{code[-4:]}", region=region, contact_phone="13900000000",
            email=f"{code.lower()}@example.com", login_ip="183.14.2.2", spending_profile={"payment": "wechat_pay"},
            sensitive_ops=[], handled_by=[], status="active", registered_at=datetime.now(UTC) - timedelta(days=300),
        )
    )
    return code


async def make_admin_with_grant(tier: str, region: str, permission: str, *, starts_at: datetime, ends_at: datetime) -> str:
    """An admin of our own holding a temporary grant of ``permission`` in ``region``."""
    username = f"t-{tier}-{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC)
    await Admin.insert(
        Admin(
            username=username, display_name=f"测试{tier}", tier=tier, regions=[region], station_master=False,
            status="active", password_hash=hash_password(uuid.uuid4().hex), password_changed_at=now, created_at=now,
        )
    )
    admin = await Admin.select(Admin.id).where(Admin.username == username).first()
    await PermissionGrant.insert(
        PermissionGrant(
            grant_id=f"test-grant-{uuid.uuid4().hex[:10]}", admin=admin["id"], permission=permission, scope="region",
            regions=[region], starts_at=starts_at, ends_at=ends_at, approved_by="regional-" + region,
            justification="测试：大促期间的拦截权限",
        )
    )
    return username


def signal(kind: str, subject_kind: str, subject: str, region: str | None, score: float = 0.91) -> RiskSignalInput:
    return RiskSignalInput(
        signal=kind, subject_kind=subject_kind, subject=subject, region=region, score=score,
        explanation="40 分钟内向同一商家下单 16 笔，远超其历史基线（日均 0.3 笔）",
        evidence=[{"order": "O000001", "amount": 1000}, {"order": "O000002", "amount": 1000}],
    )


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



async def test_brushing_goes_to_the_regional_whose_ban_request_starts_an_account_ban(harness, demo):
    code = await make_buyer("game-cards")
    key = f"sig-{uuid.uuid4().hex[:8]}"
    pid = await harness.start("risk-review", None, signal("brushing", "buyer", code, "game-cards"), key=key)
    assert pid == f"risk-review-{key}"
    view = await task_ready(harness, pid, lambda v: v.tasks)
    task = view.tasks[0]
    assert (task.tier, task.region) == ("regional", "game-cards")
    assert task.actions == ["dismiss", "flag", "intercept", "request_ban"]
    assert task.evidence["explanation"].startswith("40 分钟内") and len(task.evidence["rows"]) == 2
    assert await refused(harness.act(pid, await actor("normal-game-cards-1"), "intercept", {})) == "tier_too_low"
    assert await refused(harness.act(pid, await actor("regional-game-items"), "request_ban", {"reason": "刷单"})) == "out_of_region"

    result = await harness.act(pid, await actor("regional-game-cards"), "request_ban", {"reason": "多次参与刷单，建议封禁"})
    assert result.status == "ban_requested"
    ban_id = result.detail["ban_process"]
    assert ban_id == f"account-ban-{code}-{key}"
    harness.started.append(ban_id)  # it outlives the review (ParentClosePolicy.ABANDON)
    outcome = await harness.result(pid)
    assert outcome["status"] == "ban_requested" and outcome["decided_by"] == "regional-game-cards"

    # The reviewer may request bans: they are the requester, and a super approves.
    ban = await task_ready(harness, ban_id, lambda v: v.tasks)
    assert ban.started_by == "regional-game-cards"
    assert ban.tasks[0].step == "approve" and ban.tasks[0].evidence["source_process"] == pid
    assert await refused(harness.act(ban_id, await actor("regional-game-cards"), "approve", {})) == "conflict_of_interest"
    await harness.act(ban_id, await actor("super-2"), "approve", {"reason": "同意"})
    assert (await Buyer.select(Buyer.status).where(Buyer.code == code).first())["status"] == "banned"

    actions = await audit_actions(pid)
    assert actions[0] == "risk-review.started" and "risk-review.request_ban" in actions
    assert actions[-1] == "risk-review.ban_requested"
    recorded = await AuditEvent.select().where((AuditEvent.process_id == pid) & (AuditEvent.action == "risk.ban_requested")).first()
    assert recorded["target"] == f"buyer:{code}" and recorded["actor"] == "regional-game-cards"


async def test_duplicate_order_hint_stays_with_normals_and_their_ban_request_is_a_signal(harness, demo):
    code = await make_buyer("game-items")
    pid = await harness.start("risk-review", None, signal("duplicate_order", "buyer", code, "game-items", 0.6))
    view = await task_ready(harness, pid, lambda v: v.tasks)
    task = view.tasks[0]
    assert task.tier == "normal" and "疑似重复下单" in task.evidence["hint_zh"]
    assert await refused(harness.act(pid, await actor("intern-game-items-1"), "dismiss", {"reason": "看过"})) == "tier_too_low"
    assert await refused(harness.act(pid, await actor("normal-game-items-1"), "intercept", {})) == "no_permission"

    result = await harness.act(pid, await actor("normal-game-items-1"), "request_ban", {"reason": "重复下单后恶意退款"})
    ban_id = result.detail["ban_process"]
    harness.started.append(ban_id)
    # A normal admin may not request bans: the ban opens as a signal, and the regional decides.
    ban = await task_ready(harness, ban_id, lambda v: v.tasks)
    assert ban.started_by is None
    assert (ban.tasks[0].step, ban.tasks[0].tier) == ("request", "regional")
    assert ban.tasks[0].evidence["flagged_by"] == "normal-game-items-1"
    await harness.act(ban_id, await actor("regional-game-items"), "dismiss", {"reason": "退款已追回，不予封禁"})
    assert (await harness.result(ban_id))["status"] == "dismissed"
    assert (await harness.result(pid))["status"] == "ban_requested"


async def test_admin_misuse_goes_to_supers_and_the_subject_may_not_review_it(harness, demo):
    pid = await harness.start("risk-review", None, signal("admin_misuse", "admin", "super-3", None, 0.97))
    view = await task_ready(harness, pid, lambda v: v.tasks)
    assert view.tasks[0].tier == "super" and view.tasks[0].actions == ["dismiss", "flag"]
    assert await refused(harness.act(pid, await actor("super-3"), "dismiss", {"reason": "我没问题"})) == "conflict_of_interest"
    assert await refused(harness.act(pid, await actor("regional-game-cards"), "flag", {})) == "tier_too_low"
    assert await refused(harness.act(pid, await actor("super-2"), "request_ban", {"reason": "封号"})) == "action_not_available"
    result = await harness.act(pid, await actor("super-2"), "flag", {"reason": "凌晨批量导出用户数据，移交总站长"})
    assert result.status == "flagged" and (await harness.result(pid))["status"] == "flagged"
    row = await AuditEvent.select().where((AuditEvent.process_id == pid) & (AuditEvent.action == "risk.flagged")).first()
    assert row["target"] == "admin:super-3" and row["actor"] == "super-2"


async def test_dismissal_needs_a_reason_and_a_flagger_does_not_review_their_own_flag(harness, demo):
    flagger = await actor("normal-game-items-1")
    pid = await harness.start("risk-review", flagger, signal("duplicate_order", "order", "O000042", "game-items"))
    view = await task_ready(harness, pid, lambda v: v.tasks)
    assert view.tasks[0].actions == ["dismiss", "flag", "intercept"]  # no ban for an order
    assert await refused(harness.act(pid, flagger, "dismiss", {"reason": "误报"})) == "conflict_of_interest"
    reviewer = await actor("normal-game-items-2")
    assert await refused(harness.act(pid, reviewer, "dismiss", {})) == "invalid_body"
    result = await harness.act(pid, reviewer, "dismiss", {"reason": "两笔分别为不同面值"})
    assert result.status == "dismissed"
    assert (await harness.result(pid))["reason"] == "两笔分别为不同面值"


async def test_an_overdue_review_is_reminded_then_escalates_to_the_regional(harness, demo):
    timings = {"risk-review.review": StepTiming(due=2 * HOUR, remind_before=HOUR)}
    pid = await harness.start("risk-review", None, signal("duplicate_order", "order", "O000077", "mobile-topup"), timings=timings)
    view = await task_ready(harness, pid, lambda v: v.tasks)
    task_id = view.tasks[0].task_id
    await harness.skip(90 * timedelta(minutes=1))
    await eventually(lambda: Task.select().where((Task.task_id == task_id) & (Task.reminded == True)).first())  # noqa: E712
    await harness.skip(HOUR)
    view = await task_ready(harness, pid, lambda v: v.tasks and v.tasks[0].tier == "regional")
    row = await eventually(lambda: Task.select().where((Task.task_id == task_id) & (Task.escalated == True)).first())  # noqa: E712
    assert row["tier"] == "regional" and "escalated from normal to regional" in row["escalation_reason"]
    assert await refused(harness.act(pid, await actor("normal-mobile-topup-1"), "flag", {})) == "tier_too_low"
    result = await harness.act(pid, await actor("regional-mobile-topup"), "intercept", {"reason": "拦截重复订单"})
    assert result.status == "intercepted" and (await harness.result(pid))["decided_by"] == "regional-mobile-topup"
    assert {"task.reminded", "task.escalated", "risk.intercepted", "risk-review.intercepted"} <= set(await audit_actions(pid))


async def test_an_expired_intercept_grant_is_refused_and_an_active_one_is_not(harness, demo):
    pid = await harness.start("risk-review", None, signal("duplicate_order", "order", "O000099", "east-china"))
    await task_ready(harness, pid)
    # The process's clock (the test server skips time): grants are set around it.
    opened = (await AuditEvent.select(AuditEvent.at).where(AuditEvent.process_id == pid).order_by(AuditEvent.seq).first())["at"]
    expired = await make_admin_with_grant("normal", "east-china", "risk.intercept", starts_at=opened - timedelta(days=10), ends_at=opened - timedelta(days=1))
    active = await make_admin_with_grant("normal", "east-china", "risk.intercept", starts_at=opened - timedelta(days=1), ends_at=opened + timedelta(days=30))
    assert await refused(harness.act(pid, await actor(expired), "intercept", {"reason": "拦截"})) == "grant_expired"
    result = await harness.act(pid, await actor(active), "intercept", {"reason": "大促期间临时拦截"})
    assert result.status == "intercepted" and result.detail["decided_by"] == active
    assert (await harness.result(pid))["status"] == "intercepted"


async def test_signals_that_cannot_open_a_review(harness, demo):
    check = SPEC.validate_start
    assert check(signal("brushing", "buyer", "B00001", "atlantis"), None)[0] == "unknown_region"
    assert check(signal("brushing", "buyer", "B00001", None), None)[0] == "region_required"
    assert check(signal("admin_misuse", "buyer", "B00001", "game-cards"), None)[0] == "subject_mismatch"
    assert check(signal("brushing", "admin", "super-2", "game-cards"), None)[0] == "subject_mismatch"
    assert check(signal("brushing", "buyer", "B00001", "game-cards"), await actor("normal-east-china-1"))[0] == "out_of_region"
    assert check(signal("brushing", "buyer", "B00001", "game-cards"), await actor("intern-game-cards-1"))[0] == "no_permission"
    assert check(signal("brushing", "buyer", "B00001", "game-cards"), None) is None
    outcome = await harness.result(await harness.start("risk-review", None, signal("unusual_refund", "merchant", "M0001", None)))
    assert (outcome["status"], outcome["code"]) == ("rejected", "region_required")
    outcome = await harness.result(await harness.start("risk-review", await actor("normal-east-china-1"), signal("unusual_refund", "merchant", "M0001", "game-cards")))
    assert (outcome["status"], outcome["code"]) == ("rejected", "out_of_region")
