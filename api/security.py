"""Who is calling: a session cookie or a bearer token, resolved to the policy's Actor."""

from __future__ import annotations

import functools
import hashlib

from datetime import UTC, datetime
from typing import Any

import msgspec
from litestar import Request
from litestar.connection import ASGIConnection

from api.clientaddr import client_address, trusted_networks
from api.errors import ApiError
from infra.accounts import SESSIONS, constant_time_equals
from infra.settings import get_settings
from workflows.domain.policy import Actor

SESSION_COOKIE = "kameng_session"
CSRF_COOKIE = "kameng_csrf"
CSRF_HEADER = "x-csrf-token"
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


class Principal(msgspec.Struct, frozen=True):
    admin_id: int
    display_name: str
    actor: Actor
    token: str
    source: str


def _header(connection: ASGIConnection[Any, Any, Any, Any], name: bytes) -> str:
    """The first value of a header, read off the ASGI scope (no headers object per request)."""
    for key, value in connection.scope["headers"]:
        if key == name or key.lower() == name:
            return value.decode("latin-1")
    return ""


def bearer(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    header = _header(connection, b"authorization")
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise ApiError(401, "bad_authorization", "use `Authorization: Bearer <token>`")
    return value.strip()


def is_service_token(token: str) -> bool:
    """Platform intake tokens (``KAMENG_INTAKE_TOKENS``), compared in constant time."""
    found = False
    for candidate in _service_tokens(get_settings().intake_tokens):
        found |= constant_time_equals(candidate, token)
    return found


@functools.lru_cache(maxsize=4)
def _service_tokens(configured: str) -> tuple[str, ...]:
    return tuple(t.strip() for t in configured.split(",") if t.strip())


def check_csrf(connection: ASGIConnection[Any, Any, Any, Any]) -> None:
    """A write authenticated by the session cookie must echo the CSRF cookie in a header."""
    cookie = connection.cookies.get(CSRF_COOKIE, "")
    header = connection.headers.get(CSRF_HEADER, "")
    if not cookie or not header or not constant_time_equals(cookie, header):
        raise ApiError(403, "csrf_failed", f"cookie-authenticated writes need the {CSRF_HEADER} header (the {CSRF_COOKIE} cookie's value)")


def source_of(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    """The client's address, through the trusted proxies in front (``api/clientaddr.py``)."""
    settings = get_settings()
    return client_address(connection.scope, trusted_networks(settings.trusted_proxies), settings.forwarded_header)


def session_token(request: Request) -> str:
    """The request's session token (bearer, else the cookie with CSRF for writes), or 401."""
    token = bearer(request)
    if token is None:
        token = request.cookies.get(SESSION_COOKIE)
        if token and request.method in UNSAFE_METHODS:
            check_csrf(request)
    if not token:
        raise ApiError(401, "unauthenticated", "sign in first: no session cookie or bearer token")
    if is_service_token(token):
        raise ApiError(401, "service_token", "service tokens work only on /api/intake")
    return token


async def principal_for(request: Request, token: str, *, version: int | None = None) -> Principal:
    """The admin the token's live session belongs to, or 401 (the attempt audited).
    ``version``: an ``auth_version`` the caller read after the request arrived (else read here)."""
    signed_in = await SESSIONS.signed_in(token, datetime.now(UTC), version=version)
    if signed_in is None:
        await _audit_bad_token(request, token)
        raise ApiError(401, "session_invalid", "the session has expired or was ended; sign in again")
    return Principal(
        admin_id=signed_in.admin_id,
        display_name=signed_in.display_name,
        actor=signed_in.actor,
        token=token,
        source=source_of(request),
    )


async def provide_principal(request: Request) -> Principal:
    return await principal_for(request, session_token(request))


class Caller:
    """A request with a session token whose session is not yet looked up: for a read that
    fetches ``auth_version`` in its own statement (``infra.accounts.auth_version_sql``), so
    confirming the session costs no statement of its own. ``await caller.principal(version)``
    before using anything read: a session ended, an admin changed or a grant revoked before
    that statement ran is refused exactly as by ``provide_principal``."""

    __slots__ = ("_request", "_token")

    def __init__(self, request: Request, token: str) -> None:
        self._request = request
        self._token = token

    async def principal(self, version: int | None = None) -> Principal:
        return await principal_for(self._request, self._token, version=version)

    def unconfirmed(self) -> Principal | None:
        """Whom the session cache last found for this token, not yet confirmed: what a read may
        be shaped by (the admin's regions and grants) when it fetches ``auth_version`` in the
        same statement, so that on the usual request, a cached session, the read and the check
        are one statement. ``await principal(version)`` must follow before anything read is
        used, and the read be done again if the confirmed admin is not the same."""
        signed_in = SESSIONS.unconfirmed(self._token, datetime.now(UTC))
        if signed_in is None:
            return None
        return Principal(
            admin_id=signed_in.admin_id, display_name=signed_in.display_name, actor=signed_in.actor,
            token=self._token, source=source_of(self._request),
        )


async def provide_caller(request: Request) -> Caller:
    """The token's form is checked at once (401 before anything is read)."""
    return Caller(request, session_token(request))


async def _audit_bad_token(request: Request, token: str) -> None:
    """A token that names no live session (forged, tampered, expired, signed out) is a denied
    attempt: audited by its digest (never the token), within the address's budget."""
    from infra.db.audit import append
    from workflows.domain.messages import AuditRecord

    source = source_of(request)
    budget = getattr(request.app.state, "denial_budget", None)
    if budget is not None and not budget.allow(source):
        return
    digest = hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()[:16]
    await append(
        AuditRecord(
            actor="anonymous", actor_tier="none", action="auth.token", target=f"session:{digest}", outcome="denied",
            reason=f"session_invalid: {request.method} {request.url.path[:200]}", source=source,
        )
    )


class Service(msgspec.Struct, frozen=True):
    name: str
    source: str


async def provide_service(request: Request) -> Service:
    token = bearer(request)
    if token is None or not is_service_token(token):
        raise ApiError(401, "service_token_required", "platform intake takes a service token (`Authorization: Bearer <service token>`)")
    return Service(name="platform", source=source_of(request))
