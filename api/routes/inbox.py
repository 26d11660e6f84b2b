"""The admin's inbox."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import msgspec
from litestar import Response, get
from litestar.di import Provide
from litestar.enums import MediaType
from litestar.params import Parameter

from api.errors import ApiError, error_responses
from api.params import Cursor, position
from api.schemas import InboxRead, TaskRead
from api.security import Caller, provide_caller
from infra.db.inbox import list_tasks
from infra.db.tables import Task


READ_COLUMNS = (
    Task.id, Task.task_id, Task.kind, Task.process_id, Task.title, Task.tier, Task.region, Task.status,
    Task.assignee, Task.due_at, Task.escalated, Task.actions, Task.priority, Task.created_at,
)
"""``TaskRead``'s columns, in its order after the id: what a page reads when a task has no
stored answer (``_item``); the inbox reads no more than it answers."""
PASSED_ON = frozenset({"actions"})
"""Stored JSON the answer holds as it is: written out verbatim, never decoded and encoded again."""
STORED_COLUMNS = (Task.id, Task.inbox_json)
"""What the page reads: each task's answer as the database keeps it (``infra.db.inbox_json``),
read as UTF-8 bytes to be written out without decoding or encoding."""
STORED_AS_BYTES = frozenset({"inbox_json"})


def _item(
    id: int, task_id: str, kind: str, process_id: str, title: str, tier: str, region: str | None, status: str,
    assignee: str | None, due_at: datetime | None, escalated: bool, actions: Any, priority: int, created_at: datetime | None,
    auth_version: int | None,
) -> tuple[int, int | None, TaskRead]:
    """A page row (``READ_COLUMNS`` and the ``auth_version`` read with it) straight into its
    ``TaskRead``, without a dict per row."""
    return id, auth_version, TaskRead(
        task_id, kind, process_id, title, tier, region, status, assignee, due_at, escalated, actions or [], priority, created_at,
    )


def _stored(id: int, inbox_json: bytes | None, auth_version: int | None) -> tuple[int, int | None, bytes | None]:
    """A page row (``STORED_COLUMNS`` and the ``auth_version`` read with it) in the order the
    handler reads: the id (the cursor), the version, the task's answer as JSON bytes."""
    return id, auth_version, inbox_json


def _body(items: list[bytes], next_cursor: int | None) -> bytes:
    """``InboxRead`` as msgspec would write it, around items that are JSON already."""
    cursor = b"null" if next_cursor is None else b'"%d"' % next_cursor
    return b'{"items":[' + b",".join(items) + b'],"next_cursor":' + cursor + b"}"


@get("/api/inbox", summary="Tasks in my inbox", tags=["inbox"], dependencies={"caller": Provide(provide_caller)}, responses=error_responses(400, 401))
async def inbox(
    caller: Caller,
    status: Literal["open", "claimed", "done"] | None = None,
    kind: Annotated[str | None, Parameter(max_length=64)] = None,
    region: Annotated[str | None, Parameter(max_length=64)] = None,
    limit: Annotated[int, Parameter(ge=1, le=200)] = 50,
    cursor: Cursor = None,
) -> Response[InboxRead]:
    """The page is read for the admin the session cache holds for the token, with the
    ``auth_version`` of the same snapshot, and only then is the session confirmed under that
    version: on the usual request (a cached session) the check costs no statement of its own.
    A session ended, an admin changed or a grant revoked before the read is refused, or the
    page read again for the admin as they now are, exactly as if the check had come first."""
    try:
        after = position(cursor, Task.id)
    except ApiError:
        await caller.principal()  # who asks is checked first, as for any other input
        raise
    now = datetime.now(UTC)
    guess = caller.unconfirmed()
    actor = guess.actor if guess is not None else (await caller.principal()).actor

    async def page(actor, stored: bool = True):  # type: ignore[no-untyped-def]
        return await list_tasks(
            actor, now=now, status=status, kind=kind, region=region, limit=limit, cursor=after,
            columns=STORED_COLUMNS if stored else READ_COLUMNS, raw_json=PASSED_ON, into=_stored if stored else _item,
            auth_version=True, as_bytes=STORED_AS_BYTES,
        )

    rows, next_cursor = await page(actor)
    if guess is not None:
        confirmed = await caller.principal(rows[0][1] if rows else None)
        if confirmed.actor != actor:
            actor = confirmed.actor
            rows, next_cursor = await page(actor)
    if any(r[2] is None for r in rows):
        rows, next_cursor = await page(actor, stored=False)
        answer = InboxRead(items=[r[2] for r in rows], next_cursor=str(next_cursor) if next_cursor is not None else None)
        return Response(msgspec.json.encode(answer), media_type=MediaType.JSON)
    return Response(_body([r[2] for r in rows], next_cursor), media_type=MediaType.JSON)
