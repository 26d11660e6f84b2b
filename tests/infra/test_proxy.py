"""Behind a real proxy (Debian's Caddy, started here): the audit trail and the sign-in limiter
see the client's address, read off X-Forwarded-For only when the peer is the trusted proxy;
a forged header from any other peer is ignored."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess

import httpx
import pytest

from infra.db.tables import AuditEvent
from infra.stack import Child, Stack, free_port, listening

pytestmark = [pytest.mark.db, pytest.mark.slow, pytest.mark.timeout(180)]

CLIENT = "127.0.0.5"
"""The admin's machine: requests to the proxy leave from this loopback address."""
STRANGER = "127.0.0.7"
"""Someone reaching the web app directly, not through the proxy."""


@pytest.fixture(scope="module")
async def behind_caddy(demo, tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("proxy")
    caddy = shutil.which("caddy")
    assert caddy, "Debian's caddy is installed by make system-deps"
    stack = Stack(
        root=tmp_path, database_url=os.environ["KAMENG_DATABASE_URL"],
        extra_env={"KAMENG_TRUSTED_PROXIES": "127.0.0.1/32", "KAMENG_LOGIN_RATE_LIMIT": "3/15 minutes"},
    )
    proxy_port = free_port()
    (tmp_path / "Caddyfile").write_text(
        "{\n\tadmin off\n\tauto_https off\n}\n"
        f"http://127.0.0.1:{proxy_port} {{\n\tbind 127.0.0.1\n\treverse_proxy 127.0.0.1:{stack.web_port}\n}}\n"
    )
    proxy = Child(
        "caddy", [caddy, "run", "--config", str(tmp_path / "Caddyfile"), "--adapter", "caddyfile"],
        {**os.environ, "HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path)},
        tmp_path / "caddy.log",
    )
    try:
        stack.add_temporal().start()
        await stack.temporal_up()
        stack.add_web().start()
        proxy.start()
        await stack.web_up()
        await stack.until(lambda: listening(proxy_port) or not proxy.running(), "caddy listening")
        assert proxy.running(), proxy.tail()
        yield stack, f"http://127.0.0.1:{proxy_port}"
    finally:
        proxy.stop()
        stack.close()


def client_from(address: str, base_url: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=base_url, transport=httpx.AsyncHTTPTransport(local_address=address), timeout=30)


async def last_login(username: str) -> dict:
    rows = await AuditEvent.select().where((AuditEvent.action == "auth.login") & (AuditEvent.target == f"admin:{username}")).order_by(AuditEvent.seq, ascending=False).limit(1)
    return rows[0]


async def test_the_audit_trail_shows_the_clients_address_through_the_proxy(behind_caddy):
    stack, proxy_url = behind_caddy
    async with client_from(CLIENT, proxy_url) as through:
        signed_in = await through.post("/api/auth/login", json={"username": "normal-mobile-topup-1", "password": "kameng-demo"})
        assert signed_in.status_code == 200, signed_in.text
        assert (await last_login("normal-mobile-topup-1"))["source"] == CLIENT
        # a header the client forges is not what the proxy vouches for
        forged = await through.post(
            "/api/auth/login", json={"username": "normal-mobile-topup-1", "password": "wrong"},
            headers={"X-Forwarded-For": "198.51.100.7"},
        )
        assert forged.status_code == 401
        assert (await last_login("normal-mobile-topup-1"))["source"] == CLIENT

    async with client_from(STRANGER, stack.base_url) as direct:
        forged = await direct.post(
            "/api/auth/login", json={"username": "normal-mobile-topup-1", "password": "wrong"},
            headers={"X-Forwarded-For": "198.51.100.7", "Forwarded": "for=198.51.100.8"},
        )
        assert forged.status_code == 401
        assert (await last_login("normal-mobile-topup-1"))["source"] == STRANGER


async def test_behind_the_proxy_one_accounts_failures_leave_the_office_signed_in(behind_caddy):
    """Every admin reaches the app through the one proxy: their failures are still their own."""
    _, proxy_url = behind_caddy
    async with client_from(CLIENT, proxy_url) as office:
        for _ in range(3):
            assert (await office.post("/api/auth/login", json={"username": "normal-east-china-1", "password": "guess"})).status_code == 401
        locked = await office.post("/api/auth/login", json={"username": "normal-east-china-1", "password": "kameng-demo"})
        assert locked.status_code == 429
        colleague = await office.post("/api/auth/login", json={"username": "normal-east-china-2", "password": "kameng-demo"})
        assert colleague.status_code == 200, colleague.text
    lockout = await AuditEvent.select().where((AuditEvent.action == "auth.lockout") & (AuditEvent.target == "admin:normal-east-china-1")).first()
    assert lockout is not None and lockout["source"] == CLIENT
