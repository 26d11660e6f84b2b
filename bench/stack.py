"""Figures 2b, 2c, 3c and 4: the product as it runs (``kameng worker``, ``kameng web``, the dev
server with ``make dev``'s pragmas and search attributes), beside the raw SDK on the same server.

- 2b/2c: one human step through the API (approve a permission grant as a super: HTTP → policy
  → update → task and audit writes → the task gone from the inbox) against a minimal workflow's
  signal→completion on the same Temporal server, its worker in an OS process of its own; CPU
  per step from ``/proc/<pid>/stat`` of the server's and the worker's process groups.
- 3c: a process-status read (``GET /api/processes/{kind}/{id}/status``, from Kameng's
  database) against hello world, both granian with one worker; beside it, for reference, the
  SDK's own workflow query rate (what the full view, ``GET /api/processes/{kind}/{id}``, is
  bounded by).
- 4: processes waiting on people: Kameng permission grants on this stack beside minimal
  waiting workflows on a second dev server of their own; worker RSS, and server RSS and
  database size per waiting process.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import AsyncExitStack, ExitStack
from datetime import timedelta
from pathlib import Path

import httpx
from temporalio.client import Client

from bench.core import Figure, Spread, ratio_figure
from bench.temporal import WaitForSignal, dev_server_process
from bench.web import server, wrk
from infra.temporal.devserver import SQLITE_PRAGMAS
from infra.stack import Child, Stack

REGIONS = ("game-items", "mobile-topup", "game-cards", "east-china")
SUPER = "station-master"
GRANT = {"permission": "products.classify", "scope": "region", "duration": "P30D", "justification": "压测：大促期间商品分类"}
TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


# -- /proc -----------------------------------------------------------------------------------

def group(pgid: int) -> list[int]:
    """The process and every live process of its group (the stack's children lead sessions of their own)."""
    pids = [pgid]
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid and int(entry) != pgid:
                pids.append(int(entry))
    return pids


def cpu_seconds(pgid: int) -> float:
    """utime + stime of a process group's live processes."""
    total = 0
    for pid in group(pgid):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / TICK


def rss_mb(pgid: int) -> float:
    total = 0
    for pid in group(pgid):
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
        except OSError:
            continue
    return total / 2**20


def db_bytes(path: Path) -> int:
    """The SQLite file once its WAL is checkpointed into it (passively: the server keeps running)."""
    try:
        with sqlite3.connect(path, timeout=30) as conn:
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
    except sqlite3.Error:
        pass
    return path.stat().st_size


def db_tables(path: Path) -> dict[str, int]:
    """Bytes of each table and index of a SQLite file (its ``dbstat``), the visibility
    store's indexes (``by_*``) summed as one."""
    sizes: dict[str, int] = {}
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30) as conn:
            for name, size in conn.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name"):
                key = "visibility indexes" if name.startswith("by_") else name
                sizes[key] = sizes.get(key, 0) + size
    except sqlite3.Error:
        pass
    return sizes


def where_bytes_go(before: dict[str, int], after: dict[str, int], processes: int) -> dict[str, float]:
    """KB per process that each table grew by, largest first (the profile behind 4c)."""
    grown = {name: (after.get(name, 0) - before.get(name, 0)) / 1024 / processes for name in after}
    return dict(sorted(((k, round(v, 2)) for k, v in grown.items() if abs(v) >= 0.05), key=lambda kv: -kv[1]))


# -- the stack -------------------------------------------------------------------------------

class Bench:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.db = root / "kameng.db"
        self.stack = Stack(root=root, database_url=f"sqlite:///{self.db}")
        self.raw: Child | None = None
        self.tokens: dict[str, dict[str, str]] = {}
        self.http: httpx.AsyncClient | None = None
        self.client: Client | None = None
        self.raw_queue = f"bench-raw-{uuid.uuid4().hex[:6]}"

    async def start(self) -> None:
        env = self.stack.env()
        for command in ("migrate", "seed"):
            subprocess.run([sys.executable, "-m", "infra.cli", command], env=env, check=True, capture_output=True)
        await self.stack.start(workers=1)
        self.raw = Child("raw-worker", [sys.executable, "-m", "bench.rawworker", self.stack.temporal_address, self.raw_queue],
                         env, self.root / "raw-worker.log")
        self.raw.start()
        await self.stack.until(lambda: "raw worker polling" in self.raw.log.read_text(errors="replace"), "raw worker polling")
        self.http = httpx.AsyncClient(base_url=self.stack.base_url, timeout=120,
                                      limits=httpx.Limits(max_connections=64, max_keepalive_connections=64))
        self.client = await Client.connect(self.stack.temporal_address)
        for name in (SUPER, *(f"normal-{r}-1" for r in REGIONS)):
            response = await self.http.post("/api/auth/login", json={"username": name, "password": "kameng-demo"})
            response.raise_for_status()
            self.tokens[name] = {"Authorization": f"Bearer {response.json()['token']}"}

    async def close(self) -> None:
        if self.http is not None:
            await self.http.aclose()
        if self.raw is not None:
            self.raw.stop()
        self.stack.close()

    @property
    def pgids(self) -> dict[str, int]:
        return {"server": self.stack.temporal.process.pid, "worker": self.stack.workers[0].process.pid,
                "web": self.stack.web.process.pid, "raw_worker": self.raw.process.pid}

    # -- Kameng: start grants, approve them as a super ---------------------------------------

    async def start_grants(self, count: int, concurrency: int = 16) -> list[str]:
        assert self.http is not None
        ids: list[str] = []
        queue = list(range(count))

        async def starter() -> None:
            while queue:
                n = queue.pop()
                region = REGIONS[n % len(REGIONS)]
                response = await self.http.post(
                    "/api/processes/permission-grant", json=GRANT,
                    headers={**self.tokens[f"normal-{region}-1"], "Idempotency-Key": uuid.uuid4().hex},
                )
                assert response.status_code == 201, response.text
                ids.append(response.json()["process_id"])

        await asyncio.gather(*(starter() for _ in range(concurrency)))
        return ids

    async def open_tasks(self, ids: list[str], timeout: float = 600) -> dict[str, tuple[str, str]]:
        """process id -> (task id, region), once every process's task row is written."""
        wanted = set(ids)
        deadline = time.monotonic() + timeout
        while True:
            found: dict[str, tuple[str, str]] = {}
            with sqlite3.connect(self.db, timeout=30) as conn:
                for chunk in range(0, len(ids), 500):
                    part = ids[chunk:chunk + 500]
                    rows = conn.execute(
                        f"SELECT process_id, task_id, region FROM task WHERE status = 'open' AND process_id IN ({','.join('?' * len(part))})", part,
                    ).fetchall()
                    found |= {p: (t, r) for p, t, r in rows if p in wanted}
            if len(found) == len(wanted):
                return found
            if time.monotonic() > deadline:
                raise RuntimeError(f"{len(wanted) - len(found)} of {len(wanted)} processes have no open task after {timeout:.0f}s")
            await asyncio.sleep(0.3)

    async def approve(self, pid: str, task: str, region: str) -> None:
        assert self.http is not None
        headers = self.tokens[SUPER]
        response = await self.http.post(
            f"/api/processes/permission-grant/{pid}/actions/approve", params={"task_id": task},
            json={"reason": "压测"}, headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
        )
        assert response.status_code == 200, response.text
        while True:  # the step is done when the task has left the super's inbox
            inbox = await self.http.get("/api/inbox", params={"kind": "permission-grant", "region": region, "limit": 200}, headers=headers)
            assert inbox.status_code == 200, inbox.text
            if all(item["id"] != task for item in inbox.json()["items"]):
                return
            await asyncio.sleep(0.02)

    async def kameng_steps(self, count: int, concurrency: int) -> tuple[float, dict[str, float]]:
        """(steps/s, CPU s per step of each process group: server, worker, web, raw_worker)."""
        ids = await self.start_grants(count)
        tasks = await self.open_tasks(ids)
        work = list(tasks.items())
        before = {k: cpu_seconds(v) for k, v in self.pgids.items()}
        start = time.perf_counter()

        async def taker() -> None:
            while work:
                pid, (task, region) = work.pop()
                await self.approve(pid, task, region)

        await asyncio.gather(*(taker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
        after = {k: cpu_seconds(v) for k, v in self.pgids.items()}
        return count / elapsed, {k: (after[k] - before[k]) / count for k in before}

    # -- the raw SDK: signal → completion on the same server ---------------------------------

    async def raw_steps(self, count: int, concurrency: int) -> tuple[float, dict[str, float]]:
        """(steps/s, CPU s per step of each process group)."""
        assert self.client is not None
        handles = await asyncio.gather(*(
            self.client.start_workflow(WaitForSignal.run, id=f"bench-raw-{uuid.uuid4().hex}", task_queue=self.raw_queue,
                                       execution_timeout=timedelta(minutes=10))
            for _ in range(count)
        ))
        for handle in handles:  # every one is waiting for its signal before the clock starts
            while True:
                history = [e async for e in handle.fetch_history_events()]
                if any(e.HasField("workflow_task_completed_event_attributes") for e in history):
                    break
                await asyncio.sleep(0.05)
        work = list(handles)
        before = {k: cpu_seconds(v) for k, v in self.pgids.items()}
        start = time.perf_counter()

        async def taker() -> None:
            while work:
                handle = work.pop()
                await handle.signal(WaitForSignal.go)
                await handle.result()

        await asyncio.gather(*(taker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
        after = {k: cpu_seconds(v) for k, v in self.pgids.items()}
        return count / elapsed, {k: (after[k] - before[k]) / count for k in before}


# -- figures ---------------------------------------------------------------------------------

async def _steps(bench: Bench, quick: bool) -> list[Figure]:
    count = 16 if quick else 60
    rounds = 3 if quick else 5
    concurrency = 8
    await bench.kameng_steps(8, concurrency)  # warm both paths
    await bench.raw_steps(8, concurrency)
    ours: dict[str, list[float]] = {"rate": [], "cpu": [], "server": [], "worker": [], "web": []}
    peer: dict[str, list[float]] = {"rate": [], "cpu": [], "server": [], "worker": []}
    for r in range(rounds):
        for side in (("kameng", "raw") if r % 2 == 0 else ("raw", "kameng")):
            if side == "kameng":
                rate, cpu = await bench.kameng_steps(count, concurrency)
                ours["rate"].append(rate)
                ours["cpu"].append((cpu["server"] + cpu["worker"]) * 1000)
                for k in ("server", "worker", "web"):
                    ours[k].append(cpu[k] * 1000)
            else:
                rate, cpu = await bench.raw_steps(count, concurrency)
                peer["rate"].append(rate)
                peer["cpu"].append((cpu["server"] + cpu["raw_worker"]) * 1000)
                peer["server"].append(cpu["server"] * 1000)
                peer["worker"].append(cpu["raw_worker"] * 1000)
    step = ratio_figure(
        "2b", "Kameng human step vs raw-SDK signal→completion", "≥ 0.7×", ours["rate"], peer["rate"], at_least=0.7,
        names=("kameng_steps_per_s", "raw_steps_per_s"),
        note=f"{count} steps per round, {concurrency} at a time: a super approves a permission grant over HTTP and the task leaves "
        "the inbox, vs signal→result of a minimal workflow (its worker an OS process) on the same dev server",
    )
    cpu = ratio_figure(
        "2c", "server+worker CPU per step vs raw SDK", "≤ 1.5×", ours["cpu"], peer["cpu"], at_most=1.5,
        names=("kameng_cpu_ms_per_step", "raw_cpu_ms_per_step"),
        note="utime+stime of the Temporal server's and the worker's process groups over the timed steps (the web process's "
        f"CPU, not in the ratio: {Spread.of(ours['web']).text('{:.1f}')} ms per step)",
    )
    for k in ("server", "worker", "web"):
        cpu.peers[f"kameng_{k}_cpu_ms_per_step"] = Spread.of(ours[k])
    for k in ("server", "worker"):
        cpu.peers[f"raw_{k}_cpu_ms_per_step"] = Spread.of(peer[k])
    return [step, cpu]


def _status_read(bench: Bench, quick: bool, pid: str) -> Figure:
    seconds = 2 if quick else 5
    rounds = 3 if quick else 5
    headers = bench.tokens[SUPER]
    url = f"{bench.stack.base_url}/api/processes/permission-grant/{pid}/status"
    httpx.get(url, headers=headers, timeout=30).raise_for_status()
    env = {"KAMENG_LOG_FORMAT": "json", "PYTHONPATH": os.getcwd()}
    read: list[float] = []
    hello: list[float] = []
    with ExitStack() as stack:
        hello_url, _ = stack.enter_context(server("bench.hello:asgi_app", env))
        wrk(hello_url + "/hello", 1), wrk(url, 1, headers)
        for r in range(rounds):
            for side in (("read", "hello") if r % 2 == 0 else ("hello", "read")):
                if side == "read":
                    read.append(wrk(url, seconds, headers)[0])
                else:
                    hello.append(wrk(hello_url + "/hello", seconds)[0])
    queries = asyncio.run(_raw_queries(bench.stack.temporal_address, bench.raw_queue, seconds, rounds))
    figure = ratio_figure(
        "3c", "process-status read vs hello world", "≥ 0.4×", read, hello, at_least=0.4, names=("status_read", "hello"),
        note="granian, 1 worker each, wrk -t1 -c16; GET /api/processes/permission-grant/{id}/status as a super (from the "
        "database) vs /hello",
    )
    figure.peers["raw_sdk_query_per_s"] = Spread.of(queries)
    return figure


async def _raw_queries(address: str, queue: str, seconds: float, rounds: int, concurrency: int = 16) -> list[float]:
    """The bound on a workflow-query read (the full view): queries/s of the minimal workflow
    straight from the SDK, 16 at a time."""
    client = await Client.connect(address)
    handle = await client.start_workflow(WaitForSignal.run, id=f"bench-query-{uuid.uuid4().hex}", task_queue=queue,
                                         execution_timeout=timedelta(minutes=10))
    await handle.query(WaitForSignal.state)
    rates = []
    for _ in range(rounds):
        done = 0
        stop = time.perf_counter() + seconds

        async def loop() -> None:
            nonlocal done
            while time.perf_counter() < stop:
                await handle.query(WaitForSignal.state)
                done += 1

        start = time.perf_counter()
        await asyncio.gather(*(loop() for _ in range(concurrency)))
        rates.append(done / (time.perf_counter() - start))
    await handle.signal(WaitForSignal.go)
    return rates


async def _waiting(bench: Bench, quick: bool) -> list[Figure]:
    total = 200 if quick else 10_000
    rounds = 2 if quick else 5
    batch = total // rounds
    async with AsyncExitStack() as stack:
        peer_client, peer_proc, peer_db = await stack.enter_async_context(dev_server_process(SQLITE_PRAGMAS))
        folder = peer_db.parent
        queue = f"bench-min-{uuid.uuid4().hex[:6]}"
        worker = Child("minimal-worker", [sys.executable, "-m", "bench.rawworker", peer_client.service_client.config.target_host, queue],
                       bench.stack.env(), folder / "worker.log")
        worker.start()
        stack.callback(worker.stop)
        await bench.stack.until(lambda: "raw worker polling" in worker.log.read_text(errors="replace"), "minimal worker polling")
        ours_server, ours_db_path = bench.stack.temporal.process.pid, bench.root / "temporal.db"
        base = {"server": rss_mb(ours_server), "db": db_bytes(ours_db_path),
                "peer_server": rss_mb(peer_proc.pid), "peer_db": db_bytes(peer_db)}
        tables_before = {"kameng": db_tables(ours_db_path), "minimal": db_tables(peer_db)}
        ours_rss, peer_rss, ours_db, peer_dbs, worker_rss = [], [], [], [], []
        started = 0
        for r in range(rounds):
            for side in (("kameng", "minimal") if r % 2 == 0 else ("minimal", "kameng")):
                if side == "kameng":
                    ids = await bench.start_grants(batch, concurrency=16)
                    await bench.open_tasks(ids, timeout=900)
                else:
                    await _start_minimal(peer_client, queue, batch)
            started += batch
            await asyncio.sleep(2)  # the last workflow tasks settle
            ours_rss.append((rss_mb(ours_server) - base["server"]) * 1024 / started)
            peer_rss.append((rss_mb(peer_proc.pid) - base["peer_server"]) * 1024 / started)
            ours_db.append((db_bytes(ours_db_path) - base["db"]) / 1024 / started)
            peer_dbs.append((db_bytes(peer_db) - base["peer_db"]) / 1024 / started)
            worker_rss.append(rss_mb(bench.stack.workers[0].process.pid))
            print(f"    {started} waiting on each side: worker {worker_rss[-1]:.0f} MB, server {ours_rss[-1]:.1f} vs "
                  f"{peer_rss[-1]:.1f} KB/process, db {ours_db[-1]:.1f} vs {peer_dbs[-1]:.1f} KB/process", flush=True)
        app_db = bench.db.stat().st_size / 2**20
        breakdown = {side: where_bytes_go(tables_before[side], db_tables(path), started)
                     for side, path in (("kameng", ours_db_path), ("minimal", peer_db))}
        print(f"    where the bytes go, KB per process: {breakdown}", flush=True)
    worker_fig = Figure(
        key="4a", title=f"{total:,} waiting processes: worker RSS", target="≤ 300 MB", value=worker_rss[-1],
        spread=None, passed=worker_rss[-1] <= 300, fmt="{:.0f}", unit=" MB",
        peers={"worker_rss_mb_by_round": Spread.of(worker_rss)},
        note=f"RSS of the `kameng worker` process group with {total:,} permission grants waiting for approval (plus the "
        f"steps of figure 2); the product database is {app_db:.0f} MB at the end",
    )
    disk = ratio_figure("4c", "database size per waiting process vs minimal workflow", "≤ 1.2×", ours_db, peer_dbs, at_most=1.2,
                        names=("kameng_kb_per_process", "minimal_kb_per_process"),
                        note="growth of each dev server's SQLite file (WAL checkpointed) ÷ processes started on it")
    disk.profile = {"kb_per_process_by_table": breakdown}
    return [
        worker_fig,
        ratio_figure("4b", "server RSS per waiting process vs minimal workflow", "≤ 1.2×", ours_rss, peer_rss, at_most=1.2,
                     names=("kameng_kb_per_process", "minimal_kb_per_process"),
                     note=f"RSS growth of each dev server ÷ processes started on it, after each of {rounds} rounds of {batch}"),
        disk,
    ]


async def _start_minimal(client: Client, queue: str, count: int) -> None:
    sem = asyncio.Semaphore(16)

    async def one() -> None:
        async with sem:
            await client.start_workflow(WaitForSignal.run, id=f"bench-wait-{uuid.uuid4().hex}", task_queue=queue,
                                        execution_timeout=timedelta(hours=2))

    await asyncio.gather(*(one() for _ in range(count)))


async def _run(quick: bool, steps: bool, waiting: bool) -> list[Figure]:
    root = Path(tempfile.mkdtemp(prefix="kameng-bench-stack-"))
    bench = Bench(root)
    figures: list[Figure] = []
    try:
        await bench.start()
        if steps:
            figures += await _steps(bench, quick)
            pid = (await bench.start_grants(1))[0]
            await bench.open_tasks([pid])
            figures.append(await asyncio.to_thread(_status_read, bench, quick, pid))
        if waiting:
            figures += await _waiting(bench, quick)
    finally:
        await bench.close()
        shutil.rmtree(root, ignore_errors=True)
    return figures


def run(*, quick: bool, steps: bool = True, waiting: bool = True) -> list[Figure]:
    """2b, 2c and 3c (``steps``) and 4a–c (``waiting``), on one stack."""
    return asyncio.run(_run(quick, steps, waiting))
