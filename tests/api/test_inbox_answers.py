"""``GET /api/inbox`` answers what ``TaskRead`` built from Piccolo's own rows answers, value for value,
page after page; and the page read under a cached session, confirmed by the ``auth_version``
read in the same statement, refuses or re-reads exactly as a check made first would."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from api.routes.inbox import READ_COLUMNS
from api.schemas import TaskRead
from infra.accounts import SESSIONS, token_digest
from infra.db.tables import Admin, AdminSession, PermissionGrant, Task, TaskKey, task_keys
from infra.settings import get_settings
from tests.api.conftest import bearer, login

pytestmark = [pytest.mark.db, pytest.mark.timeout(120)]

ADMIN = "regional-game-cards"


def _tasks(kind: str) -> list[Task]:
    """Every kind of value the answer holds: nulls, both booleans, timestamps with and without
    microseconds (and with trailing zeros), text JSON must escape, actions empty and nested."""
    base = datetime(2026, 12, 8, 14, 29, 34, 208116, tzinfo=UTC)
    titles = ['引号 "quoted" \\ back', "line\nbreak\ttab\x01", "emoji 🙂 and 中文", "", "plain"]
    tasks = []
    for n in range(11):
        tasks.append(Task(
            task_id=f"{kind}:{n}", kind=kind, process_id=f"{kind}-proc-{n % 3}", step="review", title=titles[n % len(titles)],
            tier="regional", region=None if n % 4 == 1 else "game-cards", candidates=[], excluded=[],
            assignee=ADMIN if n % 5 == 2 else None, status="claimed" if n % 5 == 2 else "open", priority=(n * 7) % 50 - 3,
            due_at=[None, base.replace(microsecond=0), base, base.replace(microsecond=208100), base + timedelta(days=400)][n % 5],
            escalated=n % 3 == 0,
            actions=[[], [{"name": "approve", "permission": "products.approve_listing", "label_zh": "通过"}],
                     [{"name": "x", "nested": {"a": [1, 2.5, None, True]}, "label": "\"q\""}]][n % 3],
            evidence={}, created_at=[base, base.replace(microsecond=0)][n % 2],
        ))
    return tasks


def task_read(row: dict) -> TaskRead:
    """A task's answer built from its row's dict, field by field: the reference the page's
    stored JSON and its column path are held to."""
    return TaskRead(
        id=row["task_id"], kind=row["kind"], process_id=row["process_id"], title=row["title"], tier=row["tier"],
        region=row["region"], status=row["status"], assignee=row["assignee"], due_at=row["due_at"],
        escalated=row["escalated"], actions=row["actions"] or [], priority=row["priority"], created_at=row["created_at"],
    )


async def _expected(kind: str) -> list[dict]:
    """The answer as ``task_read`` builds it from Piccolo's own rows, encoded by msgspec."""
    rows = await Task.select(*READ_COLUMNS).where(Task.kind == kind).order_by(Task.id, ascending=False).output(load_json=True)
    return msgspec.json.decode(msgspec.json.encode([task_read(r) for r in rows]))


async def _pages(api, token: str, kind: str, limit: int) -> tuple[list[dict], list[str | None]]:
    items: list[dict] = []
    cursors: list[str | None] = []
    cursor = None
    while True:
        url = f"/api/inbox?kind={kind}&limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        response = await api.get(url, headers=bearer(token))
        assert response.status_code == 200, response.text
        page = response.json()
        items += page["items"]
        cursor = page["next_cursor"]
        cursors.append(cursor)
        if not cursor:
            return items, cursors


async def test_pages_hold_what_task_read_builds(api):
    kind = f"answers-{uuid.uuid4().hex[:8]}"
    await Task.insert(*_tasks(kind))
    token = await login(api, ADMIN)
    expected = await _expected(kind)
    assert len(expected) == 11
    for limit in (1, 4, 11, 50):
        items, cursors = await _pages(api, token, kind, limit)
        assert items == expected, limit
        assert len(cursors) == (11 // limit) + 1 if limit <= 11 else len(cursors) == 1
    assert {i["escalated"] for i in items} == {True, False}
    assert any(i["region"] is None for i in items) and any(i["due_at"] is None for i in items)
    assert "2026-12-08T14:29:34Z" in {i["due_at"] for i in items}, "no fraction when the microseconds are 0"
    assert "2026-12-08T14:29:34.208100Z" in {i["due_at"] for i in items}
    # Decoded as the schema says, each item is the struct task_read builds.
    decoded = msgspec.convert(items, list[TaskRead])
    assert decoded == msgspec.convert(expected, list[TaskRead])
    stored = await Task.select(Task.inbox_json).where(Task.kind == kind)
    assert all(r["inbox_json"] for r in stored), "the page was read from the JSON the database keeps"

    # Any write keeps it in step: claimed, escalated, moved, retitled, actions changed.
    later = datetime(2027, 1, 2, 3, 4, 5, tzinfo=UTC)
    await Task.update({Task.status: "claimed", Task.assignee: ADMIN, Task.escalated: True, Task.due_at: later, Task.title: "新\"标题",
                       Task.actions: [{"name": "only"}], Task.priority: 99, Task.region: None}).where(Task.task_id == f"{kind}:3")
    await Task.update({Task.escalated: False, Task.due_at: None}).where(Task.task_id == f"{kind}:0")
    expected = await _expected(kind)
    assert (await _pages(api, token, kind, 5))[0] == expected
    assert [i for i in expected if i["id"] == f"{kind}:3"][0]["due_at"] == "2027-01-02T03:04:05Z"


async def test_a_task_without_its_stored_json_is_answered_from_its_columns(api):
    if get_settings().is_postgres:
        pytest.skip("PostgreSQL's trigger writes the JSON on every update: it cannot be left empty")
    kind = f"answers-{uuid.uuid4().hex[:8]}"
    await Task.insert(*_tasks(kind))
    await Task.update({Task.inbox_json: None}).where(Task.task_id == f"{kind}:4")
    token = await login(api, ADMIN)
    assert (await _pages(api, token, kind, 4))[0] == await _expected(kind)


async def test_an_empty_page_still_checks_the_session(api):
    token = await login(api, ADMIN)
    assert (await api.get("/api/inbox?kind=no-such-kind", headers=bearer(token))).json() == {"items": [], "next_cursor": None}
    await AdminSession.update({AdminSession.revoked_at: datetime.now(UTC)}).where(AdminSession.token_hash == token_digest(token))
    assert (await api.get("/api/inbox?kind=no-such-kind", headers=bearer(token))).status_code == 401


async def test_a_cached_session_ended_before_the_read_is_refused(api):
    kind = f"answers-{uuid.uuid4().hex[:8]}"
    await Task.insert(*_tasks(kind)[:2])
    token = await login(api, ADMIN)
    assert (await api.get(f"/api/inbox?kind={kind}", headers=bearer(token))).status_code == 200
    assert token_digest(token) in SESSIONS._entries, "the session is cached: the next read is shaped by the cached admin"
    assert (await api.post("/api/auth/logout", headers=bearer(token))).status_code == 204
    response = await api.get(f"/api/inbox?kind={kind}", headers=bearer(token))
    assert response.status_code == 401 and response.json()["error"]["code"] == "session_invalid"
    assert (await api.get(f"/api/inbox?kind={kind}&cursor=abc", headers=bearer(token))).status_code == 401


async def test_a_deactivated_admin_is_refused_with_a_full_page(api):
    kind = f"answers-{uuid.uuid4().hex[:8]}"
    await Task.insert(*_tasks(kind))
    username = "regional-game-items"
    await Task.update({Task.region: "game-items"}).where(Task.kind == kind)
    token = await login(api, username)
    assert len((await api.get(f"/api/inbox?kind={kind}", headers=bearer(token))).json()["items"]) == 11
    await Admin.update({Admin.status: "suspended"}).where(Admin.username == username)
    try:
        assert (await api.get(f"/api/inbox?kind={kind}", headers=bearer(token))).status_code == 401
    finally:
        await Admin.update({Admin.status: "active"}).where(Admin.username == username)


async def test_a_grant_revoked_before_the_read_takes_its_tasks_out_of_that_page(api):
    """The page was read for the cached admin (with the grant); the admin confirmed under the
    statement's version has none, so the page is read again for them."""
    kind = f"answers-{uuid.uuid4().hex[:8]}"
    username = "normal-game-items-1"
    [row] = await Task.insert(Task(
        task_id=f"{kind}:granted", kind=kind, process_id=f"{kind}-proc", step="review", title="t", tier="super", region="game-items",
        candidates=[], excluded=[], status="open", actions=[{"name": "ok", "permission": "users.flag"}], evidence={},
        created_at=datetime.now(UTC),
    ))
    await TaskKey.insert(*(TaskKey(task=row["id"], key=k) for k in task_keys([], [{"permission": "users.flag"}])))
    admin = await Admin.select(Admin.id).where(Admin.username == username).first()
    now = datetime.now(UTC)
    await PermissionGrant.insert(
        PermissionGrant(grant_id=f"{kind}-grant", admin=admin["id"], permission="users.flag", scope="region", regions=[],
                        starts_at=now - timedelta(minutes=1), ends_at=now + timedelta(hours=1), approved_by="regional-game-items")
    )
    try:
        token = await login(api, username)
        items = (await api.get(f"/api/inbox?kind={kind}", headers=bearer(token))).json()["items"]
        assert [i["id"] for i in items] == [f"{kind}:granted"]
        assert token_digest(token) in SESSIONS._entries
        await PermissionGrant.update({PermissionGrant.revoked_at: datetime.now(UTC)}).where(PermissionGrant.grant_id == f"{kind}-grant")
        assert (await api.get(f"/api/inbox?kind={kind}", headers=bearer(token))).json()["items"] == []
    finally:
        await PermissionGrant.delete().where(PermissionGrant.grant_id == f"{kind}-grant")
