"""Sign in, sign out, and who am I."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Annotated

from litestar import Request, Response, Router, get, post
from litestar.datastructures import Cookie
from litestar.di import Provide
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect

import msgspec

from api.admins import admin_read
from api.errors import ApiError, error_responses
from api.schemas import LoginCreate, LoginRead, MeRead, PasswordChange, PermissionRead
from api.security import CSRF_COOKIE, SESSION_COOKIE, Principal, provide_principal, source_of
from infra.accounts import authenticate, close_session, constant_time_equals, open_session, session_admin
from infra.db.audit import append
from workflows.domain.messages import AuditRecord
from infra.settings import get_settings
from workflows.domain.permissions import PERMISSIONS_BY_KEY
from workflows.domain.policy import DEFAULT_POLICY


def session_cookies(token: str, *, secure: bool = False) -> list[Cookie]:
    """The session (HttpOnly) and its CSRF companion (readable by the page, echoed in a header)."""
    max_age = get_settings().session_hours * 3600
    return [
        Cookie(key=SESSION_COOKIE, value=token, httponly=True, samesite="lax", secure=secure, path="/", max_age=max_age),
        Cookie(key=CSRF_COOKIE, value=secrets.token_urlsafe(24), httponly=False, samesite="strict", secure=secure, path="/", max_age=max_age),
    ]


async def _limited(request: Request, username: str, source: str, action: str) -> None:
    """The sign-in limiter's check; a refused attempt is audited (within the address's budget)."""
    try:
        request.app.state.login_limiter.check(username, source)
    except ApiError as exc:
        if request.app.state.denial_budget.allow(source):
            await append(
                AuditRecord(
                    actor=username[:64], actor_tier="", action=action, target=f"admin:{username[:64]}",
                    outcome="denied", reason=f"rate_limited: {exc.reason}", source=source,
                )
            )
        raise


async def _failed(request: Request, username: str, source: str, action: str, reason: str, tier: str = "") -> None:
    """A failed password: counted, audited, and the lockout it causes audited too."""
    locked = request.app.state.login_limiter.failed(username, source)
    await append(
        AuditRecord(
            actor=username[:64], actor_tier=tier, action=action, target=f"admin:{username[:64]}",
            outcome="denied", reason=reason, source=source,
        )
    )
    if locked is not None:
        await append(
            AuditRecord(
                actor="system", actor_tier="system", action="auth.lockout", target=f"admin:{username[:64]}",
                outcome="locked", reason=f"failed sign-ins used up the {locked} limit", source=source,
            )
        )


async def _sign_in(request: Request, username: str, password: str) -> tuple[dict, str] | None:
    source = source_of(request)
    await _limited(request, username, source, "auth.login")
    admin = await authenticate(username, password)
    if admin is None:
        await _failed(request, username, source, "auth.login", "wrong username or password")
        return None
    previous = request.cookies.get(SESSION_COOKIE)
    if previous and (holder := await session_admin(previous)) is not None and holder["id"] == admin["id"]:
        await close_session(previous)  # rotation: signing in again replaces the session the cookie carried
    token = await open_session(admin["id"], source)
    await append(
        AuditRecord(
            actor=admin["username"], actor_tier=admin["tier"], action="auth.login",
            target=f"admin:{admin['username']}", outcome="allowed", source=source,
        )
    )
    return admin, token


@post("/api/auth/login", status_code=200, summary="Sign in", tags=["auth"], responses=error_responses(400, 401, 429))
async def login(request: Request, data: LoginCreate) -> Response[LoginRead]:
    signed_in = await _sign_in(request, data.username, data.password)
    if signed_in is None:
        raise ApiError(401, "invalid_credentials", "wrong username or password")
    admin, token = signed_in
    return Response(
        LoginRead(token=token, admin=admin_read(admin)),
        cookies=session_cookies(token, secure=request.url.scheme == "https"),
    )


class LoginForm(msgspec.Struct, frozen=True):
    username: str = ""
    password: str = ""


@post("/auth/login", include_in_schema=False)
async def login_form(
    request: Request, data: Annotated[LoginForm, Body(media_type=RequestEncodingType.URL_ENCODED)]
) -> Redirect:
    """The console's sign-in form posts here and lands back on the console."""
    try:
        signed_in = await _sign_in(request, data.username[:64], data.password[:256])
    except ApiError as exc:
        return Redirect(f"/?error={exc.code}", status_code=303)
    if signed_in is None:
        return Redirect("/?error=invalid_credentials", status_code=303)
    _, token = signed_in
    return Redirect("/", status_code=303, cookies=session_cookies(token, secure=request.url.scheme == "https"))


@post("/api/auth/logout", status_code=204, summary="Sign out", tags=["auth"], dependencies={"principal": Provide(provide_principal)}, responses=error_responses(401, 403))
async def logout(principal: Principal) -> Response[None]:
    await close_session(principal.token)
    await append(
        AuditRecord(
            actor=principal.actor.id, actor_tier=principal.actor.tier, action="auth.logout",
            target=f"admin:{principal.actor.id}", outcome="allowed", source=principal.source,
        )
    )
    response: Response[None] = Response(None, status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
    return response


class LogoutForm(msgspec.Struct, frozen=True):
    csrf: str = ""


@post("/auth/logout", include_in_schema=False)
async def logout_form(
    request: Request, data: Annotated[LogoutForm, Body(media_type=RequestEncodingType.URL_ENCODED)]
) -> Redirect:
    """The console's sign-out form: the CSRF token rides in a hidden field."""
    token = request.cookies.get(SESSION_COOKIE)
    csrf = request.cookies.get(CSRF_COOKIE, "")
    if token and csrf and constant_time_equals(csrf, data.csrf):
        await close_session(token)
    redirect = Redirect("/", status_code=303)
    redirect.delete_cookie(SESSION_COOKIE, path="/")
    redirect.delete_cookie(CSRF_COOKIE, path="/")
    return redirect


@get("/api/me", summary="The signed-in admin and effective permissions", tags=["auth"], dependencies={"principal": Provide(provide_principal)}, responses=error_responses(401))
async def me(principal: Principal) -> MeRead:
    from infra.db.tables import Admin

    admin = await Admin.select().where(Admin.id == principal.admin_id).first()
    if admin is None:
        raise ApiError(401, "session_invalid", "the admin behind this session no longer exists")
    permissions = [
        PermissionRead(
            permission=key,
            name_zh=PERMISSIONS_BY_KEY[key].name_zh,
            name_en=PERMISSIONS_BY_KEY[key].name_en,
            scope=scope.value,
            ends_at=ends_at,
        )
        for key, scope, ends_at in DEFAULT_POLICY.effective(principal.actor, datetime.now(UTC))
    ]
    return MeRead(admin=admin_read(admin), permissions=permissions)


@post(
    "/api/auth/password", status_code=204, summary="Change my password (ends every session of mine)", tags=["auth"],
    dependencies={"principal": Provide(provide_principal)}, responses=error_responses(400, 401, 403, 422, 429),
)
async def change_my_password(request: Request, principal: Principal, data: PasswordChange) -> Response[None]:
    from infra.accounts import change_password

    await _limited(request, principal.actor.id, principal.source, "auth.password_change")
    if await authenticate(principal.actor.id, data.current_password) is None:
        await _failed(request, principal.actor.id, principal.source, "auth.password_change", "wrong current password", principal.actor.tier)
        raise ApiError(403, "wrong_password", "the current password is not right")
    if data.new_password == data.current_password:
        raise ApiError(422, "same_password", "choose a password different from the current one")
    ended = await change_password(principal.admin_id, data.new_password)
    await append(
        AuditRecord(
            actor=principal.actor.id, actor_tier=principal.actor.tier, action="auth.password_change",
            target=f"admin:{principal.actor.id}", outcome="allowed", reason=f"{ended} sessions ended", source=principal.source,
        )
    )
    response: Response[None] = Response(None, status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
    return response


router = Router(path="/", route_handlers=[login, login_form, logout, logout_form, me, change_my_password])
