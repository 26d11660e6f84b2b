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


async def test_a_super_reads_an_admin_misuse_review_opened_by_the_scan(live_web, browser, artifacts, dev_server, web_task_queue):
    from datetime import UTC, datetime

    import msgspec

    from activities.risk.detectors import scan
    from activities.risk.store import load_history, load_rules, record_signals
    from infra.seed import BURST_ADMIN
    from workflows.process import ProcessConfig

    rules = await load_rules()
    history = await load_history(datetime.now(UTC), 90)
    # Only this rule, so other tests' inboxes stay as they are; keys of its own, so the scan's
    # own test (which may have stored these episodes already) and this one do not meet.
    findings = [msgspec.structs.replace(f, key=f"web-{f.key}") for f in scan(history, [rules["admin_off_hours_edits"]])]
    _, reviews = await record_signals(findings, rules, client=dev_server.client, task_queue=web_task_queue, config=ProcessConfig(search_attributes=True), now=datetime.now(UTC))
    [review] = [r for r in reviews if r.subject == BURST_ADMIN] or [None]
    assert review is not None and review.tier == "super"

    sup = await console_as(browser, live_web, "super-3")
    await sup.wait_for_selector(f"tr[data-task^='{review.process_id}:']", timeout=30_000)
    await sup.click(f"tr[data-task^='{review.process_id}:'] [data-open]")
    await sup.wait_for_selector("#evidence [data-section=risk]")
    explained = await sup.query_selector_all("#evidence ol.km-explain li")
    assert len(explained) == len([f for f in findings if f.subject == BURST_ADMIN])
    text = await sup.inner_text("#evidence")
    assert "连续改价" in text and "median/MAD" in text
    await shot(sup, artifacts, "task-risk-admin-misuse")
