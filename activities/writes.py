"""A process step's deferred writes, made in one transaction (``Process.write`` and
``Process.flush``, workflows/process.py)."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from temporalio import activity
from temporalio.exceptions import ApplicationError

from infra.db.engine import write_transaction
from infra.db.processes import one_update_per_process
from workflows.process import WriteBatch


DEFERRABLE = frozenset({"record_task", "change_task", "close_task", "write_audit", "activate_grant", "revoke_grant", "extend_grant"})
"""The writes a process may defer (``Process.write``): idempotent, and their results unread.
Each is an activity of its own too (a run started before batching makes them one by one)."""


@functools.cache
def writers() -> dict[str, tuple[Callable[[Any], Awaitable[Any]], type]]:
    """Each deferrable write's activity function (as the worker registers it) and the type of
    its argument, from the activity's own definition."""
    from infra.temporal.worker import activity_functions

    found = {}
    for fn in activity_functions():
        definition = getattr(fn, "__temporal_activity_definition")
        if definition.name in DEFERRABLE:
            found[definition.name] = (fn, definition.arg_types[0])
    missing = DEFERRABLE - found.keys()
    assert not missing, f"deferrable writes without an activity: {sorted(missing)}"
    return found


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
