"""A worker killed with SIGKILL mid-step, and a new one started: every process still reaches
its end, each task exists once, nothing is executed twice, and the audit chain holds.

Runs the real dev server and real worker processes.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from infra.accounts import load_actor
from infra.db.audit import verify
from infra.db.tables import AuditEvent, LedgerEntry, PermissionGrant, Task
from workflows.fund_operation import FundOperationInput
from infra.temporal.processes import ProcessError, act, start_process
from workflows.permission_grant import RequestGrantInput
from workflows.process import ActInput, ProcessConfig
from workflows.registry import BY_KIND

pytestmark = [pytest.mark.db, pytest.mark.slow, pytest.mark.timeout(180)]

REQUESTERS = ["regional-game-cards", "regional-east-china", "normal-game-items-1", "intern-mobile-topup-1", "normal-east-china-2", "regional-game-items"]


def start_worker(address: str, queue: str, log: Path) -> subprocess.Popen:
    env = {**os.environ, "KAMENG_TEMPORAL_ADDRESS": address, "KAMENG_TASK_QUEUE": queue, "KAMENG_SEARCH_ATTRIBUTES": "true"}
    return subprocess.Popen([sys.executable, "-m", "infra.cli", "worker"], env=env, stdout=log.open("a"), stderr=subprocess.STDOUT)


async def wait_polling(log: Path, count: int, timeout: float = 30) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while log.read_text().count("worker polling") < count:
        assert asyncio.get_running_loop().time() < deadline, log.read_text()
        await asyncio.sleep(0.1)


async def open_task(process_id: str) -> dict:
    for _ in range(300):
        row = await Task.select().where((Task.process_id == process_id) & (Task.status == "open")).first()
        if row:
            return row
        await asyncio.sleep(0.05)
    raise AssertionError(f"no task for {process_id}")


async def act_until_done(client, process_id: str, request: ActInput, attempts: int = 60):
    """What a client does when its call dies with the worker: retry with the same request id."""
    for _ in range(attempts):
        try:
            return await asyncio.wait_for(act(client, process_id, request), 20)
        except (ProcessError, asyncio.TimeoutError, Exception) as exc:  # noqa: B014 - retried, then asserted
            last = exc
            await asyncio.sleep(0.5)
    raise AssertionError(f"{process_id}: never accepted: {last}")


async def test_sigkill_mid_step_loses_nothing_and_repeats_nothing(dev_server, demo, tmp_path):
    client = dev_server.client
    address = client.service_client.config.target_host
    queue = f"kameng-crash-{uuid.uuid4().hex[:6]}"
    log = tmp_path / "worker.log"
    first = start_worker(address, queue, log)
    await wait_polling(log, 1)

    process_ids = []
    for username in REQUESTERS:
        actor = await load_actor(username, datetime.now(UTC))
        permission = "funds.approve" if actor.tier == "regional" else "products.classify"
        body = RequestGrantInput(permission=permission, scope="region", duration=timedelta(days=2), justification="故障演练：大促期间权限")
        process_ids.append(
            await start_process(client, BY_KIND["permission-grant"], by=actor, body=body, key=uuid.uuid4().hex[:8], task_queue=queue, config=ProcessConfig())
        )
    maker = await load_actor("super-2", datetime.now(UTC))
    fund_ids = []
    for n in range(3):
        body = FundOperationInput(operation="merchant_settlement", account="M0007", amount=10_000 * (n + 1), reason="故障演练：商家结算")
        fund_ids.append(
            await start_process(client, BY_KIND["fund-operation"], by=maker, body=body, key=uuid.uuid4().hex[:8], task_queue=queue, config=ProcessConfig())
        )
    tasks = {pid: await open_task(pid) for pid in process_ids + fund_ids}

    approvals = []
    for pid, task in tasks.items():
        approver = "super-3" if pid in fund_ids else "super-2" if task["tier"] == "super" else f"regional-{task['region']}"
        actor = await load_actor(approver, datetime.now(UTC))
        approvals.append((pid, ActInput(actor=actor, action="approve", request_id=uuid.uuid4().hex, task_id=task["task_id"], body={"reason": "演练"})))

    in_flight = [asyncio.create_task(act_until_done(client, pid, request)) for pid, request in approvals]
    await asyncio.sleep(0.3)
    first.send_signal(signal.SIGKILL)  # mid-step: updates and activities in flight
    first.wait(10)
    second = start_worker(address, queue, log)
    try:
        await wait_polling(log, 2)
        results = await asyncio.gather(*in_flight)
        assert {r.status for r in results[: len(process_ids)]} == {"active"}
        for pid in fund_ids:  # executed exactly once, whatever the crash interrupted
            outcome = await client.get_workflow_handle(pid).result()
            assert outcome["status"] == "executed", outcome
            assert await LedgerEntry.count().where(LedgerEntry.operation_id == pid) == 1
            assert await Task.count().where(Task.process_id == pid) == 1

        for pid in process_ids:
            steps = await Task.select().where(Task.process_id == pid)
            assert len(steps) == 1 and steps[0]["status"] == "done", steps
            assert await PermissionGrant.count().where(PermissionGrant.grant_id == pid) == 1
            for action in ("permission-grant.started", "task.opened", "permission-grant.approve", "permission-grant.activated"):
                assert await AuditEvent.count().where((AuditEvent.process_id == pid) & (AuditEvent.action == action)) == 1, (pid, action)
        assert (await verify()).ok

        # Finish every process, through the new worker.
        for pid in process_ids:
            requester = await load_actor(pid.split("-", 2)[2].rsplit("-", 2)[0], datetime.now(UTC))
            done = await act_until_done(client, pid, ActInput(actor=requester, action="revoke", request_id=uuid.uuid4().hex, body={"reason": "演练结束"}))
            assert done.status == "revoked"
            assert await client.get_workflow_handle(pid).result() is not None
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(20)
