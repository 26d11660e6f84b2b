"""Supers' risk rules (风控规则): the rules in force, a backtest of a proposed change, the
proposal itself (the risk-rule-change process), and the latest signals."""

from __future__ import annotations

from typing import Any

import msgspec
from reactpy import component, html, use_effect, use_state

from activities.risk.rules import DETECTOR_PARAMS, RuleChange, check_change
from api import commands
from api.errors import ApiError
from infra.db.tables import RiskSignal
from web.console import link, refusal_message, use_console, use_live
from web.i18n import tier_text
from web.live import LIVE
from workflows.registry import BY_KIND
from workflows.risk_rule_change import RiskRuleChangeInput

TIERS = ("super", "regional", "normal")


def _text(lang: str, zh: str, en: str) -> str:
    return zh if lang == "zh" else en


@component
def RiskRulesPage():
    console = use_console()
    lang = console.lang
    tick = use_live("tasks", "audit")
    rules, set_rules = use_state(None)
    signals, set_signals = use_state([])
    selected, set_selected = use_state("")
    draft, set_draft = use_state({})
    report, set_report = use_state(None)
    message, set_message = use_state(None)
    busy, set_busy = use_state(False)

    @use_effect(dependencies=[tick])
    async def load():
        from activities.risk.store import load_rules

        set_rules(await load_rules())
        set_signals(await RiskSignal.select().order_by(RiskSignal.occurred_at, ascending=False).limit(15))

    if rules is None:
        return html.div({"class_name": "km-empty"}, console.t("loading"))

    def choose(key: str) -> None:
        rule = rules[key]
        set_selected(key)
        set_draft({**{k: f"{v:g}" for k, v in rule.params.items()}, "_tier": rule.tier, "_enabled": rule.enabled, "_days": "30", "_reason": ""})
        set_report(None)
        set_message(None)

    def change_of() -> tuple[RuleChange | None, str | None]:
        rule = rules[selected]
        params: dict[str, float] = {}
        for name in rule.params:
            raw = str(draft.get(name, "")).strip()
            try:
                value = float(raw)
            except ValueError:
                return None, _text(lang, f"参数 {name} 需要数字", f"{name} needs a number")
            if value != rule.params[name]:
                params[name] = value
        change = RuleChange(
            params=params,
            tier=draft["_tier"] if draft["_tier"] != rule.tier else None,
            enabled=draft["_enabled"] if draft["_enabled"] != rule.enabled else None,
        )
        problem = check_change(selected, change)
        if problem is not None:
            return None, refusal_message(problem[0], problem[1], lang)
        return change, None

    def days() -> int:
        try:
            return min(max(int(draft.get("_days") or 30), 1), 365)
        except ValueError:
            return 30

    async def handle_backtest(_event: Any) -> None:
        from activities.risk import run_backtest

        change, problem = change_of()
        if change is None:
            set_message(("error", problem))
            return
        set_busy(True)
        try:
            set_report(await run_backtest(selected, change, days()))
            set_message(None)
        finally:
            set_busy(False)

    async def handle_propose(_event: Any) -> None:
        change, problem = change_of()
        if change is None:
            set_message(("error", problem))
            return
        spec = BY_KIND["risk-rule-change"]
        try:
            body = msgspec.convert(
                {"rule": selected, "params": change.params, "tier": change.tier, "enabled": change.enabled, "reason": draft.get("_reason", ""), "backtest_days": days()},
                RiskRuleChangeInput,
            )
        except msgspec.ValidationError as exc:
            set_message(("error", _text(lang, f"请填写变更理由（至少 4 个字）：{exc}", f"Give a reason (at least 4 characters): {exc}")))
            return
        try:
            process_id = (await commands.start(await console.target(), console.requester, spec, body)).process_id
        except ApiError as exc:
            set_message(("error", refusal_message(exc.code, exc.reason, lang)))
            return
        LIVE.publish("tasks", "audit")
        set_message(("ok", process_id))

    rows = []
    for rule in rules.values():
        params = "，".join(f"{k}={v:g}" for k, v in rule.params.items())
        rows.append(
            html.tr(
                {"key": rule.key, "data-rule": rule.key, "class_name": "selected" if rule.key == selected else ""},
                html.td(html.div(_text(lang, rule.title_zh, rule.title_en)), html.div({"class_name": "km-muted km-mono"}, rule.key)),
                html.td(html.span({"class_name": f"km-badge km-tier-{rule.tier}"}, tier_text(rule.tier, lang, badge=True))),
                html.td(_text(lang, "启用", "on") if rule.enabled else _text(lang, "停用", "off")),
                html.td({"class_name": "km-mono"}, params),
                html.td(f"v{rule.version}" + (f" · {rule.updated_by}" if rule.updated_by else "")),
                html.td(html.button({"class_name": "km-button small secondary", "on_click": lambda _e, k=rule.key: choose(k), "data-edit": rule.key}, _text(lang, "调整", "Adjust"))),
            )
        )
    return html.div(
        {"class_name": "km-risk", "id": "risk"},
        html.section(
            {"class_name": "km-card"},
            html.div({"class_name": "km-card-head"}, html.h2(_text(lang, "风控规则", "Risk rules"))),
            html.p({"class_name": "km-muted"}, _text(
                lang,
                "每条信号都与该主体自身历史的基线（中位数/MAD）比较。调整规则前可回测最近 N 天；重大变更需另一位超级管理员复核。",
                "Every signal is measured against the subject's own baseline (median/MAD). Backtest a change over the last N days; a major change needs a second super.",
            )),
            html.table(
                {"class_name": "km-table", "id": "risk-rules"},
                html.thead(html.tr(*(html.th(h) for h in (_text(lang, "规则", "Rule"), _text(lang, "审核级别", "Reviewed by"), _text(lang, "状态", "State"), _text(lang, "参数", "Parameters"), _text(lang, "版本", "Version"), "")))),
                html.tbody(rows),
            ),
        ),
        _editor(console, rules[selected], draft, set_draft, handle_backtest, handle_propose, busy) if selected else "",
        _message(lang, message),
        _report(lang, report) if report is not None else "",
        html.section(
            {"class_name": "km-card", "id": "risk-signals"},
            html.h2(_text(lang, "最新风险信号", "Latest risk signals")),
            html.ul(
                [
                    html.li(
                        {"key": s["key"], "data-signal": s["rule"]},
                        html.span({"class_name": "km-badge"}, f"{s['score']:.2f}"), " ",
                        s["explanation"] if lang == "zh" else s["explanation_en"],
                        " ", link({"href": f"/case?id={s['process_id']}"}, _text(lang, "审核", "review")) if s["process_id"] else "",
                    )
                    for s in signals
                ]
                or [html.li({"key": "none"}, _text(lang, "暂无信号", "No signals yet"))]
            ),
        ),
    )


def _editor(console, rule, draft, set_draft, handle_backtest, handle_propose, busy):
    lang = console.lang
    specs = DETECTOR_PARAMS[rule.detector]

    def setter(name: str, kind: str = "value"):
        return lambda event: set_draft(lambda d: {**d, name: event["target"]["checked" if kind == "checked" else "value"]})

    fields = [
        html.label(
            {"key": name, "class_name": "km-field"},
            html.span(f"{_text(lang, spec.zh, spec.en)}（{spec.low:g}–{spec.high:g}）"),
            html.input({"name": name, "value": draft.get(name, ""), "on_change": setter(name), "inputmode": "decimal"}),
        )
        for name, spec in specs.items()
    ]
    fields += [
        html.label(
            {"key": "_tier", "class_name": "km-field"},
            html.span(_text(lang, "审核级别", "Reviewing tier")),
            html.select(
                {"name": "_tier", "value": draft.get("_tier"), "on_change": setter("_tier"), "disabled": rule.signal == "admin_misuse"},
                [html.option({"value": t, "key": t}, tier_text(t, lang)) for t in TIERS],
            ),
        ),
        html.label(
            {"key": "_enabled", "class_name": "km-field"},
            html.input({"type": "checkbox", "name": "_enabled", "checked": bool(draft.get("_enabled")), "on_change": setter("_enabled", "checked")}),
            html.span(_text(lang, "启用", "Enabled")),
        ),
        html.label({"key": "_days", "class_name": "km-field"}, html.span(_text(lang, "回测天数", "Backtest days")), html.input({"name": "_days", "value": draft.get("_days", "30"), "on_change": setter("_days")})),
        html.label({"key": "_reason", "class_name": "km-field"}, html.span(_text(lang, "变更理由", "Reason")), html.textarea({"name": "_reason", "value": draft.get("_reason", ""), "on_change": setter("_reason")})),
    ]
    return html.section(
        {"class_name": "km-card", "id": "risk-editor", "data-rule": rule.key},
        html.h3(_text(lang, f"调整「{rule.title_zh}」", f"Adjust “{rule.title_en}”")),
        html.div({"class_name": "km-form"}, fields),
        html.div(
            {"class_name": "km-actions"},
            html.button({"class_name": "km-button secondary", "id": "risk-backtest", "on_click": handle_backtest, "disabled": busy}, _text(lang, "回测", "Backtest")),
            html.button({"class_name": "km-button", "id": "risk-propose", "on_click": handle_propose, "disabled": busy}, _text(lang, "提交变更", "Propose the change")),
        ),
    )


def _message(lang: str, message):
    if message is None:
        return ""
    kind, text = message
    if kind == "ok":
        return html.div(
            {"class_name": "km-notice ok", "id": "risk-proposed", "role": "status"},
            _text(lang, "已提交变更流程：", "Change proposed: "), link({"href": f"/case?id={text}"}, text),
        )
    return html.div({"class_name": "km-notice error", "id": "risk-error", "role": "alert"}, text)


def _report(lang: str, report):
    verdict = (
        _text(lang, "重大变更，需另一位超级管理员复核：", "Major change, needs a second super: ") + _text(lang, "；".join(report.major_zh), "; ".join(report.major))
        if report.major
        else _text(lang, "轻微变更：提交后直接生效", "Minor change: applied once proposed")
    )
    return html.section(
        {"class_name": "km-card", "id": "risk-report", "data-before": str(report.signals_before), "data-after": str(report.signals_after)},
        html.h3(_text(lang, f"回测最近 {report.days} 天", f"Backtest over the last {report.days} days")),
        html.p(
            _text(lang, f"现行规则：{report.signals_before} 条信号；调整后：{report.signals_after} 条（{report.subjects_after} 个主体，新增 {report.added}，不再触发 {report.dropped}）",
                  f"As it is: {report.signals_before} signals; as proposed: {report.signals_after} on {report.subjects_after} subjects ({report.added} new, {report.dropped} no longer raised)")
        ),
        html.p({"class_name": "km-muted"}, verdict),
        html.ul([html.li({"key": f"e{i}"}, f"{e.score:.2f} · ", e.explanation if lang == "zh" else e.explanation_en) for i, e in enumerate(report.examples)]),
        html.ul({"class_name": "km-muted"}, [html.li({"key": f"d{i}"}, _text(lang, "不再触发：", "No longer raised: "), e.explanation if lang == "zh" else e.explanation_en) for i, e in enumerate(report.dropped_examples)]),
    )
