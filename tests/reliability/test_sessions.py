"""Session and token handling: an expired session, a signed-out one and every session of an
admin whose password changed are refused; a token is taken from the header or the cookie,
never from a URL, and no token appears in any log line or audit event."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from infra.accounts import token_digest
from infra.db.tables import AdminSession, AuditEvent
from tests.reliability.report import REPORT

pytestmark = [pytest.mark.db, pytest.mark.slow, pytest.mark.timeout(300)]


async def sign_in(client: httpx.AsyncClient, username: str, password: str = "kameng-demo") -> str:
    response = await client.post("/api/auth/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    client.cookies.clear()
    return response.json()["token"]


def as_bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def refused(client: httpx.AsyncClient, token: str) -> bool:
    response = await client.get("/api/me", headers=as_bearer(token))
    REPORT.escalation_tried += 1
    ok = response.status_code == 401 and response.json()["error"]["code"] == "session_invalid"
    REPORT.escalation_denied += ok
    return ok


async def test_sessions_end_when_they_should_and_tokens_never_leak(stack):
    tokens: list[str] = []
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as client:
        # Expiry: the session's end passes (moved into the past, as time would).
        expiring = await sign_in(client, "normal-game-cards-2")
        tokens.append(expiring)
        assert (await client.get("/api/me", headers=as_bearer(expiring))).status_code == 200
        await AdminSession.update({AdminSession.expires_at: datetime.now(UTC) - timedelta(seconds=1)}).where(
            AdminSession.token_hash == token_digest(expiring))
        assert await refused(client, expiring)

        # Sign-out ends that session only.
        first, second = await sign_in(client, "regional-game-cards"), await sign_in(client, "regional-game-cards")
        tokens += [first, second]
        assert (await client.post("/api/auth/logout", headers=as_bearer(first))).status_code == 204
        assert await refused(client, first)
        assert (await client.get("/api/me", headers=as_bearer(second))).status_code == 200

        # A password change ends every session of that admin, the one that made it included.
        sessions = [await sign_in(client, "normal-east-china-2") for _ in range(3)]
        tokens += sessions
        changed = await client.post("/api/auth/password", headers=as_bearer(sessions[0]),
                                    json={"current_password": "kameng-demo", "new_password": "kameng-demo-2026!"})
        assert changed.status_code in (200, 204), changed.text
        try:
            for token in sessions:
                assert await refused(client, token)
            fresh = await sign_in(client, "normal-east-china-2", "kameng-demo-2026!")
            tokens.append(fresh)
        finally:  # the demo password again, for the tests after this one
            back = await client.post("/api/auth/password", headers=as_bearer(fresh),
                                     json={"current_password": "kameng-demo-2026!", "new_password": "kameng-demo"})
            assert back.status_code in (200, 204), back.text

        # A token in the URL is not a credential, wherever it is put.
        live = await sign_in(client, "super-3")
        tokens.append(live)
        for query in ({"token": live}, {"access_token": live}, {"session": live}, {"kameng_session": live}):
            response = await client.get("/api/me", params=query)
            assert response.status_code == 401, (query, response.status_code)
        # ... and the session cookie alone writes nothing without the CSRF header.
        client.cookies.set("kameng_session", live)
        write = await client.post("/api/tasks/nope/claim")
        assert write.status_code == 403 and write.json()["error"]["code"] == "csrf_failed"
        client.cookies.clear()

    stack.close()  # flush and end the logs
    logs = stack.logs() + "".join(c.log.read_text(errors="replace") for c in stack.children())
    for token in tokens:
        assert token not in logs, "a session token was written to a log"
        assert token_digest(token) not in logs
    rows = await AuditEvent.select(AuditEvent.reason, AuditEvent.target, AuditEvent.before, AuditEvent.after).where(
        AuditEvent.at > datetime.now(UTC) - timedelta(minutes=10))
    text = repr(rows)
    assert not any(token in text for token in tokens), "a session token was written to the audit trail"


async def test_an_operator_ends_every_session_from_the_command_line(demo, tmp_path):
    import os
    import subprocess
    import sys

    from infra.accounts import open_session, session_admin
    from infra.db.tables import Admin

    admin = await Admin.select(Admin.id).where(Admin.username == "intern-east-china-1").first()
    mine, other = await open_session(admin["id"]), await open_session(admin["id"])
    bystander_id = (await Admin.select(Admin.id).where(Admin.username == "intern-game-cards-1").first())["id"]
    bystander = await open_session(bystander_id)
    run = subprocess.run([sys.executable, "-m", "infra.cli", "sessions", "end", "--admin", "intern-east-china-1", "--reason", "疑似泄露"],
                         capture_output=True, text=True, env=os.environ, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
    assert int(run.stdout.split()[1]) >= 2, run.stdout  # these two, and any a browser test left
    assert await session_admin(mine) is None and await session_admin(other) is None
    assert await session_admin(bystander) is not None
    assert await AuditEvent.count().where((AuditEvent.action == "sessions.ended") & (AuditEvent.target == "admin:intern-east-china-1")) == 1
    refused = subprocess.run([sys.executable, "-m", "infra.cli", "sessions", "end", "--reason", "x"], capture_output=True, text=True, env=os.environ, timeout=60)
    assert refused.returncode != 0 and "exactly one" in refused.stderr
