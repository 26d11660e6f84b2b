"""``task.inbox_json``: each task as ``GET /api/inbox`` answers it, kept by the database.

Reading a page of 50 tasks column by column cost the inbox as much again as finding them:
650 stored values to turn into Python objects, 100 timestamps to parse, then 50 structs to
build and encode (figure 3a, docs/performance.md). Building each row's JSON in the page query
itself (``json_object``) costs SQLite 3.40 more than that. So the JSON is built when a task is
written instead, by triggers of the database (any writer, any statement, as for
``auth_version``), and the page reads one text value per task and joins them.

The JSON is ``TaskRead`` as msgspec writes it from the row as the Python path reads it: the
same fields in the same order; timestamps in UTC as ``2026-12-08T14:29:34.208116Z``, without
a fraction when the microseconds are 0 (SQLite holds what Piccolo wrote, UTC text such as
``2026-12-08 14:29:34.208116+00:00``; an offset is dropped as ``_timestamptz`` drops it);
``escalated`` a JSON boolean; ``actions`` the stored JSON, ``[]`` when there is none. A change
to ``TaskRead`` needs a migration that replaces these triggers (and refills the column);
tests/api/test_inbox_answers.py compares the two on both databases.
"""

from __future__ import annotations

FIELDS = (
    ("id", "task_id"), ("kind", "kind"), ("process_id", "process_id"), ("title", "title"), ("tier", "tier"),
    ("region", "region"), ("status", "status"), ("assignee", "assignee"), ("due_at", "due_at"),
    ("escalated", "escalated"), ("actions", "actions"), ("priority", "priority"), ("created_at", "created_at"),
)
"""``TaskRead``'s fields in order, and the task column each comes from."""
TIMESTAMPS = frozenset({"due_at", "created_at"})
SOURCE_COLUMNS = tuple(column for _, column in FIELDS)


def _sqlite_timestamp(c: str) -> str:
    # 'YYYY-MM-DD HH:MM:SS[.ffffff]' then '+HH:MM', 'Z' or nothing: the date, 'T', the time, 'Z'.
    keep = f"CASE WHEN substr({c}, -6, 1) IN ('+', '-') THEN length({c}) - 17 WHEN {c} LIKE '%Z' THEN length({c}) - 12 ELSE length({c}) - 11 END"
    return f"CASE WHEN {c} IS NULL THEN NULL ELSE substr({c}, 1, 10) || 'T' || substr({c}, 12, {keep}) || 'Z' END"


def _sqlite_value(name: str, c: str) -> str:
    if name in TIMESTAMPS:
        return _sqlite_timestamp(c)
    if name == "escalated":
        return f"CASE WHEN {c} IS NULL THEN NULL WHEN {c} = 1 THEN json('true') ELSE json('false') END"
    if name == "actions":
        return f"CASE WHEN {c} IS NULL OR {c} = '' THEN json('[]') ELSE json({c}) END"
    return c


def sqlite_expression() -> str:
    """The row's JSON from its own columns (inside ``UPDATE task SET inbox_json = ...``)."""
    return "json_object(" + ", ".join(f"'{name}', {_sqlite_value(name, c)}" for name, c in FIELDS) + ")"


def _postgres_value(name: str, c: str) -> str:
    if name in TIMESTAMPS:
        utc = f"({c} AT TIME ZONE 'UTC')"
        fraction = f"CASE WHEN date_part('microseconds', {c})::bigint % 1000000 = 0 THEN '' ELSE to_char({utc}, '.US') END"
        return f"CASE WHEN {c} IS NULL THEN NULL ELSE to_char({utc}, 'YYYY-MM-DD\"T\"HH24:MI:SS') || {fraction} || 'Z' END"
    if name == "actions":
        return f"coalesce({c}, '[]'::json)"
    return c


def postgres_expression(row: str = "NEW") -> str:
    return "json_build_object(" + ", ".join(f"'{name}', {_postgres_value(name, f'{row}.{c}')}" for name, c in FIELDS) + ")::text"


def sqlite_ddl() -> tuple[str, ...]:
    """AFTER triggers that set the column from the row just written (the inner update writes
    only ``inbox_json``, which fires neither trigger again), then every existing row filled."""
    update = f"UPDATE task SET inbox_json = {sqlite_expression()} WHERE id = NEW.id"
    return (
        "DROP TRIGGER IF EXISTS task_inbox_json_insert",
        "DROP TRIGGER IF EXISTS task_inbox_json_update",
        f"CREATE TRIGGER task_inbox_json_insert AFTER INSERT ON task BEGIN {update}; END",
        f"CREATE TRIGGER task_inbox_json_update AFTER UPDATE OF {', '.join(SOURCE_COLUMNS)} ON task BEGIN {update}; END",
        f"UPDATE task SET inbox_json = {sqlite_expression()}",
    )


def postgres_ddl() -> tuple[str, ...]:
    """A BEFORE trigger that sets the column on the row being written, then every existing
    row filled (an update that changes nothing else, which the trigger completes)."""
    return (
        "CREATE OR REPLACE FUNCTION task_inbox_json() RETURNS trigger LANGUAGE plpgsql AS "
        f"$$ BEGIN NEW.inbox_json := {postgres_expression()}; RETURN NEW; END $$",
        "DROP TRIGGER IF EXISTS task_inbox_json ON task",
        "CREATE TRIGGER task_inbox_json BEFORE INSERT OR UPDATE ON task FOR EACH ROW EXECUTE FUNCTION task_inbox_json()",
        "UPDATE task SET priority = priority",
    )
