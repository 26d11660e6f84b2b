"""The console in a real browser: sign in, see the inbox, sign out."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.timeout(90)]


async def sign_in(page, base: str, username: str, password: str = "kameng-demo") -> None:
    await page.goto(base + "/")
    await page.wait_for_selector("#sign-in")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", password)
    await page.click("#sign-in button[type=submit]")


async def test_wrong_password_shows_a_readable_message(live_web, browser):
    page = await browser.new_page()
    await sign_in(page, live_web, "normal-game-cards-1", "wrong-password")
    alert = await page.wait_for_selector("[role=alert]")
    assert await alert.inner_text() == "用户名或密码错误"


async def test_sign_in_shows_header_and_inbox_then_sign_out(live_web, browser, tmp_path):
    page = await browser.new_page()
    await sign_in(page, live_web, "regional-game-cards")
    await page.wait_for_selector("table#inbox, #inbox-empty")
    header = await page.inner_text("header")
    assert "区域" in header and "点卡专区" in header
    assert await page.get_attribute("[data-tier]", "data-tier") == "regional"
    await page.click("[role=tab]:has-text('已完成')")
    await page.wait_for_selector("[role=tab].active:has-text('已完成')")
    await page.screenshot(path=str(tmp_path / "inbox.png"))
    await page.click("header button[type=submit]")
    await page.wait_for_selector("#sign-in")
    response = await page.request.get(live_web + "/api/me")
    assert response.status == 401


async def test_security_headers_on_the_console(live_web, browser):
    page = await browser.new_page()
    response = await page.goto(live_web + "/")
    headers = response.headers
    assert headers["x-frame-options"] == "DENY"
    assert "default-src 'self'" in headers["content-security-policy"]
