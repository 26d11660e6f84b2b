"""Dispute arbitration on the time-skipping server, with the real database."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from temporalio.client import WorkflowUpdateFailedError

from activities.disputes import REFUND_THRESHOLD_CENTS, REFUND_THRESHOLD_KEY, DisputeActivities, DisputeContextQuery
from infra.accounts import load_actor
from infra.db.tables import (
    Admin, AuditEvent, Buyer, Dispute, LedgerEntry, Merchant, Order, PermissionGrant, PlatformMeta, Product, Task,
)
from infra.temporal.processes import ProcessError
from workflows.dispute import SPEC, DisputeInput
from workflows.domain.timing import StepTiming
from workflows.process import ActionResult, PlatformEventInput

pytestmark = [pytest.mark.db, pytest.mark.timeout(60)]

H = timedelta(hours=1)
SHORT_RESPONSE = {"dispute.merchant_response": StepTiming(due=2 * H, remind_before=H)}
SHORT_APPEAL = {"dispute.appeal_window": StepTiming(due=2 * H)}


async def actor(username: str):
    found = await load_actor(username, datetime.now(UTC) - timedelta(days=4000))
    assert found is not None, username
    return found


async def new_order(buyer_region: str, merchant_region: str, amount: int = 10_000) -> str:
    """A buyer, a merchant, a product and a completed order of our own."""
    tag = uuid.uuid4().hex[:8]
    seeded = await PlatformMeta.select(PlatformMeta.value).where(PlatformMeta.key == "seeded").first()
    at = datetime.fromisoformat(seeded["value"]) - timedelta(days=2)
    merchant = (await Merchant.insert(
        Merchant(code=f"DM{tag}", name=f"纠纷测试商家{tag}", region=merchant_region, category="point_card",
                 identity_number="91" + "1" * 16, contact_phone="13900000000", joined_at=at - timedelta(days=300))
    ))[0]["id"]
    product = (await Product.insert(
        Product(sku=f"DP{tag}", merchant=merchant, region=merchant_region, category="point_card", name="测试点卡", price=amount)
    ))[0]["id"]
    buyer = (await Buyer.insert(
        Buyer(code=f"DB{tag}", nickname=f"玩家{tag}", region=buyer_region, contact_phone="13700000000", email=f"{tag}@example.com",
              login_ip="10.0.0.1", spending_profile={}, sensitive_ops=[], handled_by=[], registered_at=at - timedelta(days=100))
    ))[0]["id"]
    code = f"DO{tag}"
    await Order.insert(Order(code=code, buyer=buyer, merchant=merchant, product=product, region=merchant_region, amount=amount, created_at=at))
    return code


def claim(order: str, amount: int = 10_000, code: str | None = None) -> DisputeInput:
    return DisputeInput(dispute_code=code or f"DT{uuid.uuid4().hex[:8]}", order_code=order, reason="点卡卡密无效，充值失败", amount_claimed=amount)


async def platform(harness, pid: str, event: str, body: dict) -> ActionResult:
    handle = harness.client.get_workflow_handle(pid)
    request = PlatformEventInput(event=event, request_id=uuid.uuid4().hex, body=body)
    try:
        return await handle.execute_update("platform_event", request, result_type=ActionResult)
    except WorkflowUpdateFailedError as exc:
        raise ProcessError(getattr(exc.cause, "type", "failed"), str(exc.cause)) from None


async def dispute_row(code: str) -> dict:
    return await Dispute.select().where(Dispute.code == code).output(load_json=True).first()


async def audit_actions(pid: str) -> list[str]:
    rows = await AuditEvent.select(AuditEvent.action).where(AuditEvent.process_id == pid).order_by(AuditEvent.seq)
    return [r["action"] for r in rows]


async def step(harness, pid: str, name: str):
    """The view once the process waits at ``name`` and its open task (if any) is in the inbox."""
    view = await harness.wait_for(pid, lambda v: v.step == name and (v.tasks or name in ("merchant_response", "appeal_window", "refund_review")))
    for _ in range(100):
        if not view.tasks or await Task.exists().where(Task.task_id == view.tasks[0].task_id):
            return view
        await asyncio.sleep(0.05)
    raise AssertionError(f"task of {pid} never reached the inbox")


async def test_mediated_dispute_with_a_small_refund(harness, demo):
    order = await new_order("game-items", "game-items", amount=10_000)
    body = claim(order, amount=10_000)
    pid = await harness.start("dispute", None, body)
    assert pid == f"dispute-{body.dispute_code}"
    await step(harness, pid, "merchant_response")
    row = await dispute_row(body.dispute_code)
    assert (row["status"], row["region"], row["process_id"]) == ("open", "game-items", pid)
    assert (await Order.select(Order.status).where(Order.code == order).first())["status"] == "disputed"
    with pytest.raises(ProcessError) as early:
        await platform(harness, pid, "appeal", {"appellant": "buyer", "reason": "还没裁决就申诉"})
    assert early.value.code == "not_expected"

    await platform(harness, pid, "merchant_response", {"statement": "卡密已发出，买家使用有误", "evidence": ["delivery-log-1"]})
    view = await step(harness, pid, "mediate")
    task = view.tasks[0]
    assert (task.tier, task.region, task.actions) == ("normal", "game-items", ["resolve", "escalate"])
    assert task.evidence["merchant_response"]["statement"] == "卡密已发出，买家使用有误"
    assert (await dispute_row(body.dispute_code))["status"] == "mediating"

    with pytest.raises(ProcessError) as other_region:
        await harness.act(pid, await actor("normal-east-china-1"), "resolve", {"refund_amount": 3_000, "reason": "部分退款"})
    assert other_region.value.code == "out_of_region"
    with pytest.raises(ProcessError) as intern:
        await harness.act(pid, await actor("intern-game-items-1"), "resolve", {"refund_amount": 3_000, "reason": "部分退款"})
    assert intern.value.code == "tier_too_low"
    with pytest.raises(ProcessError) as too_much:
        await harness.act(pid, await actor("normal-game-items-1"), "resolve", {"refund_amount": 20_000, "reason": "全额加赔"})
    assert too_much.value.code == "refund_too_high"

    await harness.act(pid, await actor("normal-game-items-1"), "resolve", {"refund_amount": 3_000, "reason": "双方同意部分退款"})
    await step(harness, pid, "appeal_window")
    row = await dispute_row(body.dispute_code)
    assert row["status"] == "resolved" and row["resolution"]["decided_by"] == "normal-game-items-1" and row["refund_amount"] == 0

    outcome = await harness.result(pid)  # the appeal window passes unused
    assert outcome["status"] == "resolved" and outcome["refund"]["status"] == "executed"
    (entry,) = await LedgerEntry.select().where(LedgerEntry.operation_id == f"{pid}:refund")
    assert (entry["kind"], entry["amount"], entry["account"], entry["approved_by"]) == ("refund", 3_000, f"DM{order[2:]}", "normal-game-items-1")
    row = await dispute_row(body.dispute_code)
    assert row["status"] == "resolved" and row["refund_amount"] == 3_000 and row["resolution"]["refund"]["status"] == "executed"
    closed = await Task.select().where(Task.task_id == task.task_id).first()
    assert closed["status"] == "done" and closed["decided_by"] == "normal-game-items-1"
    actions = await audit_actions(pid)
    assert actions[0] == "dispute.started" and actions[-1] == "dispute.resolved"
    assert {"dispute.merchant_responded", "dispute.resolve"} <= set(actions)


async def test_silent_merchant_then_overdue_mediation_escalates_to_the_regional(harness, demo):
    order = await new_order("mobile-topup", "mobile-topup", amount=5_000)
    body = claim(order, amount=5_000)
    timings = {**SHORT_RESPONSE, **SHORT_APPEAL, "dispute.mediate": StepTiming(due=4 * H, remind_before=H)}
    pid = await harness.start("dispute", None, body, timings=timings)
    await step(harness, pid, "merchant_response")
    await harness.skip(2 * H + timedelta(minutes=5))
    view = await step(harness, pid, "mediate")
    assert view.tasks[0].evidence["merchant_response"].startswith("商家未在时限内回应")
    assert {"dispute.merchant_reminded", "dispute.merchant_silent"} <= set(await audit_actions(pid))

    await harness.skip(4 * H + timedelta(minutes=5))
    view = await harness.wait_for(pid, lambda v: v.tasks and v.tasks[0].tier == "regional")
    task = view.tasks[0]
    assert task.step == "mediate" and task.escalations == 1
    row = await Task.select().where(Task.task_id == task.task_id).first()
    assert row["tier"] == "regional" and row["escalated"] is True and "escalated from normal to regional" in row["escalation_reason"]
    assert {"task.reminded", "task.escalated"} <= set(await audit_actions(pid))
    with pytest.raises(ProcessError) as normal:
        await harness.act(pid, await actor("normal-mobile-topup-1"), "resolve", {"refund_amount": 0, "reason": "驳回"})
    assert normal.value.code == "tier_too_low"

    regional = await actor("regional-mobile-topup")
    await harness.act(pid, regional, "escalate", {"reason": "调解超时，转为裁决"})
    view = await step(harness, pid, "rule")
    assert view.tasks[0].tier == "regional" and view.tasks[0].evidence["escalation"] == "调解超时，转为裁决"
    assert (await dispute_row(body.dispute_code))["status"] == "escalated"
    await harness.act(pid, regional, "rule", {"refund_amount": 0, "reason": "买家未提供充值失败凭证"})
    outcome = await harness.result(pid)
    assert outcome["status"] == "ruled" and outcome["refund"] == {"status": "none", "amount": 0}
    row = await dispute_row(body.dispute_code)
    assert row["status"] == "ruled" and row["resolution"]["merchant_responded"] is False and row["refund_amount"] == 0
    assert await LedgerEntry.count().where(LedgerEntry.operation_id == f"{pid}:refund") == 0


async def test_cross_region_goes_straight_to_a_regional_and_a_super_overturns_on_appeal(harness, demo):
    order = await new_order("east-china", "game-cards", amount=20_000)
    body = claim(order, amount=20_000)
    pid = await harness.start("dispute", None, body, timings=SHORT_RESPONSE)
    await step(harness, pid, "merchant_response")
    await platform(harness, pid, "merchant_response", {"statement": "买家已使用点卡"})
    view = await step(harness, pid, "rule")
    task = view.tasks[0]
    assert (task.tier, task.region, task.evidence["cross_region"]) == ("regional", "east-china", True)
    assert await Task.count().where((Task.process_id == pid) & (Task.step == "mediate")) == 0
    with pytest.raises(ProcessError) as normal:
        await harness.act(pid, await actor("normal-east-china-1"), "rule", {"refund_amount": 0, "reason": "驳回"})
    assert normal.value.code == "tier_too_low"
    with pytest.raises(ProcessError) as merchant_side:
        await harness.act(pid, await actor("regional-game-cards"), "rule", {"refund_amount": 0, "reason": "驳回"})
    assert merchant_side.value.code == "out_of_region"
    await harness.act(pid, await actor("regional-east-china"), "rule", {"refund_amount": 5_000, "reason": "部分卡密未使用，退一部分"})
    await step(harness, pid, "appeal_window")

    await platform(harness, pid, "appeal", {"appellant": "buyer", "reason": "全部卡密均无效"})
    view = await step(harness, pid, "appeal")
    assert view.tasks[0].tier == "super" and view.tasks[0].evidence["appeal"]["appellant"] == "buyer"
    assert (await dispute_row(body.dispute_code))["status"] == "appealed"
    with pytest.raises(ProcessError) as ruler:
        await harness.act(pid, await actor("regional-east-china"), "uphold", {"reason": "维持"})
    assert ruler.value.code == "conflict_of_interest"
    await harness.act(pid, await actor("super-2"), "overturn", {"refund_amount": 8_000, "reason": "商家日志显示四张卡密未兑换"})
    outcome = await harness.result(pid)
    assert outcome["status"] == "appealed" and outcome["appeal"]["decision"] == "overturned" and outcome["decided_by"] == "super-2"
    row = await dispute_row(body.dispute_code)
    assert row["status"] == "appealed" and row["refund_amount"] == 8_000 and row["resolution"]["appeal"]["by"] == "super-2"
    (entry,) = await LedgerEntry.select().where(LedgerEntry.operation_id == f"{pid}:refund")
    assert entry["amount"] == 8_000 and entry["proposed_by"] == "super-2"


async def test_overdue_ruling_goes_to_a_super_who_may_not_hear_the_appeal(harness, demo):
    order = await new_order("game-cards", "game-items", amount=9_000)
    body = claim(order, amount=9_000)
    timings = {**SHORT_RESPONSE, "dispute.rule": StepTiming(due=3 * H, remind_before=H)}
    pid = await harness.start("dispute", None, body, timings=timings)
    await step(harness, pid, "merchant_response")
    await platform(harness, pid, "merchant_response", {"statement": "已按约定发货"})
    await step(harness, pid, "rule")
    await harness.skip(3 * H + timedelta(minutes=5))
    view = await harness.wait_for(pid, lambda v: v.tasks and v.tasks[0].tier == "super")
    await harness.act(pid, await actor("super-2"), "rule", {"refund_amount": 4_000, "reason": "超时由超级管理员裁决"}, task_id=view.tasks[0].task_id)
    await step(harness, pid, "appeal_window")
    await platform(harness, pid, "appeal", {"appellant": "merchant", "reason": "不应退款"})
    await step(harness, pid, "appeal")
    with pytest.raises(ProcessError) as same_super:
        await harness.act(pid, await actor("super-2"), "uphold", {"reason": "维持"})
    assert same_super.value.code == "conflict_of_interest"
    await harness.act(pid, await actor("super-3"), "uphold", {"reason": "证据支持原裁决"})
    outcome = await harness.result(pid)
    assert outcome["status"] == "appealed" and outcome["appeal"]["decision"] == "upheld"
    assert outcome["decided_by"] == "super-2" and outcome["refund"]["amount"] == 4_000


async def test_refund_above_the_threshold_waits_for_dual_review(harness, demo):
    order = await new_order("game-cards", "game-cards", amount=100_000)
    body = claim(order, amount=100_000)
    pid = await harness.start("dispute", None, body, timings=SHORT_APPEAL)
    await step(harness, pid, "merchant_response")
    await platform(harness, pid, "merchant_response", {"statement": "同意部分退款"})
    await step(harness, pid, "mediate")
    mediator = await actor("normal-game-cards-1")
    await harness.act(pid, mediator, "resolve", {"refund_amount": 80_000, "reason": "商家同意退八成"})
    await step(harness, pid, "appeal_window")
    await harness.skip(2 * H + timedelta(minutes=5))
    await step(harness, pid, "refund_review")

    child = f"fund-operation-refund-{body.dispute_code}"
    view = await step(harness, child, "approve")
    task = view.tasks[0]
    assert (task.tier, task.region, task.evidence["approvals_needed"], task.evidence["maker"]) == ("super", "game-cards", 2, "normal-game-cards-1")
    assert (await harness.view(pid)).status == "running"
    with pytest.raises(ProcessError) as maker:
        await harness.act(child, mediator, "approve", {})
    assert maker.value.code == "conflict_of_interest"
    await harness.act(child, await actor("super-2"), "approve", {"reason": "核对无误"})
    view = await harness.wait_for(child, lambda v: v.tasks and v.tasks[0].task_id != task.task_id)
    with pytest.raises(ProcessError) as twice:
        await harness.act(child, await actor("super-2"), "approve", {})
    assert twice.value.code == "conflict_of_interest"
    assert await LedgerEntry.count().where(LedgerEntry.operation_id == child) == 0
    await harness.act(child, await actor("super-3"), "approve", {"reason": "同意"})

    outcome = await harness.result(pid)
    assert outcome["status"] == "resolved" and outcome["refund"]["status"] == "executed" and outcome["refund"]["amount"] == 80_000
    (entry,) = await LedgerEntry.select().where(LedgerEntry.operation_id == child)
    assert (entry["kind"], entry["amount"], entry["proposed_by"], entry["approved_by"]) == ("refund", 80_000, "normal-game-cards-1", "super-2,super-3")
    assert await LedgerEntry.count().where(LedgerEntry.operation_id == f"{pid}:refund") == 0
    assert (await dispute_row(body.dispute_code))["refund_amount"] == 80_000
    assert "dispute.refund_review" in await audit_actions(pid)


async def test_large_refund_is_not_paid_when_its_review_lapses(harness, demo):
    order = await new_order("game-items", "game-items", amount=60_000)
    body = claim(order, amount=60_000)
    timings = {**SHORT_RESPONSE, **SHORT_APPEAL, "fund-operation.approve": StepTiming(due=2 * H, remind_before=H)}
    pid = await harness.start("dispute", None, body, timings=timings)
    await step(harness, pid, "merchant_response")
    await platform(harness, pid, "merchant_response", {"statement": "同意退款"})
    await step(harness, pid, "mediate")
    mediator = await actor("normal-game-items-2")
    await harness.act(pid, mediator, "resolve", {"refund_amount": 60_000, "reason": "全额退款"})
    await step(harness, pid, "appeal_window")
    await harness.skip(2 * H + timedelta(minutes=5))
    await step(harness, f"fund-operation-refund-{body.dispute_code}", "approve")
    await harness.skip(2 * H + timedelta(minutes=5))
    # The appeal window and the refund review both run out: the award comes back to its tier
    # (found in use: the dispute ended with an award nobody paid and nobody was asked about).
    view = await step(harness, pid, "refund_refused")
    task = view.tasks[0]
    assert (task.tier, task.actions, task.evidence["refund"]["status"]) == ("normal", ["repropose_refund", "record_no_refund"], "lapsed")
    await harness.act(pid, mediator, "record_no_refund", {"reason": "复核未能按时完成，转线下处理"})
    outcome = await harness.result(pid)
    assert outcome["status"] == "resolved" and outcome["refund"]["status"] == "lapsed" and outcome["refund"]["amount"] == 0
    assert outcome["refund"]["no_refund"] == {"by": "normal-game-items-2", "reason": "复核未能按时完成，转线下处理"}
    assert await LedgerEntry.count().where(LedgerEntry.operation_id == f"fund-operation-refund-{body.dispute_code}") == 0
    row = await dispute_row(body.dispute_code)
    assert row["refund_amount"] == 0 and row["resolution"]["refund"]["status"] == "lapsed" and row["resolution"]["refund_awarded"] == 60_000
    assert {"dispute.refund_refused", "dispute.no_refund"} <= set(await audit_actions(pid))


async def test_a_rejected_refund_is_proposed_again_smaller_and_paid(harness, demo):
    order = await new_order("game-cards", "game-cards", amount=100_000)
    body = claim(order, amount=100_000)
    pid = await harness.start("dispute", None, body, timings={**SHORT_RESPONSE, **SHORT_APPEAL})
    await step(harness, pid, "merchant_response")
    await platform(harness, pid, "merchant_response", {"statement": "只同意部分"})
    await step(harness, pid, "mediate")
    mediator = await actor("normal-game-cards-1")
    await harness.act(pid, mediator, "resolve", {"refund_amount": 90_000, "reason": "退九成"})
    await step(harness, pid, "appeal_window")
    await harness.skip(2 * H + timedelta(minutes=5))
    child = f"fund-operation-refund-{body.dispute_code}"
    await step(harness, child, "approve")
    await harness.act(child, await actor("super-2"), "reject", {"reason": "金额过高，证据只支持部分"})
    view = await step(harness, pid, "refund_refused")
    with pytest.raises(ProcessError) as same:
        await harness.act(pid, mediator, "repropose_refund", {"refund_amount": 90_000, "reason": "再试"})
    assert same.value.code == "refund_not_smaller"
    await harness.act(pid, mediator, "repropose_refund", {"refund_amount": 20_000, "reason": "按核实部分退款"})
    outcome = await harness.result(pid)
    assert outcome["refund"]["status"] == "executed" and outcome["refund"]["amount"] == 20_000 and outcome["refund_awarded"] == 20_000
    (entry,) = await LedgerEntry.select().where(LedgerEntry.operation_id == f"{pid}:refund")
    assert entry["amount"] == 20_000  # under the threshold: paid by the dispute itself


async def test_expired_dispute_grant_is_refused(harness, demo):
    order = await new_order("game-items", "game-items", amount=4_000)
    body = claim(order, amount=4_000)
    pid = await harness.start("dispute", None, body)
    await step(harness, pid, "merchant_response")
    await platform(harness, pid, "merchant_response", {"statement": "未收到投诉前已发货"})
    await step(harness, pid, "mediate")
    now = await harness.env.get_current_time()  # workflow time: earlier tests skipped days ahead
    expired, active = await helper_with_grant(now - timedelta(days=1)), await helper_with_grant(now + timedelta(days=30))
    with pytest.raises(ProcessError) as refused:
        await harness.act(pid, await actor(expired), "resolve", {"refund_amount": 0, "reason": "驳回"})
    assert refused.value.code == "out_of_region"  # the ended grant adds nothing to their own region
    await harness.act(pid, await actor(active), "resolve", {"refund_amount": 1_000, "reason": "协助调解，部分退款"})
    outcome = await harness.result(pid)
    assert outcome["status"] == "resolved" and outcome["decided_by"] == active


async def helper_with_grant(ends_at: datetime) -> str:
    """A normal admin of east-china holding a disputes.mediate grant for game-items until ``ends_at``."""
    username = f"normal-helper-{uuid.uuid4().hex[:6]}"
    now = datetime.now(UTC)
    admin = (await Admin.insert(
        Admin(username=username, display_name="跨区协助调解", tier="normal", regions=["east-china"], password_hash="-",
              password_changed_at=now, created_at=now)
    ))[0]["id"]
    await PermissionGrant.insert(
        PermissionGrant(grant_id=f"test-grant-{username}", admin=admin, permission="disputes.mediate", scope="region",
                        regions=["game-items"], starts_at=ends_at - timedelta(days=60), ends_at=ends_at,
                        approved_by="regional-game-items", justification="大促期间协助游戏道具专区调解")
    )
    return username


async def test_intake_rejections(harness, demo):
    assert SPEC.validate_start(DisputeInput(dispute_code="DT-x1", order_code="O1", reason="坏了", amount_claimed=0), None)[0] == "amount_required"

    pid = await harness.start("dispute", None, claim("NO-SUCH-ORDER"))
    assert (await harness.result(pid))["code"] == "unknown_order"
    order = await new_order("game-cards", "game-cards", amount=5_000)
    pid = await harness.start("dispute", None, claim(order, amount=6_000))
    assert (await harness.result(pid))["code"] == "claim_too_high"

    seeded = await Dispute.select(Dispute.code).first()  # an existing dispute code on another order
    pid = await harness.start("dispute", None, claim(order, amount=5_000, code=seeded["code"]))
    outcome = await harness.result(pid)
    assert (outcome["status"], outcome["code"]) == ("rejected", "dispute_conflict")

    first = claim(order, amount=5_000)
    pid = await harness.start("dispute", None, first)
    await step(harness, pid, "merchant_response")
    with pytest.raises(ProcessError) as again:
        await harness.start("dispute", None, first)
    assert again.value.code == "already_started"
    pid2 = await harness.start("dispute", None, claim(order, amount=5_000))
    outcome = await harness.result(pid2)
    assert outcome["code"] == "dispute_conflict" and "already under dispute" in outcome["reason"]
    assert await Dispute.count().where(Dispute.code == first.dispute_code) == 1


async def test_refund_threshold_is_configurable(demo):
    order = await new_order("game-cards", "game-cards")
    activities = DisputeActivities()
    assert (await activities.load_dispute_context(DisputeContextQuery(order_code=order))).refund_threshold == REFUND_THRESHOLD_CENTS
    await PlatformMeta.insert(PlatformMeta(key=REFUND_THRESHOLD_KEY, value="20000"))
    try:
        assert (await activities.load_dispute_context(DisputeContextQuery(order_code=order))).refund_threshold == 20_000
    finally:
        await PlatformMeta.delete().where(PlatformMeta.key == REFUND_THRESHOLD_KEY)


async def upheld_refund(harness, judge: str = "super-2") -> tuple[str, str]:
    """A cross-region dispute ruled with a refund above the threshold, appealed by the
    merchant and upheld by ``judge``: (dispute id, the refund's fund operation id), the
    refund waiting for its first checker."""
    order = await new_order("east-china", "game-cards", amount=100_000)
    body = claim(order, amount=100_000)
    pid = await harness.start("dispute", None, body, timings={**SHORT_RESPONSE, **SHORT_APPEAL})
    await step(harness, pid, "merchant_response")
    await platform(harness, pid, "merchant_response", {"statement": "买家已使用点卡"})
    await step(harness, pid, "rule")
    await harness.act(pid, await actor("regional-east-china"), "rule", {"refund_amount": 90_000, "reason": "卡密大多无效"})
    await step(harness, pid, "appeal_window")
    await platform(harness, pid, "appeal", {"appellant": "merchant", "reason": "卡密已全部兑换"})
    await step(harness, pid, "appeal")
    await harness.act(pid, await actor(judge), "uphold", {"reason": "商家举证不足"})
    await step(harness, pid, "refund_review")
    child = f"fund-operation-refund-{body.dispute_code}"
    await step(harness, child, "approve")
    return pid, child


async def test_the_appeal_judge_is_not_a_checker_of_the_refund_the_case_awards(harness, demo):
    """Found in use: the super who upheld an appeal was accepted as one of the two checkers of
    that dispute's refund. Separation of duties holds over the whole case: the refund's fund
    operation is told who ruled and who judged the appeal, and refuses them as checkers."""
    judge = await actor("super-2")
    pid, child = await upheld_refund(harness, judge.id)
    view = await step(harness, child, "approve")
    assert view.tasks[0].evidence["maker"] == "regional-east-china"
    with pytest.raises(ProcessError) as appeal_judge:
        await harness.act(child, judge, "approve", {"reason": "同意"})
    assert appeal_judge.value.code == "not_independent" and "appeal judge" in appeal_judge.value.reason
    with pytest.raises(ProcessError) as judge_rejects:
        await harness.act(child, judge, "reject", {"reason": "不同意"})
    assert judge_rejects.value.code == "not_independent"
    first = view.tasks[0].task_id
    await harness.act(child, await actor("super-3"), "approve", {"reason": "核对无误"})
    await harness.wait_for(child, lambda v: v.tasks and v.tasks[0].task_id != first)
    with pytest.raises(ProcessError) as again:
        await harness.act(child, judge, "approve", {})
    assert again.value.code == "not_independent"
    await harness.act(child, await actor("station-master"), "approve", {"reason": "同意"})
    outcome = await harness.result(pid)
    assert outcome["refund"]["status"] == "executed"
    (entry,) = await LedgerEntry.select().where(LedgerEntry.operation_id == child)
    assert entry["approved_by"] == "super-3,station-master"


def test_every_case_decision_names_the_roles_it_must_be_independent_of():
    """The pairs the specs declare: appeal judge ≠ mediator or ruler; a refund's checker ≠ any
    of the dispute's deciders (its maker is excluded as the proposer)."""
    from workflows.registry import BY_KIND

    dispute, funds = BY_KIND["dispute"], BY_KIND["fund-operation"]
    assert {a.name: a.role for a in dispute.actions} == {
        "resolve": "mediator", "escalate": "mediator", "rule": "ruler", "uphold": "appeal_judge", "overturn": "appeal_judge",
        "repropose_refund": "ruler", "record_no_refund": "",
    }
    for name in ("uphold", "overturn"):
        assert set(dispute.action(name).independent_of) == {"mediator", "ruler"}
    for name in ("approve", "reject"):
        assert set(funds.action(name).independent_of) == {"mediator", "ruler", "appeal_judge"}
    roles = {a.role for spec in BY_KIND.values() for a in spec.actions if a.role}
    for spec in BY_KIND.values():
        for action in spec.actions:
            assert set(action.independent_of) <= roles, (spec.kind, action.name)
