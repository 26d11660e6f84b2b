"""The console's components: sign-in, header and the inbox list."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qs

from reactpy import component, html, use_connection, use_effect, use_location, use_state

from api.security import CSRF_COOKIE, SESSION_COOKIE
from infra.db.inbox import list_tasks
from web.i18n import t
from web.session import LANG_COOKIE, ConsoleSession, cookies_of, resolve
from workflows.domain.regions import DEFAULT_REGIONS
from workflows.domain.tiers import DEFAULT_LADDER

REGION_NAMES = {r.key: (r.name_zh, r.name_en) for r in DEFAULT_REGIONS}


def region_name(key: str | None, lang: str) -> str:
    if key is None:
        return t("all_regions", lang)
    zh, en = REGION_NAMES.get(key, (key, key))
    return zh if lang == "zh" else en


@component
def App():
    connection = use_connection()
    location = use_location()
    cookies = cookies_of(connection.scope)
    lang = "en" if cookies.get(LANG_COOKIE) == "en" else "zh"
    token = cookies.get(SESSION_COOKIE)
    session, set_session = use_state(None)
    loaded, set_loaded = use_state(False)

    @use_effect(dependencies=[token])
    async def load_session():
        set_session(await resolve(token))
        set_loaded(True)

    if not loaded:
        return html.div({"class_name": "km-empty"}, t("loading", lang))
    if session is None:
        error = parse_qs(location.search.lstrip("?")).get("error", [None])[0]
        return SignIn(lang, error)
    csrf = cookies.get(CSRF_COOKIE, "")
    return html.div(Header(session, lang, csrf), html.main({"class_name": "km-main"}, Inbox(session, lang)))


@component
def SignIn(lang: str, error: str | None):
    return html.div(
        {"class_name": "km-card km-signin"},
        html.h1(t("app_name", lang)),
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
    )


@component
def Header(session: ConsoleSession, lang: str, csrf: str):
    tier = DEFAULT_LADDER[session.tier] if session.tier in DEFAULT_LADDER else None
    badge = tier.badge_zh if tier and lang == "zh" else (tier.name_en if tier else session.tier)
    regions = ", ".join(region_name(r, lang) for r in session.regions)
    return html.header(
        {"class_name": "km-header"},
        html.span({"class_name": "km-brand"}, t("app_name", lang)),
        html.span({"class_name": "km-who"}, session.display_name),
        html.span({"class_name": f"km-badge km-tier-{session.tier}", "data-tier": session.tier}, badge),
        html.span({"class_name": "km-badge km-tier-super"}, t("station_master", lang)) if session.station_master else "",
        html.span({"class_name": "km-muted"}, regions),
        html.form(
            {"action": "/auth/logout", "method": "post"},
            html.input({"type": "hidden", "name": "csrf", "value": csrf}),
            html.button({"class_name": "km-button secondary", "type": "submit"}, t("sign_out", lang)),
        ),
    )


TABS = ("open", "claimed", "done")


@component
def Inbox(session: ConsoleSession, lang: str):
    tab, set_tab = use_state("open")
    rows, set_rows = use_state(None)

    @use_effect(dependencies=[tab, session.username])
    async def load_tasks():
        found, _ = await list_tasks(session.actor, now=datetime.now(UTC), status=tab, limit=100)
        set_rows(found)

    def choose(name: str):
        def handle_click(_event):
            set_rows(None)
            set_tab(name)

        return handle_click

    tabs = html.div(
        {"class_name": "km-tabs", "role": "tablist"},
        [
            html.button(
                {
                    "key": name,
                    "class_name": "km-tab active" if name == tab else "km-tab",
                    "role": "tab",
                    "on_click": choose(name),
                },
                t(f"tab_{name}", lang),
            )
            for name in TABS
        ],
    )
    return html.section(
        {"class_name": "km-card"},
        html.h2(t("inbox", lang)),
        tabs,
        TaskTable(rows, lang),
    )


@component
def TaskTable(rows: list[dict] | None, lang: str):
    if rows is None:
        return html.div({"class_name": "km-empty"}, t("loading", lang))
    if not rows:
        return html.div({"class_name": "km-empty", "id": "inbox-empty"}, t("empty_inbox", lang))
    now = datetime.now(UTC)
    head = html.thead(
        html.tr(
            [html.th({"key": k}, t(k, lang)) for k in ("col_title", "col_kind", "col_region", "col_due", "col_status", "col_assignee")]
        )
    )
    body = html.tbody(
        [
            html.tr(
                {"key": row["task_id"], "data-task": row["task_id"]},
                html.td(
                    row["title"],
                    html.span({"class_name": "km-flag escalated"}, t("escalated", lang)) if row["escalated"] else "",
                    html.span({"class_name": "km-flag overdue"}, t("overdue", lang))
                    if row["due_at"] and row["due_at"] < now and row["status"] in ("open", "claimed")
                    else "",
                ),
                html.td(row["kind"]),
                html.td(region_name(row["region"], lang)),
                html.td(row["due_at"].strftime("%Y-%m-%d %H:%M") if row["due_at"] else "—"),
                html.td(t(f"status_{row['status']}", lang)),
                html.td(row["assignee"] or "—"),
            )
            for row in rows
        ]
    )
    return html.table({"class_name": "km-table", "id": "inbox"}, head, body)
