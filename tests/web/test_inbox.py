"""The inbox sorts by priority: tasks carry one from what they are about, shown as 高 / 中 / 低."""

from __future__ import annotations

import uuid

import pytest

from tests.web.helpers import console_as, intake, merchant_application, shot, task_row

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]


async def order_of(page, *process_ids: str) -> list[str]:
    """The given processes in the order the inbox shows them."""
    rows = [await r.get_attribute("data-task") for r in await page.query_selector_all("#inbox tr[data-task]")]
    return [p for row in rows for p in process_ids if row.startswith(p + ":")]


async def test_sorting_by_priority_puts_the_risk_review_before_the_older_onboarding(live_web, browser, artifacts):
    from infra.db.tables import Buyer

    buyer = (await Buyer.select(Buyer.code).where(Buyer.region == "east-china").first())["code"]
    page = await console_as(browser, live_web, "normal-east-china-1")
    await page.wait_for_selector("table#inbox, #inbox-empty")
    # first a duplicate-order hint (a risk review for the region's normal admins: priority 50),
    # then a point-card merchant's application (priority 30): the newer one is the less urgent
    risk = await intake(page, live_web, "risk-signals", {
        "signal": "duplicate_order", "subject_kind": "buyer", "subject": buyer, "region": "east-china", "score": 0.62,
        "explanation": "同一买家 3 分钟内重复下单同一点卡同一金额 2 笔", "evidence": [{"order": "O0000901", "amount": 5000}],
    })
    onboarding = await intake(page, live_web, "merchant-applications",
                              merchant_application(f"P{uuid.uuid4().hex[:6].upper()}", region="east-china"))
    await task_row(page, risk)
    await task_row(page, onboarding)
    assert await page.get_attribute(f"tr[data-task^='{risk}:'] td[data-priority]", "data-priority") == "50"
    assert await page.inner_text(f"tr[data-task^='{risk}:'] .km-priority") == "中"
    assert await page.get_attribute(f"tr[data-task^='{onboarding}:'] td[data-priority]", "data-priority") == "30"
    assert await page.inner_text(f"tr[data-task^='{onboarding}:'] .km-priority") == "低"

    await page.select_option("#filter-sort", "newest")
    await page.wait_for_function(
        "([a, b]) => { const rows = [...document.querySelectorAll('#inbox tr[data-task]')].map(r => r.dataset.task);"
        " return rows.findIndex(t => t.startsWith(b + ':')) < rows.findIndex(t => t.startsWith(a + ':')); }",
        arg=[risk, onboarding],
    )
    assert await order_of(page, risk, onboarding) == [onboarding, risk]

    await page.select_option("#filter-sort", "priority")
    await page.wait_for_function(
        "([a, b]) => { const rows = [...document.querySelectorAll('#inbox tr[data-task]')].map(r => r.dataset.task);"
        " return rows.findIndex(t => t.startsWith(a + ':')) < rows.findIndex(t => t.startsWith(b + ':')); }",
        arg=[risk, onboarding],
    )
    assert await order_of(page, risk, onboarding) == [risk, onboarding]
    priorities = [int(await td.get_attribute("data-priority")) for td in await page.query_selector_all("#inbox td[data-priority]")]
    assert priorities == sorted(priorities, reverse=True)
    await shot(page, artifacts, "inbox-by-priority")


async def test_a_risk_review_shows_the_findings_that_joined_it(live_web, browser, artifacts):
    """A second signal about the same buyer and signal type joins the open review: its
    reviewer sees it on the task, with its score and explanation, under the first one's evidence."""
    from tests.web.helpers import INTAKE

    buyer = f"B{uuid.uuid4().hex[:6].upper()}"
    page = await console_as(browser, live_web, "regional-game-cards")
    await page.wait_for_selector("table#inbox, #inbox-empty")
    signal = {
        "signal": "brushing", "subject_kind": "buyer", "subject": buyer, "region": "game-cards", "score": 0.88,
        "explanation": "40 分钟内向同一商家下单 16 笔小额点卡", "evidence": [{"order": "O0000777", "amount": 1000}],
    }
    review = await intake(page, live_web, "risk-signals", signal)
    task_id = await (await task_row(page, review)).get_attribute("data-task")
    await page.click(f"[data-open='{task_id}']")
    await page.wait_for_selector(f"#page-task [data-task='{task_id}']")
    assert await page.query_selector(".km-joined") is None  # nothing has joined yet

    joined = await page.request.post(f"{live_web}/api/intake/risk-signals", headers=INTAKE, data=signal | {
        "score": 0.97, "explanation": "同一买家又在 10 分钟内向另一商家下单 9 笔", "evidence": [{"order": "O0000999", "amount": 2000}],
    })
    assert joined.status == 200 and (await joined.json())["process_id"] == review
    await page.reload()
    section = await page.wait_for_selector(".km-joined[data-joined='1']", timeout=15_000)
    text = await section.inner_text()
    assert "追加的风险信号（1 条）" in text and "同一买家又在 10 分钟内向另一商家下单 9 笔" in text and "O0000999" in text
    assert "40 分钟内向同一商家下单 16 笔小额点卡" not in text  # the opening finding stays in the task's own evidence
    await shot(page, artifacts, "risk-review-joined")
