from __future__ import annotations

import asyncio

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


async def test_write_transactions_reuse_pooled_connections_and_leave_none_open(database):
    """A write transaction borrows a pooled connection and hands it back once committed or
    rolled back, with nothing open on it: the next writer gets the lock at once."""
    from infra.db.engine import PooledSQLiteEngine, get_engine

    engine = get_engine()
    assert isinstance(engine, PooledSQLiteEngine)
    used = []
    for n in range(5):
        async with write_transaction() as transaction:
            used.append(transaction.connection)
            await PlatformMeta.insert(PlatformMeta(key=f"tx-{n}", value="1"))
    assert len({id(c) for c in used}) < len(used), "a committed transaction's connection serves the next one"
    assert all(not c.in_transaction for c in engine._idle())

    with pytest.raises(RuntimeError, match="changed my mind"):
        async with write_transaction() as transaction:
            await PlatformMeta.update({PlatformMeta.value: "2"}).where(PlatformMeta.key == "tx-0")
            raise RuntimeError("changed my mind")
    assert all(not c.in_transaction for c in engine._idle())
    async with asyncio.timeout(5):
        async with write_transaction():
            assert (await PlatformMeta.select(PlatformMeta.value).where(PlatformMeta.key == "tx-0").first())["value"] == "1"
            await PlatformMeta.delete().where(PlatformMeta.key.like("tx-%"))
    assert not await PlatformMeta.exists().where(PlatformMeta.key.like("tx-%"))
