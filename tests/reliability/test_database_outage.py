"""The database out of reach while activities write: PostgreSQL behind a proxy that is cut
(connections dropped, new ones refused), or SQLite's write lock held by someone else. The
API answers 503 ``database_unavailable`` meanwhile, never 500; activities retry with backoff
and every process carries on once the database is back, with nothing written twice."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import uuid
from datetime import UTC, datetime
from urllib.parse import urlparse

import httpx
import pytest

from infra.accounts import load_actor
from infra.db.audit import verify
from infra.temporal.processes import act
from workflows.process import ActInput
from infra.db.tables import AuditEvent, Task
from tests.reliability.conftest import leave_no_trace
from tests.reliability.drive import Admins, Tally, Workload, drive, read, start
from tests.reliability.report import REPORT, scaled
from tests.reliability.stack import Outage, Stack

pytestmark = [pytest.mark.db, pytest.mark.slow, pytest.mark.timeout(300)]

OUTAGE_SECONDS = 6


class DatabaseOutage:
    def __init__(self, url: str) -> None:
        self.url = url
        self.postgres = url.startswith("postgres")
        self.proxy: Outage | None = None
        self.lock: sqlite3.Connection | None = None

    async def stack_url(self) -> str:
        if not self.postgres:
            return self.url
        parsed = urlparse(self.url)
        self.proxy = Outage(parsed.hostname or "127.0.0.1", parsed.port or 5432)
        await self.proxy.open()
        return parsed._replace(netloc=f"{parsed.username or 'postgres'}@127.0.0.1:{self.proxy.port}").geturl()

    async def begin(self) -> None:
        if self.proxy is not None:
            await self.proxy.cut()
        else:
            self.lock = sqlite3.connect(self.url.removeprefix("sqlite:///"), isolation_level=None, timeout=30)
            self.lock.execute("BEGIN IMMEDIATE")

    async def end(self) -> None:
        if self.proxy is not None:
            await self.proxy.open()
        elif self.lock is not None:
            self.lock.execute("ROLLBACK")
            self.lock.close()
            self.lock = None


async def retried_activities(client, process_id: str) -> int:  # type: ignore[no-untyped-def]
    """Activity attempts after the first, as the workflow's history records them: a step's
    writes are local activities, whose markers carry the attempt that succeeded."""
    retries = 0
    async for event in client.get_workflow_handle(process_id).fetch_history_events():
        if event.HasField("activity_task_started_event_attributes"):
            retries += max(0, event.activity_task_started_event_attributes.attempt - 1)
        marker = event.marker_recorded_event_attributes
        if event.HasField("marker_recorded_event_attributes") and marker.marker_name == "core_local_activity":
            retries += max(0, json.loads(marker.details["data"].payloads[0].data)["attempt"] - 1)
    return retries


async def test_activities_wait_out_a_database_outage_and_the_api_answers_503(demo, tmp_path):
    outage = DatabaseOutage(os.environ["KAMENG_DATABASE_URL"])
    stack = Stack(root=tmp_path, database_url=await outage.stack_url(), extra_env={"KAMENG_DB_LOCK_TIMEOUT": "1"})
    tally = Tally()
    admins: Admins | None = None
    try:
        await stack.start(workers=1)
        async with httpx.AsyncClient(base_url=stack.base_url, timeout=60) as client:
            admins = Admins(client, tally)
            for name in ("station-master", "super-2", "super-3", *[f"regional-{r}" for r in ("game-items", "game-cards", "east-china", "mobile-topup")]):
                await admins.headers(name)
            workload = Workload({})
            started = []
            for n in range(scaled(4, 12)):
                username, body = workload.start_of("permission-grant", n)
                pid = await start(admins, "permission-grant", username, body)
                started.append(pid)
            for pid in started:  # each waits on its approval
                while not (await read(admins, "permission-grant", pid))["tasks"]:
                    await asyncio.sleep(0.1)

            temporal = await stack_client(stack)
            approvals = []
            for pid in started:
                task = (await read(admins, "permission-grant", pid))["tasks"][0]
                approver = await load_actor("super-2", datetime.now(UTC))
                approvals.append(ActInput(actor=approver, action="approve", request_id=uuid.uuid4().hex, task_id=task["task_id"], body={"reason": "演练：数据库中断"}))

            await outage.begin()
            REPORT.faults_injected.append("database " + ("connection cut" if outage.postgres else "write lock held"))
            REPORT.processes_under_fault += len(started)
            # Approvals a web process accepted just before the database went away: their
            # activities (close the task, write the grant, audit) meet the outage.
            deciding = [asyncio.create_task(act(temporal, pid, request)) for pid, request in zip(started, approvals, strict=True)]
            try:
                # A write while the database is away: a clear 503, nothing half done.
                login = await client.post("/api/auth/login", json={"username": "super-2", "password": "kameng-demo"})
                assert login.status_code == 503, login.text
                assert login.json()["error"]["code"] == "database_unavailable" and login.headers["retry-after"]
                if outage.postgres:  # and reads too, when the server itself is gone
                    inbox = await client.get("/api/inbox", headers=await admins.headers("super-2"))
                    assert inbox.status_code == 503 and inbox.json()["error"]["code"] == "database_unavailable", inbox.text
                await asyncio.sleep(OUTAGE_SECONDS)
                assert not all(d.done() for d in deciding), "the approvals finished during the outage"
            finally:
                await outage.end()
            results = await asyncio.gather(*deciding)
            assert [r.status for r in results] == ["active"] * len(started), results
            views = [await drive(admins, "permission-grant", pid) for pid in started]

        assert all(v["status"] == "active" for v in views), [v["status"] for v in views]
        assert sum([await retried_activities(temporal, pid) for pid in started]) > 0, "no activity had to retry"
        for pid in started:
            rows = await Task.select(Task.status).where(Task.process_id == pid)
            assert [r["status"] for r in rows] == ["done"], (pid, rows)
            approvals = await AuditEvent.count().where((AuditEvent.process_id == pid) & (AuditEvent.action == "permission-grant.approve"))
            REPORT.duplicates_found += max(0, approvals - 1)
            assert approvals == 1, (pid, approvals)
        assert (await verify()).ok
        assert 500 not in tally.statuses, tally.statuses
    finally:
        stack.close()  # first: whatever else fails here, no child outlives the test
        await outage.end()
        if outage.proxy is not None:
            await outage.proxy.cut()
        if admins is not None:
            await leave_no_trace(admins.started)


async def stack_client(stack: Stack):  # type: ignore[no-untyped-def]
    from infra.temporal.client import connect

    return await connect(address=stack.temporal_address)
