"""Engine selection (SQLite by default, PostgreSQL by URL), migrations and connection life."""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import sqlite3
import weakref
from typing import Any
from urllib.parse import urlparse

import aiosqlite

from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine, SQLiteTransaction, TransactionType, dict_factory

from infra.db.tables import ALL_TABLES
from infra.settings import Settings, get_settings

PICCOLO_CONF = "infra.db.piccolo_conf"
log = logging.getLogger("kameng.db")


class DatabaseUnavailable(RuntimeError):
    pass


_SQLITE_UNAVAILABLE = ("database is locked", "database table is locked", "unable to open database", "disk i/o error")


def is_unavailable(exc: BaseException) -> bool:
    """Whether a failure means the database cannot be reached or is locked right now (worth
    a retry later), as opposed to a bug: the error itself or anything it was raised from."""
    import asyncpg

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, DatabaseUnavailable | ConnectionError | TimeoutError):
            return True
        if isinstance(current, sqlite3.OperationalError) and any(m in str(current).lower() for m in _SQLITE_UNAVAILABLE):
            return True
        if isinstance(current, asyncpg.PostgresConnectionError | asyncpg.InterfaceError | asyncpg.CannotConnectNowError | asyncpg.TooManyConnectionsError):
            return True
        current = current.__cause__ or current.__context__
    return False


def engine_for(settings: Settings) -> Engine:
    """The engine, with each query a span inside a traced request (``infra.telemetry.traced``)."""
    from infra.telemetry import traced

    if settings.is_postgres:
        return traced(PostgresEngine)(config={"dsn": settings.resolved_database_url})
    path = settings.sqlite_path
    path.parent.mkdir(parents=True, exist_ok=True)
    return traced(PooledSQLiteEngine)(path=str(path), timeout=settings.db_lock_timeout)


def _stop_all(connections: list[aiosqlite.Connection]) -> None:
    while connections:
        connections.pop().stop()


class InlineWriter:
    """An event loop's own write connection: ``sqlite3`` on the loop's thread, behind the
    few aiosqlite methods Piccolo's transaction calls (``execute``), whose coroutines finish
    without suspending. A write transaction on it (``PooledSQLiteEngine.take_writer``) runs
    from ``BEGIN IMMEDIATE`` to ``COMMIT`` without handing each statement to aiosqlite's
    thread and waiting for the loop to be woken with its result: a process step's batch of
    writes is about ten statements of tens of microseconds each, and each hand-off cost more
    than its statement (figure 2c, docs/performance.md)."""

    __slots__ = ("connection", "busy")

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection
        self.busy = False

    @property
    def in_transaction(self) -> bool:
        return self.connection.in_transaction

    async def execute(self, sql: str, args: Any = ()) -> None:
        """BEGIN, COMMIT, ROLLBACK and savepoints, as Piccolo's transaction sends them."""
        self.connection.execute(sql, args)

    def fetchall(self, sql: str, args: list[Any]) -> list[Any]:
        return self.connection.execute(sql, args).fetchall()


class PooledSQLiteEngine(SQLiteEngine):
    """Piccolo's SQLite engine, reusing connections instead of opening one per query.

    Outside a transaction each query takes an idle connection of the running event loop's
    pool (opened on demand, at most ``POOL_SIZE`` kept), in autocommit mode (Piccolo's
    default), so no statement leaves a transaction open for the next user. A primary-key
    read costs about a tenth of opening a connection for it.

    A write transaction (``write_transaction``) runs on the loop's ``InlineWriter`` when the
    write lock is free at once, and otherwise on a pooled connection, whose thread waits for
    the lock without holding up the loop.
    """

    POOL_SIZE = 4
    INLINE_BUSY_SECONDS = 0.05
    """How long an inline read may wait for SQLite's lock before it goes to the pool instead."""

    __slots__ = ("_pools", "_readers", "_last_reader", "_writers")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, list[aiosqlite.Connection]] = weakref.WeakKeyDictionary()
        self._readers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, sqlite3.Connection | None] = weakref.WeakKeyDictionary()
        self._last_reader: tuple[Any, sqlite3.Connection | None] = (None, None)
        self._writers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, InlineWriter | None] = weakref.WeakKeyDictionary()

    def take_writer(self) -> InlineWriter | None:
        """This loop's ``InlineWriter`` with the write lock taken (``BEGIN IMMEDIATE``), or None:
        when a transaction of this loop holds it already (one suspended mid-way), when another
        connection holds the lock (waiting for it would block the loop), or when the file is not
        in WAL mode (a commit would have to wait for readers). Hand it back with ``give_back_writer``."""
        loop = asyncio.get_running_loop()
        try:
            writer = self._writers[loop]
        except KeyError:
            writer = self._open_writer(loop)
        if writer is None or writer.busy:
            return None
        try:
            writer.connection.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if is_unavailable(exc):
                return None
            raise
        writer.busy = True
        return writer

    def give_back_writer(self, writer: InlineWriter) -> None:
        """The writer free for the next transaction, rolled back first if one is still open
        on it (its commit failed)."""
        try:
            if writer.connection.in_transaction:
                writer.connection.execute("ROLLBACK")
        finally:
            writer.busy = False

    def _open_writer(self, loop: asyncio.AbstractEventLoop) -> InlineWriter | None:
        writer: InlineWriter | None = None
        if sqlite3.sqlite_version_info >= (3, 35):  # inserts return their keys (RETURNING)
            connection = sqlite3.connect(**{**self.connection_kwargs, "timeout": 0, "check_same_thread": False})
            connection.row_factory = dict_factory
            connection.execute("PRAGMA foreign_keys = 1")
            if connection.execute("PRAGMA journal_mode").fetchone()["journal_mode"] == "wal":
                writer = InlineWriter(connection)
                weakref.finalize(loop, connection.close)
            else:
                connection.close()
        self._writers[loop] = writer
        return writer

    def read_inline(self, sql: str, args: list[Any], table: Any = None) -> tuple[sqlite3.Cursor, list[tuple]] | None:
        """Run a small read (a compiled query marked ``inline``, ``infra.db.compiled``) on the
        event loop's own thread: (its cursor, rows of stored values), or None
        to run it the usual way. In WAL mode a read never waits for a writer; when SQLite is
        busy anyway (a checkpoint, a file not in WAL mode) or a transaction is open in this
        context, the usual way it is."""
        if self.current_transaction.get() is not None:
            return None
        loop, reader = self._last_reader
        if loop is not asyncio.get_running_loop():
            reader = self._reader()
        if reader is None:
            return None
        try:
            cursor = reader.execute(sql, args)
            return cursor, cursor.fetchall()
        except sqlite3.OperationalError as exc:
            if is_unavailable(exc):
                return None
            raise

    def _reader(self) -> sqlite3.Connection | None:
        """This loop's read-only connection for inline reads, returning stored values (the
        compiled query converts them); None when the file is not in WAL mode."""
        loop = asyncio.get_running_loop()
        try:
            reader = self._readers[loop]
        except KeyError:
            reader = self._open_reader(loop)
        self._last_reader = (loop, reader)
        return reader

    def _open_reader(self, loop: asyncio.AbstractEventLoop) -> sqlite3.Connection | None:
        reader: sqlite3.Connection | None = sqlite3.connect(
            self.path, timeout=self.INLINE_BUSY_SECONDS, isolation_level=None, check_same_thread=False, cached_statements=256,
        )
        assert reader is not None
        reader.execute("PRAGMA query_only = 1")
        if reader.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            reader.close()
            reader = None
        else:
            weakref.finalize(loop, reader.close)
        self._readers[loop] = reader
        return reader

    def _idle(self) -> list[aiosqlite.Connection]:
        loop = asyncio.get_running_loop()
        idle = self._pools.get(loop)
        if idle is None:
            idle = self._pools[loop] = []
            # A loop that goes away takes its connections' threads with it.
            weakref.finalize(loop, _stop_all, idle)
        return idle

    async def _open(self) -> aiosqlite.Connection:
        connection = aiosqlite.connect(**self.connection_kwargs)  # isolation_level=None: autocommit
        connection._thread.daemon = True  # an idle pooled connection never holds up exit
        await connection
        connection.row_factory = dict_factory  # type: ignore[assignment]
        await connection.execute("PRAGMA foreign_keys = 1")
        return connection

    async def lend(self) -> aiosqlite.Connection:
        """An idle connection of this loop's pool (a new one when none is idle), in autocommit
        mode; hand it back with ``give_back`` once nothing is open on it."""
        idle = self._idle()
        return idle.pop() if idle else await self._open()

    async def give_back(self, connection: aiosqlite.Connection) -> None:
        idle = self._idle()
        if len(idle) < self.POOL_SIZE and not connection.in_transaction:
            idle.append(connection)
        else:
            await connection.close()

    async def _run_in_new_connection(
        self,
        query: str,
        args: list[Any] | None = None,
        query_type: str = "generic",
        table: Any = None,
    ):
        if query_type == "insert" and sqlite3.sqlite_version_info < (3, 35):
            return await super()._run_in_new_connection(query, args, query_type, table)
        connection = await self.lend()
        try:
            rows = await connection.execute_fetchall(query, args or [])  # one trip to its thread
        except BaseException:
            await connection.close()
            raise
        await self.give_back(connection)
        return rows

    async def _run_in_existing_connection(
        self,
        connection: Any,
        query: str,
        args: list[Any] | None = None,
        query_type: str = "generic",
        table: Any = None,
    ):
        """A statement of an open transaction: at once on an ``InlineWriter``, else one trip to
        the connection's thread (Piccolo's own takes three: it sets ``foreign_keys`` again,
        executes, then fetches; every connection here has the pragma set when it opens)."""
        if query_type == "insert" and sqlite3.sqlite_version_info < (3, 35):
            return await super()._run_in_existing_connection(connection, query, args, query_type, table)
        if isinstance(connection, InlineWriter):
            return connection.fetchall(query, args or [])
        return await connection.execute_fetchall(query, args or [])


@functools.cache
def get_engine() -> Engine:
    return engine_for(get_settings())


def bind_tables(engine: Engine | None = None) -> Engine:
    """Point every table at the engine the settings choose (and Piccolo's tools at us)."""
    os.environ["PICCOLO_CONF"] = PICCOLO_CONF
    engine = engine or get_engine()
    for table in ALL_TABLES:
        table._meta.db = engine
    return engine


def prepare_sqlite(settings: Settings) -> None:
    """WAL is a property of the file: set it once, before anything else opens it."""
    if settings.is_postgres:
        return
    path = settings.sqlite_path
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode=wal")
        conn.execute("PRAGMA synchronous=normal")


async def migrate(settings: Settings | None = None) -> list[str]:
    """Apply every pending migration; returns the ids applied."""
    from piccolo.apps.migrations.commands.forwards import ForwardsMigrationManager

    settings = settings or get_settings()
    prepare_sqlite(settings)
    bind_tables()
    manager = ForwardsMigrationManager(app_name="kameng", migration_id="all", fake=False)
    result = await manager.run()
    if not result.success:
        raise RuntimeError(f"migration failed: {result.message}")
    return [result.message]


async def ping(timeout: float = 2.0) -> str | None:
    """None when the database answers, else why not."""
    import asyncio

    try:
        await asyncio.wait_for(get_engine().run_ddl("SELECT 1"), timeout)
    except Exception as exc:  # the reason is reported, not swallowed
        return f"{type(exc).__name__}: {exc}"
    return None


async def start_pool() -> bool:
    """Start the PostgreSQL pool unless one runs already; True when this call started it."""
    engine = get_engine()
    if isinstance(engine, PostgresEngine) and engine.pool is None:
        await engine.start_connection_pool(min_size=1, max_size=10)
        return True
    return False


async def close_pool() -> None:
    engine = get_engine()
    if isinstance(engine, PostgresEngine) and engine.pool is not None:
        await engine.close_connection_pool()
        engine.pool = None


def describe(settings: Settings) -> str:
    if settings.is_postgres:
        url = urlparse(settings.resolved_database_url)
        return f"postgresql://{url.hostname}:{url.port or 5432}{url.path}"
    return f"sqlite:///{settings.sqlite_path}"


class _ImmediateTransaction(SQLiteTransaction):
    """``BEGIN IMMEDIATE`` that cannot leak the write lock when its caller is cancelled, on
    the loop's ``InlineWriter`` when the lock is free, else on a pooled connection.

    Waiting for the lock happens in aiosqlite's thread; a task cancelled meanwhile (an
    activity timing out, a worker shutting down) would otherwise leave a connection that
    acquires the lock later and never releases it. Here the BEGIN runs to its end, and a
    cancelled caller's connection is rolled back and closed.

    The connection comes from the engine's pool (``PooledSQLiteEngine``) and goes back to it
    once committed or rolled back: opening one (a thread, the file, its pragmas) cost more
    than the short transactions of a process step take. One that failed to end is closed.
    """

    __slots__ = ()

    async def get_connection(self):  # type: ignore[no-untyped-def]
        if isinstance(self.engine, PooledSQLiteEngine):
            return await self.engine.lend()
        return await super().get_connection()

    async def __aexit__(self, exception_type, exception, traceback) -> bool:  # type: ignore[no-untyped-def]
        if self._parent:
            return exception is None
        ended = False
        try:
            if exception:
                if not self._rolled_back:
                    await self.rollback()
            elif not self._committed and not self._rolled_back:
                await self.commit()
            ended = True
        finally:
            self.engine.current_transaction.reset(self.context)
            connection = self.connection
            if isinstance(connection, InlineWriter):
                self.engine.give_back_writer(connection)
            elif ended and isinstance(self.engine, PooledSQLiteEngine):
                await self.engine.give_back(connection)
            else:
                await connection.close()
        return exception is None

    async def __aenter__(self) -> SQLiteTransaction:
        if self._parent is not None:
            return self._parent
        if isinstance(self.engine, PooledSQLiteEngine) and (writer := self.engine.take_writer()) is not None:
            self.connection = writer
            self.context = self.engine.current_transaction.set(self)
            return self
        self.connection = await self.get_connection()
        begin = asyncio.ensure_future(self.begin())
        try:
            await asyncio.shield(begin)
        except BaseException:
            _CLEANUPS.add(task := asyncio.ensure_future(self._abandon(begin)))
            task.add_done_callback(_CLEANUPS.discard)
            raise
        self.context = self.engine.current_transaction.set(self)
        return self

    async def _abandon(self, begin: asyncio.Future) -> None:
        try:
            await begin
            await self.connection.execute("ROLLBACK")
        except Exception as exc:  # the lock was never taken, or is released by closing
            log.debug("abandoned transaction: %s", exc)
        finally:
            await self.connection.close()


_CLEANUPS: set[asyncio.Future] = set()


def write_transaction(engine: Engine | None = None):
    """A transaction that takes the write lock up front (SQLite ``BEGIN IMMEDIATE``)."""
    engine = engine or get_engine()
    if isinstance(engine, SQLiteEngine):
        return _ImmediateTransaction(engine=engine, transaction_type=TransactionType.immediate)
    return engine.transaction()


async def serialize_writers(key: int, engine: Engine | None = None) -> None:
    """Inside a write transaction: make concurrent writers of ``key`` take turns.

    SQLite already serializes writers with ``BEGIN IMMEDIATE``; PostgreSQL takes a
    transaction-scoped advisory lock.
    """
    engine = engine or get_engine()
    if isinstance(engine, PostgresEngine):
        from piccolo.querystring import QueryString

        await engine.run_querystring(QueryString("SELECT pg_advisory_xact_lock({})", key))
