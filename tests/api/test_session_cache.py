"""The web process's session cache (``infra.accounts.SESSIONS``) never outlives what it caches:
each change to a session, an admin or a grant moves ``auth_version`` (database triggers, from
any process or a plain SQL update), and the next request loads the session again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from infra.accounts import SESSIONS, token_digest
from infra.db.tables import Admin, AdminSession, AuthVersion, PermissionGrant
from tests.api.conftest import bearer, login

pytestmark = [pytest.mark.db, pytest.mark.timeout(60)]


async def me(api, token: str) -> int:
    return (await api.get("/api/me", headers=bearer(token))).status_code


async def version() -> int:
    return (await AuthVersion.select(AuthVersion.version).first())["version"]


async def cached_login(api, username: str) -> str:
    token = await login(api, username)
    api.cookies.clear()
    assert await me(api, token) == 200
    assert token_digest(token) in SESSIONS._entries, "the first request caches the session"
    return token


@pytest.fixture(autouse=True)
def long_lived_cache():
    """Entries that would otherwise live for minutes: only the version can end them here."""
    seconds, SESSIONS.seconds = SESSIONS.seconds, 3600
    yield
    SESSIONS.seconds = seconds


async def test_a_cached_session_is_served_without_loading_it_again(api):
    token = await cached_login(api, "normal-game-cards-1")
    cached = SESSIONS._entries[token_digest(token)]
    assert await me(api, token) == 200
    assert SESSIONS._entries[token_digest(token)] is cached


async def test_sign_out_ends_the_cached_session_at_once(api):
    token = await cached_login(api, "normal-game-cards-2")
    other = await cached_login(api, "normal-game-cards-2")
    assert (await api.post("/api/auth/logout", headers=bearer(token))).status_code == 204
    assert await me(api, token) == 401
    assert await me(api, other) == 200


async def test_a_session_ended_by_any_writer_is_refused_at_once(api):
    """What another process (the command line, an operator's SQL) does is seen just the same."""
    token = await cached_login(api, "intern-game-cards-1")
    before = await version()
    await AdminSession.update({AdminSession.revoked_at: datetime.now(UTC)}).where(AdminSession.token_hash == token_digest(token))
    assert await version() > before
    assert await me(api, token) == 401


async def test_a_session_whose_expiry_is_moved_into_the_past_is_refused(api):
    token = await cached_login(api, "intern-east-china-1")
    await AdminSession.update({AdminSession.expires_at: datetime.now(UTC) - timedelta(seconds=1)}).where(
        AdminSession.token_hash == token_digest(token))
    assert await me(api, token) == 401


async def test_a_cached_session_past_its_own_expiry_is_refused_without_any_write(api):
    token = await cached_login(api, "intern-mobile-topup-1")
    digest = token_digest(token)
    found = await SESSIONS.signed_in(token, datetime.now(UTC))
    assert found is not None and SESSIONS._entries[digest].signed_in is found
    assert await SESSIONS.signed_in(token, found.expires_at + timedelta(seconds=1)) is None


async def test_a_password_change_ends_every_cached_session_of_that_admin(api):
    from infra.accounts import hash_password

    username = "normal-mobile-topup-2"
    phone, laptop = await cached_login(api, username), await cached_login(api, username)
    bystander = await cached_login(api, "normal-mobile-topup-1")
    changed = await api.post("/api/auth/password", json={"current_password": "kameng-demo", "new_password": "another-passphrase"},
                             headers=bearer(laptop))
    assert changed.status_code == 204
    try:
        assert await me(api, phone) == 401 and await me(api, laptop) == 401
        assert await me(api, bystander) == 200
    finally:
        await Admin.update({Admin.password_hash: hash_password("kameng-demo")}).where(Admin.username == username)


async def test_a_deactivated_admin_is_refused_at_once(api):
    username = "normal-east-china-2"
    token = await cached_login(api, username)
    await Admin.update({Admin.status: "suspended"}).where(Admin.username == username)
    try:
        assert await me(api, token) == 401
    finally:
        await Admin.update({Admin.status: "active"}).where(Admin.username == username)
    assert await me(api, token) == 200


async def test_a_grant_given_or_revoked_changes_the_cached_actor_at_once(api):
    username = "normal-game-items-2"
    token = await cached_login(api, username)

    async def permissions() -> set[str]:
        body = (await api.get("/api/me", headers=bearer(token))).json()
        return {p["permission"] for p in body["permissions"]}

    assert "users.view_sensitive" not in await permissions()
    admin = await Admin.select(Admin.id).where(Admin.username == username).first()
    now = datetime.now(UTC)
    await PermissionGrant.insert(
        PermissionGrant(grant_id="cache-grant-test", admin=admin["id"], permission="users.view_sensitive", scope="region",
                        regions=[], starts_at=now - timedelta(minutes=1), ends_at=now + timedelta(hours=1), approved_by="regional-game-items")
    )
    try:
        assert "users.view_sensitive" in await permissions()
        await PermissionGrant.update({PermissionGrant.revoked_at: datetime.now(UTC)}).where(PermissionGrant.grant_id == "cache-grant-test")
        assert "users.view_sensitive" not in await permissions()
    finally:
        await PermissionGrant.delete().where(PermissionGrant.grant_id == "cache-grant-test")


async def test_a_new_session_moves_no_one_else_out_of_the_cache(api):
    token = await cached_login(api, "super-3")
    before = await version()
    await login(api, "super-2")
    api.cookies.clear()
    assert await version() == before
    cached = SESSIONS._entries[token_digest(token)]
    assert await me(api, token) == 200 and SESSIONS._entries[token_digest(token)] is cached
