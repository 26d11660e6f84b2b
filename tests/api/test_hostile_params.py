"""Paging cursors, dates and date-times out of range or not plain ASCII digits: each is a 400
with its own code, never a 500 (``api/params.py``); the fuzz suite sends the same values to
every parameter (``tests/reliability/test_hostile_input.py``)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from urllib.parse import quote

import pytest

from api.errors import ApiError
from api.params import EARLIEST, LATEST, day_span, moment, position
from infra.db.tables import AuditEvent, Buyer, Task
from tests.api.conftest import bearer, login
from tests.reliability.test_hostile_input import HOSTILE_ENCODED, HOSTILE_VALUES

AUDITOR = "station-master"
"""Reads the whole audit trail."""
INBOX_OWNER = "normal-game-cards-1"

ROUTES = {
    "/api/inbox": ("status", "kind", "region", "limit", "cursor"),
    "/api/audit": ("actor", "action", "target", "since", "until", "limit", "cursor"),
    "/api/audit/who-read": ("days", "limit"),
    "/api/audit/actors/super-2": ("day", "limit"),
    "/api/audit/export": ("process_id",),
    "/api/risk/signals": ("rule", "subject", "process_id", "limit"),
}
"""The routes taking a cursor, limit, date, date-time, id or enum, and those parameters."""


def code_of(response) -> str:  # type: ignore[no-untyped-def]
    return response.json()["error"]["code"]


@pytest.mark.parametrize("cursor", ["١٢٣", "１２３", "²", "𝟙𝟚𝟛", "-1", "+1", " 1", "1_000", "", "eyJpZCI6IDF9"])
@pytest.mark.parametrize("column", [Task.id, AuditEvent.seq])
def test_a_cursor_is_plain_ascii_digits(cursor, column):  # type: ignore[no-untyped-def]
    with pytest.raises(ApiError) as refused:
        position(cursor, column)
    assert refused.value.status_code == 400 and refused.value.code == "bad_cursor"


def test_a_cursor_fits_its_column_on_every_engine():
    """``Task.id`` is a ``Serial`` (PostgreSQL's ``integer``); ``AuditEvent.seq`` a ``bigint``."""
    assert position(None, Task.id) is None and position("0", Task.id) == 0 and position("0042", Task.id) == 42
    assert position(str(2**31 - 1), Task.id) == 2**31 - 1 and position(str(2**63 - 1), AuditEvent.seq) == 2**63 - 1
    for cursor, column in ((str(2**31), Task.id), (str(2**63), AuditEvent.seq), ("9" * 20, AuditEvent.seq)):
        with pytest.raises(ApiError):
            position(cursor, column)


def test_a_moment_is_zoned_and_within_the_calendar_once_in_utc():
    assert moment("since", None) is None
    eight = timezone(timedelta(hours=8))
    assert moment("since", datetime(2026, 11, 20, 8, tzinfo=eight)) == datetime(2026, 11, 20, tzinfo=UTC)
    with pytest.raises(ApiError) as naive:
        moment("since", datetime(2026, 11, 20))
    assert naive.value.code == "naive_time"
    late, early = timezone(-timedelta(hours=23, minutes=59)), timezone(timedelta(hours=23, minutes=59))
    for value in (datetime(9999, 12, 31, 23, 59, 59, tzinfo=late), datetime(1, 1, 1, tzinfo=early), datetime.max.replace(tzinfo=UTC),
                  datetime.min.replace(tzinfo=UTC), LATEST):
        with pytest.raises(ApiError) as refused:
            moment("until", value)
        assert refused.value.code == "time_out_of_range" and "until" in refused.value.reason
    first, last = moment("since", EARLIEST), moment("until", LATEST - timedelta(microseconds=1))
    assert first == EARLIEST and last is not None
    # A day's span either way from any moment accepted is a moment too.
    assert first - timedelta(days=1) >= datetime.min.replace(tzinfo=UTC) and last + timedelta(days=1) <= datetime.max.replace(tzinfo=UTC)


def test_a_day_spans_a_day_that_ends():
    assert day_span("day", date(2026, 11, 21)) == (datetime(2026, 11, 21, tzinfo=UTC), datetime(2026, 11, 22, tzinfo=UTC))
    assert day_span("day", date(9999, 12, 30))[1] == datetime(9999, 12, 31, tzinfo=UTC)
    for day in (date.max, date.min):
        with pytest.raises(ApiError) as refused:
            day_span("day", day)
        assert refused.value.code == "time_out_of_range"


@pytest.mark.db
@pytest.mark.timeout(120)
async def test_no_hostile_value_in_a_paged_or_dated_route_reaches_a_500(api):
    """Every value of the class in every parameter of these routes: below 500, and a refusal
    in the one error shape; the audit chain still verifies after all of it."""
    auditor, owner = bearer(await login(api, AUDITOR)), bearer(await login(api, INBOX_OWNER))
    buyer = (await Buyer.select(Buyer.code).first())["code"]
    required = {"/api/audit/who-read": {"buyer": buyer}, "/api/audit/actors/super-2": {"day": f"{datetime.now(UTC):%Y-%m-%d}"}}
    failures = []
    for path, names in ROUTES.items():
        headers = owner if path == "/api/inbox" else auditor
        for name in names:
            others = [f"{k}={quote(v)}" for k, v in required.get(path, {}).items() if k != name]
            for value in [quote(v, safe="") for v in HOSTILE_VALUES] + HOSTILE_ENCODED:
                response = await api.get(f"{path}?" + "&".join([*others, f"{name}={value}"]), headers=headers)
                if response.status_code >= 500 or (response.status_code >= 400 and not code_of(response)):
                    failures.append(f"{path} {name}={value[:40]} -> {response.status_code} {response.text[:120]}")
    assert not failures, "\n".join(failures)
    verified = (await api.get("/api/audit/verify", headers=auditor)).json()
    assert verified["ok"] is True, verified


@pytest.mark.db
async def test_the_cursors_that_were_500s_are_bad_cursors(api):
    owner, auditor = bearer(await login(api, INBOX_OWNER)), bearer(await login(api, AUDITOR))
    for cursor in ("²", "١٢٣", "１２３", str(2**31), str(2**63), "9" * 20):
        response = await api.get("/api/inbox", params={"cursor": cursor}, headers=owner)
        assert response.status_code == 400 and code_of(response) == "bad_cursor", (cursor, response.text)
    for cursor in ("²", "١٢٣", str(2**63), "9" * 20):
        response = await api.get("/api/audit", params={"cursor": cursor}, headers=auditor)
        assert response.status_code == 400 and code_of(response) == "bad_cursor", (cursor, response.text)
    # Within the column: a page like any other (none below it here, every one below it there).
    assert (await api.get("/api/inbox", params={"cursor": "0"}, headers=owner)).json()["items"] == []
    page = await api.get("/api/audit", params={"cursor": str(2**63 - 1), "limit": 1}, headers=auditor)
    assert page.status_code == 200 and len(page.json()["items"]) == 1
    assert (await api.get("/api/inbox", params={"cursor": "x" * 21}, headers=owner)).status_code == 400


@pytest.mark.db
async def test_the_moments_that_were_500s_are_out_of_range(api):
    auditor = bearer(await login(api, AUDITOR))
    for name in ("since", "until"):
        for value in ("9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59", "9999-12-31T12:00:00Z", "0001-01-01T00:00:00Z"):
            response = await api.get("/api/audit", params={name: value}, headers=auditor)
            assert response.status_code == 400 and code_of(response) == "time_out_of_range", (name, value, response.text)
            assert name in response.json()["error"]["reason"]
        naive = await api.get("/api/audit", params={name: "2026-11-20T00:00:00"}, headers=auditor)
        assert naive.status_code == 400 and code_of(naive) == "naive_time"
    zoned = await api.get("/api/audit", params={"since": "2000-01-01T08:00:00+08:00", "until": "9999-12-30T23:59:59Z", "limit": 1}, headers=auditor)
    assert zoned.status_code == 200 and len(zoned.json()["items"]) == 1
    last_day = await api.get("/api/audit/actors/super-2", params={"day": "9999-12-31"}, headers=auditor)
    assert last_day.status_code == 400 and code_of(last_day) == "time_out_of_range"
    far = await api.get("/api/audit/actors/super-2", params={"day": "9999-12-30"}, headers=auditor)
    assert far.status_code == 200 and far.json()["items"] == []
    impossible = await api.get("/api/audit/actors/super-2", params={"day": "2026-02-30"}, headers=auditor)
    assert impossible.status_code == 400 and code_of(impossible) == "invalid_request"


@pytest.mark.db
async def test_a_process_id_in_another_script_exports_under_an_ascii_file_name(api):
    """A refused export records its target, the process id as asked: an auditor's export of that
    id then finds the record and names the file after it, in a header that is Latin-1 only."""
    refused = await api.get("/api/audit/export", params={"process_id": "争议-١٢٣"}, headers=bearer(await login(api, INBOX_OWNER)))
    assert refused.status_code == 403
    exported = await api.get("/api/audit/export", params={"process_id": "争议-١٢٣"}, headers=bearer(await login(api, AUDITOR)))
    assert exported.status_code == 200, exported.text
    assert exported.headers["content-disposition"] == 'attachment; filename="__-___.jsonl"'


@pytest.mark.db
async def test_hostile_header_values_are_refused_below_500(api):
    """The headers every route reads (the session, the idempotency key, a proxy's address) with
    the same values, as UTF-8 bytes: a refusal in the one error shape, or an answer."""
    token = await login(api, INBOX_OWNER)
    sendable = [v.encode() for v in HOSTILE_VALUES if all(" " <= c != "\x7f" for c in v)]
    failures = []
    for value in sendable:
        for headers in (
            {"Authorization": b"Bearer " + value}, {"Cookie": b"kameng_session=" + value},
            {"Authorization": f"Bearer {token}".encode(), "Idempotency-Key": value},
            {"Authorization": f"Bearer {token}".encode(), "X-Forwarded-For": value, "Forwarded": b"for=" + value},
        ):
            for path in ("/api/inbox", "/api/me"):
                response = await api.get(path, headers=headers)
                if response.status_code >= 500 or (response.status_code >= 400 and not code_of(response)):
                    failures.append(f"{path} {list(headers)[-1]}={value[:40]!r} -> {response.status_code} {response.text[:120]}")
    assert not failures, "\n".join(failures)
