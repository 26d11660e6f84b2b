"""Every route of the OpenAPI document, fed malformed, oversized and wrong-typed bodies,
headers, paths and query strings: each answer is a 4xx in the one error shape, never a 5xx."""

from __future__ import annotations

import json
import re

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
