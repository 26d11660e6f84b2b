from __future__ import annotations

import asyncio
import sqlite3

import pytest

from infra.db.engine import write_transaction
from infra.db.tables import PlatformMeta
from infra.settings import get_settings

# SQLite only (no `db` marker, so the PostgreSQL pass leaves it out): BEGIN IMMEDIATE's
# wait for the write lock is what it guards.


async def test_a_writer_cancelled_while_waiting_for_the_lock_does_not_keep_it(database):
    assert not get_settings().is_postgres
    holding = asyncio.Event()
    release = asyncio.Event()

    async def holder():
        async with write_transaction():
            await PlatformMeta.insert(PlatformMeta(key="lock-holder", value="1"))
            holding.set()
            await release.wait()

    first = asyncio.create_task(holder())
    await holding.wait()

    kept = []

    async def waiter():
        transaction = write_transaction()
        kept.append(transaction)  # as a retrying framework holding the failed attempt would
        async with transaction:
            await PlatformMeta.insert(PlatformMeta(key="never", value="1"))

    second = asyncio.create_task(waiter())
    await asyncio.sleep(0.3)  # it is now inside BEGIN IMMEDIATE, waiting for the lock
    second.cancel()
    with pytest.raises(asyncio.CancelledError):
        await second
    release.set()
    await first
    await asyncio.sleep(0.5)  # the abandoned BEGIN now gets the lock; it must give it back

    async with asyncio.timeout(5):  # a leaked lock would make this wait 30 s and fail
        async with write_transaction():
            await PlatformMeta.insert(PlatformMeta(key="after", value="1"))
    keys = {r["key"] for r in await PlatformMeta.select(PlatformMeta.key)}
    assert {"lock-holder", "after"} <= keys and "never" not in keys
    await PlatformMeta.delete().where(PlatformMeta.key.is_in(["lock-holder", "after"]))
    assert len(kept) == 1


async def test_queries_reuse_pooled_connections_and_a_failed_write_leaves_none_locked(database):
    from infra.db.engine import PooledSQLiteEngine, get_engine

    engine = get_engine()
    assert isinstance(engine, PooledSQLiteEngine)
    await PlatformMeta.insert(PlatformMeta(key="pooled", value="1"))
    idle = engine._idle()
    before = list(idle)
    assert before, "a query hands its connection back"
    for _ in range(20):
        assert await PlatformMeta.exists().where(PlatformMeta.key == "pooled")
    assert all(any(c is b for b in before) for c in idle), "the same connections served every read"

    with pytest.raises(Exception, match="UNIQUE"):
        await PlatformMeta.insert(PlatformMeta(key="pooled", value="2"))
    # autocommit: the failed statement left no transaction open, so another writer gets the lock
    async with asyncio.timeout(5):
        async with write_transaction():
            await PlatformMeta.update({PlatformMeta.value: "3"}).where(PlatformMeta.key == "pooled")
    assert (await PlatformMeta.select(PlatformMeta.value).where(PlatformMeta.key == "pooled").first())["value"] == "3"
    await PlatformMeta.delete().where(PlatformMeta.key == "pooled")


async def test_a_write_transaction_runs_on_the_loops_own_connection_when_the_lock_is_free(database):
    """Committed, rolled back or failing at its commit, an inline transaction leaves its
    connection free, with nothing open on it, for the next one."""
    from infra.db.engine import InlineWriter, get_engine

    engine = get_engine()
    used = []
    for n in range(3):
        async with write_transaction() as transaction:
            used.append(transaction.connection)
            await PlatformMeta.insert(PlatformMeta(key=f"inline-{n}", value="1"))
    assert all(isinstance(c, InlineWriter) for c in used) and len({id(c) for c in used}) == 1
    writer = used[0]
    with sqlite3.connect(get_settings().sqlite_path) as other:  # committed: another connection sees it
        assert other.execute("SELECT count(*) FROM platform_meta WHERE key LIKE 'inline-%'").fetchone()[0] == 3

    with pytest.raises(RuntimeError, match="changed my mind"):
        async with write_transaction():
            await PlatformMeta.update({PlatformMeta.value: "2"}).where(PlatformMeta.key == "inline-0")
            raise RuntimeError("changed my mind")
    assert not writer.busy and not writer.in_transaction

    # A commit that fails (a deferred constraint, checked only then) is rolled back.
    async with write_transaction():  # temp tables of the writer's own connection
        await engine.run_ddl("CREATE TEMP TABLE IF NOT EXISTS parent (id INTEGER PRIMARY KEY)")
        await engine.run_ddl("CREATE TEMP TABLE IF NOT EXISTS child (p INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED)")
    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
        async with write_transaction() as transaction:
            assert transaction.connection is writer  # the temp tables live on it
            await PlatformMeta.update({PlatformMeta.value: "2"}).where(PlatformMeta.key == "inline-0")
            await engine.run_ddl("INSERT INTO child (p) VALUES (42)")
    assert not writer.busy and not writer.in_transaction

    async with asyncio.timeout(5):
        async with write_transaction() as transaction:
            assert transaction.connection is writer
            assert (await PlatformMeta.select(PlatformMeta.value).where(PlatformMeta.key == "inline-0").first())["value"] == "1"
            await PlatformMeta.delete().where(PlatformMeta.key.like("inline-%"))
    assert not await PlatformMeta.exists().where(PlatformMeta.key.like("inline-%"))


async def test_a_write_transaction_waits_for_a_lock_held_elsewhere_without_holding_up_the_loop(database):
    """Another connection holds the write lock: the transaction waits on a pooled connection's
    thread, the loop carries on meanwhile, and the pooled connection goes back idle."""
    from infra.db.engine import InlineWriter, get_engine

    engine = get_engine()
    other = sqlite3.connect(get_settings().sqlite_path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    connections = []

    async def write() -> None:
        async with write_transaction() as transaction:
            connections.append(transaction.connection)
            await PlatformMeta.insert(PlatformMeta(key="waited", value="1"))

    writing = asyncio.create_task(write())
    ticks = 0
    for _ in range(20):  # 0.2 s of the loop running while the writer waits
        await asyncio.sleep(0.01)
        ticks += 1
    assert ticks == 20 and not writing.done()
    other.execute("COMMIT")
    other.close()
    async with asyncio.timeout(10):
        await writing
    assert not isinstance(connections[0], InlineWriter)
    assert any(c is connections[0] for c in engine._idle()) and all(not c.in_transaction for c in engine._idle())
    await PlatformMeta.delete().where(PlatformMeta.key == "waited")


async def test_a_transaction_suspended_on_the_inline_connection_leaves_the_next_to_the_pool(database):
    """A transaction that awaits something real keeps the loop's writer (and the lock); one
    started meanwhile waits for the lock on a pooled connection, and both commit."""
    from infra.db.engine import InlineWriter

    holding, release = asyncio.Event(), asyncio.Event()
    kinds = {}

    async def first() -> None:
        async with write_transaction() as transaction:
            kinds["first"] = type(transaction.connection)
            await PlatformMeta.insert(PlatformMeta(key="first", value="1"))
            holding.set()
            await release.wait()

    async def second() -> None:
        async with write_transaction() as transaction:
            kinds["second"] = type(transaction.connection)
            await PlatformMeta.insert(PlatformMeta(key="second", value="1"))

    one = asyncio.create_task(first())
    await holding.wait()
    two = asyncio.create_task(second())
    await asyncio.sleep(0.2)
    assert not two.done()  # waiting for the lock the first holds
    release.set()
    async with asyncio.timeout(10):
        await asyncio.gather(one, two)
    assert kinds["first"] is InlineWriter and kinds["second"] is not InlineWriter
    assert {r["key"] for r in await PlatformMeta.select(PlatformMeta.key).where(PlatformMeta.key.is_in(["first", "second"]))} == {"first", "second"}
    await PlatformMeta.delete().where(PlatformMeta.key.is_in(["first", "second"]))
