"""Faults, injected for real while processes of every kind are mid-step: the worker killed,
the Temporal server restarted, the web app restarted, the database out of reach. Every
process still reaches its end; no task, ledger entry or audit event is written twice."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from infra.db.audit import verify
from infra.db.tables import AuditEvent, LedgerEntry, Task
from workflows.registry import BY_KIND
from tests.reliability.drive import PREFERRED, EXPECTED, Admins, Workload, drive, start
from tests.reliability.report import REPORT, scaled

# Faults and load exercise processes and Temporal: the SQLite pass runs them; the PostgreSQL
# pass keeps the database-specific suites (outage, escalation, hostile input, sessions).
pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

KINDS = tuple(PREFERRED)


async def start_every_kind(admins: Admins, subjects: dict, per_kind: int) -> list[tuple[str, str]]:
    workload = Workload(subjects)
    started = []
    for n in range(per_kind):
        for kind in KINDS:
            username, body = workload.start_of(kind, n)
            started.append((kind, await start(admins, kind, username, body)))
    return started


async def check_outcomes(stack, admins: Admins, started: list[tuple[str, str]], views: list[dict]) -> None:
    """Each process rests where its path ends; each task, ledger entry and audit event once."""
    process_ids = [pid for _, pid in started]
    for (kind, pid), view in zip(started, views, strict=True):
        assert view["status"] == EXPECTED[kind], (pid, view["status"], view["result"])
    tasks = await Task.select(Task.process_id, Task.task_id, Task.step, Task.status).where(Task.process_id.is_in(process_ids))
    done = {(t["process_id"], t["step"]) for t in tasks if t["status"] == "done"}
    # Every step an admin took was a task of its inbox; every open task of a process is a row.
    lost = [
        (pid, entry["step"]) for (kind, pid), view in zip(started, views, strict=True)
        for entry in view["timeline"] if BY_KIND[kind].action(entry["action"]) and (pid, entry["step"]) not in done
    ]
    rows = {t["task_id"] for t in tasks}
    lost += [(view["process_id"], t["task_id"]) for view in views for t in view["tasks"] if t["task_id"] not in rows]
    still_open = [t for t in tasks if t["status"] in ("open", "claimed") and t["task_id"] not in {x["task_id"] for v in views for x in v["tasks"]}]
    REPORT.lost_tasks += len(lost) + len(still_open)
    assert not lost and not still_open, (lost, still_open)

    # One task per (process, step, round): a redelivered activity never opens a second.
    steps = Counter((t["process_id"], t["task_id"]) for t in tasks)
    duplicates = [k for k, n in steps.items() if n > 1]
    ledger = Counter(r["operation_id"] for r in await LedgerEntry.select(LedgerEntry.operation_id).where(LedgerEntry.operation_id.is_in(process_ids)))
    duplicates += [op for op, n in ledger.items() if n > 1]
    fund_ops = [pid for kind, pid in started if kind == "fund-operation"]
    assert set(ledger) >= set(fund_ops), "an executed fund operation has no ledger entry"
    events = await AuditEvent.select(AuditEvent.process_id, AuditEvent.action).where(AuditEvent.process_id.is_in(process_ids))
    once = Counter((e["process_id"], e["action"]) for e in events if e["action"].endswith((".started", ".approve", ".executed", ".approved", ".dismissed", ".declined", ".resolved", ".active")))
    duplicates += [k for k, n in once.items() if n > 1]
    REPORT.duplicates_found += len(duplicates)
    assert not duplicates, duplicates
    verification = await verify()
    assert verification.ok, verification
    assert not admins.tally.unexpected, admins.tally.unexpected


async def restart(stack, part: str) -> None:
    """SIGKILL one part of the product and start it again (Temporal keeps its SQLite file)."""
    if part == "worker":
        child = stack.workers[0]
        child.kill()
        await asyncio.sleep(0.5)
        child.start()
        await stack.worker_up(child)
    elif part == "temporal":
        stack.temporal.kill()
        await asyncio.sleep(1.0)
        stack.temporal.start()
        await stack.temporal_up()
    elif part == "web":
        stack.web.kill()
        await asyncio.sleep(0.5)
        stack.web.start()
        await stack.web_up()
    REPORT.faults_injected.append(f"{part} SIGKILL + restart")


@pytest.mark.parametrize("part", ["worker", "temporal", "web"])
async def test_processes_of_every_kind_survive_a_killed(part, stack, admins, subjects):
    per_kind = scaled(2, 8)
    started = await start_every_kind(admins, subjects, per_kind)
    REPORT.processes_under_fault += len(started)
    driving = [asyncio.create_task(drive(admins, kind, pid)) for kind, pid in started]
    for n in range(scaled(2, 6)):
        await asyncio.sleep(0.5)  # a process's steps take a fraction of a second: strike mid-step
        if n == 0:  # later faults strike whatever is still running (a restart alone is checked too)
            assert not all(d.done() for d in driving), "every process finished before the fault: not a fault under load"
        await restart(stack, part)
    views = await asyncio.gather(*driving)
    await check_outcomes(stack, admins, started, views)
