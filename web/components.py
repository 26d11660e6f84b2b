"""The console's shell: sign-in, the header (who, tier, regions, live grants, language, sign
out), the navigation, and the pages routed client-side by reactpy-router over one connection."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from urllib.parse import quote

from api import commands
from reactpy import component, html, use_connection, use_effect, use_location, use_state
from reactpy_router import browser_router, route

from api.security import CSRF_COOKIE, SESSION_COOKIE
from web.console import Console, ConsoleContext, query_params, use_console, use_live, link
from web.i18n import duration_text, permission_text, region_text, t, tier_text
from web.session import LANG_COOKIE, ConsoleSession, cookies_of, resolve

PAGE_PERMISSIONS: dict[str, str | None] = {
    "inbox": None,
    "task": None,
    "case": None,
    "start": None,
    "reviews": "admins.review_promotion",
    "dashboard": None,
    "directory": "admins.appoint_regional",
    "audit": "audit.view",
    "risk": "risk.define_rules",
}
"""The permission a page needs; the nav hides what the policy denies and a typed URL is refused."""

ROUTES = {
    "/": "inbox",
    "/task": "task",
    "/case": "case",
    "/start": "start",
    "/reviews": "reviews",
    "/dashboard": "dashboard",
    "/directory": "directory",
    "/audit": "audit",
    "/risk": "risk",
}


def region_name(key: str | None, lang: str) -> str:
    return region_text(key, lang)


@component
def App():
    connection = use_connection()
    location = use_location()
    cookies = cookies_of(connection.scope)
    lang = "en" if cookies.get(LANG_COOKIE) == "en" else "zh"
    token = cookies.get(SESSION_COOKIE)
    session, set_session = use_state(None)
    loaded, set_loaded = use_state(False)
    people = use_live("people")

    @use_effect(dependencies=[token, people])
    async def load_session():
        # Re-read when admins, grants or sessions change; keep the same object when nothing of
        # ours did, so the pages (whose effects depend on it) do not all reload for nothing.
        fresh = await resolve(token)
        set_session(lambda current: current if current is not None and current == fresh else fresh)
        set_loaded(True)

    if not loaded:
        return html.div({"class_name": "km-empty"}, t("loading", lang))
    if session is None:
        error = query_params(location.search).get("error")
        return SignIn(lang, error)
    console = Console(session=session, lang=lang, csrf=cookies.get(CSRF_COOKIE, ""), scope=connection.scope)
    return ConsoleContext(
        browser_router(*(route(path, Page(name, key=name)) for path, name in ROUTES.items())),
        value=console,
    )


@component
def SignIn(lang: str, error: str | None):
    other = "en" if lang == "zh" else "zh"
    return html.div(
        {"class_name": "km-card km-signin"},
        html.div(
            {"class_name": "km-signin-top"},
            html.h1(t("app_name", lang)),
            html.a({"href": f"/lang?to={other}&next=/", "class_name": "km-lang", "id": "lang-switch"}, t("language", lang)),
        ),
        html.div({"class_name": "km-error", "role": "alert"}, t(error, lang)) if error else "",
        html.form(
            {"action": "/auth/login", "method": "post", "id": "sign-in"},
            html.label(
                {"class_name": "km-field"},
                t("username", lang),
                html.input({"name": "username", "autocomplete": "username", "required": True}),
            ),
            html.label(
                {"class_name": "km-field"},
                t("password", lang),
                html.input(
                    {"name": "password", "type": "password", "autocomplete": "current-password", "required": True}
                ),
            ),
            html.button({"class_name": "km-button", "type": "submit"}, t("sign_in", lang)),
        ),
        html.p({"class_name": "km-muted"}, t("signin_hint", lang)),
    )


def active_grants(session: ConsoleSession, now: datetime) -> list:
    return [g for g in session.actor.grants if g.active_at(now)]


@component
def Header(session: ConsoleSession, lang: str, csrf: str, here: str):
    tick, set_tick = use_state(0)

    @use_effect(dependencies=[])
    async def clock():
        # Remaining times count down on screen (a local timer; nothing is read from the database).
        while True:
            await asyncio.sleep(30)
            set_tick(lambda n: n + 1)

    now = datetime.now(UTC)
    regions = "、".join(region_name(r, lang) for r in session.regions) if lang == "zh" else ", ".join(region_name(r, lang) for r in session.regions)
    grants = active_grants(session, now)
    other = "en" if lang == "zh" else "zh"
    return html.header(
        {"class_name": "km-header"},
        html.span({"class_name": "km-brand"}, t("app_name", lang)),
        html.span({"class_name": "km-who", "id": "who"}, session.display_name),
        html.span({"class_name": f"km-badge km-tier-{session.tier}", "data-tier": session.tier}, tier_text(session.tier, lang, badge=True)),
        html.span({"class_name": "km-badge km-tier-super"}, t("station_master", lang)) if session.station_master else "",
        html.span({"class_name": "km-muted km-regions", "id": "regions"}, regions),
        html.span(
            {"class_name": "km-grants", "id": "grants", "title": t("grants_label", lang)},
            [
                html.span(
                    {"key": g.id or g.permission, "class_name": "km-grant", "data-grant": g.permission},
                    permission_text(g.permission, lang), " · ",
                    t("remaining", lang, left=duration_text((g.ends_at - now).total_seconds(), lang)),
                )
                for g in grants
            ],
        ) if grants else "",
        html.span({"class_name": "km-live", "title": t("live_title", lang)}, html.span({"class_name": "km-dot"}), t("live", lang)),
        html.a({"href": f"/lang?to={other}&next={quote(here, safe='/?=&')}", "class_name": "km-lang", "id": "lang-switch", "title": t("language_title", lang)}, t("language", lang)),
        html.form(
            {"action": "/auth/logout", "method": "post", "class_name": "km-signout"},
            html.input({"type": "hidden", "name": "csrf", "value": csrf}),
            html.button({"class_name": "km-button secondary", "type": "submit"}, t("sign_out", lang)),
        ),
    )


@component
def Nav(current: str):
    console = use_console()
    intern = console.can("reports.view").allowed is False and console.holds("docs.read")
    items = [
        ("/", "inbox", "nav_inbox", None),
        ("/reviews", "reviews", "nav_reviews", "admins.review_promotion"),
        ("/start", "start", "nav_start", None),
        ("/dashboard", "dashboard", "nav_docs" if intern else "nav_dashboard", None),
        ("/directory", "directory", "nav_directory", "admins.appoint_regional"),
        ("/audit", "audit", "nav_audit", "audit.view"),
        ("/risk", "risk", "nav_risk", "risk.define_rules"),
    ]
    return html.nav(
        {"class_name": "km-nav", "aria-label": "main"},
        [
            link(
                {"href": href, "class_name": "km-nav-link active" if name == current else "km-nav-link", "data-nav": name},
                console.t(label),
                key=name,
            )
            for href, name, label, permission in items
            if permission is None or console.holds(permission)
        ],
    )


@component
def Refusal(name: str, permission: str):
    console = use_console()

    @use_effect(dependencies=[name])
    async def record():
        # A typed URL above one's tier is a denial like any other: on the audit trail.
        await commands.refuse_page(console.requester, name, permission)

    return html.section(
        {"class_name": "km-card km-refusal", "id": "refusal", "role": "alert"},
        html.h2(console.t("refused_title")),
        html.p(console.t("refused_page", permission=f"{permission_text(permission, console.lang)}", tier=tier_text(console.actor.tier, console.lang))),
        link({"href": "/", "class_name": "km-button secondary"}, console.t("refused_back")),
    )


@component
def Page(name: str):
    console = use_console()
    location = use_location()
    here = location.pathname + (location.search or "")
    permission = PAGE_PERMISSIONS.get(name)
    if permission is not None and not console.holds(permission):
        body = Refusal(name, permission)
    else:
        body = page_body(name)
    return html.div(
        {"class_name": f"km-page km-page-{name}"},
        Header(console.session, console.lang, console.csrf, here),
        Nav(name),
        html.main({"class_name": "km-main", "id": f"page-{name}"}, body),
    )


def page_body(name: str):
    from web.pages import admin, case, dashboard, inbox, reviews, risk, start, task

    return {
        "inbox": inbox.InboxPage,
        "task": task.TaskPage,
        "case": case.CasePage,
        "start": start.StartPage,
        "reviews": reviews.ReviewsPage,
        "dashboard": dashboard.DashboardPage,
        "directory": admin.DirectoryPage,
        "audit": admin.AuditPage,
        "risk": risk.RiskRulesPage,
    }[name]()
