"""Figure 2: the dev server's SQLite settings, signal→completion of a minimal workflow.

Two dev servers run side by side from the same pip binary, one with Temporal's default
SQLite settings and one with the pragmas ``make dev`` passes (``infra/temporal/devserver.py``);
each round starts a batch of workflows that wait for a signal, then times how fast the
signals turn into completed workflows, on one server and then the other.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import timedelta
from pathlib import Path

from temporalio import workflow
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from bench.core import Figure, ratio_figure
from infra.temporal.binaries import temporal_cli
from infra.temporal.devserver import SQLITE_PRAGMAS


@workflow.defn(name="BenchWaitForSignal")
class WaitForSignal:
    def __init__(self) -> None:
        self.done = False

    @workflow.run
    async def run(self) -> str:
        await workflow.wait_condition(lambda: self.done)
        return "ok"

    @workflow.signal
    def go(self) -> None:
        self.done = True

    @workflow.query
    def state(self) -> bool:
        return self.done


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@asynccontextmanager
async def dev_server(pragmas: tuple[str, ...]):
    async with dev_server_process(pragmas) as (client, _proc, _db):
        yield client


@asynccontextmanager
async def dev_server_process(pragmas: tuple[str, ...]):
    """A dev server of its own: (client, its process, its SQLite file)."""
    folder = Path(tempfile.mkdtemp(prefix="kameng-bench-temporal-"))
    port, ui = _free_port(), _free_port()
    cmd = [str(temporal_cli()), "server", "start-dev", "--db-filename", str(folder / "t.db"), "--ip", "127.0.0.1",
           "--port", str(port), "--ui-port", str(ui), "--headless", "--log-level", "error"]
    for pragma in pragmas:
        cmd += ["--sqlite-pragma", pragma]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                client = await Client.connect(f"127.0.0.1:{port}")
                await client.workflow_service.get_system_info(GetSystemInfoRequest())
                break
            except Exception:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the dev server {pragmas} did not start") from None
                await asyncio.sleep(0.3)
        yield client, proc, folder / "t.db"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(folder, ignore_errors=True)


async def signal_to_completion(client: Client, queue: str, count: int) -> float:
    """Start ``count`` waiting workflows, then signal them all; completions per second."""
    handles = await asyncio.gather(*(
        client.start_workflow(WaitForSignal.run, id=f"bench-{uuid.uuid4().hex}", task_queue=queue,
                              execution_timeout=timedelta(minutes=5))
        for _ in range(count)
    ))
    await asyncio.sleep(0.5)  # every first workflow task has run: they all wait now
    start = time.perf_counter()

    async def one(handle) -> None:
        await handle.signal(WaitForSignal.go)
        await handle.result()

    await asyncio.gather(*(one(h) for h in handles))
    return count / (time.perf_counter() - start)


async def _run(quick: bool) -> list[Figure]:
    count = 40 if quick else 100
    rounds = 3 if quick else 5
    async with AsyncExitStack() as stack:
        sides = {}
        for name, pragmas in (("wal", SQLITE_PRAGMAS), ("default", ())):
            client = await stack.enter_async_context(dev_server(pragmas))
            queue = f"bench-{name}"
            await stack.enter_async_context(Worker(
                client, task_queue=queue, workflows=[WaitForSignal], workflow_runner=UnsandboxedWorkflowRunner(),
                max_concurrent_workflow_tasks=50,
            ))
            sides[name] = (client, queue)
        for client, queue in sides.values():
            await signal_to_completion(client, queue, 10)  # warm
        results: dict[str, list[float]] = {"wal": [], "default": []}
        for r in range(rounds):
            for name in (("wal", "default") if r % 2 == 0 else ("default", "wal")):
                client, queue = sides[name]
                results[name].append(await signal_to_completion(client, queue, count))
    wal_on = "journal_mode=wal" in SQLITE_PRAGMAS and "synchronous=normal" in SQLITE_PRAGMAS
    return [
        ratio_figure(
            "2a", "dev server: WAL pragmas vs defaults", "≥ 1.9×", results["wal"], results["default"], at_least=1.9,
            names=("wal", "default"),
            note=f"signal→completion of {count} waiting workflows per round; make dev passes {' '.join(SQLITE_PRAGMAS)}"
            + ("" if wal_on else " (WAL NOT configured)"),
        ),
    ]


def run(*, quick: bool) -> list[Figure]:
    return asyncio.run(_run(quick))
