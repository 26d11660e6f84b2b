"""Each tier signs in and sees its own inbox and its own dashboard."""

from __future__ import annotations

import uuid

import pytest

from tests.web.helpers import console_as, intake, merchant_application, shot, task_row

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]


async def test_each_tier_sees_its_inbox_and_dashboard(live_web, browser, artifacts):
    code = f"T{uuid.uuid4().hex[:6].upper()}"
    normal = await console_as(browser, live_web, "normal-game-cards-1")
    # a merchant applies in game-cards: a task for the normal admins of that region
    onboarding = await intake(normal, live_web, "merchant-applications", merchant_application(code))
    # a brushing signal in game-cards: a task for its regional admin
    risk = await intake(normal, live_web, "risk-signals", {
        "signal": "brushing", "subject_kind": "buyer", "subject": "B00042", "region": "game-cards", "score": 0.93,
        "explanation": "40 分钟内向同一商家下单 16 笔小额点卡，远超该买家历史基线（日均 0.3 笔）",
        "evidence": [{"order": "O0000123", "amount": 1000, "at": "2026-11-20T14:03:00Z"}],
    })

    # normal: the onboarding task, not the regional's risk review; a personal dashboard
    await task_row(normal, onboarding)
    assert await normal.query_selector(f"tr[data-task^='{risk}:']") is None
    await shot(normal, artifacts, "inbox-normal")
    await normal.click("[data-nav=dashboard]")
    await normal.wait_for_selector("#dashboard[data-scope=own] [data-chart=on_time_rate]")
    await normal.wait_for_selector("[data-chart=per_day] svg")
    await shot(normal, artifacts, "dashboard-normal")

    # another region's normal admin sees neither
    other = await console_as(browser, live_web, "normal-game-items-1")
    await other.wait_for_selector("table#inbox, #inbox-empty")
    assert await other.query_selector(f"tr[data-task^='{onboarding}:']") is None

    # regional: the risk review with its explanation, a dashboard of its region only
    regional = await console_as(browser, live_web, "regional-game-cards")
    await task_row(regional, risk)
    assert await regional.query_selector(f"tr[data-task^='{onboarding}:']") is None
    await regional.click(f"tr[data-task^='{risk}:'] [data-open]")
    await regional.wait_for_selector("#evidence [data-section=risk]")
    assert "远超该买家历史基线" in await regional.inner_text("#evidence")
    await shot(regional, artifacts, "task-risk-review")
    await regional.click("[data-nav=dashboard]")
    await regional.wait_for_selector("#dashboard[data-scope=region] [data-chart=gmv] svg")
    assert [await r.get_attribute("data-region") for r in await regional.query_selector_all("#region-figures tr[data-region]")] == ["game-cards"]
    await shot(regional, artifacts, "dashboard-regional")

    # super: a global dashboard (every region, fund flows, SLA breaches, open risk)
    sup = await console_as(browser, live_web, "super-2")
    await sup.wait_for_selector("table#inbox, #inbox-empty")
    await sup.click("[data-nav=dashboard]")
    await sup.wait_for_selector("#dashboard[data-scope=global] [data-chart=sla]")
    assert len(await sup.query_selector_all("#region-figures tr[data-region]")) == 4
    for chart in ("gmv", "complaint_rate", "orders", "risk"):
        assert await sup.query_selector(f"[data-chart={chart}] svg")
    await shot(sup, artifacts, "dashboard-super")

    # intern: no reports; the docs and hints page instead
    intern = await console_as(browser, live_web, "intern-game-cards-1")
    await intern.wait_for_selector("table#inbox, #inbox-empty")
    assert await intern.query_selector(f"tr[data-task^='{onboarding}:']") is None
    assert await intern.inner_text("[data-nav=dashboard]") == "文档与提示"
    await intern.click("[data-nav=dashboard]")
    await intern.wait_for_selector("#intern-docs #hints")
    assert "实习管理员处于培养阶段" in await intern.inner_text("#intern-docs")
    await shot(intern, artifacts, "docs-intern")


async def test_a_normal_admins_satisfaction_comes_from_their_settled_disputes(live_web, browser, artifacts):
    """Two settled disputes the admin mediated, one appealed by the buyer: 50%, with its basis."""
    from datetime import UTC, datetime, timedelta

    from infra.db.tables import Dispute, Order, Task

    admin = "normal-mobile-topup-2"
    order = (await Order.select(Order.id).where(Order.region == "mobile-topup").first())["id"]
    now = datetime.now(UTC)
    for appeal in (None, {"appellant": "buyer", "reason": "退款金额不足"}):
        pid = f"dispute-console-{uuid.uuid4().hex[:8]}"
        await Task.insert(Task(
            task_id=f"{pid}:mediate:1", kind="dispute", process_id=pid, step="mediate", title="纠纷调解（历史记录）",
            tier="normal", region="mobile-topup", candidates=[], excluded=[], status="done", actions=[], evidence={},
            outcome={"action": "resolve"}, decided_by=admin, created_at=now - timedelta(days=9), closed_at=now - timedelta(days=8),
        ))
        await Dispute.insert(Dispute(
            code=f"DC{uuid.uuid4().hex[:8]}", order=order, region="mobile-topup", status="resolved", reason="充值未到账",
            opened_at=now - timedelta(days=10), process_id=pid,
            resolution={"outcome": "resolved", "decided_by": admin, "appeal": appeal, "refund": {"status": "none", "amount": 0}},
        ))
    page = await console_as(browser, live_web, admin)
    await page.click("[data-nav=dashboard]")
    box = await page.wait_for_selector("#dashboard[data-scope=own] [data-satisfaction]")
    assert await box.get_attribute("data-satisfaction") == "0.5000"
    assert await box.get_attribute("data-settled") == "2"
    text = await box.inner_text()
    assert "用户满意度（纠纷处理后未被申诉）" in text and "已结案的纠纷 2 件" in text and "均未申诉 1 件" in text
    assert await page.query_selector("[data-chart=on_time_rate]")
    await shot(page, artifacts, "dashboard-normal-satisfaction")
