"""Who is calling: a session cookie or a bearer token, resolved to the policy's Actor."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
from litestar import Request
from litestar.connection import ASGIConnection

from api.errors import ApiError
from infra.accounts import load_actor, session_admin
from workflows.domain.policy import Actor

SESSION_COOKIE = "kameng_session"


class Principal(msgspec.Struct, frozen=True):
    admin_id: int
    display_name: str
    actor: Actor
    token: str
    source: str


def bearer_or_cookie(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    header = connection.headers.get("authorization", "")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise ApiError(401, "bad_authorization", "use `Authorization: Bearer <token>`")
        return value.strip()
    return connection.cookies.get(SESSION_COOKIE)


def source_of(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    client = connection.client
    return client.host if client else ""


async def provide_principal(request: Request) -> Principal:
    token = bearer_or_cookie(request)
    if not token:
        raise ApiError(401, "unauthenticated", "sign in first: no session cookie or bearer token")
    admin = await session_admin(token)
    if admin is None:
        raise ApiError(401, "session_invalid", "the session has expired or was ended; sign in again")
    actor = await load_actor(admin["username"], datetime.now(UTC))
    if actor is None:
        raise ApiError(401, "session_invalid", "the admin behind this session no longer exists")
    return Principal(
        admin_id=admin["id"],
        display_name=admin["display_name"],
        actor=actor,
        token=token,
        source=source_of(request),
    )
