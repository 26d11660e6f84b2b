"""Supers' admin directory (admins by tier and region, the tier configuration) and the audit
search (supers everywhere, regionals within their regions) with the chain's verification, the
latest seal and the forensic queries (who read a buyer's sensitive data, an admin's day)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

from typing import Annotated

import msgspec
from api import commands
from api.errors import ApiError
from reactpy import component, html, use_effect, use_ref, use_state

from infra.db.audit import latest_seal, verify
from infra.db.directory import active_grants, list_admins, open_processes, search_audit, tiers
from infra.db.forensics import actor_activity, who_read
from web.console import refusal_message, use_console, use_live, link
from web.forms import FormError, StructForm, fields_of
from web.live import LIVE
from web.i18n import duration_text, event_text, permission_text, region_text, status_text, tier_text
from workflows.domain.permissions import Scope
from workflows.domain.tiers import DEFAULT_LADDER


class TierCapForm(msgspec.Struct, frozen=True, kw_only=True):
    """The console's form for ``PATCH /api/tiers/{key}``: an empty cap is no cap."""

    cap: Annotated[int, msgspec.Meta(ge=1, le=10_000)] | None = None
    reason: Annotated[str, msgspec.Meta(min_length=4, max_length=2000)]


@component
def TierCapEditor(tier: dict[str, Any]):
    """A super changes one tier's cap: checked and audited as the API does it."""
    console = use_console()
    lang = console.lang
    name = tier["name_zh"] if lang == "zh" else tier["name_en"]

    async def on_submit(decoded: TierCapForm, _body):
        try:
            await commands.set_tier_cap(console.requester, tier["key"], decoded.cap, decoded.reason)
        except ApiError as exc:
            LIVE.publish("audit")
            raise FormError(console.t("refusal", message=refusal_message(exc.code, exc.reason, lang))) from None
        LIVE.publish("people", "audit")
        return html.span({"class_name": "km-cap-saved", "data-cap": str(decoded.cap or "")},
                         console.t("cap_saved", tier=name, cap=decoded.cap or console.t("no_cap")))

    return html.details(
        {"class_name": "km-cap-editor", "data-edit-tier": tier["key"]},
        html.summary(console.t("edit_cap")),
        StructForm(f"cap-{tier['key']}", TierCapForm, fields_of(TierCapForm, lang, overrides={"cap": {"default": tier["cap"]}}), lang,
                   console.t("save"), on_submit, key=f"cap-{tier['key']}"),
    )


@component
def DirectoryPage():
    console = use_console()
    lang = console.lang
    tick = use_live("people", "tasks")
    data, set_data = use_state(None)
    tier_filter, set_tier_filter = use_state("")

    @use_effect(dependencies=[tick])
    async def load():
        set_data({"admins": await list_admins(), "grants": await active_grants(), "tiers": await tiers(),
                  "appointments": await open_processes("admin-appointment")})

    if data is None:
        return html.div({"class_name": "km-empty"}, console.t("loading"))
    now = datetime.now(UTC)
    rank = {t.key: t.rank for t in DEFAULT_LADDER.tiers}
    admins = sorted(data["admins"], key=lambda a: (-rank.get(a["tier"], 0), (a["regions"] or [""])[0], a["username"]))
    if tier_filter:
        admins = [a for a in admins if a["tier"] == tier_filter]
    may_appoint = console.holds("admins.appoint_regional")
    pending = {}
    for task in data["appointments"]:
        pending.setdefault((task["evidence"] or {}).get("admin"), task)
    rows = []
    for a in admins:
        grants = data["grants"].get(a["username"], [])
        actions = []
        proposal = pending.get(a["username"])
        if proposal is not None:
            actions.append(link({"href": f"/case?id={proposal['process_id']}", "class_name": "km-flag", "key": "pending", "data-pending-appointment": a["username"]}, console.t("pending_appointments")))
        elif may_appoint and a["status"] == "active" and a["username"] != console.actor.id and a["tier"] in ("normal", "regional"):
            change = "appoint" if a["tier"] == "normal" else "remove"
            query = f"/start?kind=admin-appointment&admin={a['username']}&change={change}"
            actions.append(link({"href": query, "class_name": "km-button small", "key": change, f"data-{change}": a["username"]},
                                console.t("appoint_regional" if change == "appoint" else "remove_regional")))
        if a["tier"] == "regional" and a["status"] == "active":
            actions.append(link({"href": f"/start?kind=promotion&nominee={a['username']}&target_tier=super", "class_name": "km-button small secondary", "key": "up"}, console.t("nominate_super")))
        elif a["tier"] == "intern" and a["status"] == "active":
            actions.append(link({"href": f"/start?kind=promotion&nominee={a['username']}&target_tier=normal", "class_name": "km-button small secondary", "key": "up"}, console.t("nominate_normal")))
        rows.append(
            html.tr(
                {"key": a["username"], "data-admin": a["username"]},
                html.td(a["display_name"], html.span({"class_name": "km-badge km-tier-super"}, console.t("station_master")) if a["station_master"] else ""),
                html.td({"class_name": "km-mono"}, a["username"]),
                html.td(html.span({"class_name": f"km-badge km-tier-{a['tier']}"}, tier_text(a["tier"], lang, badge=True))),
                html.td("、".join(region_text(r, lang) for r in a["regions"] or [])),
                html.td(status_text(a["status"], lang)),
                html.td([html.div({"key": g["grant_id"]}, permission_text(g["permission"], lang), html.span({"class_name": "km-muted"}, " · " + console.t("remaining", left=duration_text((g["ends_at"] - now).total_seconds(), lang)))) for g in grants] or "—"),
                html.td(actions),
            )
        )
    may_configure = console.holds("admins.configure_tiers")
    tier_rows = [
        html.tr(
            {"key": t["key"], "data-tier-row": t["key"]},
            html.td(html.span({"class_name": f"km-badge km-tier-{t['key']}"}, t["name_zh"] if lang == "zh" else t["name_en"])),
            html.td(str(t["rank"])),
            html.td(str(t["count"])),
            html.td({"data-cap": str(t["cap"] or "")}, str(t["cap"]) if t["cap"] else "—"),
            html.td(TierCapEditor(t, key=f"{t['key']}-{t['cap']}") if may_configure else ""),
        )
        for t in data["tiers"]
    ]
    return html.div(
        {"class_name": "km-directory", "id": "directory"},
        html.section(
            {"class_name": "km-card"},
            html.div(
                {"class_name": "km-card-head"},
                html.h2(console.t("directory_title")),
                html.label(
                    {"class_name": "km-filter"},
                    console.t("filter_tier"),
                    html.select(
                        {"value": tier_filter, "on_change": lambda e: set_tier_filter(e["target"]["value"]), "id": "filter-tier"},
                        html.option({"value": ""}, console.t("filter_any")),
                        [html.option({"value": t.key, "key": t.key}, tier_text(t.key, lang)) for t in DEFAULT_LADDER.tiers],
                    ),
                ),
            ),
            html.table(
                {"class_name": "km-table", "id": "admins"},
                html.thead(html.tr([html.th({"key": k}, console.t(k)) for k in ("display_name", "username", "tier", "regions", "account_status", "active_grants", "col_actions")])),
                html.tbody(rows),
            ),
            html.p({"class_name": "km-muted"}, console.t("appoint_note")),
        ),
        html.section(
            {"class_name": "km-card"},
            html.h3(console.t("tier_config")),
            html.table(
                {"class_name": "km-table compact", "id": "tiers"},
                html.thead(html.tr([html.th({"key": k}, console.t(k)) for k in ("tier", "rank", "headcount", "cap", "col_actions")])),
                html.tbody(tier_rows),
            ),
            html.p({"class_name": "km-muted"}, console.t("tier_rules")),
        ),
    )


FILTERS = ("actor", "action", "target", "process", "outcome", "since", "until")


def _day(value: str, end: bool = False) -> datetime | None:
    try:
        day = datetime.strptime(value.strip(), "%Y-%m-%d").date()
    except ValueError:
        return None
    moment = datetime.combine(day, time.min, tzinfo=UTC)
    return moment + timedelta(days=1) if end else moment


@component
def AuditPage():
    console = use_console()
    lang = console.lang
    decision = console.can("audit.view")
    scope_regions = None if decision.scope is Scope.GLOBAL else console.actor.regions
    may_verify = console.holds("audit.verify")
    typed = use_ref({k: "" for k in FILTERS})
    applied, set_applied = use_state({})
    rows, set_rows = use_state(None)
    cursor, set_cursor = use_state(None)
    more, set_more = use_state(0)
    chain, set_chain = use_state(None)
    check, set_check = use_state(0)
    sealed, set_sealed = use_state(None)
    forensic_typed = use_ref({"buyer": "", "days": "7", "admin": "", "day": ""})
    # None shows the search; ("who_read", buyer, days) or ("actor", username, day) a forensic answer.
    forensic, set_forensic = use_state(None)
    tick = use_live("audit")

    @use_effect(dependencies=[applied, forensic, console.session, tick])
    async def load():
        set_sealed(await latest_seal() or False)
        if forensic is not None:
            set_rows(await _forensic_rows(forensic, scope_regions))
            set_cursor(None)
            return
        found, next_cursor = await search_audit(
            regions=scope_regions, actor=applied.get("actor") or None, action=applied.get("action") or None,
            target=applied.get("target") or None, process_id=applied.get("process") or None,
            outcome=applied.get("outcome") or None, since=_day(applied.get("since", "")), until=_day(applied.get("until", ""), end=True),
            limit=50,
        )
        set_rows(found)
        set_cursor(next_cursor)

    @use_effect(dependencies=[more])
    async def load_more():
        if not more or cursor is None:
            return
        found, next_cursor = await search_audit(
            regions=scope_regions, actor=applied.get("actor") or None, action=applied.get("action") or None,
            target=applied.get("target") or None, process_id=applied.get("process") or None,
            outcome=applied.get("outcome") or None, since=_day(applied.get("since", "")), until=_day(applied.get("until", ""), end=True),
            limit=50, cursor=cursor,
        )
        set_rows(lambda current: (current or []) + found)
        set_cursor(next_cursor)

    @use_effect(dependencies=[check])
    async def run_verify():
        if may_verify:
            set_chain(None)
            set_chain(await verify())

    def typed_setter(name: str):
        def handle(e):
            typed.current[name] = e["target"]["value"]

        return handle

    def search(e):
        set_forensic(None)
        set_applied(dict(typed.current))

    def forensic_setter(name: str):
        def handle(e):
            forensic_typed.current[name] = e["target"]["value"]

        return handle

    def ask_who_read(e):
        buyer, days = forensic_typed.current["buyer"].strip(), forensic_typed.current["days"].strip()
        if buyer and days.isdigit() and 1 <= int(days) <= 366:
            set_rows(None)  # no earlier answer under the new question's title
            set_forensic(("who_read", buyer, int(days)))

    def ask_actor_day(e):
        admin, day = forensic_typed.current["admin"].strip(), _day(forensic_typed.current["day"])
        if admin and day is not None:
            set_rows(None)
            set_forensic(("actor", admin, day.date().isoformat()))

    forensics = html.details(
        {"class_name": "km-forensics", "id": "forensics", "open": forensic is not None},
        html.summary(console.t("forensics")),
        html.form(
            {"class_name": "km-filters", "id": "who-read", "on_submit": _prevent(ask_who_read)},
            html.strong(console.t("who_read")),
            html.label({"class_name": "km-filter"}, console.t("f_buyer"),
                       html.input({"name": "buyer", "type": "text", "on_change": forensic_setter("buyer"), "default_value": forensic_typed.current["buyer"]})),
            html.label({"class_name": "km-filter"}, console.t("f_days"),
                       html.input({"name": "days", "type": "number", "min": "1", "max": "366", "on_change": forensic_setter("days"), "default_value": forensic_typed.current["days"]})),
            html.button({"class_name": "km-button", "type": "submit"}, console.t("query")),
        ),
        html.form(
            {"class_name": "km-filters", "id": "actor-day", "on_submit": _prevent(ask_actor_day)},
            html.strong(console.t("actor_day")),
            html.label({"class_name": "km-filter"}, console.t("f_admin"),
                       html.input({"name": "admin", "type": "text", "on_change": forensic_setter("admin"), "default_value": forensic_typed.current["admin"]})),
            html.label({"class_name": "km-filter"}, console.t("f_day"),
                       html.input({"name": "day", "type": "date", "on_change": forensic_setter("day"), "default_value": forensic_typed.current["day"]})),
            html.button({"class_name": "km-button", "type": "submit"}, console.t("query")),
        ),
    )
    showing: Any = ""
    if forensic is not None:
        kind, who, when = forensic
        text = console.t("showing_who_read", buyer=who, days=when) if kind == "who_read" else console.t("showing_actor", actor=who, day=when)
        showing = html.p(
            {"class_name": "km-forensic-title", "id": "forensic-title", "data-kind": kind},
            html.strong(text), " ",
            html.button({"class_name": "km-button small secondary", "on_click": lambda e: set_forensic(None)}, console.t("back_to_search")),
        )
    seal_view: Any = ""
    if sealed is not None:
        seal_view = html.div(
            {"class_name": "km-muted km-seal", "id": "seal", "data-seal": str(sealed.id) if sealed else ""},
            console.t("seal_latest", id=sealed.id, seq=sealed.seq, events=sealed.events,
                      at=sealed.sealed_at.astimezone().strftime("%Y-%m-%d %H:%M:%S"), kid=sealed.key_id) if sealed else console.t("seal_none"),
        )

    filters = html.form(
        {"class_name": "km-filters km-audit-filters", "id": "audit-filters", "on_submit": _prevent(search)},
        [
            html.label(
                {"class_name": "km-filter", "key": name},
                console.t("f_process" if name == "process" else f"f_{name}"),
                html.input({"name": name, "type": "date" if name in ("since", "until") else "text", "on_change": typed_setter(name), "default_value": typed.current.get(name, "")}),
            )
            for name in FILTERS
        ],
        html.button({"class_name": "km-button", "type": "submit", "id": "audit-search"}, console.t("search")),
    )
    chain_view: Any = ""
    if may_verify:
        if chain is None:
            chain_view = html.div({"class_name": "km-chain checking", "id": "chain", "role": "status"}, console.t("chain_checking"))
        elif chain.ok:
            chain_view = html.div({"class_name": "km-chain ok", "id": "chain", "data-ok": "true", "role": "status"}, "✔ ",
                                  console.t("chain_ok_sealed", n=chain.events, s=chain.seals) if chain.seals else console.t("chain_ok", n=chain.events),
                                  html.button({"class_name": "km-button small secondary", "on_click": lambda e: set_check(lambda n: n + 1)}, console.t("chain_verify")))
        else:
            problem = (
                console.t("chain_bad", seq=chain.first_bad, problem=chain.problem) if chain.first_bad is not None
                else console.t("chain_bad_seal", seal=chain.bad_seal, problem=chain.problem)
            )
            chain_view = html.div({"class_name": "km-chain bad", "id": "chain", "data-ok": "false", "data-first-bad": str(chain.first_bad or ""), "role": "alert"}, "✘ ", problem)
    table: Any
    if rows is None:
        table = html.div({"class_name": "km-empty"}, console.t("loading"))
    elif not rows:
        table = html.div({"class_name": "km-empty", "id": "audit-empty"}, console.t("no_audit"))
    else:
        table = html.table(
            {"class_name": "km-table compact", "id": "audit"},
            html.thead(html.tr([html.th({"key": k}, console.t(k)) for k in ("col_seq", "col_at", "f_actor", "f_action", "f_target", "col_region", "f_outcome", "why", "col_source")])),
            html.tbody(
                [
                    html.tr(
                        {"key": str(r["seq"]), "data-seq": str(r["seq"]), "class_name": "denied" if r["outcome"] == "denied" else ""},
                        html.td(str(r["seq"])),
                        html.td({"class_name": "km-nowrap"}, r["at"].astimezone().strftime("%Y-%m-%d %H:%M:%S")),
                        html.td(r["actor"], html.span({"class_name": "km-muted"}, f" · {tier_text(r['actor_tier'], lang)}") if r["actor_tier"] in DEFAULT_LADDER else ""),
                        html.td(html.span({"title": r["action"]}, event_text(r["action"], lang))),
                        html.td(
                            {"class_name": "km-mono"},
                            link({"href": f"/case?id={r['process_id']}"}, r["target"]) if r.get("process_id") else r["target"],
                        ),
                        html.td(region_text(r["region"], lang) if r["region"] else "—"),
                        html.td(status_text(r["outcome"], lang)),
                        html.td(r["reason"] or "—"),
                        html.td({"class_name": "km-mono"}, r["source"] or "—"),
                    )
                    for r in rows
                ]
            ),
        )
    return html.div(
        {"class_name": "km-audit-page"},
        html.section(
            {"class_name": "km-card"},
            html.h2(console.t("audit_title")),
            html.p({"class_name": "km-muted"}, console.t("audit_scope_region")) if scope_regions is not None else "",
            chain_view,
            seal_view,
            filters,
            forensics,
            showing,
            table,
            html.button({"class_name": "km-button secondary", "id": "audit-more", "on_click": lambda e: set_more(lambda n: n + 1)}, console.t("more")) if cursor and forensic is None else "",
        ),
    )


async def _forensic_rows(query: tuple, regions: tuple[str, ...] | None) -> list[dict[str, Any]]:
    kind, who, when = query
    if kind == "who_read":
        return await who_read(f"buyer:{who}", datetime.now(UTC) - timedelta(days=when), regions=regions, limit=500)
    start = datetime.combine(datetime.strptime(when, "%Y-%m-%d").date(), time.min, tzinfo=UTC)
    return await actor_activity(who, start, start + timedelta(days=1), regions=regions, limit=1000)


def _prevent(handler):
    from reactpy import event

    return event(handler, prevent_default=True)
