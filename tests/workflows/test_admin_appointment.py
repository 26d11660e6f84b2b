"""Appointing and removing regional admins (任免区域管理员) on the time-skipping server, with the
real database: a super proposes, a different super approves, the directory changes once."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from activities.appointments import AppointmentActivities, RoleChange
from infra.accounts import load_actor
from infra.db.tables import Admin, AuditEvent, Task
from infra.temporal.processes import ProcessError
from workflows.admin_appointment import SPEC, AppointInput
from workflows.domain.timing import StepTiming

pytestmark = [pytest.mark.db, pytest.mark.timeout(60)]


async def actor(username: str):
    found = await load_actor(username, datetime.now(UTC) - timedelta(days=4000))
    assert found is not None, username
    return found


async def new_admin(tier: str = "normal", regions: tuple[str, ...] = ("game-items",)) -> str:
    username = f"{tier}-appoint-{uuid.uuid4().hex[:6]}"
    now = datetime.now(UTC)
    await Admin.insert(
        Admin(username=username, display_name="任免测试管理员", tier=tier, regions=list(regions), password_hash="-",
              password_changed_at=now, created_at=now)
    )
    return username


async def directory(username: str) -> tuple[str, list[str]]:
    row = await Admin.select(Admin.tier, Admin.regions).where(Admin.username == username).first()
    return row["tier"], list(row["regions"])


async def test_a_super_appoints_and_another_super_approves(harness, demo):
    admin = await new_admin()
    body = AppointInput(admin=admin, change="appoint", regions=("game-items", "game-cards"), reason="协助区域运营一年，纠纷处理及时")
    pid = await harness.start("admin-appointment", await actor("super-2"), body)
    assert pid.startswith(f"admin-appointment-{admin}-")
    view = await harness.wait_for(pid, lambda v: v.tasks)
    task = view.tasks[0]
    assert (task.step, task.tier, task.region, task.actions) == ("approve", "super", None, ["approve", "reject"])
    assert task.evidence["to_tier"] == "regional" and task.evidence["regions"] == ["game-items", "game-cards"]
    row = await harness.task_row(pid)
    assert row["excluded"] == ["super-2", admin]

    with pytest.raises(ProcessError) as proposer:
        await harness.act(pid, await actor("super-2"), "approve", {"reason": "我自己批"})
    assert proposer.value.code == "conflict_of_interest"
    with pytest.raises(ProcessError) as regional:
        await harness.act(pid, await actor("regional-game-items"), "approve", {})
    assert regional.value.code in ("tier_too_low", "no_permission")
    assert await directory(admin) == ("normal", ["game-items"])

    await harness.act(pid, await actor("super-3"), "approve", {"reason": "同意任命"})
    outcome = await harness.result(pid)
    assert outcome["status"] == "appointed" and outcome["approved_by"] == "super-3"
    assert await directory(admin) == ("regional", ["game-items", "game-cards"])
    changed = await AuditEvent.select().where((AuditEvent.process_id == pid) & (AuditEvent.action == "admin-appointment.appoint")).first()
    assert changed["actor"] == "super-3" and changed["target"] == f"admin:{admin}"
    assert (await actor(admin)).tier == "regional"

    # The change activity run again (a retry) finds it made and writes nothing more.
    again = await AppointmentActivities().change_admin_role(
        RoleChange(username=admin, from_tier="normal", to_tier="regional", regions=("game-items", "game-cards"), process_id=pid)
    )
    assert again.status == "already"


async def test_removing_a_regional_keeps_one_region_and_a_rejection_changes_nothing(harness, demo):
    admin = await new_admin("regional", ("mobile-topup", "game-cards"))
    rejected = await harness.start("admin-appointment", await actor("station-master"),
                                   AppointInput(admin=admin, change="remove", reason="区域投诉率连续上升"))
    await harness.wait_for(rejected, lambda v: v.tasks)
    await harness.act(rejected, await actor("super-2"), "reject", {"reason": "先约谈再议"})
    assert (await harness.result(rejected))["status"] == "rejected"
    assert await directory(admin) == ("regional", ["mobile-topup", "game-cards"])

    pid = await harness.start("admin-appointment", await actor("station-master"),
                              AppointInput(admin=admin, change="remove", reason="区域投诉率连续上升，约谈无改善"))
    await harness.wait_for(pid, lambda v: v.tasks)
    await harness.act(pid, await actor("super-3"), "approve", {})
    outcome = await harness.result(pid)
    assert outcome["status"] == "removed"
    assert await directory(admin) == ("normal", ["mobile-topup"])


async def test_refusals_at_the_start(harness, demo):
    normal = await new_admin()
    super2 = await actor("super-2")
    regional = await actor("regional-game-items")
    assert SPEC.validate_start(AppointInput(admin=normal, change="appoint", regions=("game-items",), reason="区域需要人手"), regional)[0] == "no_permission"
    assert SPEC.validate_start(AppointInput(admin="super-2", change="remove", reason="自己免自己"), super2)[0] == "self_appointment"
    assert SPEC.validate_start(AppointInput(admin=normal, change="appoint", reason="没有区域"), super2)[0] == "regions_required"

    # Checked against the directory inside the process: the wrong tier and an unknown region.
    wrong = await harness.start("admin-appointment", super2, AppointInput(admin=normal, change="remove", reason="不是区域管理员"))
    outcome = await harness.result(wrong)
    assert (outcome["status"], outcome["code"]) == ("rejected", "wrong_tier")
    unknown = await harness.start("admin-appointment", super2, AppointInput(admin=normal, change="appoint", regions=("moon",), reason="不存在的区域"))
    assert (await harness.result(unknown))["code"] == "unknown_region"
    assert await directory(normal) == ("normal", ["game-items"])
    assert await Task.count().where(Task.process_id.is_in([wrong, unknown])) == 0


async def test_an_unapproved_proposal_lapses(harness, demo):
    admin = await new_admin()
    timings = {"admin-appointment.approve": StepTiming(due=timedelta(hours=2), remind_before=timedelta(hours=1))}
    pid = await harness.start("admin-appointment", await actor("super-2"),
                              AppointInput(admin=admin, change="appoint", regions=("game-items",), reason="区域需要人手"), timings=timings)
    await harness.wait_for(pid, lambda v: v.tasks)
    outcome = await harness.result(pid)
    assert outcome["status"] == "lapsed"
    assert await directory(admin) == ("normal", ["game-items"])
    row = await Task.select().where(Task.process_id == pid).first()
    assert row["status"] == "done" and row["reminded"] is True


async def test_a_removed_regional_gives_back_the_tasks_no_longer_theirs(harness, demo):
    """A regional admin had claimed a region's grant request; once their removal is approved,
    the task goes back to the regionals' inbox (released by the approving super, in the
    grant's own process), and another regional of the region decides it."""
    from datetime import timedelta as hours_of

    from infra.temporal.processes import claim
    from workflows.permission_grant import RequestGrantInput
    from workflows.process import ClaimInput

    admin = await new_admin("regional", ("east-china",))
    requester = await actor("normal-east-china-1")
    grant = await harness.start("permission-grant", requester, RequestGrantInput(
        permission="users.view_sensitive", scope="region", duration=hours_of(hours=8), justification="排查一起投诉"))
    await harness.wait_for(grant, lambda v: v.tasks)
    task = (await harness.task_row(grant))["task_id"]
    claimed = await claim(harness.client, grant, ClaimInput(actor=await actor(admin), task_id=task))
    assert claimed.assignee == admin
    row = await Task.select(Task.status, Task.assignee).where(Task.task_id == task).first()
    assert (row["status"], row["assignee"]) == ("claimed", admin)

    removal = await harness.start("admin-appointment", await actor("station-master"),
                                  AppointInput(admin=admin, change="remove", reason="区域投诉率连续上升，约谈无改善"))
    await harness.wait_for(removal, lambda v: v.tasks)
    await harness.act(removal, await actor("super-3"), "approve", {"reason": "同意免去"})
    outcome = await harness.result(removal)
    assert outcome["status"] == "removed" and outcome["released_tasks"] == [task]
    assert await directory(admin) == ("normal", ["east-china"])

    row = await Task.select(Task.status, Task.assignee).where(Task.task_id == task).first()
    assert (row["status"], row["assignee"]) == ("open", None)
    released = await AuditEvent.select().where((AuditEvent.process_id == grant) & (AuditEvent.action == "task.released")).first()
    assert released["actor"] == "super-3" and released["target"] == f"task:{task}"
    view = await harness.view(grant)
    assert view.tasks[0].assignee is None
    result = await harness.act(grant, await actor("regional-east-china"), "approve", {})
    assert result.status == "active"
