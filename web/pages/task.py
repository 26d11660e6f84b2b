"""Task detail: the evidence, the decision form built from the chosen action's input struct,
and the result after submitting (through the workflow's ``act`` update, as the API does)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from reactpy import component, html, use_effect, use_location, use_state

from activities.merchants import DOCUMENT_NAMES
from activities.risk.store import joined_findings
from api import commands
from api.errors import ApiError
from infra.db.inbox import get_task, visible
from web.console import Console, may_offer, query_params, refusal_message, use_console, use_live, link
from web.evidence import evidence_view
from web.forms import FormError, StructForm, fields_of, readable_validation
from web.i18n import action_text, kind_text, region_text, status_text, step_text, tier_text
from web.live import LIVE
from web.pages.inbox import claim_tasks, due_state
from workflows.registry import BY_KIND


def joined_view(console: Console, findings: tuple[dict[str, Any], ...]):
    """The findings that joined a risk review after it opened, each with its score,
    explanation and rows, as the review's own evidence shows them."""
    lang = console.lang
    return html.div(
        {"class_name": "km-joined", "data-joined": str(len(findings))},
        html.h3(console.t("joined_findings", n=len(findings))),
        [
            html.div(
                {"class_name": "km-finding", "key": f["key"], "data-finding": f["key"]},
                html.p({"class_name": "km-muted"}, f"{f['occurred_at'].astimezone():%Y-%m-%d %H:%M} · {f['rule']}"),
                evidence_view(
                    {k: v for k, v in {
                        "score": f["score"], "explanation": f["explanation"] if lang == "zh" else f["explanation_en"] or f["explanation"],
                        "baseline": f["baseline"] or None, "rows": f["evidence"] or None,
                    }.items() if v not in (None, "", [], {})},
                    lang,
                ),
            )
            for f in findings
        ],
    )


def may_see(console: Console, row: dict[str, Any] | None) -> bool:
    if row is None:
        return False
    me = console.actor.id
    return visible(console.actor, row, datetime.now(UTC)) or row.get("decided_by") == me or row.get("assignee") == me


def action_overrides(kind: str, action: str, lang: str) -> dict[str, dict[str, Any]]:
    if kind == "merchant-onboarding" and action == "request_documents":
        return {"documents": {"label": "需补充的材料" if lang == "zh" else "Documents wanted", "choices": tuple(DOCUMENT_NAMES.items()), "help": "不选则要求自动检查发现缺少的材料" if lang == "zh" else "none chosen: the ones the checks found missing"}}
    if kind == "promotion" and action == "score":
        return {"score": {"help": "70 分及格" if lang == "zh" else "70 passes"}}
    return {}


def precheck(row: dict[str, Any], action: str) -> bool:
    """A process's own rule the evidence already settles (the workflow checks it again):
    an onboarding with documents missing cannot be approved, only sent back or rejected."""
    evidence = row.get("evidence") if isinstance(row.get("evidence"), dict) else {}
    if row["kind"] == "merchant-onboarding" and action == "approve" and evidence.get("missing"):
        return False
    return True


async def submit_action(console: Console, row: dict[str, Any], action: str, body: dict[str, Any]):
    """Act through the workflow; a refusal comes back as a FormError with the workflow's words."""
    try:
        client = await console.temporal()
        result = await commands.act(
            client, console.requester, BY_KIND[row["kind"]], row["process_id"], action, body,
            task_id=row["task_id"], request_id=console.request_id(),
        )
    except ApiError as exc:
        fields: dict[str, str] = {}
        if exc.code == "invalid_body":
            name, words = readable_validation(exc.reason, console.lang)
            if name:
                fields[name] = words
        raise FormError(console.t("refusal", message=refusal_message(exc.code, exc.reason, console.lang)), fields) from None
    LIVE.publish("tasks", "audit")
    return result


@component
def TaskPage():
    console = use_console()
    lang = console.lang
    location = use_location()
    task_id = query_params(location.search).get("id", "")
    tick = use_live("tasks")
    row, set_row = use_state(None)
    loaded, set_loaded = use_state(False)
    chosen, set_chosen = use_state(None)
    result, set_result = use_state(None)
    notice, set_notice = use_state(None)
    reload, set_reload = use_state(0)
    joined, set_joined = use_state(())

    @use_effect(dependencies=[task_id, tick, reload, console.session])
    async def load():
        found = await get_task(task_id) if task_id else None
        seen = found if may_see(console, found) else None
        set_joined(tuple(await joined_findings(seen["process_id"])) if seen is not None and seen["kind"] == "risk-review" else ())
        set_row(seen)
        set_loaded(True)

    if not loaded:
        return html.div({"class_name": "km-empty"}, console.t("loading"))
    if row is None:
        return html.section(
            {"class_name": "km-card", "id": "task-missing", "role": "alert"},
            html.p(console.t("not_found_task")),
            link({"href": "/", "class_name": "km-button secondary"}, console.t("refused_back")),
        )

    spec = BY_KIND.get(row["kind"])
    me = console.actor.id
    is_open = row["status"] in ("open", "claimed")
    mine_or_free = row["assignee"] in (None, me)
    offered = [
        a for a in row.get("actions") or []
        if isinstance(a, dict) and spec is not None and spec.action(a.get("name", "")) is not None and may_offer(console, a.get("permission", ""), row) and precheck(row, a["name"])
    ] if is_open else []

    async def do_claim(release: bool):
        done, problems = await claim_tasks(console, [row["task_id"]], release=release)
        set_notice({"problems": problems, "ok": (console.t("released_ok") if release else console.t("claimed_ok", n=1)) if done else ""})
        set_reload(lambda n: n + 1)

    async def claim_click(_e):
        await do_claim(False)

    async def release_click(_e):
        await do_claim(True)

    def choose(name: str):
        def handle(_e):
            set_chosen(name)

        return handle

    async def on_submit(decoded, body, action_name):
        outcome = await submit_action(console, row, action_name, body)
        set_result({"action": action_name, "result": outcome})
        return console.t("result_done", action=action_text(row["kind"], action_name, lang), status=status_text(outcome.status, lang), step=step_text(outcome.step, lang))

    state = due_state(row, datetime.now(UTC))
    badges = []
    if row["escalated"]:
        badges.append(html.span({"class_name": "km-flag escalated", "key": "esc"}, console.t("escalated")))
    if state == "overdue":
        badges.append(html.span({"class_name": "km-flag overdue", "key": "over"}, console.t("overdue")))
    elif state == "due_soon":
        badges.append(html.span({"class_name": "km-flag soon", "key": "soon"}, console.t("due_soon")))

    facts = html.dl(
        {"class_name": "km-dl km-task-facts"},
        html.dt(console.t("col_kind")), html.dd(kind_text(row["kind"], lang)),
        html.dt(console.t("step")), html.dd(step_text(row["step"], lang)),
        html.dt(console.t("tier")), html.dd(tier_text(row["tier"], lang) if row["tier"] != "reviewer" else ("指定评审人" if lang == "zh" else "named reviewer")),
        html.dt(console.t("col_region")), html.dd(region_text(row["region"], lang)),
        html.dt(console.t("due")), html.dd(row["due_at"].astimezone().strftime("%Y-%m-%d %H:%M") if row["due_at"] else "—"),
        html.dt(console.t("col_status")), html.dd({"id": "task-status", "data-status": row["status"]}, console.t(f"status_{row['status']}")),
        html.dt(console.t("col_assignee")), html.dd(row["assignee"] or "—"),
        *((html.dt(console.t("escalation_reason")), html.dd(row["escalation_reason"])) if row.get("escalation_reason") else ()),
    )

    claim_bar = []
    if is_open and row["assignee"] is None and offered:
        claim_bar.append(html.button({"class_name": "km-button secondary", "id": "claim-task", "on_click": claim_click, "key": "claim", "title": console.t("claim_first")}, console.t("claim")))
    if row["status"] == "claimed" and (row["assignee"] == me or console.actor.tier == "super"):
        claim_bar.append(html.button({"class_name": "km-button secondary", "id": "release-task", "on_click": release_click, "key": "release"}, console.t("release")))

    decision: Any
    if result is not None:
        outcome = result["result"]
        decision = html.div(
            {"class_name": "km-result", "id": "task-result", "role": "status", "data-status": outcome.status},
            html.h3(console.t("result")),
            html.p(console.t("result_done", action=action_text(row["kind"], result["action"], lang), status=status_text(outcome.status, lang), step=step_text(outcome.step, lang))),
            evidence_view({k: v for k, v in outcome.detail.items() if v not in (None, "", [], {})}, lang) if outcome.detail else "",
            html.p(link({"href": f"/case?id={row['process_id']}", "class_name": "km-button secondary", "id": "to-case"}, console.t("case_timeline"))),
        )
    elif not is_open:
        closing = row.get("outcome") or {}
        decision = html.div(
            {"class_name": "km-result", "id": "task-closed"},
            html.p(console.t("task_closed", action=action_text(row["kind"], closing.get("action", ""), lang), who=row.get("decided_by") or "—")),
            html.blockquote({"class_name": "km-quote"}, closing.get("reason")) if closing.get("reason") else "",
        )
    elif not mine_or_free:
        decision = html.p({"class_name": "km-muted"}, console.t("claimed_by", who=row["assignee"]))
    elif not offered:
        decision = html.p({"class_name": "km-muted", "id": "no-actions"}, console.t("no_actions"))
    else:
        current = chosen if chosen in {a["name"] for a in offered} else offered[0]["name"]
        action_spec = spec.action(current)
        fields = fields_of(action_spec.input, lang, overrides=action_overrides(row["kind"], current, lang))
        decision = html.div(
            {"class_name": "km-decision"},
            html.div(
                {"class_name": "km-choices", "role": "radiogroup", "aria-label": console.t("choose_action")},
                [
                    html.button(
                        {
                            "key": a["name"], "type": "button", "role": "radio", "aria-checked": "true" if a["name"] == current else "false",
                            "class_name": "km-choice active" if a["name"] == current else "km-choice", "data-action": a["name"],
                            "on_click": choose(a["name"]),
                        },
                        a.get("label_zh") if lang == "zh" else a.get("label_en"),
                    )
                    for a in offered
                ],
            ),
            StructForm(
                f"act-{current}", action_spec.input, fields, lang,
                action_text(row["kind"], current, lang),
                lambda decoded, body, _name=current: on_submit(decoded, body, _name),
                key=f"form-{current}",
            ),
        )

    notes = []
    if notice:
        if notice.get("ok"):
            notes.append(html.div({"class_name": "km-notice ok", "role": "status", "key": "ok"}, notice["ok"]))
        for i, problem in enumerate(notice.get("problems") or []):
            notes.append(html.div({"class_name": "km-notice error", "role": "alert", "key": f"p{i}"}, problem))

    return html.div(
        {"class_name": "km-task", "data-task": row["task_id"]},
        html.div({"class_name": "km-crumbs"}, link({"href": "/"}, console.t("back_to_inbox"))),
        html.section(
            {"class_name": "km-card"},
            html.div(
                {"class_name": "km-card-head"},
                html.h2({"id": "task-title"}, row["title"], *badges),
                link({"href": f"/case?id={row['process_id']}", "class_name": "km-button small secondary", "id": "case-link"}, console.t("case_timeline")),
            ),
            facts,
        ),
        html.div(
            {"class_name": "km-columns"},
            html.section(
                {"class_name": "km-card km-col-main"},
                html.h3(console.t("evidence")),
                evidence_view(row.get("evidence") or {}, lang),
                joined_view(console, joined) if joined else "",
            ),
            html.section(
                {"class_name": "km-card km-col-side", "id": "decision"},
                html.h3(console.t("decision")),
                *notes,
                html.div({"class_name": "km-claim-bar"}, claim_bar) if claim_bar else "",
                decision,
            ),
        ),
    )
