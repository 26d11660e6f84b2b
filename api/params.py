"""Query parameters that name a page position or a moment, read in one place.

Litestar (msgspec) checks a parameter's syntax: an integer, an RFC 3339 date or date-time. What
passes can still fail further on, as a 500: a cursor that ``str.isdigit`` and ``int()`` take in
other scripts (``"١٢٣"``, ``"²"``), an id past its column's integer type (the driver refuses
it), a moment whose zone puts it outside the years Python holds once it is read as UTC (as
both database drivers read it), or a day whose end is past the last one. Every route taking a
cursor, a date-time or a day reads it through here: a value out of range is a 400 with a code
of its own, and what a route does with a value accepted (a day's span, a zone's offset) stays
representable.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated

from litestar.params import Parameter
from piccolo.columns import BigInt, BigSerial, Column, SmallInt

from api.errors import ApiError

Cursor = Annotated[
    str | None,
    Parameter(
        max_length=20, description="The `next_cursor` of the page before",
        # Documented, not enforced by Litestar: ``position`` refuses the rest, after the caller
        # is known, with ``bad_cursor``.
        schema_extra={"pattern": "^[0-9]+$"},
    ),
]
"""A paging cursor as every paged route declares it; read it with ``position``."""

EARLIEST = datetime(1, 1, 2, tzinfo=UTC)
LATEST = datetime(9999, 12, 31, tzinfo=UTC)
"""The moments a query may name, ``[EARLIEST, LATEST)`` in UTC: a day inside Python's range
at each end, so that a day's span from any moment accepted is a moment too."""


def ceiling(column: Column) -> int:
    """The largest value the column holds on every engine: PostgreSQL's ``integer`` (a
    ``Serial`` or an ``Integer``), ``smallint`` or ``bigint`` (SQLite's are all 64-bit)."""
    if isinstance(column, BigInt | BigSerial):
        return 2**63 - 1
    if isinstance(column, SmallInt):
        return 2**15 - 1
    return 2**31 - 1


def position(cursor: str | None, column: Column) -> int | None:
    """The id a cursor names, for a page of the rows below it in ``column``: plain ASCII
    digits, no more than the column holds; anything else is no ``next_cursor`` ever returned."""
    if cursor is None:
        return None
    if not (cursor.isascii() and cursor.isdigit()) or int(cursor) > ceiling(column):
        raise ApiError(400, "bad_cursor", "cursor must be a value returned as next_cursor")
    return int(cursor)


def moment(name: str, value: datetime | None) -> datetime | None:
    """A date-time parameter in UTC: with a time zone, and within ``[EARLIEST, LATEST)``."""
    return None if value is None else _bounded(name, value)


def day_span(name: str, day: date) -> tuple[datetime, datetime]:
    """A UTC day as the moments ``[start, end)``, the day within ``[EARLIEST, LATEST)``."""
    start = _bounded(name, datetime.combine(day, time.min, tzinfo=UTC))
    return start, start + timedelta(days=1)


def _bounded(name: str, value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ApiError(400, "naive_time", f"{name} needs a time zone (e.g. 2026-11-20T00:00:00Z)")
    try:
        utc = value.astimezone(UTC)
    except OverflowError:  # the zone's offset takes it past year 1 or 9999
        utc = None
    if utc is None or not EARLIEST <= utc < LATEST:
        raise ApiError(400, "time_out_of_range", f"{name} must lie from {EARLIEST.date()} to before {LATEST.date()} (UTC)")
    return utc
