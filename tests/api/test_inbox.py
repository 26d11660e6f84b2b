from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from infra.accounts import load_actor
from tests.api.conftest import bearer, login
from workflows.permission_grant import RequestGrantInput

pytestmark = pytest.mark.db


async def test_inbox_shows_a_task_to_its_tier_only(api, harness):
    regional = await load_actor("regional-east-china", datetime.now(UTC))
    body = RequestGrantInput(permission="funds.approve", scope="region", duration=timedelta(days=1), justification="大促资金审批")
    pid = await harness.start("permission-grant", regional, body)
    await harness.wait_for(pid, lambda v: v.tasks)

    def mine(items):
        return [i for i in items if i["process_id"] == pid]

    super_token = await login(api, "super-3")
    inbox = (await api.get("/api/inbox?status=open", headers=bearer(super_token))).json()
    [item] = mine(inbox["items"])
    assert item["tier"] == "super" and item["kind"] == "permission-grant" and item["status"] == "open"
    assert [a["name"] for a in item["actions"]] == ["approve", "reject"]
    assert item["due_at"] and item["escalated"] is False

    for other in ("regional-east-china", "normal-east-china-1", "intern-east-china-1"):
        token = await login(api, other)
        items = (await api.get("/api/inbox", headers=bearer(token))).json()["items"]
        assert mine(items) == [], other


async def test_inbox_paginates_with_cursor(api, harness):
    intern = await load_actor("intern-mobile-topup-1", datetime.now(UTC))
    pids = []
    for _ in range(3):
        body = RequestGrantInput(permission="products.classify", scope="region", duration=timedelta(hours=4), justification="协助核对商品")
        pid = await harness.start("permission-grant", intern, body)
        await harness.wait_for(pid, lambda v: v.tasks)
        pids.append(pid)
    token = await login(api, "regional-mobile-topup")
    seen: list[str] = []
    cursor = None
    while True:
        url = "/api/inbox?status=open&limit=1" + (f"&cursor={cursor}" if cursor else "")
        page = (await api.get(url, headers=bearer(token))).json()
        seen += [i["process_id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert set(pids) <= set(seen) and len(seen) == len(set(seen))


@pytest.mark.parametrize("query", ["limit=0", "limit=201", "status=nope", "cursor=abc", "limit=x"])
async def test_bad_inbox_queries_are_400(api, query):
    token = await login(api, "normal-game-cards-1")
    response = await api.get(f"/api/inbox?{query}", headers=bearer(token))
    assert response.status_code == 400
    assert response.json()["error"]["code"] in {"invalid_request", "bad_cursor"}
