"""Case timeline: every step of a process — who, what, when, why, escalations — from the
audit trail and the workflow's own state; printable (``kameng.css`` has a print stylesheet)."""

from __future__ import annotations

from typing import Any

from reactpy import component, html, use_effect, use_location, use_state

from api import commands
from api.errors import ApiError
from infra.db.directory import process_events, process_tasks
from infra.temporal.processes import ProcessError, view
from web.console import DEFINITE_DENIALS, Console, query_params, refusal_message, use_console, use_live, link
from web.evidence import evidence_view
from web.forms import FormError, StructForm, fields_of
from web.i18n import event_text, kind_text, region_text, status_text, step_text, tier_text
from web.live import LIVE
from workflows.domain.policy import Subject
from workflows.process import ProcessView
from workflows.registry import BY_KIND
from workflows.spec import ActionSpec

async def may_read(console: Console, process_id: str, process: ProcessView | None, events: list[dict[str, Any]]) -> bool:
    """The command layer's rule (as the API's read routes); for a process past its retention,
    the same rule over what its audit trail says."""
    actor = console.actor
    if process is not None:
        return await commands.may_read(actor, process_id, started_by=process.started_by, parties=process.parties, region=process.region)
    region = next((e["region"] for e in events if e.get("region")), None)
    parties = tuple(dict.fromkeys(e["actor"] for e in events))
    return await commands.may_read(actor, process_id, started_by=None, parties=parties, region=region)


def standing_actions(console: Console, process: ProcessView) -> list[ActionSpec]:
    """The standing actions the workflow offers now (its ``view`` says which) that this admin
    may take; the workflow checks again when one is taken."""
    spec = BY_KIND.get(process.kind)
    if spec is None or not process.standing:
        return []
    subject = Subject(kind=process.kind, id=process.process_id, region=process.region,
                      owners=(process.started_by,) if process.started_by else (), requester=process.started_by)
    offered = []
    for action in spec.actions:
        if not action.standing or action.name not in process.standing:
            continue
        if action.name == "extend" and console.actor.id != process.started_by:
            continue  # only the grantee asks to extend their grant
        decision = console.can(action.permission, subject)
        if decision.allowed or decision.code not in DEFINITE_DENIALS:
            offered.append(action)
    return offered


@component
def StandingActions(process: ProcessView, offered: list, on_done):
    console = use_console()
    lang = console.lang
    chosen, set_chosen = use_state(None)
    current = chosen if chosen in {a.name for a in offered} else offered[0].name
    action = next(a for a in offered if a.name == current)

    async def on_submit(_decoded, body):
        try:
            client = await console.temporal()
            result = await commands.act(
                client, console.requester, BY_KIND[process.kind], process.process_id, action.name, body,
                request_id=console.request_id(),
            )
        except ApiError as exc:
            raise FormError(console.t("refusal", message=refusal_message(exc.code, exc.reason, lang))) from None
        LIVE.publish("audit", "tasks", "people")
        # The page keeps the outcome: once nothing stands any more this section goes away.
        on_done({"process": process.process_id, "action": action.label_zh if lang == "zh" else action.label_en, "status": result.status})
        return html.span(f"{console.t('process_status')}：{status_text(result.status, lang)}")

    return html.section(
        {"class_name": "km-card km-no-print", "id": "standing"},
        html.h3("可执行的操作" if lang == "zh" else "Actions on this case"),
        html.div(
            {"class_name": "km-choices", "role": "radiogroup"},
            [
                html.button(
                    {"key": a.name, "type": "button", "role": "radio", "aria-checked": "true" if a.name == current else "false",
                     "class_name": "km-choice active" if a.name == current else "km-choice", "data-action": a.name,
                     "on_click": (lambda name: (lambda _e: set_chosen(name)))(a.name)},
                    a.label_zh if lang == "zh" else a.label_en,
                )
                for a in offered
            ],
        ),
        StructForm(f"standing-{current}", action.input, fields_of(action.input, lang), lang,
                   action.label_zh if lang == "zh" else action.label_en, on_submit, key=f"standing-{current}"),
    )


def merged_timeline(process: ProcessView | None, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Audit events, plus the workflow's own timeline entries no audit event already records."""
    entries = [
        {
            "at": e["at"], "actor": e["actor"], "tier": e["actor_tier"], "action": e["action"], "step": "",
            "reason": e["reason"], "outcome": e["outcome"], "source": "audit", "seq": e["seq"], "target": e["target"],
        }
        for e in events
    ]
    if process is not None:
        for item in process.timeline:
            recorded = any(
                e["actor"] == item.actor
                and (e["action"] == item.action or e["action"].endswith("." + item.action) or (item.action == "escalated" and e["action"] == "task.escalated"))
                and abs((e["at"] - item.at).total_seconds()) < 5
                for e in events
            )
            if not recorded:
                entries.append(
                    {"at": item.at, "actor": item.actor, "tier": "", "action": item.action, "step": item.step, "reason": item.detail,
                     "outcome": "", "source": "workflow", "seq": None, "target": ""}
                )
    entries.sort(key=lambda e: (e["at"], e["seq"] or 0))
    return entries


@component
def CasePage():
    console = use_console()
    lang = console.lang
    location = use_location()
    process_id = query_params(location.search).get("id", "")
    tick = use_live("audit")
    data, set_data = use_state(None)
    done, set_done = use_state(None)

    @use_effect(dependencies=[process_id, tick, console.session])
    async def load():
        process: ProcessView | None = None
        problem = None
        try:
            client = await console.temporal()
            process = await view(client, process_id)
        except (ProcessError, ApiError) as exc:
            problem = getattr(exc, "code", "")
        except Exception as exc:  # a finished process past retention: the audit trail still tells it
            problem = type(exc).__name__
        events = await process_events(process_id) if process_id else []
        tasks = await process_tasks(process_id) if process_id else []
        allowed = bool(process is not None or events) and await may_read(console, process_id, process, events)
        set_data({"process": process, "events": events, "tasks": tasks, "allowed": allowed, "problem": problem})

    if data is None:
        return html.div({"class_name": "km-empty"}, console.t("loading"))
    if not data["allowed"]:
        return html.section({"class_name": "km-card", "id": "case-missing", "role": "alert"}, html.p(console.t("not_found_case")))
    process: ProcessView | None = data["process"]
    entries = merged_timeline(process, data["events"])
    kind = process.kind if process else process_id.rsplit("-", 1)[0]
    kind_label = next((kind_text(k, lang) for k in _kinds() if process_id.startswith(k + "-")), kind)

    summary = html.dl(
        {"class_name": "km-dl km-case-facts"},
        html.dt(console.t("process_status")), html.dd({"id": "case-status", "data-status": process.status if process else ""}, status_text(process.status, lang) if process else "—"),
        html.dt(console.t("current_step")), html.dd(step_text(process.step, lang) if process else "—"),
        html.dt(console.t("started_by")), html.dd((process.started_by or "platform") if process else "—"),
        html.dt(console.t("col_region")), html.dd(region_text(process.region, lang) if process else "—"),
    )
    open_tasks = []
    if process is not None and process.tasks:
        open_tasks = [
            html.li(
                {"key": t.task_id},
                link({"href": f"/task?id={t.task_id}"}, t.title),
                html.span({"class_name": "km-muted"}, f" · {tier_text(t.tier, lang)} · {t.assignee or '—'}"),
                html.span({"class_name": "km-flag escalated"}, console.t("escalated")) if t.escalations else "",
            )
            for t in process.tasks
        ]
    rows = []
    for i, e in enumerate(entries):
        escalation = "escalat" in e["action"] or e["outcome"] == "escalated"
        denied = e["outcome"] == "denied"
        rows.append(
            html.tr(
                {"key": f"{e['source']}-{e['seq'] or i}", "class_name": "km-event" + (" escalation" if escalation else "") + (" denied" if denied else ""), "data-action": e["action"]},
                html.td({"class_name": "km-nowrap"}, e["at"].astimezone().strftime("%Y-%m-%d %H:%M:%S")),
                html.td(e["actor"], html.span({"class_name": "km-muted"}, f" · {tier_text(e['tier'], lang)}") if e["tier"] and e["tier"] not in ("system", "service") else ""),
                html.td(event_text(e["action"], lang), html.span({"class_name": "km-muted"}, f" · {step_text(e['step'], lang)}") if e["step"] else ""),
                html.td(e["reason"] or "—"),
                html.td(status_text(e["outcome"], lang) if e["outcome"] else "", html.span({"class_name": "km-source"}, console.t("source_workflow") if e["source"] == "workflow" else f"#{e['seq']}")),
            )
        )
    timeline = html.table(
        {"class_name": "km-table km-timeline", "id": "timeline"},
        html.thead(html.tr([html.th({"key": k}, console.t(k)) for k in ("when", "who", "what", "why", "outcome")])),
        html.tbody(rows),
    ) if rows else html.div({"class_name": "km-empty"}, console.t("no_events"))

    return html.div(
        {"class_name": "km-case", "data-process": process_id},
        html.section(
            {"class_name": "km-card"},
            html.div(
                {"class_name": "km-card-head"},
                html.h2(f"{console.t('case')} · {kind_label}"),
                html.button({"class_name": "km-button secondary km-no-print", "data-print": "1", "type": "button"}, console.t("print")),
            ),
            html.p({"class_name": "km-muted km-mono"}, process_id),
            summary,
            html.div(html.h3(console.t("open_tasks")), html.ul(open_tasks)) if open_tasks else "",
            html.div(html.h3(console.t("outcome")), evidence_view(process.result, lang)) if process and process.result else "",
        ),
        html.div(
            {"class_name": "km-notice ok km-no-print", "id": "standing-result", "data-status": done["status"], "role": "status"},
            f"{done['action']} · {console.t('process_status')}：{status_text(done['status'], lang)}",
        ) if done and done["process"] == process_id else "",
        StandingActions(process, offered, set_done, key=f"standing-{process.status}") if process is not None and (offered := standing_actions(console, process)) else "",
        html.section({"class_name": "km-card"}, html.h3(console.t("case_timeline")), timeline),
    )


def _kinds() -> list[str]:
    from workflows.registry import REGISTRY

    return sorted((spec.kind for spec in REGISTRY), key=len, reverse=True)

