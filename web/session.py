"""The console's view of who is signed in, read from the connection's cookie."""

from __future__ import annotations

from datetime import UTC, datetime
from http.cookies import SimpleCookie
from typing import Any

import msgspec

from api.security import SESSION_COOKIE
from infra.accounts import load_actor, session_admin
from workflows.domain.policy import Actor

LANG_COOKIE = "kameng_lang"


def cookies_of(scope: dict[str, Any]) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    for name, value in scope.get("headers", []):
        if name == b"cookie":
            try:
                jar.load(value.decode("latin-1"))
            except Exception:  # a malformed cookie header means no cookies, not a crash
                return {}
    return {key: morsel.value for key, morsel in jar.items()}


class ConsoleSession(msgspec.Struct, frozen=True):
    username: str
    display_name: str
    tier: str
    regions: tuple[str, ...]
    station_master: bool
    actor: Actor


async def resolve(token: str | None) -> ConsoleSession | None:
    admin = await session_admin(token)
    if admin is None:
        return None
    actor = await load_actor(admin["username"], datetime.now(UTC))
    if actor is None:
        return None
    return ConsoleSession(
        username=admin["username"],
        display_name=admin["display_name"],
        tier=admin["tier"],
        regions=tuple(admin["regions"] or ()),
        station_master=admin["station_master"],
        actor=actor,
    )
