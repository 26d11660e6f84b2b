"""Merchant onboarding on the time-skipping server, with the real database."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from temporalio.client import WorkflowUpdateFailedError

from activities.merchants import HIGH_RISK_SCORE, MerchantActivities, MerchantRecord, assess
from infra.accounts import load_actor
from infra.db.tables import Admin, AuditEvent, Merchant, PermissionGrant, Task
from infra.temporal.processes import ProcessError
from workflows.domain.timing import StepTiming
from workflows.merchant_onboarding import MerchantApplication, check_application
from workflows.process import ActionResult, PlatformEventInput

pytestmark = [pytest.mark.db, pytest.mark.timeout(60)]

REQUIRED = {
    "point_card": ("business_license", "legal_person_id", "card_issuer_authorization"),
    "game_account": ("business_license", "legal_person_id", "account_source_statement"),
    "topup": ("business_license", "legal_person_id", "carrier_agency_agreement"),
}


async def actor(username: str):
    found = await load_actor(username, datetime.now(UTC) - timedelta(days=400))
    assert found is not None, username
    return found


def application(category: str = "point_card", region: str = "game-cards", *, missing: tuple[str, ...] = (), identity: str | None = None) -> MerchantApplication:
    code = "MT" + uuid.uuid4().hex[:8].upper()
    return MerchantApplication(
        code=code, name=f"测试商行{code}", region=region, category=category,
        identity_number=identity or "91" + uuid.uuid4().hex[:16], contact_phone="13800001111",
        documents=tuple({"kind": k, "ref": f"docs/{code}/{k}.pdf"} for k in REQUIRED[category] if k not in missing),
    )


async def merchant(code: str) -> dict:
    row = await Merchant.select().where(Merchant.code == code).output(load_json=True).first()
    assert row is not None, code
    return row


async def audit_actions(pid: str) -> list[str]:
    rows = await AuditEvent.select(AuditEvent.action).where(AuditEvent.process_id == pid).order_by(AuditEvent.seq)
    return [r["action"] for r in rows]

async def final(harness, pid: str, by, action: str, body=None, **kw) -> dict:
    """Act, then the process's outcome once it has finished."""
    await harness.act(pid, by, action, body, **kw)
    return await harness.result(pid)


async def submit_documents(harness, pid: str, *kinds: str) -> ActionResult:
    handle = harness.client.get_workflow_handle(pid)
    body = {"documents": [{"kind": k, "ref": f"docs/late/{k}.pdf"} for k in kinds], "note": "已补充"}
    return await handle.execute_update(
        "platform_event", PlatformEventInput(event="documents_submitted", request_id=uuid.uuid4().hex, body=body),
        result_type=ActionResult,
    )


async def test_low_risk_merchant_is_verified_by_a_normal_admin_of_the_region(harness, demo):
    app = application()
    pid = await harness.start("merchant-onboarding", None, app)
    assert pid == f"merchant-onboarding-{app.code}"
    view = await harness.wait_for(pid, lambda v: v.tasks)
    task = view.tasks[0]
    assert (task.step, task.tier, task.region) == ("verify", "normal", "game-cards")
    assert task.actions == ["approve", "reject", "request_documents"]
    assert task.evidence["risk_score"] == pytest.approx(0.1) and task.evidence["high_risk"] is False
    assert task.evidence["missing"] == [] and task.evidence["duplicates"] == []
    row = await merchant(app.code)
    assert row["status"] == "pending" and row["process_id"] == pid and row["risk_score"] == pytest.approx(0.1)

    with pytest.raises(ProcessError) as elsewhere:
        await harness.act(pid, await actor("normal-east-china-1"), "approve", {})
    assert elsewhere.value.code == "out_of_region"
    with pytest.raises(ProcessError) as intern:
        await harness.act(pid, await actor("intern-game-cards-1"), "approve", {})
    assert intern.value.code == "tier_too_low"

    result = await final(harness, pid, await actor("normal-game-cards-1"), "approve", {"reason": "资质齐全"})
    assert result["status"] == "approved" and result["merchant_status"] == "active"
    assert (await merchant(app.code))["status"] == "active"
    closed = await Task.select().where(Task.task_id == task.task_id).first()
    assert closed["status"] == "done" and closed["decided_by"] == "normal-game-cards-1"
    actions = await audit_actions(pid)
    assert actions[0] == "merchant-onboarding.started"
    assert {"merchant-onboarding.checked", "task.opened", "merchant-onboarding.approve"} <= set(actions)
    assert actions[-1] == "merchant-onboarding.approved"


async def test_high_risk_category_also_needs_the_regional_admin(harness, demo):
    app = application("game_account", "game-items")
    pid = await harness.start("merchant-onboarding", None, app)
    view = await harness.wait_for(pid, lambda v: v.tasks)
    assert view.tasks[0].evidence["high_risk"] is True
    verifier = await actor("normal-game-items-1")
    await harness.act(pid, verifier, "approve", {"reason": "证照一致"})
    view = await harness.wait_for(pid, lambda v: v.tasks and v.tasks[0].step == "regional_approval")
    task = view.tasks[0]
    assert task.tier == "regional" and task.actions == ["approve_high_risk", "reject_high_risk"]
    assert task.evidence["verified_by"] == "normal-game-items-1"
    assert (await merchant(app.code))["status"] == "pending"

    with pytest.raises(ProcessError) as normal:
        await harness.act(pid, await actor("normal-game-items-2"), "approve_high_risk", {})
    assert normal.value.code == "tier_too_low"
    with pytest.raises(ProcessError) as other_region:
        await harness.act(pid, await actor("regional-game-cards"), "approve_high_risk", {})
    assert other_region.value.code == "out_of_region"
    result = await final(harness, pid, await actor("regional-game-items"), "approve_high_risk", {"reason": "已核实账号来源"})
    assert result["status"] == "approved"
    outcome = await harness.result(pid)
    assert outcome["decided_by"] == "regional-game-items" and outcome["verified_by"] == "normal-game-items-1"
    assert (await merchant(app.code))["status"] == "active"


async def test_normal_admin_rejects_with_a_reason(harness, demo):
    app = application("topup", "mobile-topup")
    pid = await harness.start("merchant-onboarding", None, app)
    await harness.wait_for(pid, lambda v: v.tasks)
    with pytest.raises(ProcessError) as no_reason:
        await harness.act(pid, await actor("normal-mobile-topup-1"), "reject", {})
    assert no_reason.value.code == "invalid_body"
    result = await final(harness, pid, await actor("normal-mobile-topup-1"), "reject", {"reason": "营业执照已过期"})
    assert result["status"] == "rejected" and result["reason"] == "营业执照已过期"
    assert (await merchant(app.code))["status"] == "rejected"
    assert (await audit_actions(pid))[-1] == "merchant-onboarding.rejected"


async def test_duplicate_identity_raises_the_score_and_the_regional_rejects(harness, demo):
    seeded = await Merchant.select(Merchant.code, Merchant.identity_number).where(Merchant.code == "M0003").first()
    app = application(identity=seeded["identity_number"])
    pid = await harness.start("merchant-onboarding", None, app)
    view = await harness.wait_for(pid, lambda v: v.tasks)
    evidence = view.tasks[0].evidence
    assert evidence["duplicates"] == ["M0003"]
    assert evidence["risk_score"] >= HIGH_RISK_SCORE and evidence["high_risk"] is True
    assert any("M0003" in line for line in evidence["explanation"])
    await harness.act(pid, await actor("normal-game-cards-2"), "approve", {})
    await harness.wait_for(pid, lambda v: v.tasks and v.tasks[0].step == "regional_approval")
    result = await final(harness, pid, await actor("regional-game-cards"), "reject_high_risk", {"reason": "证件号与已有商家重复"})
    assert result["status"] == "rejected"
    assert (await merchant(app.code))["status"] == "rejected"
    assert (await merchant("M0003"))["status"] == "active"


async def test_missing_documents_are_requested_then_submitted_and_checked_again(harness, demo):
    app = application(missing=("card_issuer_authorization",))
    pid = await harness.start("merchant-onboarding", None, app)
    view = await harness.wait_for(pid, lambda v: v.tasks)
    assert view.tasks[0].evidence["missing"] == ["点卡发行方授权书"]
    with pytest.raises(WorkflowUpdateFailedError) as early:
        await submit_documents(harness, pid, "card_issuer_authorization")
    assert early.value.cause.type == "not_expected"

    normal = await actor("normal-game-cards-1")
    with pytest.raises(ProcessError) as incomplete:
        await harness.act(pid, normal, "approve", {})
    assert incomplete.value.code == "documents_incomplete"
    await harness.act(pid, normal, "request_documents", {"reason": "请补充点卡发行方授权书"})
    await harness.wait_for(pid, lambda v: v.step == "documents")
    assert (await harness.view(pid)).tasks == []

    answered = await submit_documents(harness, pid, "card_issuer_authorization")
    assert answered.step == "verify"
    view = await harness.wait_for(pid, lambda v: v.tasks)
    assert view.tasks[0].evidence["missing"] == [] and view.tasks[0].evidence["risk_score"] == pytest.approx(0.1)
    kinds = {d["kind"] for d in (await merchant(app.code))["documents"]}
    assert kinds == set(REQUIRED["point_card"])
    result = await final(harness, pid, normal, "approve", {"reason": "补充后齐全"}, task_id=view.tasks[0].task_id)
    assert result["status"] == "approved"
    actions = await audit_actions(pid)
    assert actions.count("merchant-onboarding.checked") == 2
    assert {"merchant-onboarding.documents_requested", "merchant-onboarding.documents_submitted"} <= set(actions)
    assert await Task.count().where(Task.process_id == pid) == 2


async def test_silence_after_a_documents_request_abandons_the_application(harness, demo):
    app = application(missing=("legal_person_id",))
    timings = {"merchant-onboarding.documents": StepTiming(due=timedelta(hours=6), remind_before=timedelta(hours=2))}
    pid = await harness.start("merchant-onboarding", None, app, timings=timings)
    await harness.wait_for(pid, lambda v: v.tasks)
    await harness.act(pid, await actor("normal-game-cards-2"), "request_documents", {"documents": ["legal_person_id"], "reason": "请上传法人身份证"})
    outcome = await harness.result(pid)
    assert outcome["status"] == "abandoned" and outcome["merchant_status"] == "abandoned"
    assert (await merchant(app.code))["status"] == "abandoned"
    rows = await AuditEvent.select(AuditEvent.action, AuditEvent.at).where(AuditEvent.process_id == pid).order_by(AuditEvent.seq)
    at = {r["action"]: r["at"] for r in rows}
    requested_at = at["merchant-onboarding.documents_requested"]
    assert abs(at["merchant-onboarding.documents_reminder"] - requested_at - timedelta(hours=4)) < timedelta(minutes=1)
    assert abs(at["merchant-onboarding.abandoned"] - requested_at - timedelta(hours=6)) < timedelta(minutes=1)
    requested = await AuditEvent.select(AuditEvent.after, AuditEvent.actor).where(
        (AuditEvent.process_id == pid) & (AuditEvent.action == "merchant-onboarding.documents_requested")
    ).output(load_json=True).first()
    assert requested["after"]["documents"] == ["legal_person_id"] and requested["actor"] == "normal-game-cards-2"


async def test_overdue_verification_reminds_then_escalates_to_the_regional_admin(harness, demo):
    app = application("topup", "mobile-topup")
    timings = {"merchant-onboarding.verify": StepTiming(due=timedelta(hours=4), remind_before=timedelta(hours=1))}
    pid = await harness.start("merchant-onboarding", None, app, timings=timings)
    view = await harness.wait_for(pid, lambda v: v.tasks)
    task_id = view.tasks[0].task_id
    await harness.skip(timedelta(hours=3, minutes=30))
    await harness.wait_for(pid, lambda v: True)
    row = await Task.select().where(Task.task_id == task_id).first()
    assert row["reminded"] is True and row["tier"] == "normal"
    await harness.skip(timedelta(hours=1))
    view = await harness.wait_for(pid, lambda v: v.tasks and v.tasks[0].escalations == 1)
    assert view.tasks[0].tier == "regional"
    row = await Task.select().where(Task.task_id == task_id).first()
    assert row["escalated"] is True and row["tier"] == "regional" and "normal to regional" in row["escalation_reason"]

    with pytest.raises(ProcessError) as too_late:
        await harness.act(pid, await actor("normal-mobile-topup-1"), "approve", {})
    assert too_late.value.code == "tier_too_low"
    result = await final(harness, pid, await actor("regional-mobile-topup"), "approve", {"reason": "超时升级后处理"})
    assert result["status"] == "approved"
    assert {"task.reminded", "task.escalated"} <= set(await audit_actions(pid))


async def test_admin_filing_for_a_merchant_cannot_verify_it_nor_can_the_verifier_approve_high_risk(harness, demo):
    filer = await actor("normal-game-items-1")
    app = application("game_account", "game-items")
    timings = {"merchant-onboarding.verify": StepTiming(due=timedelta(hours=2))}
    pid = await harness.start("merchant-onboarding", filer, app, timings=timings)
    await harness.wait_for(pid, lambda v: v.tasks)
    with pytest.raises(ProcessError) as own:
        await harness.act(pid, filer, "approve", {})
    assert own.value.code == "conflict_of_interest"
    await harness.skip(timedelta(hours=2, minutes=5))
    await harness.wait_for(pid, lambda v: v.tasks and v.tasks[0].tier == "regional")
    regional = await actor("regional-game-items")
    await harness.act(pid, regional, "approve", {"reason": "升级后核验"})
    await harness.wait_for(pid, lambda v: v.tasks and v.tasks[0].step == "regional_approval")
    with pytest.raises(ProcessError) as maker_checker:
        await harness.act(pid, regional, "approve_high_risk", {})
    assert maker_checker.value.code == "conflict_of_interest"
    result = await final(harness, pid, await actor("super-2"), "approve_high_risk", {"reason": "复核通过"})
    assert result["status"] == "approved" and result["verified_by"] == "regional-game-items"


async def test_an_ended_grant_does_not_let_an_admin_verify_outside_their_region(harness, demo):
    now = await harness.env.get_current_time()
    ended = await _admin_with_grant("merchants.verify", "game-cards", now - timedelta(days=3), now - timedelta(days=1))
    active = await _admin_with_grant("merchants.verify", "game-cards", now - timedelta(days=1), now + timedelta(days=5))
    pid = await harness.start("merchant-onboarding", None, application())
    await harness.wait_for(pid, lambda v: v.tasks)
    with pytest.raises(ProcessError) as refused:
        await harness.act(pid, await actor(ended), "approve", {})
    assert refused.value.code in {"out_of_region", "grant_expired"}
    result = await final(harness, pid, await actor(active), "approve", {"reason": "临时支援点卡专区"})
    assert result["status"] == "approved" and result["decided_by"] == active


async def test_existing_merchant_code_and_bad_application_are_refused(harness, demo):
    seeded = application()
    taken = MerchantApplication(**{**{f: getattr(seeded, f) for f in seeded.__struct_fields__}, "code": "M0001"})
    pid = await harness.start("merchant-onboarding", None, taken)
    outcome = await harness.result(pid)
    assert outcome["status"] == "rejected" and outcome["code"] == "merchant_exists"
    assert (await merchant("M0001"))["status"] == "active"
    assert await Task.count().where(Task.process_id == pid) == 0
    bad = MerchantApplication(**{**{f: getattr(seeded, f) for f in seeded.__struct_fields__}, "category": "weapons"})
    assert check_application(bad)[0] == "unknown_category"


def test_risk_score_is_deterministic_and_explained():
    clean = assess("point_card", list(REQUIRED["point_card"]), [])
    assert clean.complete and clean.risk_score == pytest.approx(0.1)
    messy = assess("game_item", ["business_license"], ["M0007"])
    assert messy.missing == ("legal_person_id", "game_operator_authorization")
    assert messy.risk_score == pytest.approx(0.3 + 0.5 + 0.2)
    assert any("M0007" in line for line in messy.explanation) and "高风险" in messy.explanation[-1]
    assert assess("game_item", ["business_license"], ["M0007"]) == messy
    assert assess("game_account", [], ["M1", "M2"]).risk_score == 1.0


async def test_recording_a_merchant_twice_writes_one_pending_row(database, demo):
    code = "MT" + uuid.uuid4().hex[:8].upper()
    record = MerchantRecord(
        code=code, name="幂等测试商行", region="east-china", category="topup", identity_number="91" + uuid.uuid4().hex[:16],
        contact_phone="13900000000", process_id=f"merchant-onboarding-{code}", at=datetime.now(UTC),
    )
    activities = MerchantActivities()
    first = await activities.record_merchant(record)
    second = await activities.record_merchant(record)
    assert first.status == second.status == "pending"
    assert await Merchant.count().where(Merchant.code == code) == 1


async def _admin_with_grant(permission: str, region: str, starts_at: datetime, ends_at: datetime) -> str:
    username = f"normal-east-china-t{uuid.uuid4().hex[:6]}"
    now = datetime.now(UTC)
    rows = await Admin.insert(
        Admin(
            username=username, display_name="测试支援管理员", tier="normal", regions=["east-china"], station_master=False,
            status="active", password_hash="-", password_changed_at=now, created_at=now,
        )
    ).returning(Admin.id)
    await PermissionGrant.insert(
        PermissionGrant(
            grant_id=f"test-grant-{uuid.uuid4().hex[:8]}", admin=rows[0]["id"], permission=permission, scope="region",
            regions=[region], starts_at=starts_at, ends_at=ends_at, approved_by="regional-east-china",
            justification="测试临时支援", process_id="",
        )
    )
    return username
