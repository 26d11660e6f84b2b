"""The inbox (the landing page): Mine / My queue / Done, filters, sorting, badges, claim,
release and bulk claim; re-read whenever the live notifier says the inbox changed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from reactpy import component, html, use_effect, use_state

from api import commands
from api.errors import ApiError
from infra.db.inbox import get_task, list_tasks
from web.console import Console, may_offer, refusal_message, use_console, use_live, link
from web.i18n import kind_text, region_text
from web.live import LIVE
from workflows.domain.priority import priority_band

TABS = ("mine", "queue", "done")
DUE_SOON = timedelta(hours=4)
FAR = datetime.max.replace(tzinfo=UTC)


def due_state(row: dict[str, Any], now: datetime) -> str | None:
    if row["status"] not in ("open", "claimed"):
        return None
    due = row.get("due_at")
    if due is not None and due < now:
        return "overdue"
    remind = row.get("remind_at")
    if (remind is not None and remind <= now) or (due is not None and due - now < DUE_SOON):
        return "due_soon"
    return "on_time"


async def load_rows(console: Console, tab: str) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    actor = console.actor
    if tab == "mine":
        rows, _ = await list_tasks(actor, now=now, status="claimed", limit=200)
        return [r for r in rows if r["assignee"] == actor.id]
    if tab == "queue":
        rows, _ = await list_tasks(actor, now=now, status="open", limit=200)
        return [r for r in rows if r["assignee"] is None]
    rows, _ = await list_tasks(actor, now=now, status="done", limit=100)
    return rows


def apply_view(rows: list[dict[str, Any]], *, kind: str, region: str, due: str, sort: str, now: datetime) -> list[dict[str, Any]]:
    shown = [
        r for r in rows
        if (not kind or r["kind"] == kind)
        and (not region or r["region"] == region)
        and (not due or (due == "escalated" and r["escalated"]) or due_state(r, now) == due)
    ]
    if sort == "priority":
        shown.sort(key=lambda r: (-(r.get("priority") or 0), r.get("due_at") or FAR))
    elif sort == "newest":
        shown.sort(key=lambda r: r["id"], reverse=True)
    else:
        shown.sort(key=lambda r: (r.get("due_at") or FAR, -(r.get("priority") or 0)))
    return shown


async def claim_tasks(console: Console, task_ids: list[str], *, release: bool = False) -> tuple[int, list[str]]:
    """Claim (or release) through the workflow, as the API does: (done, problems)."""
    problems: list[str] = []
    done = 0
    try:
        client = await console.temporal()
    except ApiError as exc:
        return 0, [refusal_message(exc.code, exc.reason, console.lang)]
    for task_id in task_ids:
        try:
            await commands.claim(client, console.requester, task_id, release=release)
            done += 1
        except ApiError as exc:
            row = await get_task(task_id) if exc.code != "not_found" else None
            title = row["title"] if row is not None else task_id
            problems.append(console.t("claim_failed", title=title, message=refusal_message(exc.code, exc.reason, console.lang)))
    if done:
        LIVE.publish("tasks")
    return done, problems


def claimable(console: Console, row: dict[str, Any]) -> bool:
    return any(may_offer(console, a.get("permission", ""), row) for a in row.get("actions") or [] if isinstance(a, dict))


@component
def InboxPage():
    console = use_console()
    lang = console.lang
    tick = use_live("tasks")
    tab, set_tab = use_state("queue")
    kind, set_kind = use_state("")
    region, set_region = use_state("")
    due, set_due = use_state("")
    sort, set_sort = use_state("due")
    rows, set_rows = use_state(None)
    selected, set_selected = use_state(frozenset())
    notice, set_notice = use_state(None)
    reload, set_reload = use_state(0)

    @use_effect(dependencies=[tab, tick, reload, console.session])
    async def load():
        set_rows(await load_rows(console, tab))

    def choose(name: str):
        def handle(_e):
            if name != tab:
                set_rows(None)
                set_selected(frozenset())
                set_tab(name)

        return handle

    async def act_on(task_ids: list[str], release: bool = False):
        done, problems = await claim_tasks(console, task_ids, release=release)
        message = console.t("released_ok") if release and done else (console.t("claimed_ok", n=done) if done else "")
        set_notice({"ok": message, "problems": problems})
        set_selected(frozenset())
        set_reload(lambda n: n + 1)

    def on_claim(task_id: str, release: bool = False):
        async def handle(_e):
            await act_on([task_id], release)

        return handle

    async def bulk(_e):
        await act_on(sorted(selected))

    def toggle(task_id: str):
        def handle(e):
            checked = bool(e.get("target", {}).get("checked"))
            set_selected(lambda s: (s | {task_id}) if checked else (s - {task_id}))

        return handle

    now = datetime.now(UTC)
    shown = apply_view(rows or [], kind=kind, region=region, due=due, sort=sort, now=now) if rows is not None else None
    kinds = sorted({r["kind"] for r in rows or []})
    regions = sorted({r["region"] for r in rows or [] if r["region"]} | set(console.actor.regions))

    def select(name: str, value: str, setter, options: list[tuple[str, str]], label: str):
        return html.label(
            {"class_name": "km-filter"},
            label,
            html.select(
                {"name": name, "id": f"filter-{name}", "value": value, "on_change": lambda e: setter(e["target"]["value"])},
                [html.option({"value": v, "key": v or "-"}, text) for v, text in options],
            ),
        )

    any_text = console.t("filter_any")
    filters = html.div(
        {"class_name": "km-filters"},
        select("kind", kind, set_kind, [("", any_text)] + [(k, kind_text(k, lang)) for k in kinds], console.t("filter_kind")),
        select("region", region, set_region, [("", any_text)] + [(r, region_text(r, lang)) for r in regions], console.t("filter_region")),
        select(
            "due", due, set_due,
            [("", any_text), ("due_soon", console.t("due_soon")), ("overdue", console.t("overdue")), ("escalated", console.t("escalated")), ("on_time", console.t("on_time"))],
            console.t("filter_due"),
        ),
        select("sort", sort, set_sort, [("due", console.t("sort_due")), ("priority", console.t("sort_priority")), ("newest", console.t("sort_newest"))], console.t("sort")),
    )
    tabs = html.div(
        {"class_name": "km-tabs", "role": "tablist"},
        [
            html.button(
                {"key": name, "class_name": "km-tab active" if name == tab else "km-tab", "role": "tab", "aria-selected": "true" if name == tab else "false", "data-tab": name, "on_click": choose(name)},
                console.t(f"tab_{name}"),
            )
            for name in TABS
        ],
    )
    bulk_bar = ""
    if tab == "queue" and shown:
        bulk_bar = html.div(
            {"class_name": "km-bulk"},
            html.button(
                {"class_name": "km-button", "id": "bulk-claim", "disabled": not selected, "on_click": bulk},
                console.t("bulk_claim", n=len(selected)),
            ),
        )
    notes = []
    if notice:
        if notice.get("ok"):
            notes.append(html.div({"class_name": "km-notice ok", "role": "status", "key": "ok"}, notice["ok"]))
        for i, problem in enumerate(notice.get("problems") or []):
            notes.append(html.div({"class_name": "km-notice error", "role": "alert", "key": f"p{i}"}, problem))
    return html.section(
        {"class_name": "km-card"},
        html.div(
            {"class_name": "km-card-head"},
            html.h2(console.t("inbox")),
            html.span({"class_name": "km-muted", "id": "inbox-count"}, console.t("count_tasks", n=len(shown)) if shown is not None else ""),
        ),
        tabs,
        filters,
        *notes,
        bulk_bar,
        TaskTable(shown, tab, selected, on_claim, toggle),
    )


@component
def TaskTable(rows: list[dict] | None, tab: str, selected: frozenset, on_claim, toggle):
    console = use_console()
    lang = console.lang
    if rows is None:
        return html.div({"class_name": "km-empty"}, console.t("loading"))
    if not rows:
        return html.div({"class_name": "km-empty", "id": "inbox-empty"}, console.t("empty_inbox"))
    now = datetime.now(UTC)
    columns = ["col_title", "col_priority", "col_kind", "col_region", "col_due", "col_status", "col_assignee", "col_actions"]
    head = html.thead(
        html.tr(
            html.th({"key": "sel"}, "") if tab == "queue" else "",
            [html.th({"key": k}, console.t(k)) for k in columns],
        )
    )
    body = []
    for row in rows:
        state = due_state(row, now)
        badges = []
        if row["escalated"]:
            badges.append(html.span({"class_name": "km-flag escalated", "key": "esc", "title": row.get("escalation_reason") or ""}, console.t("escalated")))
        if state == "overdue":
            badges.append(html.span({"class_name": "km-flag overdue", "key": "over"}, console.t("overdue")))
        elif state == "due_soon":
            badges.append(html.span({"class_name": "km-flag soon", "key": "soon"}, console.t("due_soon")))
        mine = row["assignee"] == console.actor.id
        can_claim = row["status"] == "open" and row["assignee"] is None and claimable(console, row)
        buttons = [link({"href": f"/task?id={row['task_id']}", "class_name": "km-button small secondary", "data-open": row["task_id"]}, console.t("open_task" if row["status"] in ("open", "claimed") else "view"), key="open")]
        if can_claim:
            buttons.append(html.button({"key": "claim", "class_name": "km-button small", "data-claim": row["task_id"], "on_click": on_claim(row["task_id"])}, console.t("claim")))
        if row["status"] == "claimed" and (mine or console.actor.tier == "super"):
            buttons.append(html.button({"key": "release", "class_name": "km-button small secondary", "data-release": row["task_id"], "on_click": on_claim(row["task_id"], True)}, console.t("release")))
        body.append(
            html.tr(
                {"key": row["task_id"], "data-task": row["task_id"], "data-kind": row["kind"], "class_name": "km-row " + (state or "")},
                html.td(
                    {"key": "sel"},
                    # uncontrolled (a controlled checkbox would snap back before the server's answer);
                    # a new key per cleared selection resets it
                    html.input({"key": f"{row['task_id']}-{len(selected) == 0}", "type": "checkbox", "aria-label": row["title"], "data-select": row["task_id"], "default_checked": row["task_id"] in selected, "on_change": toggle(row["task_id"])}) if can_claim else "",
                ) if tab == "queue" else "",
                html.td({"key": "title"}, link({"href": f"/task?id={row['task_id']}", "class_name": "km-task-title"}, row["title"]), *badges),
                html.td(
                    {"key": "priority", "data-priority": str(row["priority"] or 0)},
                    html.span({"class_name": f"km-priority {priority_band(row['priority'] or 0)}", "title": str(row["priority"] or 0)},
                              console.t(f"priority_{priority_band(row['priority'] or 0)}")),
                ),
                html.td({"key": "kind"}, kind_text(row["kind"], lang)),
                html.td({"key": "region"}, region_text(row["region"], lang)),
                html.td({"key": "due", "class_name": "km-nowrap"}, row["due_at"].astimezone().strftime("%m-%d %H:%M") if row["due_at"] else "—"),
                html.td({"key": "status"}, console.t(f"status_{row['status']}")),
                html.td({"key": "assignee"}, row["assignee"] or "—"),
                html.td({"key": "actions"}, html.div({"class_name": "km-row-actions"}, buttons)),
            )
        )
    return html.table({"class_name": "km-table", "id": "inbox"}, head, html.tbody(body))
