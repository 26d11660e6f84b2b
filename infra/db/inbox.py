"""Reading the inbox read model."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from piccolo.columns import Column
from piccolo.columns.combination import WhereRaw
from piccolo.querystring import QueryString

from infra.accounts import auth_version_sql
from infra.db.compiled import Compiled, Param, compiled
from infra.db.tables import Task
from workflows.domain.inbox import task_visible
from workflows.domain.permissions import Scope
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
    columns: tuple[Column, ...] = (),
    raw_json: frozenset[str] = frozenset(),
    into: Callable[..., tuple] | None = None,
    auth_version: bool = False,
    as_bytes: frozenset[str] = frozenset(),
) -> tuple[list[Any], int | None]:
    """A page of the tasks this admin may see, newest first; returns (rows, next cursor).

    The database does the filtering (``task_visible`` in SQL): one branch per way a task can
    be for the admin (their tier in each of their regions, region-less tasks of their tier,
    their assignments, the tasks naming them, each active grant), each reading at most a page
    of ids newest-first from its own index below the cursor; the page is the newest of those.
    ``columns`` picks what each row holds (``id`` is always there); default every column.
    ``raw_json`` names JSON columns to return undecoded (``msgspec.Raw``, for a response).

    ``into``: each row is ``into(id, *values)`` instead of a dict (``infra.db.compiled``), the
    values in the order of ``columns`` (which must then start with ``Task.id``); what it returns
    is a tuple starting with the id, which the next cursor is read from. ``auth_version``: each
    row also holds the ``auth_version`` read in the same statement (``infra.accounts
    .auth_version_sql``), as its last column, for a caller that confirms its session with it.
    ``as_bytes``: text columns (by name) read as their UTF-8 bytes, for a caller that writes
    them out as they are.
    """
    if into is not None and (not columns or columns[0] is not Task.id):
        raise ValueError("into= needs the columns, Task.id first")
    if columns and not any(c is Task.id for c in columns):
        columns = (Task.id, *columns)
    if not actor.active:
        return [], None
    sql, args = _visible_where(actor, now, status=status, kind=kind, region=region, limit=limit, cursor=cursor)
    rows = await _page(sql, len(args), columns, limit, raw_json, into, auth_version, as_bytes).rows(*args)
    if len(rows) < limit:
        return rows, None
    return rows, (rows[-1][0] if into is not None else rows[-1]["id"])


_PAGES: dict[tuple, Compiled] = {}
"""The page query per shape (the admin's regions and grants, the filters, the columns, the
limit): built and rendered by Piccolo once, then run with each request's values."""


def _page(
    sql: str, count: int, columns: tuple[Column, ...], limit: int, raw_json: frozenset[str],
    into: Callable[..., tuple] | None, auth_version: bool, as_bytes: frozenset[str] = frozenset(),
) -> Compiled:
    # Columns by identity: a column's == builds a where clause. The built query holds them.
    key = (sql, count, tuple(map(id, columns)), limit, raw_json, into, auth_version, as_bytes)
    page = _PAGES.get(key)
    if page is None:
        if len(_PAGES) >= 512:
            _PAGES.clear()

        def build():  # type: ignore[no-untyped-def]
            selected: list[Any] = [_bytes(c) if c._meta.name in as_bytes else c for c in columns]
            if auth_version:
                selected = [*(selected or Task._meta.columns), QueryString(auth_version_sql()).as_alias("auth_version")]
            query = Task.select(*selected) if selected else Task.select()
            where = WhereRaw(sql, *(Param(i) for i in range(count)))
            return query.where(where).order_by(Task.id, ascending=False).limit(limit).output(load_json=True)

        page = _PAGES[key] = compiled(build, inline=True, raw_json=raw_json, into=into)
    return page


def _bytes(column: Column) -> QueryString:
    """A text column's value as its UTF-8 bytes (SQLite's BLOB, PostgreSQL's bytea), under its name."""
    name = f'"{Task._meta.tablename}"."{column._meta.db_column_name}"'
    if Task._meta.db.engine_type == "postgres":
        return QueryString(f"convert_to({name}, 'UTF8')").as_alias(column._meta.name)
    return QueryString(f"CAST({name} AS BLOB)").as_alias(column._meta.name)


def _filters(t: str, status: str | None, kind: str | None, region: str | None, cursor: int | None) -> tuple[str, list[Any]]:
    sql, args = "", []
    if status == "done":
        sql += f" AND {t}.status IN ('done', 'cancelled')"
    elif status in ("open", "claimed"):
        sql += f" AND {t}.status = {{}}"
        args.append(status)
    if kind:
        sql += f" AND {t}.kind = {{}}"
        args.append(kind)
    if region:
        sql += f" AND {t}.region = {{}}"
        args.append(region)
    if cursor is not None:
        sql += f" AND {t}.id < {{}}"
        args.append(cursor)
    return sql, args


def _not_excluded(t: str, postgres: bool) -> str:
    if postgres:
        return f" AND NOT ({{}} = ANY({t}.excluded))"
    # Most tasks exclude no one: the stored empty list is seen without reading it as JSON.
    return f" AND ({t}.excluded = '[]' OR NOT EXISTS (SELECT 1 FROM json_each({t}.excluded) WHERE value = {{}}))"


def _regions_sql(t: str, regions: tuple[str, ...]) -> tuple[str, list[Any]]:
    if not regions:
        return f"{t}.region IS NULL", []
    marks = ", ".join("{}" for _ in regions)
    return f"({t}.region IS NULL OR {t}.region IN ({marks}))", list(regions)


def _visible_where(
    actor: Actor, now: datetime, *, status: str | None, kind: str | None, region: str | None, limit: int, cursor: int | None
) -> tuple[str, list[Any]]:
    """The where clause (``{}`` for each value) and its values: the clause depends only on the
    query's shape, so its compiled query is reused for every admin and page of that shape."""
    postgres = Task._meta.db.engine_type == "postgres"
    filters, filter_args = _filters("t", status, kind, region, cursor)
    tail = filters + _not_excluded("t", postgres) + " ORDER BY t.id DESC LIMIT {}"
    tail_args = [*filter_args, actor.id, limit]
    branches: list[tuple[str, list[Any]]] = []

    # The admin's tier: each of their regions, and tasks without a region.
    for where in [*(("t.region = {}", [r]) for r in actor.regions), ("t.region IS NULL", [])]:
        branches.append((f"SELECT t.id FROM task t WHERE t.tier = {{}} AND {where[0]}" + tail, [actor.tier, *where[1], *tail_args]))
    branches.append(("SELECT t.id FROM task t WHERE t.assignee = {}" + tail, [actor.id, *tail_args]))

    by_key = "SELECT t.id FROM task_key k JOIN task t ON t.id = k.task WHERE k.key = {}"
    branches.append((by_key + tail.replace("ORDER BY t.id", "ORDER BY k.task"), [f"c:{actor.id}", *tail_args]))
    for grant in actor.grants:
        if not grant.active_at(now):
            continue
        key_args: list[Any] = [f"p:{grant.permission}"]
        sql = by_key
        if grant.scope is not Scope.GLOBAL:
            where, args = _regions_sql("t", grant.regions or actor.regions)
            sql += f" AND {where}"
            key_args += args
        branches.append((sql + tail.replace("ORDER BY t.id", "ORDER BY k.task"), [*key_args, *tail_args]))

    # UNION ALL: ``IN`` takes the ids as a set (a plain UNION would sort them once more first).
    union = " UNION ALL ".join(f"SELECT id FROM ({sql}) AS b{n}" for n, (sql, _) in enumerate(branches))
    args = [a for _, branch_args in branches for a in branch_args]
    return f"task.id IN ({union})", args


async def get_task(task_id: str) -> dict[str, Any] | None:
    return await Task.select().where(Task.task_id == task_id).output(load_json=True).first()
