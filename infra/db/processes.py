"""Each process's own row (``process``): written with the audit events that move it, read for
status without asking the workflow.

The row changes only inside the transaction that appends the audit event of the change
(``record_event``, called by the activities after ``append``), so it never disagrees with the
trail, and writers of one process take turns behind the trail's lock (SQLite's write lock,
PostgreSQL's advisory lock on the trail's head).

A process's start and end are recognized by the events ``Process.start()`` and
``Process.finish()`` audit (``workflows/process.py``): the start as ``<kind>.started``, the end
under the deduplication key ``<process id>:finished:<run>`` with its final status as the
outcome and its result as ``after`` (the same marks ``infra.telemetry`` counts starts and
completions by).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import msgspec

from piccolo.querystring import QueryString

from infra.accounts import auth_version_sql
from infra.db.compiled import Param, compiled
from infra.db.tables import ProcessState
from workflows.domain.messages import AuditRecord


def _is_admin(actor: str) -> bool:
    """Whether an event's actor is an admin who takes part (the workflow's view counts the
    same): not the system, not the platform."""
    return bool(actor) and actor != "system" and not actor.startswith("platform:")


def _start_kind(record: AuditRecord) -> str | None:
    pid = record.process_id
    if not pid or record.outcome != "started" or not record.action.endswith(".started") or not record.dedup_key:
        return None
    kind = record.action.removesuffix(".started")
    if pid.startswith(f"{kind}-") and record.dedup_key.startswith(f"{pid}:{record.action}:"):
        return kind
    return None


def _is_finish(record: AuditRecord) -> bool:
    pid = record.process_id
    return bool(pid and record.dedup_key and record.dedup_key.startswith(f"{pid}:finished:"))


async def record_event(record: AuditRecord, *, step: str | None = None, named: tuple[str, ...] = ()) -> None:
    """Apply one audited event of a process to its row. Call it in the transaction that
    appended ``record``. ``step``: a task of this step opened; ``named``: admins the event
    names (a task's candidates)."""
    pid = record.process_id
    if not pid:
        return
    at = record.at or datetime.now(UTC)
    actor = record.actor if _is_admin(record.actor) else None
    kind = _start_kind(record)
    if kind is not None:
        await ProcessState.insert(
            ProcessState(
                process_id=pid, kind=kind, status="running", step="started", region=record.region,
                started_by=actor, parties=[actor] if actor else [], started_at=at, updated_at=at,
                last_action=record.action[:64], last_outcome=record.outcome[:32],
            )
        ).on_conflict(action="DO NOTHING")  # a retried start
        return
    pending = _PENDING.get()
    row = pending.get(pid) if pending is not None else None
    if row is None:
        found = await ProcessState.select(ProcessState.parties, ProcessState.updated_at).where(ProcessState.process_id == pid).first()
        if found is None:
            return  # started before processes had rows: its status comes from the workflow
        row = _Row(list(found["parties"] or []), found["updated_at"])
        if pending is not None:
            pending[pid] = row
    joined = [a for a in (actor, *named) if a and a not in row.parties]
    row.updated_at = max(at, row.updated_at)
    values: dict[Any, Any] = {
        ProcessState.last_action: record.action[:64],
        ProcessState.last_outcome: record.outcome[:32],
        ProcessState.updated_at: row.updated_at,
    }
    if joined:
        row.parties = row.parties + list(dict.fromkeys(joined))
        values[ProcessState.parties] = row.parties
    if record.process_status is not None:
        values[ProcessState.status] = record.process_status[:32]
    if step is not None or record.process_step is not None:
        values[ProcessState.step] = (step or record.process_step or "")[:64]
    if _is_finish(record):
        values |= {
            ProcessState.status: record.outcome[:32],
            ProcessState.step: "finished",
            ProcessState.finished_at: at,
            ProcessState.result: msgspec.to_builtins(record.after or {}),
        }
    if pending is None:
        await ProcessState.update(values).where(ProcessState.process_id == pid)
    else:
        row.values |= values  # a later event's values over an earlier one's, as if written in turn


class _Row:
    """A process row as the events of one batch leave it: read once, written once."""

    __slots__ = ("parties", "updated_at", "values")

    def __init__(self, parties: list[str], updated_at: datetime) -> None:
        self.parties = parties
        self.updated_at = updated_at
        self.values: dict[Any, Any] = {}


_PENDING: ContextVar[dict[str, _Row] | None] = ContextVar("kameng_process_rows", default=None)


@asynccontextmanager
async def one_update_per_process() -> AsyncIterator[None]:
    """Inside a write transaction: the events recorded within change each process's row
    once, at the end (read once, written once), as if each had been applied in turn. A batch
    of a step's writes audits two or three events of the same process."""
    pending: dict[str, _Row] = {}
    token = _PENDING.set(pending)
    try:
        yield
    finally:
        _PENDING.reset(token)
    for pid, row in pending.items():  # reached only when the body succeeded
        if row.values:
            await ProcessState.update(row.values).where(ProcessState.process_id == pid)


# ----- reading ---------------------------------------------------------------------------


class OpenTask(msgspec.Struct, frozen=True, kw_only=True):
    """A task the process waits on, as the status read returns it."""

    task_id: str
    step: str
    title: str
    tier: str
    region: str | None
    status: str
    assignee: str | None
    due_at: datetime | None
    escalated: bool


_OPEN_TASK_FIELDS = ("task_id", "step", "title", "tier", "region", "status", "assignee", "due_at", "escalated")


def _open_tasks_sql(engine_type: str) -> str:
    """The process's open tasks, oldest first, as one JSON array: a column of the status read
    (one statement, one row, decoded straight into ``OpenTask``)."""
    fields = ", ".join(f"'{f}', t.{f}" for f in _OPEN_TASK_FIELDS if f != "escalated")
    if engine_type == "postgres":
        return (
            f"(SELECT coalesce(json_agg(json_build_object({fields}, 'escalated', t.escalated) ORDER BY t.id), '[]'::json)::text "
            "FROM task t WHERE t.process_id = \"process\".\"process_id\" AND t.status IN ('open', 'claimed'))"
        )
    return (
        f"(SELECT json_group_array(json_object({fields}, 'escalated', CASE WHEN t.escalated THEN json('true') ELSE json('false') END)) "
        "FROM (SELECT * FROM task WHERE task.process_id = \"process\".\"process_id\" AND task.status IN ('open', 'claimed') "
        "ORDER BY task.id) AS t)"
    )


STATUS_COLUMNS = (
    ProcessState.process_id, ProcessState.kind, ProcessState.status, ProcessState.step, ProcessState.region,
    ProcessState.started_by, ProcessState.parties, ProcessState.started_at, ProcessState.updated_at,
    ProcessState.finished_at, ProcessState.last_action, ProcessState.last_outcome, ProcessState.result,
)
_STATUS = compiled(
    lambda: ProcessState.select(
        *STATUS_COLUMNS,
        QueryString(_open_tasks_sql(ProcessState._meta.db.engine_type)).as_alias("tasks"),
        QueryString(auth_version_sql()).as_alias("auth_version"),
    ).where(ProcessState.process_id == Param("pid")).output(load_json=True).first(),
    inline=True,
)
_TASKS = msgspec.json.Decoder(list[OpenTask])


def _utc(task: OpenTask) -> OpenTask:
    due = task.due_at
    if due is None or due.tzinfo is UTC:
        return task
    # As Piccolo reads a timestamp: UTC (SQLite keeps UTC; PostgreSQL's JSON uses the session's zone).
    return msgspec.structs.replace(task, due_at=due.replace(tzinfo=UTC) if due.tzinfo is None else due.astimezone(UTC))


async def process_status(process_id: str) -> tuple[dict[str, Any], list[OpenTask]] | None:
    """The process's row and its open tasks (oldest first), or None when it has no row: one
    statement, which also reads ``auth_version`` (the row's ``auth_version``) so the caller's
    session is confirmed against the same snapshot (``api.security.Caller``)."""
    row = await _STATUS.first(pid=process_id)
    if row is None:
        return None
    return row, [_utc(t) for t in _TASKS.decode(row.pop("tasks") or "[]")]
