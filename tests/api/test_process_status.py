"""``GET /api/processes/{kind}/{id}/status``: from the database, following a process from its
start through a decision to its end, readable by exactly the admins who may read the full view."""

from __future__ import annotations

import asyncio

import pytest

from infra.db.tables import ProcessState
from tests.api.conftest import bearer, login
from tests.api.test_processes import GRANT, open_task_id

pytestmark = [pytest.mark.db, pytest.mark.timeout(90)]

REQUEST = {**GRANT, "permission": "products.classify", "justification": "大促期间商品分类"}


async def status_of(api, pid: str, token: str, until=lambda body: True) -> dict:
    for _ in range(100):
        response = await api.get(f"/api/processes/permission-grant/{pid}/status", headers=bearer(token))
        assert response.status_code == 200, response.text
        body = response.json()
        if until(body):
            return body
        await asyncio.sleep(0.05)
    raise AssertionError(f"the status never got there: {body}")


async def test_status_follows_a_process_from_start_through_a_decision_to_its_end(api):
    normal = await login(api, "normal-game-cards-1")
    started = await api.post("/api/processes/permission-grant", json=REQUEST, headers=bearer(normal))
    assert started.status_code == 201, started.text
    pid = started.json()["process_id"]
    task_id = await open_task_id(pid)

    waiting = await status_of(api, pid, normal, lambda b: b["tasks"])
    assert waiting["kind"] == "permission-grant" and waiting["process_id"] == pid
    assert waiting["status"] == "running" and waiting["step"] == "approve"
    assert waiting["started_by"] == "normal-game-cards-1" and waiting["region"] == "game-cards"
    assert waiting["last_action"] == "task.opened" and waiting["result"] == {} and waiting["finished_at"] is None
    [task] = waiting["tasks"]
    assert task["task_id"] == task_id and task["status"] == "open" and task["tier"] == "regional"
    assert task["assignee"] is None and task["due_at"] and task["escalated"] is False

    # The same facts as the live view (a workflow query).
    view = (await api.get(f"/api/processes/permission-grant/{pid}", headers=bearer(normal))).json()
    assert (view["status"], view["step"], view["region"], view["started_by"]) == ("running", "approve", "game-cards", "normal-game-cards-1")
    assert [t["task_id"] for t in view["tasks"]] == [task_id]

    regional = await login(api, "regional-game-cards")
    claimed = await api.post(f"/api/tasks/{task_id}/claim", headers=bearer(regional))
    assert claimed.status_code == 200
    assert (await status_of(api, pid, normal, lambda b: b["tasks"] and b["tasks"][0]["status"] == "claimed"))["tasks"][0]["assignee"] == "regional-game-cards"

    approved = await api.post(f"/api/processes/permission-grant/{pid}/actions/approve", json={"reason": "同意"}, headers=bearer(regional))
    assert approved.status_code == 200, approved.text
    active = await status_of(api, pid, normal, lambda b: b["last_action"] == "permission-grant.activated")
    # Found in use: the status said the grant still waited on approve. Status and view agree.
    assert (active["status"], active["step"], active["tasks"], active["last_outcome"]) == ("active", "active", [], "active")
    view = (await api.get(f"/api/processes/permission-grant/{pid}", headers=bearer(normal))).json()
    assert (view["status"], view["step"], view["tasks"]) == (active["status"], active["step"], [])

    revoked = await api.post(f"/api/processes/permission-grant/{pid}/actions/revoke", json={"reason": "用完了"}, headers=bearer(normal))
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    ended = await status_of(api, pid, normal, lambda b: b["status"] not in ("running", "active"))
    assert ended["status"] == "revoked" and ended["step"] == "finished" and ended["finished_at"]
    assert ended["result"]["status"] == "revoked" and ended["result"]["revoked_by"] == "normal-game-cards-1"
    assert ended["result"]["grant_id"] == pid and ended["tasks"] == []

    row = await ProcessState.select().where(ProcessState.process_id == pid).first()
    assert row["parties"] == ["normal-game-cards-1", "regional-game-cards"]  # the starter, the decider


async def test_status_is_readable_by_whoever_may_read_the_view_and_no_one_else(api):
    normal = await login(api, "normal-game-items-1")
    pid = (await api.post("/api/processes/permission-grant", json=REQUEST, headers=bearer(normal))).json()["process_id"]
    await open_task_id(pid)
    await status_of(api, pid, normal, lambda b: b["tasks"])

    readers = {
        "normal-game-items-1": True,  # started it
        "super-3": True,  # the top tier
        "regional-game-items": True,  # its region's regional admin
        "regional-game-cards": False,  # another region's
        "normal-game-items-2": False,  # same region, took no part
        "intern-game-items-1": False,
    }
    for username, allowed in readers.items():
        token = normal if username == "normal-game-items-1" else await login(api, username)
        status = await api.get(f"/api/processes/permission-grant/{pid}/status", headers=bearer(token))
        view = await api.get(f"/api/processes/permission-grant/{pid}", headers=bearer(token))
        assert (status.status_code == 200) is allowed, (username, status.status_code)
        assert status.status_code == view.status_code, (username, status.status_code, view.status_code)
        if not allowed:
            assert status.json()["error"]["code"] == "not_found"

    # Not signed in; a process of another kind under this kind's route; an unknown process.
    api.cookies.clear()  # the sign-ins above left a session cookie
    assert (await api.get(f"/api/processes/permission-grant/{pid}/status")).status_code == 401
    sup = await login(api, "super-2")
    assert (await api.get(f"/api/processes/promotion/{pid}/status", headers=bearer(sup))).status_code == 404
    assert (await api.get("/api/processes/permission-grant/permission-grant-nope/status", headers=bearer(sup))).status_code == 404


async def test_a_process_without_a_row_is_read_from_the_workflow(api):
    """Processes started before rows were kept (or ended before they started) have none: the
    workflow answers, under the same rule."""
    normal = await login(api, "normal-mobile-topup-1")
    pid = (await api.post("/api/processes/permission-grant", json=REQUEST, headers=bearer(normal))).json()["process_id"]
    task_id = await open_task_id(pid)
    from_row = await status_of(api, pid, normal, lambda b: b["tasks"])
    await ProcessState.delete().where(ProcessState.process_id == pid)

    from_workflow = await status_of(api, pid, normal)
    for field in ("kind", "process_id", "status", "step", "region", "started_by"):
        assert from_workflow[field] == from_row[field], field
    assert [t["task_id"] for t in from_workflow["tasks"]] == [task_id] and from_workflow["tasks"][0]["status"] == "open"
    outsider = await login(api, "normal-mobile-topup-2")
    assert (await api.get(f"/api/processes/permission-grant/{pid}/status", headers=bearer(outsider))).status_code == 404


async def test_the_status_route_is_documented_for_every_kind(api):
    schema = (await api.get("/schema/openapi.json")).json()
    operation = schema["paths"]["/api/processes/permission-grant/{process_id}/status"]["get"]
    assert operation["operationId"] == "status_permission_grant"
    assert {"200", "401", "404"} <= set(operation["responses"])
    assert "ProcessStatusRead" in str(operation["responses"]["200"])
    assert "/api/processes/fund-operation/{process_id}/status" in schema["paths"]


async def test_a_status_read_confirms_the_session_against_the_statement_that_reads_the_process(api):
    """The status read checks auth_version in its own statement: what ends or narrows a cached
    session before it runs takes effect on that very read."""
    from infra.accounts import SESSIONS, token_digest
    from infra.db.tables import Admin, AuditEvent

    normal = await login(api, "normal-east-china-1")
    pid = (await api.post("/api/processes/permission-grant", json=REQUEST, headers=bearer(normal))).json()["process_id"]
    await open_task_id(pid)
    regional = await login(api, "regional-east-china")
    api.cookies.clear()
    url = f"/api/processes/permission-grant/{pid}/status"
    assert (await api.get(url, headers=bearer(regional))).status_code == 200
    assert token_digest(regional) in SESSIONS._entries  # served from the cache from now on

    # The admin's regions change (another process, plain SQL): the region no longer covers it.
    await Admin.update({Admin.regions: ["game-items"]}).where(Admin.username == "regional-east-china")
    try:
        assert (await api.get(url, headers=bearer(regional))).status_code == 404
    finally:
        await Admin.update({Admin.regions: ["east-china"]}).where(Admin.username == "regional-east-china")
    assert (await api.get(url, headers=bearer(regional))).status_code == 200

    # Signed out: refused at once, and the attempt audited like any dead token.
    denials = await AuditEvent.count().where(AuditEvent.action == "auth.token")
    assert (await api.post("/api/auth/logout", headers=bearer(regional))).status_code == 204
    refused = await api.get(url, headers=bearer(regional))
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "session_invalid"
    assert await AuditEvent.count().where(AuditEvent.action == "auth.token") == denials + 1
    for path in (url, "/api/processes/permission-grant/permission-grant-nope/status", f"/api/processes/promotion/{pid}/status"):
        assert (await api.get(path, headers=bearer("not-a-session"))).status_code == 401, path


async def test_the_status_answer_is_what_msgspec_writes_and_who_asks_is_checked_first(api):
    """The route writes its answer itself (no Litestar response built): the same headers and
    the same bytes as ``ProcessStatusRead`` encoded; a request without a usable token is a 401
    before its path is validated, a NUL character a 400 before either."""
    import msgspec

    from api.schemas import ProcessStatusRead

    normal = await login(api, "normal-game-items-1")
    pid = (await api.post("/api/processes/permission-grant", json=REQUEST, headers=bearer(normal))).json()["process_id"]
    await open_task_id(pid)
    await status_of(api, pid, normal, lambda b: b["tasks"])
    response = await api.get(f"/api/processes/permission-grant/{pid}/status", headers=bearer(normal))
    assert response.headers["content-type"] == "application/json"
    assert int(response.headers["content-length"]) == len(response.content)
    assert response.content == msgspec.json.encode(msgspec.json.decode(response.content, type=ProcessStatusRead))

    long_id = "permission-grant-" + "x" * 300
    api.cookies.clear()  # signing in set the session cookie
    assert (await api.get(f"/api/processes/permission-grant/{long_id}/status")).status_code == 401
    assert (await api.get(f"/api/processes/permission-grant/{long_id}/status", headers=bearer(normal))).status_code == 400
    assert (await api.get(f"/api/processes/permission-grant/{pid}/status?x=%00")).json()["error"]["code"] == "nul_character"


async def test_whoever_a_task_of_the_process_is_for_reads_it_through_the_api_as_in_the_console(api):
    """One read rule for every entry point: the console's case page let an admin read a process
    whose task was in their inbox, the API answered them 404."""
    import uuid

    from tests.web.helpers import INTAKE, merchant_application

    code = f"M{uuid.uuid4().hex[:6].upper()}"
    started = await api.post("/api/intake/merchant-applications", headers=INTAKE, json=merchant_application(code))
    assert started.status_code == 201, started.text
    pid = started.json()["process_id"]
    await open_task_id(pid)
    inbox_holder = await login(api, "normal-game-cards-2")
    assert (await api.get(f"/api/processes/merchant-onboarding/{pid}", headers=bearer(inbox_holder))).status_code == 200
    assert (await api.get(f"/api/processes/merchant-onboarding/{pid}/status", headers=bearer(inbox_holder))).status_code == 200
    elsewhere = await login(api, "normal-east-china-1")
    assert (await api.get(f"/api/processes/merchant-onboarding/{pid}", headers=bearer(elsewhere))).status_code == 404
    assert (await api.get(f"/api/processes/merchant-onboarding/{pid}/status", headers=bearer(elsewhere))).status_code == 404
