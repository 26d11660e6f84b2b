"""The product as separate OS processes, each one killable and restartable: the Temporal dev
server (its SQLite file kept across restarts), workers and the web app, on a given database.
What the reliability tests (tests/reliability/) and the benchmarks (bench/stack.py) run; the
supervisor of ``kameng dev`` is infra/supervisor.py."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from infra.supervisor import port_in_use
from infra.temporal.binaries import temporal_cli
from infra.temporal.devserver import SEARCH_ATTRIBUTES, SQLITE_PRAGMAS


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def listening(port: int) -> bool:
    return port_in_use("127.0.0.1", port)


@dataclass
class Child:
    role: str
    command: list[str]
    env: dict[str, str]
    log: Path
    process: subprocess.Popen | None = None
    starts: int = 0

    def start(self) -> None:
        self.starts += 1
        with self.log.open("a") as out:
            out.write(f"\n=== start {self.starts} ===\n")
        self.process = subprocess.Popen(
            self.command, env=self.env, stdout=self.log.open("a"), stderr=subprocess.STDOUT, start_new_session=True,
        )

    def kill(self) -> None:
        """SIGKILL the whole process group: no shutdown hook runs."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.kill()

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def tail(self, chars: int = 3000) -> str:
        return f"--- {self.log.name}\n{self.log.read_text(errors='replace')[-chars:]}" if self.log.exists() else ""


@dataclass
class Stack:
    root: Path
    database_url: str
    temporal_port: int = field(default_factory=free_port)
    web_port: int = field(default_factory=free_port)
    task_queue: str = field(default_factory=lambda: f"kameng-rel-{uuid.uuid4().hex[:6]}")
    temporal: Child | None = None
    web: Child | None = None
    workers: list[Child] = field(default_factory=list)
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    @property
    def temporal_address(self) -> str:
        return f"127.0.0.1:{self.temporal_port}"

    def env(self) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
        return {
            **base,
            "KAMENG_DATABASE_URL": self.database_url,
            "KAMENG_TEMPORAL_ADDRESS": self.temporal_address,
            "KAMENG_TASK_QUEUE": self.task_queue,
            "KAMENG_SEARCH_ATTRIBUTES": "true",
            "KAMENG_HOST": "127.0.0.1",
            "KAMENG_PORT": str(self.web_port),
            "KAMENG_WEB_WORKERS": "1",
            "KAMENG_LOG_FORMAT": "json",
            "KAMENG_LOGIN_RATE_LIMIT": "1000/minute",
            **self.extra_env,
        }

    # -- the parts -------------------------------------------------------------------------

    def add_temporal(self) -> Child:
        command = [
            str(temporal_cli()), "server", "start-dev", "--headless",
            "--db-filename", str(self.root / "temporal.db"),
            "--ip", "127.0.0.1", "--port", str(self.temporal_port), "--log-level", "warn",
        ]
        for pragma in SQLITE_PRAGMAS:
            command += ["--sqlite-pragma", pragma]
        for name, kind in SEARCH_ATTRIBUTES.items():
            command += ["--search-attribute", f"{name}={kind}"]
        self.temporal = Child("temporal", command, self.env(), self.root / "temporal.log")
        return self.temporal

    def add_worker(self) -> Child:
        worker = Child("worker", [sys.executable, "-m", "infra.cli", "worker"], self.env(), self.root / f"worker-{len(self.workers) + 1}.log")
        self.workers.append(worker)
        return worker

    def add_web(self) -> Child:
        self.web = Child("web", [sys.executable, "-m", "infra.cli", "web"], self.env(), self.root / "web.log")
        return self.web

    def children(self) -> list[Child]:
        return [c for c in (self.web, *self.workers, self.temporal) if c is not None]

    def logs(self) -> str:
        return "\n".join(c.tail() for c in self.children())

    # -- waiting ---------------------------------------------------------------------------

    async def until(self, condition, what: str, timeout: float = 60) -> None:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout
        while True:
            result = condition()
            if asyncio.iscoroutine(result):
                result = await result
            if result:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"{what}: not after {timeout:.0f}s\n{self.logs()}")
            await asyncio.sleep(0.2)

    async def temporal_up(self) -> None:
        await self.until(lambda: listening(self.temporal_port), "Temporal listening")

    async def worker_up(self, worker: Child) -> None:
        marker = f"=== start {worker.starts} ==="
        await self.until(lambda: "worker polling" in worker.log.read_text(errors="replace").rsplit(marker, 1)[-1], "worker polling")

    async def web_up(self) -> None:
        def answers() -> bool:
            try:
                with urllib.request.urlopen(f"{self.base_url}/health", timeout=2) as response:
                    return response.status == 200
            except OSError:  # refused, reset, timed out, or an HTTP error status
                return False

        async def healthy() -> bool:
            return await asyncio.to_thread(answers)

        await self.until(healthy, "web app healthy", timeout=90)

    async def start(self, workers: int = 1) -> None:
        self.add_temporal().start()
        await self.temporal_up()
        for _ in range(workers):
            self.add_worker().start()
        self.add_web().start()
        for worker in self.workers:
            await self.worker_up(worker)
        await self.web_up()

    async def ensure_running(self) -> None:
        """Start again whatever part a previous test stopped or killed (the stack is shared)."""
        if self.temporal is not None and not self.temporal.running():
            self.temporal.start()
            await self.temporal_up()
        restarted = [w for w in self.workers if not w.running()]
        for worker in restarted:
            worker.start()
        web_down = self.web is not None and not self.web.running()
        if web_down:
            self.web.start()
        for worker in restarted:
            await self.worker_up(worker)
        if web_down:
            await self.web_up()

    def close(self) -> None:
        for child in self.children():
            child.stop()
