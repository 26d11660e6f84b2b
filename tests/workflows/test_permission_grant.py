"""Temporary permission grants on the time-skipping server, with the real database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

import msgspec

from infra.accounts import grant_from_row, load_actor
from infra.db.tables import AuditEvent, PermissionGrant, Task
from infra.temporal.processes import ProcessError
from workflows.domain.policy import Grant, Subject, can
from workflows.domain.timing import StepTiming
from workflows.permission_grant import RequestGrantInput
from workflows.registry import BY_KIND

pytestmark = [pytest.mark.db, pytest.mark.timeout(60)]

FUNDS_IN_CARDS = Subject(kind="fund-operation", region="game-cards", requester="super-2")


async def actor(username: str):
    found = await load_actor(username, datetime.now(UTC) - timedelta(days=400))
    assert found is not None, username
    return found


def fund_request(days: float = 3) -> RequestGrantInput:
    return RequestGrantInput(
        permission="funds.approve",
        scope="region",
        duration=timedelta(days=days),
        justification="双十一大促期间需要区域资金审批权",
    )


async def test_fund_grant_goes_to_a_super_activates_and_expires(harness, demo):
    regional = await actor("regional-game-cards")
    pid = await harness.start("permission-grant", regional, fund_request(days=3))
    view = await harness.wait_for(pid, lambda v: v.tasks)
    task = view.tasks[0]
    assert task.tier == "super" and task.actions == ["approve", "reject"]
    row = await harness.task_row(pid)  # the view shows the task a moment before its row is written
    assert row["tier"] == "super" and row["region"] == "game-cards"

    # Before approval the regional's tier alone does not approve fund operations (grants
    # other tests gave the same admin are left out: this test judges its own).
    assert not can(msgspec.structs.replace(regional, grants=()), "funds.approve", FUNDS_IN_CARDS, now=datetime.now(UTC))

    super2 = await actor("super-2")
    result = await harness.act(pid, super2, "approve", {"reason": "大促"})
    assert result.status == "active"
    assert (await harness.view(pid)).standing == ["extend", "revoke"]
    grant = await PermissionGrant.select().where(PermissionGrant.grant_id == pid).first()
    assert grant is not None and grant["approved_by"] == "super-2"
    assert grant["ends_at"] - grant["starts_at"] == timedelta(days=3)

    granted = msgspec.structs.replace(regional, grants=(grant_from_row(grant),))
    during = grant["starts_at"] + timedelta(days=1)
    assert can(granted, "funds.approve", FUNDS_IN_CARDS, now=during).allowed
    assert not can(granted, "funds.approve", Subject(region="east-china", requester="super-2"), now=during)
    assert can(granted, "funds.approve", FUNDS_IN_CARDS, now=grant["ends_at"]).code == "grant_expired"

    outcome = await harness.result(pid)  # time skips to the end of the grant
    assert outcome["status"] == "expired"
    closed = await Task.select().where(Task.task_id == task.task_id).first()
    assert closed["status"] == "done" and closed["decided_by"] == "super-2"
    actions = [r["action"] for r in await AuditEvent.select(AuditEvent.action).where(AuditEvent.process_id == pid).order_by(AuditEvent.seq)]
    assert actions[0] == "permission-grant.started"
    assert "permission-grant.approve" in actions and actions[-1] == "permission-grant.expired"


async def test_regional_cannot_approve_a_fund_grant_and_requester_cannot_approve_own(harness, demo):
    normal = await actor("normal-game-cards-1")
    pid = await harness.start("permission-grant", normal, fund_request())
    await harness.wait_for(pid, lambda v: v.tasks)
    with pytest.raises(ProcessError) as denied:
        await harness.act(pid, await actor("regional-game-cards"), "approve", {})
    assert denied.value.code in {"tier_too_low", "funds_need_super"}
    with pytest.raises(ProcessError) as self_approval:
        await harness.act(pid, normal, "approve", {})
    assert self_approval.value.code == "conflict_of_interest"
    result = await harness.act(pid, await actor("super-3"), "reject", {"reason": "不需要"})
    assert result.status == "rejected"
    assert not await PermissionGrant.exists().where(PermissionGrant.grant_id == pid)


async def test_non_fund_grant_is_approved_by_the_regional_of_the_region(harness, demo):
    normal = await actor("normal-east-china-1")
    body = RequestGrantInput(permission="users.view_sensitive", scope="region", duration=timedelta(hours=8), justification="排查一起投诉")
    pid = await harness.start("permission-grant", normal, body)
    view = await harness.wait_for(pid, lambda v: v.tasks)
    assert view.tasks[0].tier == "regional"
    with pytest.raises(ProcessError) as wrong_region:
        await harness.act(pid, await actor("regional-game-cards"), "approve", {})
    assert wrong_region.value.code == "out_of_region"
    result = await harness.act(pid, await actor("regional-east-china"), "approve", {})
    assert result.status == "active"


async def test_a_process_keeps_only_the_grants_that_bear_on_it(harness, demo):
    """An admin holding many grants: the process's history (its start, each action) carries
    only the grants of the permissions the process checks, and decides exactly as before."""
    now = datetime.now(UTC)
    unrelated = tuple(
        Grant(id=f"unrelated-{n}", permission="products.classify", scope="region", regions=("east-china",),
              starts_at=now - timedelta(hours=1), ends_at=now + timedelta(days=30))
        for n in range(40)
    )
    bearing = Grant(id="approve-grants", permission="grants.approve", scope="region", regions=("east-china",),
                    starts_at=now - timedelta(hours=1), ends_at=now + timedelta(days=1))
    normal = await actor("normal-east-china-1")
    requester = msgspec.structs.replace(normal, grants=normal.grants + unrelated)
    body = RequestGrantInput(permission="users.view_sensitive", scope="region", duration=timedelta(hours=8), justification="排查一起投诉")
    pid = await harness.start("permission-grant", requester, body)
    view = await harness.wait_for(pid, lambda v: v.tasks)
    regional = await actor("regional-east-china")
    approver = msgspec.structs.replace(regional, grants=regional.grants + unrelated + (bearing,))
    result = await harness.act(pid, approver, "approve", {}, task_id=view.tasks[0].task_id)
    assert result.status == "active"

    history = await harness.client.get_workflow_handle(pid).fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes.input.payloads[0]
    kept = msgspec.json.decode(started.data)["by"].get("grants", [])
    assert not any(g["id"].startswith("unrelated-") for g in kept)  # grants other tests gave the admin may stay
    assert {g["permission"] for g in kept} <= BY_KIND["permission-grant"].permissions
    [accepted] = [e.workflow_execution_update_accepted_event_attributes for e in history.events
                  if e.HasField("workflow_execution_update_accepted_event_attributes")]
    acted = msgspec.json.decode(accepted.accepted_request.input.args.payloads[0].data)
    assert "approve-grants" in [g["id"] for g in acted["actor"].get("grants", [])]
    assert not any(g["id"].startswith("unrelated-") for g in acted["actor"].get("grants", []))
    assert acted["actor"]["id"] == "regional-east-china" and acted["actor"]["regions"] == ["east-china"]


async def test_unanswered_request_lapses(harness, demo):
    intern = await actor("intern-game-items-1")
    body = RequestGrantInput(permission="products.classify", scope="region", duration=timedelta(days=1), justification="协助整理商品分类")
    timings = {"permission-grant.approve": StepTiming(due=timedelta(hours=2), remind_before=timedelta(hours=1))}
    pid = await harness.start("permission-grant", intern, body, timings=timings)
    outcome = await harness.result(pid)
    assert outcome["status"] == "lapsed"
    task = await Task.select().where(Task.process_id == pid).first()
    assert task["status"] == "done" and task["reminded"] is True
    events = {r["action"] for r in await AuditEvent.select(AuditEvent.action).where(AuditEvent.process_id == pid)}
    assert {"task.reminded", "permission-grant.lapsed"} <= events


async def test_grantee_revokes_early_and_extension_needs_approval(harness, demo):
    regional = await actor("regional-mobile-topup")
    pid = await harness.start("permission-grant", regional, fund_request(days=2))
    await harness.wait_for(pid, lambda v: v.tasks)
    await harness.act(pid, await actor("station-master"), "approve", {})

    with pytest.raises(ProcessError) as not_grantee:
        await harness.act(pid, await actor("regional-game-cards"), "extend", {"duration": "P1D", "reason": "再延一天"})
    assert not_grantee.value.code in {"not_own", "not_grantee"}
    await harness.act(pid, regional, "extend", {"duration": "P1D", "reason": "大促延长一天"})
    view = await harness.wait_for(pid, lambda v: any(t.step == "approve_extension" for t in v.tasks))
    assert view.standing == ["revoke"]  # while one extension waits for approval, no second is asked
    await harness.act(pid, await actor("super-2"), "approve_extension", {"reason": "同意"}, task_id=view.tasks[0].task_id)
    grant = await PermissionGrant.select().where(PermissionGrant.grant_id == pid).first()
    assert grant["ends_at"] - grant["starts_at"] == timedelta(days=3)

    result = await harness.act(pid, regional, "revoke", {"reason": "活动提前结束"})
    assert result.status == "revoked"
    assert (await harness.view(pid)).standing == []
    grant = await PermissionGrant.select().where(PermissionGrant.grant_id == pid).first()
    assert grant["revoked_at"] is not None
    revoked = msgspec.structs.replace(regional, grants=(grant_from_row(grant),))  # this grant alone
    assert can(revoked, "funds.approve", Subject(region="mobile-topup", requester="super-2"), now=grant["revoked_at"]).code == "grant_revoked"


async def test_an_extended_grant_continues_as_new_and_keeps_working(harness, demo):
    regional = await actor("regional-game-items")
    pid = await harness.start("permission-grant", regional, fund_request(days=2), history_limit=10)
    await harness.wait_for(pid, lambda v: v.tasks)
    await harness.act(pid, await actor("super-3"), "approve", {})
    first_run = (await harness.client.get_workflow_handle(pid).describe()).run_id

    await harness.act(pid, regional, "extend", {"duration": "P1D", "reason": "大促延长一天"})
    view = await harness.wait_for(pid, lambda v: any(t.step == "approve_extension" for t in v.tasks))
    await harness.act(pid, await actor("super-2"), "approve_extension", {}, task_id=view.tasks[0].task_id)
    await harness.wait_for(pid, lambda v: v.status == "active" and not v.tasks)
    second_run = (await harness.client.get_workflow_handle(pid).describe()).run_id
    assert second_run != first_run  # the history was long enough to start afresh

    grant = await PermissionGrant.select().where(PermissionGrant.grant_id == pid).first()
    assert grant["ends_at"] - grant["starts_at"] == timedelta(days=3)
    result = await harness.act(pid, regional, "revoke", {"reason": "活动结束"})
    assert result.status == "revoked"


async def test_a_steps_writes_are_one_transaction_made_before_the_caller_is_answered(harness, demo):
    """A process started now batches its writes: the approval's (the task closed, the grant,
    its audit) are one local activity, written before the approver's answer comes back."""
    normal = await actor("normal-east-china-1")
    body = RequestGrantInput(permission="users.view_sensitive", scope="region", duration=timedelta(hours=8), justification="排查一起投诉")
    pid = await harness.start("permission-grant", normal, body)
    view = await harness.wait_for(pid, lambda v: v.tasks)
    result = await harness.act(pid, await actor("regional-east-china"), "approve", {}, task_id=view.tasks[0].task_id)
    assert result.status == "active"
    # Answered: everything the step wrote is there.
    assert (await Task.select(Task.status).where(Task.task_id == view.tasks[0].task_id).first())["status"] == "done"
    assert await PermissionGrant.exists().where(PermissionGrant.grant_id == pid)
    actions = [r["action"] for r in await AuditEvent.select(AuditEvent.action).where(AuditEvent.process_id == pid).order_by(AuditEvent.seq)]
    assert actions == ["permission-grant.started", "task.opened", "permission-grant.approve", "permission-grant.activated"]

    history = await harness.client.get_workflow_handle(pid).fetch_history()
    markers = [msgspec.json.decode(e.marker_recorded_event_attributes.details["data"].payloads[0].data)["activity_type"]
               for e in history.events
               if e.HasField("marker_recorded_event_attributes") and e.marker_recorded_event_attributes.marker_name == "core_local_activity"]
    assert markers == ["apply_writes", "apply_writes"]  # the start's writes, the approval's


async def test_a_global_request_goes_to_a_super_and_a_regional_cannot_approve_it(harness, demo):
    """The delegation ceiling inside the process: an intern of game-cards asking for users.view
    over the whole platform is a request only a super can approve (its task goes to the super
    tier), and the game-cards regional, who holds users.view for game-cards alone, is refused."""
    intern = await actor("intern-game-cards-1")
    body = RequestGrantInput(permission="users.view", scope="global", duration=timedelta(hours=8), justification="查看全平台买家资料")
    pid = await harness.start("permission-grant", intern, body)
    view = await harness.wait_for(pid, lambda v: v.tasks)
    assert view.tasks[0].tier == "super"
    with pytest.raises(ProcessError) as refused:
        await harness.act(pid, await actor("regional-game-cards"), "approve", {})
    assert refused.value.code in {"tier_too_low", "exceeds_approver"}
    result = await harness.act(pid, await actor("super-2"), "reject", {"reason": "范围过大"})
    assert result.status == "rejected"


async def test_a_regional_approves_within_their_own_right_only(harness, demo):
    intern = await actor("intern-game-cards-1")
    body = RequestGrantInput(permission="users.view", scope="region", duration=timedelta(hours=8), justification="协助处理工单")
    pid = await harness.start("permission-grant", intern, body)
    view = await harness.wait_for(pid, lambda v: v.tasks)
    assert view.tasks[0].tier == "regional"
    result = await harness.act(pid, await actor("regional-game-cards"), "approve", {"reason": "同意"})
    assert result.status == "active"


async def test_a_power_no_one_delegates_is_refused_at_the_start(harness, demo):
    normal = await actor("normal-game-cards-1")
    body = RequestGrantInput(permission="admins.configure_tiers", scope="region", duration=timedelta(hours=8), justification="调整级别配置")
    assert BY_KIND["permission-grant"].validate_start(body, normal)[0] == "not_delegable"
    pid = await harness.start("permission-grant", normal, body)  # around the API: the process refuses it itself
    outcome = await harness.result(pid)
    assert outcome["status"] == "rejected" and "never granted" in outcome["reason"]


async def test_grants_above_the_ceiling_are_found_and_revoked_through_their_process(harness, demo):
    """A grant active from before the ceiling held (here: a region grant widened to global in
    the database, as the old path approved it) is found, revoked at once, audited, and its
    process ends as revoked; a grant within the approver's right is left alone."""
    from infra.grants_check import exceeding_grants, revoke_exceeding

    intern = await actor("intern-game-cards-1")
    body = RequestGrantInput(permission="users.view", scope="region", duration=timedelta(hours=8), justification="协助处理工单")
    pid = await harness.start("permission-grant", intern, body)
    await harness.wait_for(pid, lambda v: v.tasks)
    await harness.act(pid, await actor("regional-game-cards"), "approve", {"reason": "同意"})
    assert not await exceeding_grants(only=frozenset({pid}))

    await PermissionGrant.update({PermissionGrant.scope: "global"}).where(PermissionGrant.grant_id == pid)
    found = {g.grant_id: g for g in await exceeding_grants(only=frozenset({pid}))}
    assert found[pid].code == "exceeds_approver" and found[pid].approved_by == "regional-game-cards"

    revoked = {g.grant_id for g in await revoke_exceeding(harness.client, only=frozenset({pid}))}
    assert pid in revoked
    row = await PermissionGrant.select().where(PermissionGrant.grant_id == pid).first()
    assert row["revoked_at"] is not None
    assert not can(await actor("intern-game-cards-1"), "users.view", Subject(kind="buyer", region="east-china"), now=datetime.now(UTC))
    audit = await AuditEvent.select().where((AuditEvent.target == f"grant:{pid}") & (AuditEvent.action == "permission-grant.ceiling_revoked")).first()
    assert audit is not None and audit["outcome"] == "revoked" and audit["reason"].startswith("exceeds_approver")
    outcome = await harness.result(pid)
    assert outcome["status"] == "revoked" and outcome["revoked_by"] == "system"
    assert not await revoke_exceeding(harness.client, only=frozenset({pid}))  # once
