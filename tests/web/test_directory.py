"""The supers' directory: appointing and removing a regional admin goes through its process
(one super proposes, another approves in their inbox), and the tier caps are edited in place."""

from __future__ import annotations

import pytest

from tests.web.helpers import act_in_ui, console_as, shot, task_row

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

APPOINTEE = "normal-east-china-2"


async def propose_from_directory(page, base: str, change: str, regions: tuple[str, ...], reason: str) -> str:
    await page.goto(base + "/directory")
    await page.click(f"#admins [data-{change}='{APPOINTEE}']")
    form = "#start-form-admin-appointment"
    await page.wait_for_selector(form)
    assert await page.input_value(f"{form} select[name=admin]") == APPOINTEE
    assert await page.input_value(f"{form} select[name=change]") == change
    for region in regions:
        await page.check(f"{form} [name=regions][value={region}]")
    await page.fill(f"{form} [name=reason]", reason)
    await page.click("[data-submit=start-form-admin-appointment]")
    started = await page.wait_for_selector("#started", timeout=30_000)
    return await started.get_attribute("data-process")


async def tier_of(username: str) -> tuple[str, list[str]]:
    from infra.db.tables import Admin

    row = await Admin.select(Admin.tier, Admin.regions).where(Admin.username == username).first()
    return row["tier"], list(row["regions"])


async def test_two_supers_appoint_then_remove_a_regional_admin_from_the_directory(live_web, browser, artifacts):
    assert await tier_of(APPOINTEE) == ("normal", ["east-china"])
    appointee = await console_as(browser, live_web, APPOINTEE)
    await appointee.wait_for_selector("header [data-tier=normal]")
    proposer = await console_as(browser, live_web, "super-2", "/directory")
    row = await proposer.wait_for_selector(f"#admins tr[data-admin='{APPOINTEE}']")
    assert await row.query_selector(f"[data-appoint='{APPOINTEE}']")
    # no appoint/remove on supers or interns, nor on oneself
    assert await proposer.query_selector("#admins tr[data-admin='super-3'] [data-appoint], #admins tr[data-admin='super-3'] [data-remove]") is None
    assert await proposer.query_selector("#admins tr[data-admin='intern-east-china-1'] [data-appoint]") is None
    assert await proposer.query_selector("#admins [data-remove='regional-east-china']")

    process_id = await propose_from_directory(proposer, live_web, "appoint", ("east-china",), "协助华东区域运营一年，纠纷处理及时")
    assert process_id.startswith(f"admin-appointment-{APPOINTEE}-")
    # the directory shows it pending beside the admin; the proposer has no task to approve it
    await proposer.goto(live_web + "/directory")
    await proposer.wait_for_selector(f"#admins [data-pending-appointment='{APPOINTEE}']")
    await shot(proposer, artifacts, "directory-appointment-pending")
    await proposer.click("[data-nav=inbox]")
    await proposer.wait_for_selector("table#inbox, #inbox-empty")
    assert await proposer.query_selector(f"tr[data-task^='{process_id}:']") is None

    approver = await console_as(browser, live_web, "super-3")
    await task_row(approver, process_id)
    await approver.click(f"tr[data-task^='{process_id}:'] [data-open]")
    await approver.wait_for_selector("#evidence")
    evidence = await approver.inner_text("#evidence")
    assert "任命为区域管理员" in evidence and "super-2" in evidence
    await shot(approver, artifacts, "task-admin-appointment")
    await approver.click("[data-nav=inbox]")
    _, result = await act_in_ui(approver, process_id, "approve", {"reason": "同意任命"})
    assert "已任命" in result
    assert await tier_of(APPOINTEE) == ("regional", ["east-china"])
    # the appointee's open console picks the new tier up without a reload
    await appointee.wait_for_selector("header [data-tier=regional]", timeout=20_000)
    await approver.goto(live_web + "/directory")
    badge = await approver.wait_for_selector(f"#admins tr[data-admin='{APPOINTEE}'] .km-badge")
    assert await badge.inner_text() == "区域"

    # and back: super-3 proposes the removal, super-2 approves it
    removal = await propose_from_directory(approver, live_web, "remove", (), "试任期满，回到普通管理员岗位")
    await proposer.click("[data-nav=inbox]")
    _, result = await act_in_ui(proposer, removal, "approve", {"reason": "同意"})
    assert "已免职" in result
    assert await tier_of(APPOINTEE) == ("normal", ["east-china"])
    await appointee.wait_for_selector("header [data-tier=normal]", timeout=20_000)


async def test_a_super_changes_a_tier_cap_and_a_cap_against_the_rules_is_refused_readably(live_web, browser, artifacts):
    from infra.db.tables import AuditEvent, TierConfig

    sup = await console_as(browser, live_web, "station-master", "/directory")
    try:
        await sup.click("#tiers [data-edit-tier=regional] summary")
        await sup.fill("#cap-regional [name=cap]", "12")
        await sup.fill("#cap-regional [name=reason]", "区域管理员编制上限十二人")
        await sup.click("[data-submit=cap-regional]")
        await sup.wait_for_selector("#tiers tr[data-tier-row=regional] td[data-cap='12']", timeout=20_000)
        event = await AuditEvent.select().where(AuditEvent.action == "tiers.configure").order_by(AuditEvent.seq, ascending=False).first()
        assert (event["actor"], event["target"], event["outcome"]) == ("station-master", "tier:regional", "done")

        # the super tier holds 1 to 3: a fourth seat is refused with the rule in words
        await sup.click("#tiers [data-edit-tier=super] summary")
        await sup.fill("#cap-super [name=cap]", "4")
        await sup.fill("#cap-super [name=reason]", "超级管理员扩编")
        await sup.click("[data-submit=cap-super]")
        refusal = await sup.wait_for_selector("#cap-super [data-form-error]", timeout=20_000)
        assert "上限超出允许范围" in await refusal.inner_text()
        assert (await TierConfig.select(TierConfig.cap).where(TierConfig.key == "super").first())["cap"] == 3
        await shot(sup, artifacts, "directory-tiers")
    finally:
        await TierConfig.update({TierConfig.cap: None}).where(TierConfig.key == "regional")

    # regionals do not reach the directory at all (tested for interns in test_access)
    regional = await console_as(browser, live_web, "regional-east-china", "/directory")
    await regional.wait_for_selector("#refusal[role=alert]")
    assert await regional.query_selector("#tiers") is None
