"""The admin's inbox."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from litestar import get
from litestar.di import Provide
from litestar.params import Parameter

from api.errors import ApiError, error_responses
from api.schemas import InboxRead, TaskRead
from api.security import Principal, provide_principal
from infra.db.inbox import list_tasks
from infra.db.tables import Task


READ_COLUMNS = (
    Task.id, Task.task_id, Task.kind, Task.process_id, Task.title, Task.tier, Task.region, Task.status,
    Task.assignee, Task.due_at, Task.escalated, Task.actions, Task.priority, Task.created_at,
)
"""What ``task_read`` needs: the inbox reads no more than it answers."""
PASSED_ON = frozenset({"actions"})
"""Stored JSON the answer holds as it is: written out verbatim, never decoded and encoded again."""


def task_read(row: dict) -> TaskRead:
    return TaskRead(
        id=row["task_id"],
        kind=row["kind"],
        process_id=row["process_id"],
        title=row["title"],
        tier=row["tier"],
        region=row["region"],
        status=row["status"],
        assignee=row["assignee"],
        due_at=row["due_at"],
        escalated=row["escalated"],
        actions=row["actions"] or [],
        priority=row["priority"],
        created_at=row["created_at"],
    )


@get("/api/inbox", summary="Tasks in my inbox", tags=["inbox"], dependencies={"principal": Provide(provide_principal)}, responses=error_responses(400, 401))
async def inbox(
    principal: Principal,
    status: Literal["open", "claimed", "done"] | None = None,
    kind: Annotated[str | None, Parameter(max_length=64)] = None,
    region: Annotated[str | None, Parameter(max_length=64)] = None,
    limit: Annotated[int, Parameter(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Parameter(max_length=32)] = None,
) -> InboxRead:
    after: int | None = None
    if cursor is not None:
        if not cursor.isdigit():
            raise ApiError(400, "bad_cursor", "cursor must be a value returned as next_cursor")
        after = int(cursor)
    rows, next_cursor = await list_tasks(
        principal.actor, now=datetime.now(UTC), status=status, kind=kind, region=region,
        limit=limit, cursor=after, columns=READ_COLUMNS, raw_json=PASSED_ON,
    )
    return InboxRead(
        items=[task_read(r) for r in rows],
        next_cursor=str(next_cursor) if next_cursor is not None else None,
    )
