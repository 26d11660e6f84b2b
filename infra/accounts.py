"""Admins as the policy sees them, their passwords and their sessions."""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from infra.db.tables import Admin, AdminSession, PermissionGrant
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


@functools.cache
def _session_columns() -> tuple[Any, ...]:
    """The joined projection, built once: resolving a foreign key's columns is costly."""
    return (AdminSession.expires_at, AdminSession.revoked_at, *AdminSession.admin.all_columns())


async def session_admin(token: str | None) -> dict[str, Any] | None:
    """The admin a live session token belongs to, or None (one query: session joined to admin)."""
    if not token or len(token) > 256:
        return None
    now = datetime.now(UTC)
    found = (
        await AdminSession.select(*_session_columns())
        .where(AdminSession.token_hash == token_digest(token))
        .output(nested=True)
        .first()
    )
    if found is None or found["revoked_at"] is not None or found["expires_at"] <= now:
        return None
    admin = found["admin"]
    if admin is None or admin["id"] is None or admin["status"] != "active":
        return None
    return admin


async def actor_of(admin: dict[str, Any], now: datetime) -> Actor:
    """``load_actor`` for an admin row already in hand: only the grants are read."""
    grants = await PermissionGrant.select().where(
        (PermissionGrant.admin == admin["id"]) & (PermissionGrant.ends_at > now)
    )
    return actor_from_rows(admin, grants)


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
