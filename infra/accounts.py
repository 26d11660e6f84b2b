"""Admins as the policy sees them, their passwords and their sessions."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from infra.db.compiled import Param, compiled
from infra.db.tables import Admin, AdminSession, AuthVersion, PermissionGrant
from infra.settings import get_settings
from workflows.domain.permissions import Scope
from workflows.domain.policy import Actor, Grant

_hasher = PasswordHasher()
# A real hash to verify against when the username is unknown, so both paths cost the same.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def password_matches(stored_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def grant_from_row(row: dict[str, Any]) -> Grant:
    return Grant(
        id=row["grant_id"],
        permission=row["permission"],
        scope=Scope(row["scope"]),
        regions=tuple(row["regions"] or ()),
        starts_at=row["starts_at"],
        ends_at=row["ends_at"],
        revoked_at=row["revoked_at"],
    )


def actor_from_rows(admin: dict[str, Any], grants: list[dict[str, Any]]) -> Actor:
    return Actor(
        id=admin["username"],
        tier=admin["tier"],
        regions=tuple(admin["regions"] or ()),
        station_master=admin["station_master"],
        active=admin["status"] == "active",
        grants=tuple(grant_from_row(g) for g in grants),
    )


async def load_actor(username: str, now: datetime | None = None) -> Actor | None:
    """The admin with every grant that has not ended (expired ones authorize nothing anyway)."""
    now = now or datetime.now(UTC)
    admin = await Admin.select().where(Admin.username == username).first()
    if admin is None:
        return None
    grants = await PermissionGrant.select().where(
        (PermissionGrant.admin == admin["id"]) & (PermissionGrant.ends_at > now)
    )
    return actor_from_rows(admin, grants)


async def authenticate(username: str, password: str) -> dict[str, Any] | None:
    """The admin row if the password matches; the check costs the same either way."""
    admin = await Admin.select().where(Admin.username == username).first()
    ok = password_matches(admin["password_hash"] if admin else None, password)
    if not ok or admin is None or admin["status"] != "active":
        return None
    return admin


async def open_session(admin_id: int, source: str = "") -> str:
    token = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    await AdminSession.insert(
        AdminSession(
            token_hash=token_digest(token),
            admin=admin_id,
            created_at=now,
            expires_at=now + timedelta(hours=get_settings().session_hours),
            source=source[:64],
        )
    )
    return token


ADMIN_COLUMNS = ("id", "username", "display_name", "tier", "regions", "station_master", "status")
"""What a session's admin row is read for: the actor, the display name."""


def _session_query():  # type: ignore[no-untyped-def]
    """Session joined to its admin, the admin's columns nested under ``admin``."""
    admin = AdminSession.admin
    columns = [getattr(admin, name) for name in ADMIN_COLUMNS]
    return (
        AdminSession.select(AdminSession.expires_at, AdminSession.revoked_at, *columns)
        .where(AdminSession.token_hash == Param("digest"))
        .output(nested=True)
        .first()
    )


_SESSION = compiled(_session_query, inline=True)
_GRANTS = compiled(
    lambda: PermissionGrant.select(
        PermissionGrant.grant_id, PermissionGrant.permission, PermissionGrant.scope, PermissionGrant.regions,
        PermissionGrant.starts_at, PermissionGrant.ends_at, PermissionGrant.revoked_at,
    ).where((PermissionGrant.admin == Param("admin")) & (PermissionGrant.ends_at > Param("now"))),
    inline=True,
)
_AUTH_VERSION = compiled(lambda: AuthVersion.select(AuthVersion.version).limit(1), inline=True)


def auth_version_sql() -> str:
    """A scalar subquery for a read's own statement: the ``auth_version`` in the same snapshot
    as what it reads, for ``SessionCache.signed_in(..., version=)``."""
    return f"(SELECT {AuthVersion.version._meta.db_column_name} FROM {AuthVersion._meta.tablename} LIMIT 1)"


async def session_admin(token: str | None) -> dict[str, Any] | None:
    """The admin a live session token belongs to, or None (one query: session joined to admin)."""
    if not token or len(token) > 256:
        return None
    found = await _SESSION.first(digest=token_digest(token))
    return _live_admin(found, datetime.now(UTC))


def _live_admin(found: dict[str, Any] | None, now: datetime) -> dict[str, Any] | None:
    if found is None or found["revoked_at"] is not None or found["expires_at"] <= now:
        return None
    admin = found["admin"]
    if admin is None or admin["id"] is None or admin["status"] != "active":
        return None
    return admin


async def actor_of(admin: dict[str, Any], now: datetime) -> Actor:
    """``load_actor`` for an admin row already in hand: only the grants are read."""
    return actor_from_rows(admin, await _GRANTS.rows(admin=admin["id"], now=now))


class SignedIn(msgspec.Struct, frozen=True, kw_only=True):
    """Who a live session token belongs to, as a request needs it."""

    admin_id: int
    display_name: str
    actor: Actor
    expires_at: datetime
    """The session's own end: past it, the token is refused whatever a cache holds."""


class _Cached(msgspec.Struct, frozen=True):
    version: int
    until: float
    signed_in: SignedIn


class SessionCache:
    """A process's answers to "whose session is this token", kept a few seconds.

    Each lookup reads ``auth_version`` (one row, an inline read) and uses a cached answer only
    if the version is the one it was loaded under: the database's triggers move it with every
    change to an admin, a session or a grant, from any process, so a signed-out session, an
    ended one, a changed password, a deactivated admin or a new or revoked grant takes effect
    on the very next request. The session's own expiry is checked on every use. Tokens that
    name no live session are not cached (each is looked up, and audited by the caller).
    """

    def __init__(self, seconds: float = 5.0, size: int = 10_000) -> None:
        self.seconds = seconds
        self.size = size
        self._entries: dict[str, _Cached] = {}

    def clear(self) -> None:
        self._entries.clear()

    def _fresh(self, digest: str, now: datetime) -> _Cached | None:
        """The cached entry for a token's digest, unless it is past its time or its session's."""
        cached = self._entries.get(digest)
        if cached is not None and time.monotonic() < cached.until and now < cached.signed_in.expires_at:
            return cached
        return None

    def current(self, digest: str, version: int | None, now: datetime) -> SignedIn | None:
        """The cached answer for a token's digest if it holds under ``version`` at ``now``."""
        cached = self._fresh(digest, now)
        return cached.signed_in if cached is not None and version is not None and cached.version == version else None

    def unconfirmed(self, token: str, now: datetime) -> SignedIn | None:
        """The cached answer for ``token`` whatever the version, for a read that fetches
        ``auth_version`` in its own statement and only then confirms it with ``signed_in``:
        nothing read under it may be used before that (``api.security.Caller``)."""
        cached = self._fresh(token_digest(token), now) if token and len(token) <= 256 else None
        return cached.signed_in if cached is not None else None

    async def signed_in(self, token: str | None, now: datetime | None = None, *, version: int | None = None) -> SignedIn | None:
        """Whose live session ``token`` is, or None. ``version``: an ``auth_version`` the caller
        read itself after the request arrived (in the statement that read what the request
        asked for, ``auth_version_sql``); without it, it is read here."""
        if not token or len(token) > 256:
            return None
        now = now or datetime.now(UTC)
        digest = token_digest(token)
        if version is None:
            row = await _AUTH_VERSION.first()
            version = row["version"] if row is not None else None
        if (cached := self.current(digest, version, now)) is not None:
            return cached
        found = await _SESSION.first(digest=digest)
        admin = _live_admin(found, now)
        if admin is None:
            self._entries.pop(digest, None)
            return None
        assert found is not None
        signed_in = SignedIn(
            admin_id=admin["id"], display_name=admin["display_name"], actor=await actor_of(admin, now),
            expires_at=found["expires_at"],
        )
        if version is not None:
            if len(self._entries) >= self.size:
                self._entries.pop(next(iter(self._entries)))  # the oldest entry
            # Stored under the version read before the rows: a change made meanwhile moved it
            # past this one, so the next lookup loads again.
            self._entries[digest] = _Cached(version, time.monotonic() + self.seconds, signed_in)
        return signed_in


SESSIONS = SessionCache()


async def close_session(token: str) -> None:
    await AdminSession.update({AdminSession.revoked_at: datetime.now(UTC)}).where(
        AdminSession.token_hash == token_digest(token)
    )


def constant_time_equals(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


async def change_password(admin_id: int, new_password: str) -> int:
    """Set a new password and end every session of that admin; returns the sessions ended."""
    now = datetime.now(UTC)
    await Admin.update({Admin.password_hash: hash_password(new_password), Admin.password_changed_at: now}).where(Admin.id == admin_id)
    live = await AdminSession.count().where((AdminSession.admin == admin_id) & AdminSession.revoked_at.is_null())
    await AdminSession.update({AdminSession.revoked_at: now}).where((AdminSession.admin == admin_id) & AdminSession.revoked_at.is_null())
    return live


async def end_sessions(username: str | None = None) -> int:
    """End every live session (of one admin, or of everyone); returns how many ended.

    Sessions are random tokens kept only as SHA-256 digests, so there is no signing secret to
    rotate: ending them is the rotation, and everyone signs in again. Audited by the caller.
    """
    now = datetime.now(UTC)
    live = AdminSession.revoked_at.is_null() & (AdminSession.expires_at > now)
    if username is not None:
        admin = await Admin.select(Admin.id).where(Admin.username == username).first()
        if admin is None:
            raise LookupError(f"no admin {username!r}")
        live &= AdminSession.admin == admin["id"]
    count = await AdminSession.count().where(live)
    await AdminSession.update({AdminSession.revoked_at: now}).where(live)
    return count
