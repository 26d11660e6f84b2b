"""Every route of the OpenAPI document, fed malformed, oversized and wrong-typed bodies,
headers, paths and query strings: each answer is a 4xx in the one error shape, never a 5xx."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from urllib.parse import quote

import pytest

from tests.api.conftest import api, bearer, login, temporal_env  # noqa: F401 - the API's own fixtures
from tests.reliability.report import REPORT, SOAK

pytestmark = [pytest.mark.db, pytest.mark.timeout(600)]

JSON = {"content-type": "application/json"}
HUGE = "卡" * 700_000  # ~2 MB of UTF-8

BODIES: list[tuple[str, bytes, dict[str, str]]] = [
    ("truncated json", b'{"reason": "x"', JSON),
    ("not json", b"<xml>no</xml>", JSON),
    ("invalid utf-8", b'{"reason": "\xff\xfe"}', JSON),
    ("array", b"[]", JSON),
    ("string", b'"approve"', JSON),
    ("number", b"1e999", JSON),
    ("null", b"null", JSON),
    ("deep nesting", b"[" * 20_000 + b"]" * 20_000, JSON),
    ("oversized", json.dumps({"reason": HUGE, "justification": HUGE}).encode(), JSON),
    ("wrong content type", b"reason=x", {"content-type": "application/x-www-form-urlencoded"}),
    ("no content type", b'{"reason": "x"}', {}),
    ("nul bytes", b'{"reason": "a\\u0000b", "code": "\\u0000"}', JSON),
]
PATH_VALUES = ["x" * 5000, "../../etc/passwd", "%00", "%2e%2e%2f", "😀" * 50, "' OR 1=1 --", "-1", "9" * 400]
HEADERS: list[tuple[str, dict[str, str]]] = [
    ("huge bearer", {"Authorization": "Bearer " + "a" * 16_000}),
    ("empty bearer", {"Authorization": "Bearer "}),
    ("basic scheme", {"Authorization": "Basic dXNlcjpwYXNz"}),
    ("garbage cookie", {"Cookie": "kameng_session=" + "%" * 3000 + "; kameng_csrf=\x7f"}),
    ("bad idempotency key", {"Idempotency-Key": "k" * 500}),
    ("control chars in key", {"Idempotency-Key": "a\tb"}),
    ("bad content length", {"Content-Length": "999999999999"}),
]
HOSTILE_VALUES = [
    # Digits of other scripts (int() takes "١٢٣" and "１２３", str.isdigit "²" too), signs and spellings.
    "١٢٣", "１２３", "²", "𝟙𝟚𝟛", "-1", "-0", "0", "+1", " 1", "1\n", "1_000", "0x10", "1e5", "1.5", "NaN", "",
    # Past every integer column: PostgreSQL's integer and bigint, and beyond.
    str(2**31), str(2**63), "9" * 23, "-" + "9" * 23,
    # Dates and times at and past the ends of the calendar, impossible ones, with and without a zone.
    "9999-12-31", "9999-12-31T23:59:59", "9999-12-31T23:59:59Z", "9999-12-31T23:59:59-23:59", "0001-01-01",
    "0001-01-01T00:00:00Z", "0001-01-01T00:00:00+23:59", "0000-01-01T00:00:00Z", "10000-01-01T00:00:00Z",
    "2026-13-45", "2026-02-30", "2026-11-20T24:00:00Z", "2026-11-20T23:59:60Z", "2026-11-20T00:00:00+99:99",
    "2026-11-20T00:00:00", "2026-11-20T00:00:00+08:00", "2026-11-20T00:00:00.9999999999Z",
    # Long, control and look-alike text; encoded cursors.
    "x" * 10_000, "9" * 10_000, "卡" * 3000, "\x00", "\x01\x1f\x7f", "a\r\nb", "\u202e1", "\ufeff1",
    "eyJpZCI6IDF9", "eyJpZCI6", '{"id": 1}', "' OR 1=1 --", "../..",
]
"""Values for any query or path parameter, whatever its type: each must be answered below 500."""
HOSTILE_ENCODED = ["%ff%fe", "%ED%A0%80", "%C0%AF", "%", "%zz"]
"""Already percent-encoded: bytes that are not UTF-8, and escapes that are not escapes."""
QUERIES = [{"limit": "abc"}, {"limit": "-5"}, {"limit": "99999999999999999999"}, {"cursor": "x" * 1000}, {"status": "🙂"},
           {"day": "2026-13-45"}, {"days": "-1"}, {"task_id": "t" * 5000}]


def operations(schema: dict) -> list[tuple[str, str, dict]]:
    return [(method.upper(), path, op) for path, item in schema["paths"].items() for method, op in item.items()
            if method in ("get", "post", "put", "patch", "delete")]


def fill(path: str, value: str = "P00001") -> str:
    return re.sub(r"\{[^}]+\}", value, path)


def queries(op: dict) -> list[dict[str, str]]:
    """The malformed query strings for one operation: each malformed value of a parameter the
    operation reads, and every parameter it does not read in one request (an unread parameter
    is the same malformation whatever its name and value). The soak sends them all, one by one."""
    if SOAK:
        return QUERIES
    declared = {p["name"] for p in op.get("parameters", []) if p.get("in") == "query"}
    unread = {k: v for query in QUERIES for k, v in query.items() if k not in declared}
    return [q for q in QUERIES if set(q) <= declared] + ([unread] if unread else [])


def wrong_typed(op: dict, schema: dict) -> list[dict]:
    """The operation's body with each property swapped for a value of the wrong type."""
    content = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
    ref = content.get("$ref", "")
    component = schema.get("components", {}).get("schemas", {}).get(ref.rsplit("/", 1)[-1], {}) if ref else content
    props = list(component.get("properties", {}))
    out = []
    for wrong in ([1, 2], {"$gt": ""}, -10**30, True, None, "x" * 100_000):
        out.append({p: wrong for p in props} or {"unexpected": wrong})
    return out


async def test_every_route_answers_hostile_input_with_a_4xx(api):
    schema = (await api.get("/schema/openapi.json")).json()
    token = await login(api, "super-2")
    me = bearer(token)
    seen: dict[int, int] = {}
    server_errors: list[str] = []

    async def send(label: str, method: str, url: str, **kwargs) -> None:  # type: ignore[no-untyped-def]
        response = await api.request(method, url, **kwargs)
        REPORT.fuzz_cases += 1
        seen[response.status_code] = seen.get(response.status_code, 0) + 1
        if response.status_code >= 500:
            REPORT.fuzz_5xx += 1
            server_errors.append(f"{label}: {method} {url[:120]} -> {response.status_code} {response.text[:200]}")
        elif response.status_code >= 400:
            assert response.json()["error"]["code"], (label, url, response.text[:200])

    for method, path, op in operations(schema):
        if path in ("/api/auth/logout", "/api/auth/password"):
            continue  # they would end the session the run uses; fuzzed below with a spare one
        auth = {"Authorization": "Bearer kameng-intake-dev"} if path.startswith("/api/intake") else me
        url = fill(path)
        if method != "GET":
            for label, body, headers in BODIES:
                await send(label, method, url, content=body, headers={**auth, **headers})
            for body in wrong_typed(op, schema):
                await send("wrong types", method, url, json=body, headers=auth)
        for value in PATH_VALUES if "{" in path else []:
            await send("path", method, fill(path, value), json={}, headers=auth)
        for label, headers in HEADERS:
            await send(label, method, url, json={}, headers={**auth, **headers} if "Authorization" not in headers else headers)
        for query in queries(op):
            await send("query", method, url, params=query, json={} if method != "GET" else None, headers=auth)

    spare = bearer(await login(api, "normal-game-items-2"))
    for path in ("/api/auth/password", "/api/auth/logout"):
        for label, body, headers in BODIES:
            await send(label, "POST", path, content=body, headers={**spare, **headers})
    for path in ("/" + "a" * 10_000, "/api/processes/%ff%fe", "/api/../../etc/passwd", "/api/processes/permission-grant/%00/actions/approve"):
        await send("odd path", "GET", path, headers=me)

    assert not server_errors, "\n".join(sorted({e.split(": ")[0] + " " + e.split(" -> ")[1][:160] for e in server_errors}))
    assert REPORT.fuzz_cases > 1000 and all(400 <= s < 500 or s in (200, 201, 204) for s in seen), seen


def plausible(param: dict, buyer: str) -> str:
    """A value a required parameter accepts, where the hostile value is sent in another: a
    buyer's code, today, now, or (any other string) an admin's username."""
    if param["name"] == "buyer":
        return buyer
    schema = param.get("schema", {})
    formats = {schema.get("format"), *(s.get("format") for s in schema.get("oneOf", []))}
    now = datetime.now(UTC)
    if "date-time" in formats:
        return f"{now:%Y-%m-%dT%H:%M:%SZ}"
    return f"{now:%Y-%m-%d}" if "date" in formats else "super-2"


async def test_every_query_and_path_parameter_answers_hostile_values_below_500(api):
    """Each of ``HOSTILE_VALUES`` (and ``HOSTILE_ENCODED``) in each query and path parameter of
    each GET route the OpenAPI document lists, the route's other required parameters plausible
    (optional ones left out, so that nothing else is refused first): a new route's parameters
    are covered as soon as they are documented."""
    from infra.db.tables import Buyer

    schema = (await api.get("/schema/openapi.json")).json()
    me = bearer(await login(api, "super-2"))
    buyer = (await Buyer.select(Buyer.code).first())["code"]
    encoded = [quote(v, safe="") for v in HOSTILE_VALUES] + HOSTILE_ENCODED
    server_errors: list[str] = []
    cases = 0
    for method, path, op in operations(schema):
        params = [p for p in op.get("parameters", []) if p.get("in") in ("query", "path")]
        if method != "GET":
            continue
        for hostile in params:
            others = {p["name"]: quote(plausible(p, buyer), safe="") for p in params if p.get("required") and p is not hostile}
            for value in encoded:
                values = {**others, hostile["name"]: value}
                url = path.format(**values)  # the values are percent-encoded: no braces
                query = "&".join(f"{p['name']}={values[p['name']]}" for p in params if p["in"] == "query" and p["name"] in values)
                response = await api.get(url + ("?" + query if query else ""), headers=me)
                cases += 1
                if response.status_code >= 500:
                    server_errors.append(f"{path} {hostile['name']}={value[:40]} -> {response.status_code} {response.text[:160]}")
                elif response.status_code >= 400:
                    assert response.json()["error"]["code"], (path, hostile["name"], value[:40], response.text[:200])
    REPORT.fuzz_cases += cases
    REPORT.fuzz_5xx += len(server_errors)
    assert not server_errors, "\n".join(server_errors)
    assert cases > 1000, cases
