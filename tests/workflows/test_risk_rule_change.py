"""Risk rule changes on the time-skipping server, with the real database: backtested, minor
ones applied at once, major ones only with a second super."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from activities.risk.store import load_rules
from infra.accounts import load_actor
from infra.db.tables import AuditEvent
from infra.db.tables import RiskRule as RiskRuleRow
from infra.temporal.processes import ProcessError
from tests.workflows.test_risk_review import task_ready
from workflows.domain.timing import StepTiming
from workflows.risk_rule_change import RiskRuleChangeInput

pytestmark = [pytest.mark.db, pytest.mark.timeout(90)]

HOUR = timedelta(hours=1)
SHORT = {"risk-rule-change.approve": StepTiming(due=HOUR)}


async def actor(username: str):
    found = await load_actor(username, datetime.now(UTC) - timedelta(days=400))
    assert found is not None, username
    return found


async def refused(call) -> str:
    with pytest.raises(ProcessError) as info:
        await call
    return info.value.code


async def test_a_minor_change_is_backtested_applied_and_audited(harness, demo):
    body = RiskRuleChangeInput(rule="brushing", params={"min_orders": 9}, reason="大促期间正常订单增多，略提高阈值", backtest_days=60)
    pid = await harness.start("risk-rule-change", await actor("super-2"), body)
    result = await harness.result(pid)
    assert result["status"] == "applied", result
    assert result["major"] == [] and result["approved_by"] is None
    assert result["changes"] == {"min_orders": {"from": 8, "to": 9}}
    assert result["signals_before"] >= 3 and result["signals_after"] == result["signals_before"]  # the planted rings still show
    rules = await load_rules()
    assert rules["brushing"].params["min_orders"] == 9 and rules["brushing"].version == 1 and rules["brushing"].updated_by == "super-2"
    row = await RiskRuleRow.select().where(RiskRuleRow.key == "brushing").first()
    assert row["process_id"] == pid
    audit = await AuditEvent.select(AuditEvent.actor, AuditEvent.target).where((AuditEvent.process_id == pid) & (AuditEvent.action == "risk.rule_changed")).first()
    assert audit == {"actor": "super-2", "target": "risk-rule:brushing"}


async def test_a_major_change_waits_for_a_second_super_whose_task_shows_the_backtest(harness, demo):
    body = RiskRuleChangeInput(rule="unusual_settlements", enabled=False, reason="结算改由财务系统监控，停用本规则")
    pid = await harness.start("risk-rule-change", await actor("super-2"), body, timings=SHORT)
    view = await task_ready(harness, pid)
    task = view.tasks[0]
    assert (task.tier, task.actions) == ("super", ["approve", "reject"])
    assert task.evidence["major"] == ["turns the rule off"]
    backtest = task.evidence["backtest"]
    assert {"signals_before", "signals_after", "examples", "days"} <= set(backtest) and backtest["days"] == 30
    assert await refused(harness.act(pid, await actor("super-2"), "approve", {})) == "conflict_of_interest"
    assert await refused(harness.act(pid, await actor("regional-game-cards"), "approve", {})) in ("tier_too_low", "no_permission")
    result = await harness.act(pid, await actor("super-3"), "approve", {"reason": "同意"})
    assert result.status == "applied"
    final = await harness.result(pid)
    assert final["approved_by"] == "super-3"
    assert (await load_rules())["unusual_settlements"].enabled is False


async def test_a_major_change_nobody_approves_lapses_and_a_rejected_one_changes_nothing(harness, demo):
    lapsing = await harness.start(
        "risk-rule-change", await actor("super-2"),
        RiskRuleChangeInput(rule="circular_trades", params={"min_cycles": 10}, reason="减少循环交易误报"), timings=SHORT,
    )
    await task_ready(harness, lapsing)
    await harness.skip(2 * HOUR)
    assert (await harness.result(lapsing))["status"] == "lapsed"

    rejected = await harness.start(
        "risk-rule-change", await actor("super-3"),
        RiskRuleChangeInput(rule="circular_trades", tier="normal", reason="交给普通管理员处理"), timings=SHORT,
    )
    view = await task_ready(harness, rejected)
    assert "sends its reviews down from regional to normal" in view.tasks[0].evidence["major"][0]
    await harness.act(rejected, await actor("station-master"), "reject", {"reason": "循环交易需区域管理员判断"})
    assert (await harness.result(rejected))["status"] == "rejected"
    rule = (await load_rules())["circular_trades"]
    assert (rule.params["min_cycles"], rule.tier, rule.version) == (4, "regional", 0)


async def test_a_change_approved_after_another_was_applied_is_superseded(harness, demo):
    waiting = await harness.start(
        "risk-rule-change", await actor("super-2"),
        RiskRuleChangeInput(rule="admin_bulk_reads", params={"min_reads": 100}, reason="批量导出阈值放宽"), timings=SHORT,
    )
    await task_ready(harness, waiting)
    minor = await harness.start(
        "risk-rule-change", await actor("super-3"), RiskRuleChangeInput(rule="admin_bulk_reads", params={"min_z": 5.5}, reason="略提高 z 阈值"),
    )
    # polled, not awaited: awaiting a result lets the clock skip to the waiting task's deadline
    await harness.wait_for(minor, lambda v: v.status == "applied")
    await harness.act(waiting, await actor("station-master"), "approve", {})
    result = await harness.result(waiting)
    assert result["status"] == "superseded"
    rule = (await load_rules())["admin_bulk_reads"]
    assert (rule.params["min_reads"], rule.params["min_z"], rule.version) == (30, 5.5, 1)


async def test_only_a_super_proposes_and_a_bad_parameter_is_refused(harness, demo):
    regional = await harness.start(
        "risk-rule-change", await actor("regional-game-cards"), RiskRuleChangeInput(rule="brushing", params={"min_orders": 12}, reason="本区刷单阈值"),
    )
    result = await harness.result(regional)
    assert (result["status"], result["code"]) == ("rejected", "no_permission")
    bad = await harness.start(
        "risk-rule-change", await actor("super-2"), RiskRuleChangeInput(rule="brushing", params={"gap": 12}, reason="错误参数名"),
    )
    assert (await harness.result(bad))["code"] == "unknown_param"
