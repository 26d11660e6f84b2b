from __future__ import annotations

import pytest

from infra.db.tables import AuditEvent
from tests.api.conftest import bearer, login

pytestmark = pytest.mark.db


async def test_login_returns_token_cookie_and_admin(api):
    response = await api.post("/api/auth/login", json={"username": "regional-game-cards", "password": "kameng-demo"})
    assert response.status_code == 200
    body = response.json()
    assert body["admin"] == {
        "username": "regional-game-cards",
        "display_name": body["admin"]["display_name"],
        "tier": "regional",
        "tier_name_zh": "区域管理员",
        "regions": ["game-cards"],
        "station_master": False,
    }
    cookie = response.headers["set-cookie"]
    assert "kameng_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
    assert len(body["token"]) >= 40


@pytest.mark.parametrize(
    ("username", "password"),
    [("regional-game-cards", "wrong"), ("nobody-here", "kameng-demo"), ("regional-game-cards", "")],
)
async def test_wrong_credentials_are_401_and_audited(api, username, password):
    before = await AuditEvent.count().where((AuditEvent.action == "auth.login") & (AuditEvent.outcome == "denied"))
    response = await api.post("/api/auth/login", json={"username": username, "password": password})
    if password == "":
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "invalid_request"
        return
    assert response.status_code == 401
    assert response.json()["error"] == {"code": "invalid_credentials", "reason": "wrong username or password", "detail": None}
    after = await AuditEvent.count().where((AuditEvent.action == "auth.login") & (AuditEvent.outcome == "denied"))
    assert after == before + 1


@pytest.mark.parametrize(
    "body",
    [b"", b"not json", b'{"username": 1, "password": "x"}', b'{"username": "a"}', b"[]", b'{"username":"a","password":"b","extra":1}'],
)
async def test_malformed_login_bodies_are_4xx(api, body):
    response = await api.post("/api/auth/login", content=body, headers={"content-type": "application/json"})
    assert 400 <= response.status_code < 500
    assert response.json()["error"]["code"]


async def test_me_by_bearer_and_by_cookie(api):
    token = await login(api, "normal-game-cards-1")
    by_bearer = await api.get("/api/me", headers=bearer(token))
    assert by_bearer.status_code == 200
    me = by_bearer.json()
    assert me["admin"]["tier"] == "normal"
    held = {p["permission"]: p["scope"] for p in me["permissions"]}
    assert held["products.approve_listing"] == "region" and held["users.view"] == "own"
    assert "funds.approve" not in held
    by_cookie = await api.get("/api/me")  # the client kept the login cookie
    assert by_cookie.status_code == 200


async def test_no_or_bad_token_is_401(api):
    api.cookies.clear()
    assert (await api.get("/api/me")).json()["error"]["code"] == "unauthenticated"
    bad = await api.get("/api/me", headers=bearer("x" * 43))
    assert bad.status_code == 401 and bad.json()["error"]["code"] == "session_invalid"
    scheme = await api.get("/api/me", headers={"Authorization": "Basic abc"})
    assert scheme.status_code == 401 and scheme.json()["error"]["code"] == "bad_authorization"


async def test_logout_ends_the_session(api):
    token = await login(api, "intern-game-cards-1")
    api.cookies.clear()
    assert (await api.post("/api/auth/logout", headers=bearer(token))).status_code == 204
    assert (await api.get("/api/me", headers=bearer(token))).status_code == 401


async def test_health_reports_database_and_temporal(api):
    response = await api.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["database"]["ok"] and body["temporal"]["ok"]


async def test_unknown_route_is_a_json_404(api):
    response = await api.get("/api/does-not-exist")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


async def test_cookie_writes_need_the_csrf_header(api):
    response = await api.post("/api/auth/login", json={"username": "regional-game-cards", "password": "kameng-demo"})
    csrf = response.cookies.get("kameng_csrf")
    assert csrf
    body = {"permission": "funds.approve", "scope": "region", "duration": "P1D", "justification": "跨站请求伪造测试"}
    forged = await api.post("/api/processes/permission-grant", json=body)
    assert forged.status_code == 403 and forged.json()["error"]["code"] == "csrf_failed"
    wrong = await api.post("/api/processes/permission-grant", json=body, headers={"X-CSRF-Token": "guess"})
    assert wrong.status_code == 403
    allowed = await api.post("/api/auth/logout", headers={"X-CSRF-Token": csrf})
    assert allowed.status_code == 204


async def test_repeated_failures_are_rate_limited_then_even_the_right_password_waits(api):
    for _ in range(5):
        response = await api.post("/api/auth/login", json={"username": "normal-mobile-topup-2", "password": "guess"})
        assert response.status_code == 401
    limited = await api.post("/api/auth/login", json={"username": "normal-mobile-topup-2", "password": "kameng-demo"})
    assert limited.status_code == 429 and limited.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(limited.headers["Retry-After"]) <= 15 * 60


async def test_signing_in_again_rotates_the_cookie_session(api):
    first = await api.post("/api/auth/login", json={"username": "normal-east-china-2", "password": "kameng-demo"})
    old_token = first.json()["token"]
    second = await api.post("/api/auth/login", json={"username": "normal-east-china-2", "password": "kameng-demo"})
    assert second.json()["token"] != old_token
    api.cookies.clear()
    assert (await api.get("/api/me", headers=bearer(old_token))).status_code == 401
    assert (await api.get("/api/me", headers=bearer(second.json()["token"]))).status_code == 200


async def test_password_change_ends_every_session_of_that_admin(api):
    from infra.accounts import hash_password
    from infra.db.tables import Admin

    username = "normal-game-items-2"
    phone = await login(api, username)
    laptop = await login(api, username)
    api.cookies.clear()
    wrong = await api.post("/api/auth/password", json={"current_password": "nope", "new_password": "a-new-passphrase"}, headers=bearer(laptop))
    assert wrong.status_code == 403 and wrong.json()["error"]["code"] == "wrong_password"
    changed = await api.post("/api/auth/password", json={"current_password": "kameng-demo", "new_password": "a-new-passphrase"}, headers=bearer(laptop))
    assert changed.status_code == 204
    for token in (phone, laptop):
        assert (await api.get("/api/me", headers=bearer(token))).status_code == 401
    assert (await api.post("/api/auth/login", json={"username": username, "password": "kameng-demo"})).status_code == 401
    assert (await api.post("/api/auth/login", json={"username": username, "password": "a-new-passphrase"})).status_code == 200
    await Admin.update({Admin.password_hash: hash_password("kameng-demo")}).where(Admin.username == username)


async def test_me_lists_an_active_grant_with_its_end_time(api):
    from datetime import UTC, datetime, timedelta

    from infra.db.tables import Admin, PermissionGrant

    admin = await Admin.select(Admin.id).where(Admin.username == "normal-mobile-topup-1").first()
    now = datetime.now(UTC)
    await PermissionGrant.insert(
        PermissionGrant(grant_id="me-grant-test", admin=admin["id"], permission="users.view_sensitive", scope="region",
                        regions=[], starts_at=now - timedelta(minutes=5), ends_at=now + timedelta(hours=2), approved_by="regional-mobile-topup")
    )
    try:
        me = (await api.get("/api/me", headers=bearer(await login(api, "normal-mobile-topup-1")))).json()
        [granted] = [p for p in me["permissions"] if p["permission"] == "users.view_sensitive"]
        assert granted["scope"] == "region" and granted["ends_at"].startswith((now + timedelta(hours=2)).strftime("%Y-%m-%dT%H"))
    finally:
        await PermissionGrant.delete().where(PermissionGrant.grant_id == "me-grant-test")


async def test_one_accounts_failures_never_lock_out_another_from_the_same_address(api):
    """Found in use: five wrong passwords from one address locked every admin behind it out.
    The address's ceiling is for a whole office; the account limit is the account's own."""
    from infra.db.tables import AuditEvent

    for _ in range(5):
        assert (await api.post("/api/auth/login", json={"username": "normal-game-items-1", "password": "guess"})).status_code == 401
    assert (await api.post("/api/auth/login", json={"username": "normal-game-items-1", "password": "kameng-demo"})).status_code == 429
    other = await api.post("/api/auth/login", json={"username": "normal-game-items-2", "password": "kameng-demo"})
    assert other.status_code == 200, other.text
    lockouts = await AuditEvent.select().where((AuditEvent.action == "auth.lockout") & (AuditEvent.target == "admin:normal-game-items-1"))
    assert len(lockouts) == 1 and lockouts[0]["outcome"] == "locked" and "account" in lockouts[0]["reason"]
    refused = await AuditEvent.select().where(
        (AuditEvent.action == "auth.login") & (AuditEvent.target == "admin:normal-game-items-1") & AuditEvent.reason.like("rate_limited%")
    )
    assert refused, "the refused attempt is audited"


def test_an_account_that_keeps_failing_waits_longer_and_the_address_limit_is_an_offices():
    from api.errors import ApiError
    from api.ratelimit import LoginLimiter
    from limits import parse_many

    limiter = LoginLimiter("2/second;3/hour", address_rule="50/hour")
    for _ in range(2):
        limiter.failed("a", "10.0.0.1")
    with pytest.raises(ApiError) as short:
        limiter.check("a", "10.0.0.1")
    assert int(short.value.headers["Retry-After"]) <= 1
    import time

    time.sleep(1.1)
    limiter.check("a", "10.0.0.1")  # the short window has passed
    assert limiter.failed("a", "10.0.0.1") == f"account {parse_many('3/hour')[0]}"
    with pytest.raises(ApiError) as longer:
        limiter.check("a", "10.0.0.1")
    assert int(longer.value.headers["Retry-After"]) > 60  # now the hour's limit holds
    for n in range(40):  # colleagues behind the same address, a typo each
        limiter.failed(f"colleague-{n}", "10.0.0.1")
    limiter.check("colleague-0", "10.0.0.1")
    for n in range(10):
        limiter.failed(f"spray-{n}", "10.0.0.1")
    with pytest.raises(ApiError):
        limiter.check("anyone", "10.0.0.1")  # a spray across accounts stops at the address ceiling
