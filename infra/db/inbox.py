"""Reading the inbox read model."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from infra.db.tables import Task
from workflows.domain.inbox import task_visible
from workflows.domain.policy import Actor

STATUSES = ("open", "claimed", "done")


def _permissions(actions: Any) -> list[str]:
    return [a.get("permission", "") for a in actions or [] if isinstance(a, dict)]


def visible(actor: Actor, row: dict[str, Any], now: datetime) -> bool:
    return task_visible(
        actor,
        tier=row["tier"],
        region=row["region"],
        assignee=row["assignee"],
        candidates=row["candidates"] or (),
        excluded=row["excluded"] or (),
        permissions=_permissions(row["actions"]),
        now=now,
    )


async def list_tasks(
    actor: Actor,
    *,
    now: datetime,
    status: str | None = None,
    kind: str | None = None,
    region: str | None = None,
    limit: int = 50,
    cursor: int | None = None,
    batch: int = 500,
) -> tuple[list[dict[str, Any]], int | None]:
    """A page of the tasks this admin may see, newest first; returns (rows, next cursor)."""
    found: list[dict[str, Any]] = []
    after = cursor
    while len(found) < limit:
        query = Task.select().order_by(Task.id, ascending=False).limit(batch).output(load_json=True)
        if status == "done":
            query = query.where(Task.status.is_in(["done", "cancelled"]))
        elif status == "claimed":
            query = query.where(Task.status == "claimed")
        elif status == "open":
            query = query.where(Task.status == "open")
        if kind:
            query = query.where(Task.kind == kind)
        if region:
            query = query.where(Task.region == region)
        if after is not None:
            query = query.where(Task.id < after)
        rows = await query
        if not rows:
            return found, None
        for row in rows:
            if visible(actor, row, now):
                found.append(row)
                if len(found) == limit:
                    return found, row["id"]
        after = rows[-1]["id"]
    return found, None


async def get_task(task_id: str) -> dict[str, Any] | None:
    return await Task.select().where(Task.task_id == task_id).output(load_json=True).first()
