"""What a tier may not do is not shown, and a typed URL above one's tier is refused readably;
the supers' pages (directory, audit with chain verification) and the regional audit scope."""

from __future__ import annotations

import pytest

from tests.web.helpers import console_as, shot

pytestmark = [pytest.mark.browser, pytest.mark.timeout(90)]


async def test_an_intern_typing_a_super_page_url_is_refused(live_web, browser, artifacts):
    intern = await console_as(browser, live_web, "intern-game-cards-1")
    await intern.wait_for_selector("table#inbox, #inbox-empty")
    shown = {await a.get_attribute("data-nav") for a in await intern.query_selector_all("[data-nav]")}
    assert shown == {"inbox", "start", "dashboard"}

    for path, permission in (("/directory", "任免区域管理员"), ("/audit", "查看审计日志"), ("/reviews", "评审晋升")):
        response = await intern.goto(live_web + path)
        assert response.status == 200  # the shell; the page itself is refused
        refusal = await intern.wait_for_selector("#refusal[role=alert]")
        text = await refusal.inner_text()
        assert "无权访问" in text and permission in text and "实习管理员" in text
        assert await intern.query_selector("#admins, #audit, #chain") is None
        if path == "/directory":
            await shot(intern, artifacts, "refusal-intern")

    # the intern's start page offers only what an intern may start: a temporary grant, and
    # goods checked and classified for listing review; no price change, ban or fund operation
    await intern.click("[data-nav=start]")
    await intern.wait_for_selector("[data-start]")
    offered = {await a.get_attribute("data-start") for a in await intern.query_selector_all("[data-start]")}
    assert offered == {"permission-grant", "product-listing"}

    # the refusals are on the audit trail, where a super finds them
    sup = await console_as(browser, live_web, "station-master", "/audit")
    await sup.fill("#audit-filters [name=actor]", "intern-game-cards-1")
    await sup.fill("#audit-filters [name=action]", "console.page")
    await sup.click("#audit-search")
    await sup.wait_for_selector("#audit tr[data-seq]")
    rows = await sup.inner_text("#audit")
    assert "page:directory" in rows and "page:audit" in rows and "拒绝" in rows


async def test_supers_see_the_directory_and_a_verified_audit_chain(live_web, browser, artifacts):
    sup = await console_as(browser, live_web, "station-master", "/directory")
    await sup.wait_for_selector("#admins tr[data-admin='regional-game-cards']")
    assert len(await sup.query_selector_all("#admins tr[data-admin]")) == 19
    assert await sup.query_selector("#tiers tr[data-tier-row=super]")
    assert "3" in await sup.inner_text("#tiers tr[data-tier-row=super]")
    await shot(sup, artifacts, "directory")
    await sup.click("[data-nav=audit]")
    chain = await sup.wait_for_selector("#chain[data-ok=true]", timeout=30_000)
    assert "哈希链完整" in await chain.inner_text()
    await sup.wait_for_selector("#audit tr[data-seq]")
    await shot(sup, artifacts, "audit")


async def test_a_regional_searches_the_audit_trail_of_their_regions_only(live_web, browser):
    regional = await console_as(browser, live_web, "regional-mobile-topup", "/audit")
    await regional.wait_for_selector("#audit tr[data-seq], #audit-empty")
    assert "仅显示你所辖区域的事件" in await regional.inner_text("#page-audit")
    assert await regional.query_selector("#chain") is None  # audit.verify is a super's
    regions = {await td.inner_text() for td in await regional.query_selector_all("#audit tr[data-seq] td:nth-child(6)")}
    assert regions <= {"话费充值组"}
