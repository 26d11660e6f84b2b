"""Piccolo queries compiled once and run again with new values.

Building a Piccolo query (its columns, joins and where tree) and rendering its SQL costs far
more than a small indexed read takes to run: about 1 ms against tens of microseconds for the
session lookup in the profile behind figure 3a (docs/performance.md). ``compiled`` builds the
query once per engine with ``Param`` placeholders where values go, keeps the statement Piccolo
rendered and where each placeholder sits among its arguments, and runs that statement with
each call's values. The rows are what the query's ``run()`` returns: its projection (which
column holds JSON to load, which rows nest) is worked out once, from the query itself.

``into`` skips the dicts for a caller that only turns each row into something else (a response
struct, say): each row's values, converted as above, go straight to ``into`` positionally in
the query's column order, and ``rows()`` returns what it returns. On an inline read that is one
generated call per row from the stored tuple; building a dict of 14 columns and reading it
back cost the inbox about as much as running its query (figure 3a).

``inline=True`` marks a small indexed read. On SQLite it runs on the event loop's own thread
(``PooledSQLiteEngine.read_inline``: no hand-off to aiosqlite's thread and back), and its
values are converted per selected column as Piccolo's SQLite converters would, without their
per-value decoding. PostgreSQL runs compiled queries through its pool, where asyncpg prepares
each statement once per connection.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any

import msgspec
from piccolo.columns import JSON, JSONB, Column
from piccolo.columns.m2m import M2MSelect
from piccolo.engine.base import Engine
from piccolo.engine.sqlite import CONVERTERS, convert_complex_array_out
from piccolo.query.methods.select import First, Select
from piccolo.querystring import QueryString
from piccolo.utils.dictionary import make_nested
from piccolo.utils.encoding import JSONDict, load_json


class Param:
    """Where a value goes: ``Param("digest")`` or ``Param(0)``, given to ``rows`` by name or position."""

    __slots__ = ("key",)

    def __init__(self, key: str | int) -> None:
        self.key = key

    def __repr__(self) -> str:
        return f"Param({self.key!r})"


class BoundQuery(QueryString):
    """A statement already rendered for its engine, with its values: what an engine runs."""

    __slots__ = ()

    def __init__(self, sql: str, args: list[Any], table: Any) -> None:
        self.template = sql
        self.args = ()
        self.columns = ()
        self.query_type = "select"
        self.table = table
        self._alias = None
        self._frozen_compiled_strings = (sql, args)


def _json(value: str) -> Any:
    """Piccolo's ``load_json``, with msgspec's faster decoder."""
    try:
        found = msgspec.json.decode(value)
    except msgspec.DecodeError:  # what json.loads also reads (NaN, say)
        return load_json(value)
    return JSONDict(found) if type(found) is dict else found


def _integer(value: Any) -> Any:
    return value if type(value) is int else CONVERTERS["INTEGER"](str(value))


def _boolean(value: Any) -> bool:
    return value == 1 if type(value) is int else str(value) == "1"


def _timestamptz(value: Any) -> datetime:
    found = datetime.fromisoformat(value)
    return found if found.tzinfo is UTC else found.replace(tzinfo=UTC)


def _array(value: Any) -> Any:
    return _json(value) if isinstance(value, str) else load_json(value.decode())


_FAST = {"INTEGER": _integer, "BOOLEAN": _boolean, "TIMESTAMPTZ": _timestamptz, "ARRAY": _array}


def _sqlite_converter(column: Column, load: bool) -> Callable[[Any], Any] | None:
    """What Piccolo's SQLite engine does to this column's stored values (its converters, by
    declared type), and then ``load_json`` for a JSON column when the query loads JSON."""
    declared = column.column_type.split("(")[0].split()[0].upper()
    if isinstance(column, JSON | JSONB):
        return _json if load else None
    if declared in _FAST:
        return _FAST[declared]
    if declared in CONVERTERS:
        convert = CONVERTERS[declared]
        return lambda value: convert(str(value))
    if declared.startswith("ARRAY_") and declared[6:] in CONVERTERS:  # arrays of timestamps, dates...
        convert_array = partial(convert_complex_array_out, converter=CONVERTERS[declared[6:]])
        return lambda value: convert_array(value.encode() if isinstance(value, str) else value)
    return None


def _alias(column: Any) -> str:
    if column._alias is not None:
        return column._alias
    return column._meta.get_default_alias() if column._meta.call_chain else column._meta.name


def _raw(value: Any) -> msgspec.Raw:
    """A stored JSON text passed on undecoded (``raw_json``)."""
    return msgspec.Raw(value if isinstance(value, str | bytes) else msgspec.json.encode(value))


class _Plan:
    __slots__ = (
        "engine", "table", "select", "sql", "slots", "first", "json_names", "raw_names", "nested", "generic", "by_alias",
        "projection", "read_inline", "into",
    )

    def __init__(
        self, engine: Engine, query: Select | First, raw_json: frozenset[str] = frozenset(), into: Callable[..., Any] | None = None,
    ) -> None:
        self.engine = engine
        self.first = isinstance(query, First)
        self.select: Select = query.query if isinstance(query, First) else query
        [querystring] = self.select.querystrings
        self.sql, args = querystring.compile_string(engine_type=engine.engine_type)
        # (True, key) for a placeholder, (False, value) for a value fixed when the query was built
        self.slots = tuple((True, a.key) if isinstance(a, Param) else (False, a) for a in args)
        # The projection, worked out once: which columns hold JSON to load, whether rows nest.
        # What this does not cover (objects, many-to-many) goes through Piccolo's own processing.
        output = self.select.output_delegate._output
        selected = self.select.columns_delegate.selected_columns
        self.generic = output.as_objects or any(isinstance(c, M2MSelect) for c in selected)
        self.nested = output.nested and bool(selected)
        columns = [c for c in (selected or self.select.table._meta.columns) if isinstance(c, Column)]
        self.raw_names = tuple(_alias(c) for c in columns if isinstance(c, JSON | JSONB) and _alias(c) in raw_json)
        self.json_names: tuple[str, ...] = ()
        if output.load_json:
            self.json_names = tuple(_alias(c) for c in columns if isinstance(c, JSON | JSONB) and _alias(c) not in raw_json)
        self.by_alias = {_alias(c): _raw if _alias(c) in raw_json else _sqlite_converter(c, output.load_json) for c in columns}
        self.projection: Callable[[tuple], dict[str, Any]] | None = None
        self.table = self.select.table
        self.read_inline = None if self.generic else getattr(engine, "read_inline", None)
        self.into = into
        if into is not None and (self.generic or self.nested):
            raise ValueError("into= takes flat rows: no objects, no nesting, no many-to-many")

    async def process(self, raw: Any) -> list[dict[str, Any]]:
        """Rows from the engine's usual path (already converted by its driver)."""
        if self.generic:
            return await self.select._process_results(raw)
        rows = self.engine.transform_response_to_dicts(raw) if raw else []
        for name in self.json_names:
            for row in rows:
                if (value := row[name]) is not None:
                    row[name] = load_json(value)
        for name in self.raw_names:
            for row in rows:
                if (value := row[name]) is not None:
                    row[name] = _raw(value)
        if self.into is not None:
            into = self.into
            return [into(*row.values()) for row in rows]  # a row's dict keeps the query's column order
        return [make_nested(row) for row in rows] if self.nested else rows

    def project(self, cursor: Any, raw: list[tuple]) -> list[Any]:
        """Rows of stored SQLite values (``read_inline``), converted column by column."""
        projection = self.projection
        if projection is None:
            columns = tuple((d[0], self.by_alias.get(d[0])) for d in cursor.description)
            projection = self.projection = _projection(columns, self.into)
        rows = list(map(projection, raw))
        return [make_nested(row) for row in rows] if self.nested else rows


def _projection(
    columns: tuple[tuple[str, Callable[[Any], Any] | None], ...], into: Callable[..., Any] | None = None,
) -> Callable[[tuple], Any]:
    """A function from a stored row (a tuple) to its dict, written out for these columns:
    ``{"id": v if type(v := r[0]) is int or v is None else c0(v), "due_at": ..., ...}``;
    with ``into``, the same values passed to it: ``into(v if type(v := r[0]) ..., ...)``."""
    namespace: dict[str, Any] = {"into": into}
    fields = []
    for i, (name, convert) in enumerate(columns):
        namespace[f"c{i}"] = convert
        if convert is None:
            value = f"r[{i}]"
        elif convert is _integer:  # stored as an integer: nothing to convert
            value = f"v if type(v := r[{i}]) is int or v is None else c{i}(v)"
        elif convert is _boolean:
            value = f"None if (v := r[{i}]) is None else v == 1 if type(v) is int else c{i}(v)"
        elif convert is _raw:  # stored JSON text, passed on as it is
            value = f"None if (v := r[{i}]) is None else Raw(v) if type(v) is str else c{i}(v)"
        else:
            value = f"None if (v := r[{i}]) is None else c{i}(v)"
        fields.append(value if into is not None else f"{name!r}: {value}")
    namespace["Raw"] = msgspec.Raw
    body = f"into({', '.join(fields)})" if into is not None else f"{{{', '.join(fields)}}}"
    exec(f"def project(r):\n    return {body}", namespace)  # noqa: S102 (names from the cursor, as literals)
    return namespace["project"]


class Compiled:
    """A select built by ``build()`` once per engine; ``await q.rows(...)`` / ``await q.first(...)``.

    ``raw_json``: JSON columns (by their name in the row) returned undecoded, as ``msgspec.Raw``,
    for a caller that only passes them on into a response (msgspec writes them out verbatim).
    ``into``: called with each row's values in column order instead of building its dict.
    """

    __slots__ = ("_build", "_inline", "_raw_json", "_into", "_plan")

    def __init__(
        self, build: Callable[[], Select | First], *, inline: bool = False, raw_json: frozenset[str] = frozenset(),
        into: Callable[..., Any] | None = None,
    ) -> None:
        self._build = build
        self._inline = inline
        self._raw_json = raw_json
        self._into = into
        self._plan: _Plan | None = None

    def _planned(self) -> _Plan:
        plan = self._plan
        if plan is None or plan.engine is not plan.table._meta.db:  # first run, or tables bound anew
            query = self._build()
            table = query.query.table if isinstance(query, First) else query.table
            plan = self._plan = _Plan(table._meta.db, query, self._raw_json, self._into)
        return plan

    @property
    def sql(self) -> str:
        return self._planned().sql

    async def rows(self, *args: Any, **kwargs: Any) -> list[Any]:
        plan = self._planned()
        values = [(args[v] if isinstance(v, int) else kwargs[v]) if is_param else v for is_param, v in plan.slots]
        if self._inline and plan.read_inline is not None:
            found = plan.read_inline(plan.sql, values, plan.table)
            if found is not None:
                rows = plan.project(*found)
                return rows[:1] if plan.first else rows
        rows = await plan.process(await plan.engine.run_querystring(BoundQuery(plan.sql, values, plan.table)))
        return rows[:1] if plan.first else rows

    async def first(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        rows = await self.rows(*args, **kwargs)
        return rows[0] if rows else None


def compiled(
    build: Callable[[], Select | First], *, inline: bool = False, raw_json: frozenset[str] = frozenset(),
    into: Callable[..., Any] | None = None,
) -> Compiled:
    """``compiled(lambda: Admin.select(Admin.id).where(Admin.username == Param("name")).first())``."""
    return Compiled(build, inline=inline, raw_json=raw_json, into=into)
