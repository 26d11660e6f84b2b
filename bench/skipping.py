"""Figure 5: processes on the time-skipping test server, as the process tests run them.

``python -m bench.skipping COUNT ROUNDS`` (its own OS process, on a scratch SQLite database
with the demo platform): a worker built like the tests' (``build_worker``), and per process
what ``tests/workflows/test_permission_grant.py`` does: a normal admin asks for a 30-day
grant, the regional of the region approves it, and the result is awaited while the server
skips the 30 days to its expiry. Prints the wall milliseconds per process of each round.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.core import Figure, Spread

TARGET_MS = 50.0
REGIONS = ("game-items", "mobile-topup", "game-cards", "east-china")


async def _measure(count: int, rounds: int) -> list[float]:
    from temporalio.testing import WorkflowEnvironment

    from infra.accounts import load_actor
    from infra.db.engine import bind_tables, close_pool, migrate, start_pool
    from infra.seed import seed
    from infra.temporal.binaries import temporal_test_server
    from infra.telemetry import tracing_interceptors
    from infra.temporal.converter import DATA_CONVERTER
    from infra.temporal.processes import act, start_process, view
    from infra.temporal.worker import build_worker
    from workflows.permission_grant import RequestGrantInput
    from workflows.process import ActInput, ProcessConfig
    from workflows.registry import BY_KIND

    bind_tables()
    await migrate()
    await start_pool()
    await seed()
    since = datetime.now(UTC) - timedelta(days=400)
    requesters = [await load_actor(f"normal-{r}-1", since) for r in REGIONS]
    approvers = [await load_actor(f"regional-{r}", since) for r in REGIONS]
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(temporal_test_server()), data_converter=DATA_CONVERTER, interceptors=tracing_interceptors(),
    )
    spec = BY_KIND["permission-grant"]
    config = ProcessConfig(timings={}, search_attributes=False, history_limit=2000)
    body = RequestGrantInput(permission="products.classify", scope="region", duration=timedelta(days=30), justification="大促期间商品分类")

    async def until_task(pid: str):
        """The process's view once it shows its task, asked for as ``Harness.wait_for`` asks
        (tests/conftest.py): only between workflow tasks, since a query that arrives while
        one runs its local activities costs the process a workflow task of its own."""
        handle = env.client.get_workflow_handle(pid)
        while True:
            while (await handle.describe()).raw_description.HasField("pending_workflow_task"):
                await asyncio.sleep(0.01)
            if (current := await view(env.client, pid)).tasks:
                return current
            await asyncio.sleep(0.05)

    async def one(n: int) -> None:
        pid = await start_process(env.client, spec, by=requesters[n % 4], body=body, key=uuid.uuid4().hex[:8], task_queue=queue, config=config)
        current = await until_task(pid)
        await act(env.client, pid, ActInput(actor=approvers[n % 4], action="approve", request_id=uuid.uuid4().hex,
                                            task_id=current.tasks[0].task_id, body={"reason": "大促"}))
        async with env.time_skipping_unlocked():
            outcome = await env.client.get_workflow_handle(pid).result()
        assert outcome["status"] == "expired", outcome

    queue = f"bench-skip-{uuid.uuid4().hex[:6]}"
    per_round: list[float] = []
    try:
        async with build_worker(env.client, task_queue=queue):
            await one(0)  # warm: the sandbox imports the workflow modules once
            for _ in range(rounds):
                start = time.perf_counter()
                for n in range(count):
                    await one(n)
                per_round.append((time.perf_counter() - start) * 1000 / count)
    finally:
        await env.shutdown()
        await close_pool()
    return per_round


def run(*, quick: bool) -> list[Figure]:
    count, rounds = (10, 3) if quick else (20, 5)
    folder = Path(tempfile.mkdtemp(prefix="kameng-bench-skip-"))
    env = {**os.environ, "KAMENG_DATABASE_URL": f"sqlite:///{folder / 'kameng.db'}", "OTEL_SDK_DISABLED": "true"}
    try:
        out = subprocess.run([sys.executable, "-m", "bench.skipping", str(count), str(rounds)], env=env, capture_output=True, text=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-3000:])
    per_round = json.loads(out.stdout.strip().splitlines()[-1])
    ratios = Spread.of([ms / TARGET_MS for ms in per_round])
    spread = Spread.of(per_round)
    return [Figure(
        key="5", title="process tests: ms per simulated 30-day process", target="≤ 50 ms", value=spread.median,
        spread=spread, passed=spread.median <= TARGET_MS, fmt="{:.0f}", unit=" ms",
        peers={"ms_per_process": spread, "ratio_to_target": ratios},
        note=f"{count} permission grants per round, one after another (start, approve, await the expiry 30 days later) on "
        f"the time-skipping server with the tests' worker; median {ratios.median:.2f}× the 50 ms target",
    )]


if __name__ == "__main__":
    print(json.dumps(asyncio.run(_measure(int(sys.argv[1]), int(sys.argv[2])))))
