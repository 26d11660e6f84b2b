"""Promotion reviews: each reviewer scores independently; others' scores appear only after."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from tests.web.helpers import console_as

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]


async def test_reviewers_score_without_seeing_each_other_first(live_web, browser, dev_server, web_task_queue, artifacts):
    import msgspec

    from infra.accounts import load_actor
    from infra.temporal.processes import start_process
    from workflows.domain.timing import StepTiming
    from workflows.process import ProcessConfig
    from workflows.promotion import NominateInput
    from workflows.registry import BY_KIND

    # a nomination whose assessment period is one second instead of thirty days
    nominator = await load_actor("regional-game-items")
    body = msgspec.convert(
        {"nominee": "intern-game-items-1", "target_tier": "normal", "reasons": "实习期内协助审核商品分类三百余件，准确率高",
         "reviewers": ["normal-game-items-1", "normal-mobile-topup-1", "super-3"]},
        NominateInput,
    )
    process_id = await start_process(
        dev_server.client, BY_KIND["promotion"], by=nominator, body=body, key=uuid.uuid4().hex[:8],
        task_queue=web_task_queue, config=ProcessConfig(timings={"promotion.assessment": StepTiming(due=timedelta(seconds=1))}),
    )

    first = await console_as(browser, live_web, "normal-game-items-1", "/reviews")
    card = f".km-review[data-process='{process_id}']"
    await first.wait_for_selector(f"{card} [data-scores=hidden]", timeout=30_000)
    assert await first.get_attribute(f"{card} [data-panel]", "data-panel") == "0/3"
    assert "intern-game-items-1" in await first.inner_text(card)
    await first.wait_for_selector(f"{card} [data-chart=metrics]")
    await first.fill(f"{card} [name=score]", "85")
    await first.fill(f"{card} [name=notes]", "分类准确，响应及时")
    await first.click(f"{card} [data-submit]")
    await first.wait_for_selector(f"{card} [data-scores=visible]", timeout=30_000)
    await first.screenshot(path=str(artifacts / "reviews.png"), full_page=True)

    second = await console_as(browser, live_web, "normal-mobile-topup-1", "/reviews")
    await second.wait_for_selector(f"{card} [data-panel='1/3'] ")
    assert await second.query_selector(f"{card} [data-scores=hidden]")
    # The first reviewer's score and notes are nowhere on the card (its dates may hold "85").
    assert await second.query_selector(f"{card} [data-scores=visible]") is None
    assert "分类准确，响应及时" not in await second.inner_text(card)
    await second.fill(f"{card} [name=score]", "140")
    await second.click(f"{card} [data-submit]")
    error = await second.wait_for_selector(f"{card} .km-field.invalid[data-field=score] .km-field-error")
    assert "不能大于 100" in await error.inner_text()
    await second.fill(f"{card} [name=score]", "60")
    await second.click(f"{card} [data-submit]")
    await second.wait_for_selector(f"{card} [data-scores=visible]", timeout=30_000)
    assert "85" in await second.inner_text(card)
