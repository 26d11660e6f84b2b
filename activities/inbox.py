"""The inbox read model, written by workflows as their human steps open, change and close."""

from __future__ import annotations


import msgspec
from temporalio import activity

from infra.db.audit import append
from infra.db.engine import write_transaction
from infra.db.processes import record_event
from infra.db.tables import Task, TaskKey, task_keys
from workflows.domain.messages import AuditRecord, TaskChange, TaskClose, TaskRecord


class InboxActivities:
    @activity.defn(name="record_task")
    async def record_task(self, task: TaskRecord) -> None:
        """The task row, its audit event and its process's step, in one transaction: a status
        read never sees the task without the step it belongs to."""
        opened = AuditRecord(
            actor="system", actor_tier="system", action="task.opened", target=f"task:{task.task_id}",
            outcome="open", reason=task.title, region=task.region, process_id=task.process_id,
            after={"tier": task.tier, "due_at": task.due_at.isoformat() if task.due_at else None},
            at=task.created_at, dedup_key=f"{task.task_id}:opened",
        )
        async with write_transaction():
            # A retried task record inserts nothing (its row is there already) and adds no keys.
            actions = msgspec.to_builtins(task.actions)
            inserted = await Task.insert(
                Task(
                    task_id=task.task_id,
                    kind=task.kind,
                    process_id=task.process_id,
                    step=task.step,
                    title=task.title,
                    tier=task.tier,
                    region=task.region,
                    candidates=list(task.candidates),
                    excluded=list(task.excluded),
                    assignee=None,
                    status="open",
                    priority=task.priority,
                    due_at=task.due_at,
                    remind_at=task.remind_at,
                    actions=actions,
                    evidence=msgspec.to_builtins(task.evidence),
                    created_at=task.created_at,
                    version=0,
                )
            ).on_conflict(action="DO NOTHING")
            keys = task_keys(task.candidates, actions)
            if inserted and keys:
                row_id = inserted[0]["id"]
                await TaskKey.insert(*(TaskKey(task=row_id, key=k) for k in keys))
            await append(opened)
            await record_event(opened, step=task.step, named=tuple(task.candidates))

    @activity.defn(name="change_task")
    async def change_task(self, change: TaskChange) -> None:
        values: dict = {Task.version: change.seq}
        if change.change == "claimed":
            values |= {Task.assignee: change.assignee, Task.status: "claimed"}
        elif change.change == "released":
            values |= {Task.assignee: None, Task.status: "open"}
        elif change.change == "reminded":
            values |= {Task.reminded: True}
        elif change.change == "escalated":
            values |= {
                Task.tier: change.tier,
                Task.escalated: True,
                Task.escalation_reason: change.reason,
                Task.due_at: change.due_at,
                Task.remind_at: change.remind_at,
                Task.reminded: False,
                Task.assignee: None,
                Task.status: "open",
            }
            if change.priority is not None:
                values[Task.priority] = change.priority
        else:
            raise ValueError(f"unknown task change {change.change!r}")
        await Task.update(values).where(
            (Task.task_id == change.task_id) & (Task.version < change.seq) & Task.status.is_in(["open", "claimed"])
        )
        await append(
            AuditRecord(
                actor=change.actor, actor_tier=change.actor_tier, action=f"task.{change.change}",
                target=f"task:{change.task_id}", outcome=change.change, reason=change.reason,
                region=change.region, process_id=change.process_id,
                after={"assignee": change.assignee, "tier": change.tier},
                at=change.at, dedup_key=f"{change.task_id}:{change.change}:{change.seq}",
            )
        )

    @activity.defn(name="close_task")
    async def close_task(self, close: TaskClose) -> None:
        """The task closed, its audit event and its process's latest event, in one transaction."""
        decided = AuditRecord(
            actor=close.actor, actor_tier=close.actor_tier, action=f"{close.kind}.{close.action}",
            target=f"task:{close.task_id}", outcome=close.status, reason=close.reason,
            region=close.region, process_id=close.process_id, after=msgspec.to_builtins(close.outcome) or None,
            at=close.at, dedup_key=f"{close.task_id}:closed",
        )
        async with write_transaction():
            await Task.update(
                {
                    Task.status: close.status,
                    Task.outcome: msgspec.to_builtins({"action": close.action, "reason": close.reason, **close.outcome}),
                    Task.decided_by: close.actor,
                    Task.closed_at: close.at,
                }
            ).where((Task.task_id == close.task_id) & Task.status.is_in(["open", "claimed"]))
            await append(decided)
            await record_event(decided)  # the decider takes part
