"""Fund operations (双人复核) on the time-skipping server, with the real database."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from activities.funds import FundActivities, FundExecution
from infra.accounts import load_actor
from infra.db.tables import Admin, AuditEvent, LedgerEntry, Merchant, PermissionGrant, PlatformMeta, Task
from infra.temporal.processes import ProcessError
from workflows.domain.timing import StepTiming
from workflows.fund_operation import SPEC, FundOperationInput

pytestmark = [pytest.mark.db, pytest.mark.timeout(60)]


async def actor(username: str):
    found = await load_actor(username, datetime.now(UTC) - timedelta(days=4000))
    assert found is not None, username
    return found


async def new_merchant(region: str = "game-cards") -> str:
    code = f"FM{uuid.uuid4().hex[:8]}"
    await Merchant.insert(
        Merchant(code=code, name=f"测试结算商家{code}", region=region, category="point_card", identity_number="91" + "0" * 16,
                 contact_phone="13800000000", joined_at=datetime.now(UTC) - timedelta(days=200))
    )
    return code


async def new_regional(region: str, grant_ends: datetime | None = None) -> str:
    """A regional admin of our own, optionally holding a funds.approve grant for the region."""
    username = f"regional-fund-{uuid.uuid4().hex[:6]}"
    now = datetime.now(UTC)
    await Admin.insert(
        Admin(username=username, display_name="资金测试区域管理员", tier="regional", regions=[region], password_hash="-",
              password_changed_at=now, created_at=now)
    )
    if grant_ends is not None:
        admin = await Admin.select(Admin.id).where(Admin.username == username).first()
        await PermissionGrant.insert(
            PermissionGrant(grant_id=f"test-grant-{username}", admin=admin["id"], permission="funds.approve", scope="region",
                            regions=[region], starts_at=grant_ends - timedelta(days=60), ends_at=grant_ends,
                            approved_by="station-master", justification="大促期间区域资金审批")
        )
    return username


def settlement(merchant: str, amount: int = 1_280_000) -> FundOperationInput:
    return FundOperationInput(operation="merchant_settlement", account=merchant, amount=amount, reason="十一月第二期商家结算")


async def task_row(pid: str) -> dict:
    """The open task's inbox row, once the workflow has recorded it."""
    for _ in range(100):
        row = await Task.select().where((Task.process_id == pid) & Task.status.is_in(["open", "claimed"])).first()
        if row is not None:
            return row
        await asyncio.sleep(0.05)
    raise AssertionError(f"no open task for {pid}")


async def ledger(pid: str) -> list[dict]:
    return await LedgerEntry.select().where(LedgerEntry.operation_id == pid).output(load_json=True)


async def audit_actions(pid: str) -> list[str]:
    rows = await AuditEvent.select(AuditEvent.action).where(AuditEvent.process_id == pid).order_by(AuditEvent.seq)
    return [r["action"] for r in rows]


async def test_settlement_needs_a_second_super_and_executes_once(harness, demo):
    merchant = await new_merchant()
    pid = await harness.start("fund-operation", await actor("super-2"), settlement(merchant), key=f"settle-{merchant}")
    assert pid == f"fund-operation-settle-{merchant}"
    view = await harness.wait_for(pid, lambda v: v.tasks)
    task = view.tasks[0]
    assert (task.step, task.tier, task.region, task.actions) == ("approve", "super", "game-cards", ["approve", "reject"])
    assert task.evidence["maker"] == "super-2" and task.evidence["amount"] == 1_280_000
    assert view.standing == ["veto"]  # the workflow says a veto stands while the operation is pending
    assert (await harness.task_row(pid))["priority"] == 80  # a fund operation of ¥10,000 or more

    with pytest.raises(ProcessError) as maker:
        await harness.act(pid, await actor("super-2"), "approve", {"reason": "我自己批"})
    assert maker.value.code == "conflict_of_interest"
    with pytest.raises(ProcessError) as regional:
        await harness.act(pid, await actor("regional-game-cards"), "approve", {})
    assert regional.value.code == "tier_too_low"
    assert await ledger(pid) == []

    await harness.act(pid, await actor("super-3"), "approve", {"reason": "金额与结算单一致"})
    outcome = await harness.result(pid)
    assert outcome["status"] == "executed" and outcome["approved_by"] == ["super-3"]
    assert (await harness.view(pid)).standing == []
    (entry,) = await ledger(pid)
    assert (entry["kind"], entry["amount"], entry["account"]) == ("merchant_settlement", 1_280_000, merchant)
    assert (entry["proposed_by"], entry["approved_by"]) == ("super-2", "super-3")
    row = await Task.select().where(Task.task_id == task.task_id).first()
    assert row["status"] == "done" and row["decided_by"] == "super-3"
    actions = await audit_actions(pid)
    assert actions[0] == "fund-operation.started" and "fund-operation.approve" in actions and actions[-1] == "fund-operation.executed"

    # The execute activity run again (a retry after a crash) finds its entry and writes nothing.
    again = await FundActivities().execute_fund_operation(
        FundExecution(operation_id=pid, kind="merchant_settlement", amount=1_280_000, account=merchant,
                      proposed_by="super-2", approved_by="super-3", executed_at=datetime.now(UTC))
    )
    assert again.first_time is False and again.entry_id == entry["id"]
    assert len(await ledger(pid)) == 1


async def test_fee_rate_change_sets_the_platform_rate_exactly_once(harness, demo):
    body = FundOperationInput(operation="fee_rate_change", account="platform", fee_rate_bps=350, reason="双十一后恢复标准费率")
    pid = await harness.start("fund-operation", await actor("station-master"), body)
    view = await harness.wait_for(pid, lambda v: v.tasks)
    assert view.tasks[0].region is None and view.tasks[0].evidence["fee_rate_bps"] == 350
    await harness.act(pid, await actor("super-2"), "approve", {})
    outcome = await harness.result(pid)
    assert outcome["status"] == "executed" and outcome["fee_rate"] == "0.0350"
    rate = await PlatformMeta.select(PlatformMeta.value).where(PlatformMeta.key == "fee_rate").first()
    assert rate["value"] == "0.0350"
    (entry,) = await ledger(pid)
    assert entry["kind"] == "fee_rate_change" and entry["details"]["fee_rate"] == "0.0350"

    # A retried execution of the same operation neither adds an entry nor touches the rate.
    retry = FundExecution(operation_id=pid, kind="fee_rate_change", amount=0, account="platform", proposed_by="station-master",
                          approved_by="super-2", executed_at=datetime.now(UTC), fee_rate_bps=999)
    assert (await FundActivities().execute_fund_operation(retry)).first_time is False
    assert (await PlatformMeta.select(PlatformMeta.value).where(PlatformMeta.key == "fee_rate").first())["value"] == "0.0350"
    assert len(await ledger(pid)) == 1


async def test_only_supers_propose_and_bodies_are_checked(harness, demo):
    regional = await actor("regional-game-cards")
    merchant = await new_merchant()
    assert SPEC.validate_start(settlement(merchant), regional)[0] == "funds_need_super"
    super2 = await actor("super-2")
    refund = FundOperationInput(operation="refund", account=merchant, amount=100, reason="直接退款", dispute_code="D1")
    assert SPEC.validate_start(refund, super2)[0] == "refund_from_dispute"
    assert SPEC.validate_start(settlement(merchant, amount=0), super2)[0] == "amount_required"
    no_rate = FundOperationInput(operation="fee_rate_change", account="platform", reason="调整费率")
    assert SPEC.validate_start(no_rate, super2)[0] == "bad_fee_rate"
    assert SPEC.validate_start(settlement(merchant), super2) is None

    # The workflow checks again, whoever starts it.
    pid = await harness.start("fund-operation", regional, settlement(merchant))
    outcome = await harness.result(pid)
    assert (outcome["status"], outcome["code"]) == ("rejected", "funds_need_super")
    pid = await harness.start("fund-operation", super2, settlement("NO-SUCH-MERCHANT"))
    outcome = await harness.result(pid)
    assert (outcome["status"], outcome["code"]) == ("rejected", "unknown_account")
    assert await Task.count().where(Task.process_id == pid) == 0


async def test_checker_rejects_with_a_reason(harness, demo):
    body = FundOperationInput(operation="withdrawal", account="pool-icbc-0001", amount=50_000_000, reason="季度利润提取")
    pid = await harness.start("fund-operation", await actor("super-2"), body)
    await harness.wait_for(pid, lambda v: v.tasks)
    with pytest.raises(ProcessError) as no_reason:
        await harness.act(pid, await actor("super-3"), "reject", {})
    assert no_reason.value.code == "invalid_body"
    await harness.act(pid, await actor("super-3"), "reject", {"reason": "资金池余额不足以覆盖下周结算"})
    outcome = await harness.result(pid)
    assert outcome["status"] == "rejected" and outcome["rejected_by"] == "super-3"
    assert await ledger(pid) == []


async def test_unapproved_operation_lapses_after_a_reminder(harness, demo):
    timings = {"fund-operation.approve": StepTiming(due=timedelta(hours=2), remind_before=timedelta(hours=1))}
    pid = await harness.start("fund-operation", await actor("super-3"), settlement(await new_merchant(), 10_000), timings=timings)
    outcome = await harness.result(pid)
    assert outcome["status"] == "lapsed"
    task = await Task.select().where(Task.process_id == pid).output(load_json=True).first()
    assert task["status"] == "done" and task["reminded"] is True and task["outcome"]["action"] == "lapsed"
    assert {"task.reminded", "fund-operation.lapsed"} <= set(await audit_actions(pid))
    assert await ledger(pid) == []


async def test_any_super_may_veto_a_pending_operation(harness, demo):
    body = FundOperationInput(operation="fee_rate_change", account="platform", fee_rate_bps=800, reason="提高费率以覆盖风控成本")
    pid = await harness.start("fund-operation", await actor("super-2"), body)
    view = await harness.wait_for(pid, lambda v: v.tasks)
    with pytest.raises(ProcessError) as regional:
        await harness.act(pid, await actor("regional-game-items"), "veto", {"reason": "反对"})
    assert regional.value.code == "no_permission"
    with pytest.raises(ProcessError) as bare:
        await harness.act(pid, await actor("station-master"), "veto", {})
    assert bare.value.code == "invalid_body"

    await harness.act(pid, await actor("station-master"), "veto", {"reason": "大促期间暂停费率调整"})
    outcome = await harness.result(pid)
    assert outcome["status"] == "vetoed" and outcome["vetoed_by"] == "station-master"
    task = await Task.select().where(Task.task_id == view.tasks[0].task_id).first()
    assert task["status"] == "cancelled"
    assert await ledger(pid) == []
    veto = await AuditEvent.select().where((AuditEvent.process_id == pid) & (AuditEvent.action == "fund-operation.veto")).first()
    assert veto["actor"] == "station-master" and veto["reason"] == "大促期间暂停费率调整"
    with pytest.raises(ProcessError):
        await harness.act(pid, await actor("super-3"), "approve", {}, task_id=view.tasks[0].task_id)

    # The maker may veto (withdraw) their own proposal: a veto can only stop money moving.
    pid = await harness.start("fund-operation", await actor("super-3"), settlement(await new_merchant(), 20_000))
    await harness.wait_for(pid, lambda v: v.tasks)
    await harness.act(pid, await actor("super-3"), "veto", {"reason": "结算单有误，撤回"})
    assert (await harness.result(pid))["status"] == "vetoed"
    assert await ledger(pid) == []


async def test_simultaneous_approvals_give_one_outcome(harness, demo):
    pid = await harness.start("fund-operation", await actor("super-2"), settlement(await new_merchant(), 330_000))
    view = await harness.wait_for(pid, lambda v: v.tasks)
    task_id = view.tasks[0].task_id
    both = await asyncio.gather(
        harness.act(pid, await actor("super-3"), "approve", {}, task_id=task_id),
        harness.act(pid, await actor("station-master"), "approve", {}, task_id=task_id),
        return_exceptions=True,
    )
    done = [r for r in both if not isinstance(r, Exception)]
    refused = [r for r in both if isinstance(r, Exception)]
    assert len(done) == 1 and done[0].action == "approve"
    assert len(refused) == 1 and isinstance(refused[0], ProcessError) and refused[0].code == "already_decided"
    outcome = await harness.result(pid)
    assert outcome["status"] == "executed" and outcome["approved_by"] == [done[0].actor]
    (entry,) = await ledger(pid)
    assert entry["approved_by"] == done[0].actor
    assert (await audit_actions(pid)).count("fund-operation.approve") == 1


async def test_regional_with_a_fund_grant_may_check_but_not_once_it_expired(harness, demo):
    now = await harness.env.get_current_time()
    ended = await new_regional("game-cards", grant_ends=now - timedelta(days=1))
    ending = await new_regional("game-cards", grant_ends=now + timedelta(hours=1))
    granted = await new_regional("game-cards", grant_ends=now + timedelta(days=30))
    pid = await harness.start("fund-operation", await actor("super-2"), settlement(await new_merchant("game-cards"), 66_000))
    task = await task_row(pid)
    assert ending in task["candidates"] and granted in task["candidates"] and ended not in task["candidates"]

    with pytest.raises(ProcessError) as long_ended:
        await harness.act(pid, await actor(ended), "approve", {})
    assert long_ended.value.code == "tier_too_low"
    await harness.skip(timedelta(hours=2))  # the second grant ends while the task is open
    with pytest.raises(ProcessError) as expired:
        await harness.act(pid, await actor(ending), "approve", {})
    assert expired.value.code == "grant_expired"

    await harness.act(pid, await actor(granted), "approve", {"reason": "大促结算，已核对"})
    assert (await harness.result(pid))["status"] == "executed"
    (entry,) = await ledger(pid)
    assert entry["approved_by"] == granted
