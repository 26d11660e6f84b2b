"""The supers' risk rules page: the rules in force, a backtest, a proposed change."""

from __future__ import annotations

import pytest

from tests.web.helpers import console_as, shot

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]


async def test_a_super_backtests_and_proposes_a_rule_change_and_a_regional_is_refused(live_web, browser, artifacts):
    sup = await console_as(browser, live_web, "station-master", "/risk")
    await sup.wait_for_selector("#risk-rules tr[data-rule=duplicate_orders]")
    assert len(await sup.query_selector_all("#risk-rules tr[data-rule]")) == 7
    await sup.click("[data-edit=duplicate_orders]")
    await sup.wait_for_selector("#risk-editor[data-rule=duplicate_orders]")
    await sup.fill("#risk-editor [name=window_seconds]", "60")
    await sup.fill("#risk-editor [name=_days]", "90")
    await sup.click("#risk-backtest")
    report = await sup.wait_for_selector("#risk-report", timeout=30_000)
    before, after = int(await report.get_attribute("data-before")), int(await report.get_attribute("data-after"))
    assert before >= 15 and after < before
    assert "重大变更" in await report.inner_text()
    await shot(sup, artifacts, "risk-rules")

    await sup.click("#risk-propose")
    assert "变更理由" in await (await sup.wait_for_selector("#risk-error")).inner_text()
    await sup.fill("#risk-editor [name=_reason]", "只把两分钟内的重复下单当作重复")
    await sup.click("#risk-propose")
    proposed = await sup.wait_for_selector("#risk-proposed", timeout=30_000)
    assert "risk-rule-change-duplicate-orders-" in await proposed.inner_text()

    regional = await console_as(browser, live_web, "regional-game-cards", "/risk")
    await regional.wait_for_selector("#refusal[role=alert]")
    assert await regional.query_selector("[data-nav=risk]") is None
