"""A process started around the API (straight on Temporal, as anyone who reaches the frontend
could) checks its own start against the pure policy and refuses it, audited, instead of acting."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from infra.accounts import load_actor
from infra.db.tables import AuditEvent, Buyer, Task
from workflows.account_ban import BanInput
from workflows.promotion import NominateInput
from workflows.risk_rule_change import RiskRuleChangeInput

pytestmark = [pytest.mark.db, pytest.mark.timeout(60)]


async def actor(username: str):
    found = await load_actor(username, datetime.now(UTC) - timedelta(days=400))
    assert found is not None, username
    return found


async def refused(harness, pid: str) -> tuple[dict, dict]:
    outcome = await harness.result(pid)
    denial = await AuditEvent.select().where((AuditEvent.process_id == pid) & (AuditEvent.outcome == "denied")).first()
    assert denial is not None, "the refused start is on the audit trail"
    assert await Task.count().where(Task.process_id == pid) == 0, "no inbox task was opened"
    return outcome, denial


async def test_an_intern_cannot_start_a_ban_around_the_api(harness, demo):
    buyer = await Buyer.select(Buyer.code, Buyer.region).where(Buyer.region == "game-cards").first()
    body = BanInput(buyer=buyer["code"], region="game-cards", reason="伪造的封禁申请")
    intern = await actor("intern-game-cards-1")
    pid = await harness.start("account-ban", intern, body)
    outcome, denial = await refused(harness, pid)
    assert (outcome["status"], outcome["code"]) == ("rejected", "no_permission")
    assert (denial["actor"], denial["action"], denial["reason"].split(":")[0]) == ("intern-game-cards-1", "account-ban.start", "no_permission")


async def test_a_regional_cannot_start_outside_their_regions_around_the_api(harness, demo):
    buyer = await Buyer.select(Buyer.code).where(Buyer.region == "east-china").first()
    body = BanInput(buyer=buyer["code"], region="east-china", reason="跨区域伪造")
    pid = await harness.start("account-ban", await actor("regional-game-cards"), body)
    outcome, _ = await refused(harness, pid)
    assert outcome["code"] == "out_of_region"


async def test_a_kind_an_admin_starts_refuses_a_start_without_one(harness, demo):
    body = NominateInput(nominee="intern-game-items-1", target_tier="normal", reasons="无人提名的晋升", reviewers=("super-2", "super-3", "regional-game-items"))
    pid = await harness.start("promotion", None, body)
    outcome, denial = await refused(harness, pid)
    assert (outcome["status"], outcome["code"]) == ("rejected", "starter_required")
    assert denial["actor"] == "system"


async def test_a_normal_admin_cannot_change_a_risk_rule_around_the_api(harness, demo):
    body = RiskRuleChangeInput(rule="brushing", params={}, enabled=False, reason="伪造的规则变更", backtest_days=7)
    pid = await harness.start("risk-rule-change", await actor("normal-game-cards-1"), body, key=uuid.uuid4().hex[:8])
    outcome, _ = await refused(harness, pid)
    assert outcome["status"] == "rejected"
