"""Promotion reviews for HR-style reviewers: the candidates assigned to me, their metrics, a
scoring form, and the panel's progress — other reviewers' scores only once I have scored."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from reactpy import component, html, use_effect, use_state

from infra.db.directory import process_tasks
from infra.db.inbox import list_tasks
from web.console import use_console, use_live, link
from web.evidence import metrics_view, value_view
from web.forms import StructForm, fields_of
from web.i18n import tier_text
from web.pages.task import submit_action
from workflows.promotion import PASS_SCORE, QUORUM, ScoreInput


async def my_reviews(actor) -> list[dict[str, Any]]:
    """Per promotion process with a review task naming me: my task, the panel's tasks."""
    rows, _ = await list_tasks(actor, now=datetime.now(UTC), kind="promotion", limit=200)
    mine = [r for r in rows if r["step"] == "review" and actor.id in (r["candidates"] or ())]
    out = []
    for row in mine:
        panel = [t for t in await process_tasks(row["process_id"]) if t["step"] == "review"]
        out.append({"task": row, "panel": panel})
    return out


def _score_of(task: dict[str, Any]) -> int | None:
    outcome = task.get("outcome") or {}
    return outcome.get("score") if outcome.get("action") == "score" else None


@component
def ReviewsPage():
    console = use_console()
    lang = console.lang
    tick = use_live("tasks")
    items, set_items = use_state(None)

    @use_effect(dependencies=[tick, console.session])
    async def load():
        set_items(await my_reviews(console.actor))

    if items is None:
        return html.div({"class_name": "km-empty"}, console.t("loading"))
    cards = [ReviewCard(item, key=item["task"]["task_id"]) for item in items]
    return html.div(
        {"class_name": "km-reviews"},
        html.section(
            {"class_name": "km-card"},
            html.h2(console.t("reviews_title")),
            html.p({"class_name": "km-muted"}, console.t("reviews_intro")),
            html.p({"class_name": "km-muted"}, console.t("pass_line", score=PASS_SCORE, quorum=QUORUM)),
        ),
        *(cards or [html.div({"class_name": "km-card km-empty", "id": "reviews-empty", "key": "empty"}, console.t("reviews_empty"))]),
    )


@component
def ReviewCard(item: dict[str, Any]):
    console = use_console()
    lang = console.lang
    task = item["task"]
    evidence = task.get("evidence") or {}
    panel = item["panel"]
    scored = [t for t in panel if _score_of(t) is not None]
    i_scored = task["status"] == "done" and _score_of(task) is not None
    is_open = task["status"] in ("open", "claimed")

    async def on_submit(decoded, body):
        result = await submit_action(console, task, "score", body)
        return ("已提交评分，评审状态：" if lang == "zh" else "Score recorded; status: ") + result.status

    if i_scored:
        others = html.table(
            {"class_name": "km-table compact", "data-scores": "visible"},
            html.thead(html.tr(html.th(console.t("who")), html.th("评分" if lang == "zh" else "Score"))),
            html.tbody([html.tr({"key": t["task_id"]}, html.td(t.get("decided_by") or (t["candidates"] or ["—"])[0]), html.td(str(_score_of(t)))) for t in scored]),
        )
    else:
        others = html.p({"class_name": "km-muted", "data-scores": "hidden"}, console.t("scores_hidden"))

    return html.section(
        {"class_name": "km-card km-review", "data-process": task["process_id"]},
        html.div(
            {"class_name": "km-card-head"},
            html.h3(task["title"]),
            link({"href": f"/case?id={task['process_id']}", "class_name": "km-button small secondary"}, console.t("case_timeline")),
        ),
        html.dl(
            {"class_name": "km-dl"},
            html.dt(console.t("nominee")), html.dd(evidence.get("nominee", "—"), " · ", tier_text(evidence.get("nominee_tier"), lang)),
            html.dt(console.t("target_tier")), html.dd(tier_text(evidence.get("target_tier"), lang)),
            html.dt("提名理由" if lang == "zh" else "Reasons"), html.dd(value_view("reasons", evidence.get("reasons"), lang)),
        ),
        metrics_view(evidence.get("metrics") or {}, lang) if evidence.get("metrics") else "",
        html.p({"class_name": "km-panel-status", "data-panel": f"{len(scored)}/{len(panel)}"}, console.t("panel_status", done=len(scored), total=len(panel))),
        others,
        StructForm(f"score-{task['id']}", ScoreInput, fields_of(ScoreInput, lang), lang, console.t("submit"), on_submit) if is_open else (
            html.p(console.t("your_score"), "：", str(_score_of(task))) if i_scored else ""
        ),
    )
