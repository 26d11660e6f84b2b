"""Shared fixtures: one migrated database per run (SQLite, or PostgreSQL when asked), the
demo platform, and a Temporal time-skipping environment.

``KAMENG_TEST_POSTGRES=postgresql://...`` runs the database tests against a fresh database
created on that server; if the server is unreachable the run stops with an error.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

_TMP = Path(tempfile.mkdtemp(prefix="kameng-test-"))
_PG_ADMIN_URL = os.environ.get("KAMENG_TEST_POSTGRES", "")
_PG_DB = f"kameng_test_{uuid.uuid4().hex[:10]}"

# Settings are read lazily and cached; fix them before anything reads them.
os.environ["KAMENG_VAR_DIR"] = str(_TMP / "var")
os.environ["KAMENG_DEMO_PASSWORD"] = "kameng-demo"
# The time-skipping test server has no operator service to register search attributes with;
# tests on the real dev server turn them back on.
os.environ["KAMENG_SEARCH_ATTRIBUTES"] = "false"
# Workers started as processes (scale-out, `kameng dev`) leave the shared test database's
# risk reviews alone; the risk tests start the standing scan themselves.
os.environ.setdefault("KAMENG_RISK_SCAN_SECONDS", "0")
if _PG_ADMIN_URL:
    os.environ["KAMENG_DATABASE_URL"] = _PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + _PG_DB
else:
    os.environ["KAMENG_DATABASE_URL"] = f"sqlite:///{_TMP / 'var' / 'kameng.db'}"
    # A run started by a test (tests/infra/test_scaffold.py) starts from the demo platform the
    # outer run seeded, instead of seeding its own.
    if os.environ.get("KAMENG_TEST_SEEDED_DB"):
        (_TMP / "var").mkdir(parents=True, exist_ok=True)
        shutil.copy(os.environ["KAMENG_TEST_SEEDED_DB"], _TMP / "var" / "kameng.db")
_SEEDED_COPY = _TMP / "seeded.db"


def _pg_admin(sql: str) -> None:
    import asyncpg

    async def run() -> None:
        conn = await asyncpg.connect(_PG_ADMIN_URL, timeout=5)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run())


def pytest_configure(config: pytest.Config) -> None:
    if _PG_ADMIN_URL:
        try:
            _pg_admin(f'CREATE DATABASE "{_PG_DB}"')
        except Exception as exc:
            pytest.exit(
                f"PostgreSQL at {_PG_ADMIN_URL} is unreachable ({exc}): "
                "the PostgreSQL pass cannot run",
                returncode=3,
            )
        print(f"\n[kameng] database tests run on PostgreSQL ({_PG_DB})", file=sys.stderr)


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """The seed tests inspect the freshly seeded platform (exact counts, untouched history),
    so they run before any test adds merchants, orders or price changes."""
    items.sort(key=lambda item: 0 if item.nodeid.startswith("tests/infra/test_seed.py") else 1)


# With pytest-xdist (`make test` runs two workers), each worker is a whole run of its own: its
# own temporary directory, database (SQLite file or PostgreSQL database), demo platform and
# servers, all set up above at import. Tests are handed out in groups, in collection order
# (so each worker runs its share in the order a single run would, seed tests first): a module
# at a time, and a whole directory where its modules share processes too dear to start twice.
XDIST_DIRECTORY_GROUPS = (
    "tests/web/",  # one Chromium, one Temporal dev server, one web app
    "tests/reliability/",  # one product stack (Temporal, worker and web app as processes)
)


def xdist_group(nodeid: str) -> str:
    path = nodeid.split("::", 1)[0]
    return next((d for d in XDIST_DIRECTORY_GROUPS if path.startswith(d)), path)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):  # type: ignore[no-untyped-def]
    """``-n N`` (``--dist load``, its default) schedules by the groups above."""
    if config.getvalue("dist") != "load":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class GroupScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return xdist_group(nodeid)

    config.option.loadscopereorder = False  # keep collection order
    return GroupScheduling(config, log)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    if _PG_ADMIN_URL:
        try:
            _pg_admin(f'DROP DATABASE IF EXISTS "{_PG_DB}" WITH (FORCE)')
        except Exception as exc:  # reported; the run's own result stands
            print(f"[kameng] could not drop {_PG_DB}: {exc}", file=sys.stderr)
    shutil.rmtree(_TMP, ignore_errors=True)
    # The Temporal SDK's Rust threads can crash interpreter teardown (sdk-python#300):
    # leave with the real status before that can happen.
    status = getattr(config, "_kameng_exitstatus", None)
    if status is not None:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(int(status))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    session.config._kameng_exitstatus = exitstatus  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def tmp_root() -> Path:
    return _TMP


@pytest.fixture(scope="session")
async def database():
    """The migrated, empty-schema database every database test shares."""
    from infra.db.engine import bind_tables, close_pool, migrate, start_pool

    bind_tables()
    await migrate()
    await start_pool()
    yield
    await close_pool()


@pytest.fixture(scope="session")
async def demo(database):
    """The demo platform, seeded once per run.

    Its passwords are hashed with Argon2id at the lowest work factor (the product's default
    costs a tenth to a quarter of a CPU-second per sign-in, and the tests sign in hundreds of times
    across the processes they start: every verification follows the parameters in the stored
    hash). Hashes the product makes itself (a changed password, `kameng dev`'s own demo
    platform) keep its defaults."""
    from argon2 import PasswordHasher

    from infra import accounts
    from infra.seed import seed

    product_hasher, accounts._hasher = accounts._hasher, PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    try:
        summary = await seed()
    finally:
        accounts._hasher = product_hasher
    if os.environ["KAMENG_DATABASE_URL"].startswith("sqlite:///"):
        # A copy as seeded, before any test changes it, for the product runs tests start on a
        # database of their own (seeding takes seconds; copying it, a fraction of one).
        import sqlite3

        def copy() -> None:
            with sqlite3.connect(os.environ["KAMENG_DATABASE_URL"].removeprefix("sqlite:///")) as conn:
                conn.execute("VACUUM INTO ?", (str(_SEEDED_COPY),))

        await asyncio.to_thread(copy)
    return summary


@pytest.fixture(scope="session")
def seeded_sqlite(demo) -> Path | None:
    """The SQLite database as the demo platform left it (None on PostgreSQL)."""
    return _SEEDED_COPY if _SEEDED_COPY.exists() else None


async def time_skipping_env():
    """A time-skipping test server (the pip-installed binary, never a download)."""
    from temporalio.testing import WorkflowEnvironment

    from infra.temporal.binaries import temporal_test_server
    from infra.telemetry import tracing_interceptors
    from infra.temporal.converter import DATA_CONVERTER

    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(temporal_test_server()),
        data_converter=DATA_CONVERTER,
        interceptors=tracing_interceptors(),
    )
    yield env
    await env.shutdown()
    await asyncio.sleep(0.3)


@pytest.fixture(scope="session")
async def temporal_env():
    """The process tests' test server. Its clock is global: the API and telemetry tests have
    servers of their own (tests/api/conftest.py, tests/infra/conftest.py), so nothing they
    leave behind can hold this clock still."""
    async for env in time_skipping_env():
        yield env


class Harness:
    """A worker on its own task queue, and helpers to drive processes through it."""

    def __init__(self, env, task_queue: str) -> None:
        self.env = env
        self.client = env.client
        self.task_queue = task_queue
        self.started: list[str] = []
        self.audit_mark = 0

    async def start(self, kind: str, by, body, *, key: str | None = None, timings=None, history_limit: int = 2000) -> str:
        from infra.temporal.processes import start_process
        from workflows.process import ProcessConfig
        from workflows.registry import BY_KIND

        config = ProcessConfig(timings=timings or {}, search_attributes=False, history_limit=history_limit)
        process_id = await start_process(
            self.client, BY_KIND[kind], by=by, body=body, key=key or uuid.uuid4().hex[:8],
            task_queue=self.task_queue, config=config,
        )
        self.started.append(process_id)
        return process_id

    async def terminate_all(self, record_as: str | None = None) -> None:
        """End what a test left running: parked workflows keep the test server from skipping time.

        With ``KAMENG_RECORD_HISTORIES=1`` each history is first saved for the replay tests.
        """
        for process_id in self.started:
            handle = self.client.get_workflow_handle(process_id)
            if record_as and os.environ.get("KAMENG_RECORD_HISTORIES") == "1":
                await settle_activities(handle)
                await record_history(handle, record_as)
        # Processes the test's processes started (children, bans opened by a risk review)
        # live on this task queue too, and its worker is about to stop.
        for process_id in self.started + [p for p in await processes_since(self.audit_mark) if p not in self.started]:
            await terminate_quietly(self.client.get_workflow_handle(process_id))

    async def act(self, process_id: str, actor, action: str, body=None, *, task_id=None, request_id=None):
        from infra.temporal.processes import act
        from workflows.process import ActInput

        return await act(
            self.client, process_id,
            ActInput(actor=actor, action=action, request_id=request_id or uuid.uuid4().hex, task_id=task_id, body=body or {}),
        )

    async def view(self, process_id: str):
        from infra.temporal.processes import view

        return await view(self.client, process_id)

    async def wait_for(self, process_id: str, predicate, timeout: float = 10.0):
        """Poll the process view until ``predicate(view)`` holds (no time skipping meanwhile).

        The view is asked for only between workflow tasks: a query that arrives while a task
        runs its local activities makes the worker answer it on a workflow task of its own."""
        deadline = asyncio.get_running_loop().time() + timeout
        handle = self.client.get_workflow_handle(process_id)
        while True:
            while (await handle.describe()).raw_description.HasField("pending_workflow_task"):
                if asyncio.get_running_loop().time() > deadline:
                    break
                await asyncio.sleep(0.01)
            current = await self.view(process_id)
            if predicate(current):
                return current
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"condition never held; last view: {current}")
            await asyncio.sleep(0.05)

    async def task_row(self, process_id: str, timeout: float = 10.0) -> dict:
        """The open task's row in the inbox table, once the process has recorded it (the view
        shows a task a moment before its row is written)."""
        from infra.db.tables import Task

        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            row = await Task.select().where((Task.process_id == process_id) & Task.status.is_in(["open", "claimed"])).first()
            if row is not None:
                return row
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"no open task row for {process_id}")
            await asyncio.sleep(0.05)

    async def result(self, process_id: str):
        """The process's result; time skips ahead while waiting for it."""
        async with self.env.time_skipping_unlocked():
            return await self.client.get_workflow_handle(process_id).result()

    async def skip(self, duration) -> None:
        await self.env.sleep(duration)


async def settle_activities(handle, timeout: float = 10.0) -> None:
    """Wait until the workflow has no activity running and no workflow task under way (a
    step's local activities are recorded when its workflow task completes)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        raw = (await handle.describe()).raw_description
        if not raw.pending_activities and not raw.HasField("pending_workflow_task"):
            return
        await asyncio.sleep(0.05)


async def audit_head() -> int:
    from infra.db.tables import AuditEvent

    head = await AuditEvent.select(AuditEvent.seq).order_by(AuditEvent.seq, ascending=False).first()
    return head["seq"] if head else 0


async def processes_since(seq: int) -> list[str]:
    """Every process that wrote to the audit trail after ``seq`` (every process audits its start)."""
    from infra.db.tables import AuditEvent

    rows = await AuditEvent.select(AuditEvent.process_id).where((AuditEvent.seq > seq) & AuditEvent.process_id.is_not_null()).distinct()
    return [r["process_id"] for r in rows]


async def terminate_quietly(handle) -> None:
    """End a workflow a test left running. Terminating one while its activity runs leaves the
    time-skipping server's clock locked for the rest of the run, so activities finish first."""
    try:
        await settle_activities(handle)
        await handle.terminate("test finished")
    except Exception:  # already finished: nothing to end
        pass


HISTORIES = Path(__file__).parent / "workflows" / "histories"


async def record_history(handle, test_name: str) -> None:
    """Save a workflow's history (one file per process kind and test) for replay tests."""
    import re

    history = await handle.fetch_history()
    from infra.temporal.processes import spec_of

    spec = spec_of(handle.id)
    kind = spec.kind if spec is not None else "unknown"
    name = re.sub(r"[^a-z0-9_]+", "_", test_name.lower()).strip("_")[:80]
    HISTORIES.mkdir(parents=True, exist_ok=True)
    path = HISTORIES / f"{kind}--{name}.json"
    if path.exists():
        return
    # The time-skipping server orders some update/timer events unlike the real server, and
    # such a history cannot replay even on the code that made it: keep only those that do.
    # Checked in a fresh interpreter, exactly as the replay test will run it. The workflow id
    # goes with the history: task ids in recorded actions contain it.
    path.write_text(json.dumps({"workflow_id": handle.id, "history": json.loads(history.to_json())}, ensure_ascii=False))
    check = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
        f"tests/workflows/test_replay.py::test_history_replays[{path.stem}]",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )
    if await check.wait() != 0:
        path.unlink()
        print(f"[kameng] not recorded (test-server event order): {path.name}", file=sys.stderr)


@pytest.fixture
async def harness(temporal_env, database, request):
    from infra.temporal.worker import build_worker

    queue = f"kameng-test-{uuid.uuid4().hex[:8]}"
    worker = build_worker(temporal_env.client, task_queue=queue)
    harness = Harness(temporal_env, queue)
    harness.audit_mark = await audit_head()
    async with worker:
        yield harness
        await harness.terminate_all(record_as=request.node.name)


@pytest.fixture(scope="session")
async def dev_server(tmp_root):
    """The real Temporal dev server from pip (SQLite with the WAL pragmas, search attributes)."""
    from temporalio.testing import WorkflowEnvironment

    from infra.temporal.binaries import temporal_cli
    from infra.telemetry import tracing_interceptors
    from infra.temporal.converter import DATA_CONVERTER
    from infra.temporal.devserver import SQLITE_PRAGMAS
    from workflows.process import KIND, REGION, STATUS, TIER

    extra: list[str] = []
    for pragma in SQLITE_PRAGMAS:
        extra += ["--sqlite-pragma", pragma]
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(temporal_cli()),
        dev_server_database_filename=str(tmp_root / "temporal-dev.db"),
        dev_server_extra_args=extra,
        search_attributes=[KIND, REGION, TIER, STATUS],
        data_converter=DATA_CONVERTER,
        interceptors=tracing_interceptors(),
    )
    yield env
    await env.shutdown()
    await asyncio.sleep(0.3)
