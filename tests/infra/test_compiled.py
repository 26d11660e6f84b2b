"""Compiled queries (``infra.db.compiled``) return exactly what the same Piccolo query's
``run()`` returns, on SQLite's inline reads and on PostgreSQL's pool alike; inside a
transaction they see its writes; an inline read SQLite cannot take at once goes the usual way."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from infra.accounts import open_session
from infra.db.compiled import Param, compiled
from infra.db.engine import get_engine, write_transaction
from infra.db.tables import Admin, AdminSession, PermissionGrant, PlatformMeta, Task
from infra.settings import get_settings

pytestmark = [pytest.mark.db]


async def test_rows_are_what_the_query_itself_returns(demo):
    admin = await Admin.select(Admin.id, Admin.username).where(Admin.username == "regional-game-cards").first()
    now = datetime.now(UTC)
    await PermissionGrant.insert(
        PermissionGrant(grant_id="compiled-test", admin=admin["id"], permission="users.flag", scope="region", regions=["game-cards"],
                        starts_at=now, ends_at=now + timedelta(days=1), approved_by="super-2")
    )
    await Task.insert(
        Task(task_id="compiled-test:review:1", kind="product-listing", process_id="product-listing-compiled-test", step="review",
             title="商品上架审核", tier="regional", region="game-cards", candidates=["normal-game-cards-1"], excluded=[],
             status="open", priority=40, due_at=now + timedelta(days=2), remind_at=None, escalated=True,
             actions=[{"name": "approve", "permission": "products.approve_listing", "label_zh": "通过"}],
             evidence={"price": 1999, "note": "大促", "ok": True, "ratio": 0.5}, created_at=now),
        Task(task_id="compiled-test:review:2", kind="product-listing", process_id="product-listing-compiled-test", step="review",
             title="empty", tier="normal", region=None, candidates=[], excluded=["intern-game-cards-1"], status="done",
             due_at=None, actions=[], evidence={}, outcome=None, created_at=now),
    )
    await open_session(admin["id"], "test")
    try:
        cases = [
            # every column type Kameng stores: integers, text, booleans, arrays, JSON, timestamps, nulls
            (lambda p: Admin.select().where(Admin.username == p("name")), {"name": "regional-game-cards"}),
            (lambda p: Task.select().where(Task.process_id == p("pid")).order_by(Task.id).output(load_json=True),
             {"pid": "product-listing-compiled-test"}),
            (lambda p: Task.select(Task.id, Task.actions, Task.evidence, Task.due_at).where(Task.process_id == p("pid")), {"pid": "product-listing-compiled-test"}),
            (lambda p: PermissionGrant.select().where((PermissionGrant.admin == p("admin")) & (PermissionGrant.ends_at > p("now"))),
             {"admin": admin["id"], "now": now - timedelta(hours=1)}),
            (lambda p: AdminSession.select(AdminSession.expires_at, AdminSession.admin.username, AdminSession.admin.regions)
             .output(nested=True).limit(3), {}),
        ]
        for build, values in cases:
            expected = await build(values.__getitem__)  # the query with its values, run by Piccolo
            assert expected, build
            for inline in (True, False):
                got = await compiled(lambda build=build: build(Param), inline=inline).rows(**values)
                assert got == expected, (build, inline)
                kinds = [{k: type(v).__name__ for k, v in r.items()} for r in got]
                assert kinds == [{k: type(v).__name__ for k, v in r.items()} for r in expected], (inline, [
                    (k, a, b) for g, e in zip(kinds, expected, strict=True) for (k, a), b in zip(g.items(), (type(v).__name__ for v in e.values())) if a != b])
        # JSON passed on undecoded: the same values once decoded, on both paths.
        for inline in (True, False):
            raw = await compiled(lambda: Task.select(Task.id, Task.actions, Task.evidence).where(Task.process_id == Param("pid")).order_by(Task.id)
                                 .output(load_json=True), inline=inline, raw_json=frozenset({"actions"})).rows(pid="product-listing-compiled-test")
            assert all(isinstance(r["actions"], msgspec.Raw) for r in raw) and isinstance(raw[0]["evidence"], dict)
            assert [msgspec.json.decode(r["actions"]) for r in raw] == [[{"name": "approve", "permission": "products.approve_listing", "label_zh": "通过"}], []]
        # into=: each row's values, in column order, straight into a callable (no dicts).
        everything = Task.select().where(Task.process_id == "product-listing-compiled-test").order_by(Task.id).output(load_json=True)
        expected_values = [tuple(r.values()) for r in await everything]
        for inline in (True, False):
            got = await compiled(lambda: Task.select().where(Task.process_id == Param("pid")).order_by(Task.id).output(load_json=True),
                                 inline=inline, into=lambda *values: values).rows(pid="product-listing-compiled-test")
            assert got == expected_values, inline
            assert [[type(v) for v in r] for r in got] == [[type(v) for v in r] for r in expected_values], inline
        with pytest.raises(ValueError):
            await compiled(lambda: AdminSession.select(AdminSession.admin.username).output(nested=True), into=tuple).rows()
        first = compiled(lambda: Admin.select(Admin.username).where(Admin.id == Param(0)).first(), inline=True)
        assert await first.first(admin["id"]) == {"username": "regional-game-cards"}
        assert await first.first(-1) is None
    finally:
        await PermissionGrant.delete().where(PermissionGrant.grant_id == "compiled-test")
        await Task.delete().where(Task.process_id == "product-listing-compiled-test")


async def test_a_compiled_read_inside_a_transaction_sees_its_writes(database):
    read = compiled(lambda: PlatformMeta.select(PlatformMeta.value).where(PlatformMeta.key == Param("key")).first(), inline=True)
    async with write_transaction():
        await PlatformMeta.insert(PlatformMeta(key="compiled-tx", value="inside"))
        assert await read.first(key="compiled-tx") == {"value": "inside"}
    assert await read.first(key="compiled-tx") == {"value": "inside"}
    await PlatformMeta.delete().where(PlatformMeta.key == "compiled-tx")
    assert await read.first(key="compiled-tx") is None


async def test_an_inline_read_sqlite_cannot_take_at_once_goes_the_usual_way(database, monkeypatch):
    if get_settings().is_postgres:
        pytest.skip("inline reads are SQLite's")
    engine = get_engine()
    await PlatformMeta.insert(PlatformMeta(key="compiled-busy", value="1"))
    read = compiled(lambda: PlatformMeta.select(PlatformMeta.value).where(PlatformMeta.key == Param("key")).first(), inline=True)
    assert await read.first(key="compiled-busy") == {"value": "1"}
    reader = engine._reader()
    assert reader is not None

    class Busy:
        def execute(self, *args):  # type: ignore[no-untyped-def]
            raise sqlite3.OperationalError("database is locked")

    loop = __import__("asyncio").get_running_loop()
    monkeypatch.setitem(engine._readers, loop, Busy())
    monkeypatch.setattr(engine, "_last_reader", (loop, Busy()))
    assert await read.first(key="compiled-busy") == {"value": "1"}  # through the pool
    monkeypatch.undo()
    await PlatformMeta.delete().where(PlatformMeta.key == "compiled-busy")
    assert engine._reader() is reader
