"""A process step's deferred writes, made in one transaction (``Process.write`` and
``Process.flush``, workflows/process.py)."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.audit import AuditActivities
from activities.grants import GrantActivation, GrantActivities, GrantEnd, GrantExtension
from activities.inbox import InboxActivities
from infra.db.engine import write_transaction
from infra.db.processes import one_update_per_process
from workflows.domain.messages import AuditRecord, TaskChange, TaskClose, TaskRecord
from workflows.process import WriteBatch


@functools.cache
def writers() -> dict[str, tuple[Callable[[Any], Awaitable[Any]], type]]:
    """The writes a process may defer: each an activity of its own too (a run started before
    batching makes them one by one), with the type of its argument."""
    inbox, audit, grants = InboxActivities(), AuditActivities(), GrantActivities()
    return {
        "record_task": (inbox.record_task, TaskRecord),
        "change_task": (inbox.change_task, TaskChange),
        "close_task": (inbox.close_task, TaskClose),
        "write_audit": (audit.write_audit, AuditRecord),
        "activate_grant": (grants.activate_grant, GrantActivation),
        "revoke_grant": (grants.revoke_grant, GrantEnd),
        "extend_grant": (grants.extend_grant, GrantExtension),
    }


class WriteActivities:
    @activity.defn(name="apply_writes")
    async def apply_writes(self, batch: WriteBatch) -> None:
        """Every write of the batch, in order, or none: a retry makes them again, and each is
        idempotent (deduplication keys, inserts that skip what exists, updates guarded by
        the state they change)."""
        table = writers()
        unknown = [w.name for w in batch.writes if w.name not in table]
        if unknown:  # a process deferring a write this table lacks: retrying cannot help
            raise ApplicationError(f"not a deferrable write: {', '.join(unknown)}", type="unknown_write", non_retryable=True)
        async with write_transaction(), one_update_per_process():
            for write in batch.writes:
                apply, kind = table[write.name]
                await apply(msgspec.json.decode(write.arg, type=kind))
