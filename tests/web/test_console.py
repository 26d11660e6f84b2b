"""The console in a real browser: sign in, the header, the inbox, language, sign out."""

from __future__ import annotations

import pytest

from tests.web.helpers import console_as, shot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.timeout(90)]


async def test_wrong_password_shows_a_readable_message(live_web, browser):
    page = await browser.new_page()
    await sign_in(page, live_web, "normal-game-cards-1", "wrong-password")
    alert = await page.wait_for_selector("[role=alert]")
    assert await alert.inner_text() == "用户名或密码错误"


async def test_sign_in_shows_header_and_inbox_then_sign_out(live_web, browser, artifacts):
    page = await console_as(browser, live_web, "regional-game-cards")
    await page.wait_for_selector("table#inbox, #inbox-empty")
    header = await page.inner_text("header")
    assert "区域" in header and "点卡专区" in header
    assert await page.get_attribute("[data-tier]", "data-tier") == "regional"
    await page.click("[role=tab][data-tab=done]")
    await page.wait_for_selector("[role=tab].active[data-tab=done]")
    await shot(page, artifacts, "inbox-regional-done")
    await page.click("header button[type=submit]")
    await page.wait_for_selector("#sign-in")
    response = await page.request.get(live_web + "/api/me")
    assert response.status == 401


async def test_language_switch_is_remembered(live_web, browser, artifacts):
    page = await console_as(browser, live_web, "normal-game-items-1")
    await page.click("#lang-switch")
    await page.wait_for_selector("[data-nav=inbox]:has-text('Inbox')")
    assert "Normal admin" in await page.inner_text("header")
    await page.wait_for_selector("table#inbox, #inbox-empty")
    await shot(page, artifacts, "inbox-en")
    await page.goto(live_web + "/dashboard")
    await page.wait_for_selector("#dashboard")
    assert "My work" in await page.inner_text("#dashboard")
    cookies = {c["name"]: c["value"] for c in await page.context.cookies()}
    assert cookies["kameng_lang"] == "en"
    await page.click("#lang-switch")
    await page.wait_for_selector("[data-nav=inbox]:has-text('待办')")


async def test_security_headers_on_the_console(live_web, browser):
    page = await browser.new_page()
    response = await page.goto(live_web + "/")
    headers = response.headers
    assert headers["x-frame-options"] == "DENY"
    assert "default-src 'self'" in headers["content-security-policy"]


async def test_the_language_switch_never_redirects_off_site(live_web, browser):
    page = await browser.new_page()
    response = await page.request.get(live_web + "/lang?to=en&next=//evil.example/x", max_redirects=0)
    assert response.status == 303
    assert response.headers["location"] == "/"


async def test_the_console_websocket_refuses_other_origins(live_web):
    import websockets
    import websockets.exceptions

    url = live_web.replace("http://", "ws://") + "/_reactpy/stream"
    with pytest.raises(websockets.exceptions.InvalidStatus):
        async with websockets.connect(url, origin="http://evil.example"):
            pass
    async with websockets.connect(url, origin=live_web) as socket:
        assert socket.protocol.state.name == "OPEN"
