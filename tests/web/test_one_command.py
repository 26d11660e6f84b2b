"""One use case, every entry point: the same refused start through the API, the console and the
command line is one denial on the audit trail each, with the same code (the console once started
processes without looking the subject up, and audited no refused start)."""

from __future__ import annotations

import asyncio
import json
import os
import sys

import httpx
import pytest

from infra.db.tables import AuditEvent, Buyer
from tests.conftest import audit_head
from tests.web.helpers import console_as

pytestmark = [pytest.mark.browser, pytest.mark.db, pytest.mark.timeout(150)]


async def denials_since(mark: int) -> list[dict]:
    return await AuditEvent.select(AuditEvent.reason, AuditEvent.source).where(
        (AuditEvent.seq > mark) & (AuditEvent.actor == "regional-game-cards") & (AuditEvent.action == "account-ban.start")
        & (AuditEvent.outcome == "denied")
    )


async def test_a_ban_of_another_regions_buyer_is_refused_alike_through_the_api_the_console_and_the_cli(live_web, browser, dev_server):
    buyer = (await Buyer.select(Buyer.code).where(Buyer.region == "east-china").first())["code"]
    # The request claims the regional's own region; the buyer's record says otherwise.
    body = {"buyer": buyer, "region": "game-cards", "reason": "跨区域封禁尝试"}

    mark = await audit_head()
    async with httpx.AsyncClient(base_url=live_web) as api:
        token = (await api.post("/api/auth/login", json={"username": "regional-game-cards", "password": "kameng-demo"})).json()["token"]
        refused = await api.post("/api/processes/account-ban", json=body, headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 404 and refused.json()["error"]["code"] == "not_found"
    [by_api] = await denials_since(mark)

    mark = await audit_head()
    page = await console_as(browser, live_web, "regional-game-cards")
    await page.click("[data-nav=start]")
    await page.click("[data-start=account-ban]")
    form = "#start-form-account-ban"
    await page.wait_for_selector(form)
    await page.fill(f"{form} [name=buyer]", buyer)
    await page.select_option(f"{form} select[name=region]", "game-cards")
    await page.fill(f"{form} [name=reason]", body["reason"])
    await page.click("[data-submit=start-form-account-ban]")
    await page.wait_for_selector(f"{form} [data-form-error]", timeout=20_000)
    assert await page.query_selector("#started") is None
    [by_console] = await denials_since(mark)

    mark = await audit_head()
    env = {**os.environ, "KAMENG_ADMIN_PASSWORD": "kameng-demo", "KAMENG_TEMPORAL_ADDRESS": dev_server.client.service_client.config.target_host}
    cli = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "infra.cli", "process", "start", "account-ban", "--admin", "regional-game-cards", "--body", json.dumps(body),
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await cli.communicate()
    assert cli.returncode == 2 and b"refused: not_found" in err, (out, err)
    [by_cli] = await denials_since(mark)
    assert by_cli["source"] == "cli"

    assert by_api["reason"].split(":")[0] == by_console["reason"].split(":")[0] == by_cli["reason"].split(":")[0] == "out_of_region"
