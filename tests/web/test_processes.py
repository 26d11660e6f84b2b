"""Processes clicked through the console, end to end on a real Temporal dev server."""

from __future__ import annotations

import re
import uuid

import pytest

from tests.web.helpers import act_in_ui, console_as, intake, merchant_application, shot, task_row

pytestmark = [pytest.mark.browser, pytest.mark.timeout(150)]


async def start_in_ui(page, kind: str, selects: dict[str, str], fills: dict[str, str]) -> str:
    await page.click("[data-nav=start]")
    await page.click(f"[data-start={kind}]")
    form = f"#start-form-{kind}"
    await page.wait_for_selector(form)
    for name, value in selects.items():
        await page.select_option(f"{form} select[name={name}]", value)
    for name, value in fills.items():
        await page.fill(f"{form} [name={name}]", value)
    await page.click(f"[data-submit=start-form-{kind}]")
    started = await page.wait_for_selector("#started", timeout=30_000)
    return await started.get_attribute("data-process")


async def test_a_temporary_grant_requested_and_approved_in_the_console_shows_in_the_header(live_web, browser, artifacts):
    regional = await console_as(browser, live_web, "regional-game-cards")
    assert await regional.query_selector("#grants [data-grant='funds.approve']") is None
    process_id = await start_in_ui(
        regional, "permission-grant",
        {"permission": "funds.approve", "scope": "region", "duration": "P3D"},
        {"justification": "双十一大促期间需要区域资金审批权"},
    )
    assert process_id.startswith("permission-grant-regional-game-cards-funds.approve-")
    await shot(regional, artifacts, "start-permission-grant")

    sup = await console_as(browser, live_web, "super-2")
    await task_row(sup, process_id)
    await shot(sup, artifacts, "inbox-super")
    _, result = await act_in_ui(sup, process_id, "approve", {"reason": "同意，大促结束自动失效"})
    assert "生效中" in result

    # the requester's header picks the grant up without a reload (pushed over the connection)
    grant = await regional.wait_for_selector("#grants [data-grant='funds.approve']", timeout=20_000)
    text = await grant.inner_text()
    assert "复核资金操作" in text
    assert re.search(r"剩余 (2天2[0-3]小时|3天0小时)", text), text
    await shot(regional, artifacts, "header-grant")

    # the grantee ends it early from the case page; the header drops it (and no later test inherits it)
    await regional.click("#started a")
    await regional.wait_for_selector("#case-status[data-status=active]")
    await regional.click("#standing [data-action=revoke]")
    await regional.fill("#standing-revoke [name=reason]", "大促结束，提前交还")
    await regional.click("[data-submit=standing-revoke]")
    await regional.wait_for_selector("#standing-result[data-status=revoked]", timeout=30_000)
    await regional.wait_for_selector("#grants [data-grant='funds.approve']", state="detached", timeout=20_000)
    await regional.wait_for_selector("#case-status[data-status=revoked]")


async def test_merchant_onboarding_from_intake_to_active_by_clicking_through(live_web, browser, artifacts):
    from infra.db.tables import Merchant

    code = f"M{uuid.uuid4().hex[:6].upper()}"
    normal = await console_as(browser, live_web, "normal-game-cards-1")
    # a game-account merchant: a high-risk category, so the regional admin approves too
    process_id = await intake(normal, live_web, "merchant-applications", merchant_application(code, category="game_account"))
    row = await task_row(normal, process_id)
    await normal.click(f"[data-open='{await row.get_attribute('data-task')}']")
    await normal.wait_for_selector("#evidence [data-section=risk]")
    evidence = await normal.inner_text("#evidence")
    assert "游戏账号" in evidence and "账号来源说明" in evidence
    await shot(normal, artifacts, "task-merchant-onboarding")
    await normal.click("[data-nav=inbox]")

    _, result = await act_in_ui(normal, process_id, "approve", {"reason": "资质齐全，证照核验一致"})
    assert "区域复核" in result

    regional = await console_as(browser, live_web, "regional-game-cards")
    _, result = await act_in_ui(regional, process_id, "approve_high_risk", {"reason": "已电话核实账号来源"})
    assert "已通过" in result

    await regional.click("#to-case")
    await regional.wait_for_selector("#case-status[data-status=approved]")
    timeline = await regional.inner_text("#timeline")
    assert "normal-game-cards-1" in timeline and "regional-game-cards" in timeline
    assert "自动检查" in timeline
    await shot(regional, artifacts, "case-merchant-onboarding")
    merchant = await Merchant.select(Merchant.status).where(Merchant.code == code).first()
    assert merchant["status"] == "active"


async def test_two_supers_complete_a_fund_operation(live_web, browser, artifacts):
    maker = await console_as(browser, live_web, "super-2")
    process_id = await start_in_ui(
        maker, "fund-operation",
        {"operation": "withdrawal"},
        {"account": "platform-main", "amount": "12800.00", "reason": "季度运营资金提现"},
    )
    # the maker never sees the approval as a task of theirs
    await maker.click("[data-nav=inbox]")
    await maker.wait_for_selector("table#inbox, #inbox-empty")

    checker = await console_as(browser, live_web, "super-3")
    await task_row(checker, process_id)
    assert await maker.query_selector(f"tr[data-task^='{process_id}:']") is None
    _, result = await act_in_ui(checker, process_id, "approve", {"reason": "金额与申请一致"})
    assert "已执行" in result
    await checker.click("#to-case")
    await checker.wait_for_selector("#case-status[data-status=executed]")
    await shot(checker, artifacts, "case-fund-operation")
    # printable: the print stylesheet drops the chrome and keeps the timeline
    await checker.emulate_media(media="print")
    assert not await checker.is_visible("header") and not await checker.is_visible("nav")
    assert await checker.is_visible("#timeline")


async def test_new_tasks_appear_live_and_can_be_bulk_claimed(live_web, browser):
    page = await console_as(browser, live_web, "normal-game-items-2")
    await page.wait_for_selector("table#inbox, #inbox-empty")
    codes = [f"L{uuid.uuid4().hex[:6].upper()}" for _ in range(2)]
    processes = [await intake(page, live_web, "merchant-applications", merchant_application(c, region="game-items", category="game_item")) for c in codes]
    # no reload, no navigation: the rows arrive over the open connection
    rows = [await task_row(page, p) for p in processes]
    task_ids = [await r.get_attribute("data-task") for r in rows]
    for task_id in task_ids:
        await page.check(f"[data-select='{task_id}']")
    await page.click("#bulk-claim")
    await page.wait_for_selector(".km-notice.ok:has-text('已认领 2 项')")
    await page.click("[data-tab=mine]")
    for task_id in task_ids:
        await page.wait_for_selector(f"tr[data-task='{task_id}'] [data-release]")
    # releasing puts it back in the queue
    await page.click(f"[data-release='{task_ids[0]}']")
    await page.click("[data-tab=queue]")
    await page.wait_for_selector(f"tr[data-task='{task_ids[0]}'] [data-claim]")


async def test_the_case_page_offers_what_the_workflow_says_stands(live_web, browser, artifacts):
    maker = await console_as(browser, live_web, "super-2")
    process_id = await start_in_ui(
        maker, "fund-operation",
        {"operation": "withdrawal"},
        {"account": "platform-main", "amount": "3000.00", "reason": "临时备用金提现"},
    )
    # pending: the workflow offers a veto (any super may cast it, the maker too)
    veto = await console_as(browser, live_web, "super-3", f"/case?id={process_id}")
    await veto.wait_for_selector("#case-status[data-status=running]")
    await veto.wait_for_selector("#standing [data-action=veto]")
    offered = [await b.get_attribute("data-action") for b in await veto.query_selector_all("#standing [data-action]")]
    assert offered == ["veto"]
    await shot(veto, artifacts, "case-standing-veto")
    await veto.fill("#standing-veto [name=reason]", "本季度备用金已足额，暂停提现")
    await veto.click("[data-submit=standing-veto]")
    await veto.wait_for_selector("#standing-result[data-status=vetoed]", timeout=30_000)
    # once vetoed nothing stands: the form is gone and the approval task is withdrawn
    await veto.goto(live_web + f"/case?id={process_id}")
    await veto.wait_for_selector("#case-status[data-status=vetoed]")
    assert await veto.query_selector("#standing") is None
    await veto.click("[data-nav=inbox]")
    await veto.wait_for_selector("table#inbox, #inbox-empty")
    assert await veto.query_selector(f"tr[data-task^='{process_id}:']") is None
