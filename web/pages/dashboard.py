"""Dashboards by tier (SPEC §3 data row): global for supers, the region's for regionals,
personal for normals; interns get their docs and system hints. Charts are inline SVG."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from reactpy import component, html, use_effect, use_state

from infra.db.directory import decided_per_day, hints_for, open_risk_by_region, regions as all_regions
from infra.db.reports import overview
from web.charts import bar_chart, column_chart, gauge
from web.console import use_console, use_live
from web.i18n import permission_text, region_text, t, tier_text, value_text
from workflows.domain.permissions import Scope
from workflows.domain.policy import DEFAULT_POLICY
from workflows.domain.tiers import DEFAULT_LADDER


def yuan(cents: int) -> str:
    return f"¥{cents / 100:,.0f}"


@component
def DashboardPage():
    console = use_console()
    decision = console.can("reports.view")
    if not decision.allowed:
        return InternDocs()
    return Reports(decision.scope.value if decision.scope else Scope.OWN.value)


@component
def Reports(scope: str):
    console = use_console()
    lang = console.lang
    tick = use_live("tasks")
    data, set_data = use_state(None)

    @use_effect(dependencies=[scope, tick, console.session])
    async def load():
        actor = console.actor
        regions = [r["key"] for r in await all_regions()]
        now = datetime.now(UTC)
        report = await overview(scope, username=actor.id, tier=actor.tier, regions=actor.regions, all_regions=regions, now=now)
        extra: dict[str, Any] = {}
        if scope in ("global", "region"):
            extra["risk"] = await open_risk_by_region()
        else:
            extra["daily"] = await decided_per_day(actor.id, 14, now)
        set_data({"report": report, **extra})

    if data is None:
        return html.div({"class_name": "km-empty"}, console.t("loading"))
    report = data["report"]
    if scope == "own":
        personal = report.personal
        daily = data.get("daily") or []
        return html.section(
            {"class_name": "km-card", "id": "dashboard", "data-scope": scope},
            html.h2(console.t("dashboard_personal")),
            html.div(
                {"class_name": "km-kpis"},
                _kpi(console.t("tasks_decided"), str(personal.tasks_decided), "tasks_decided"),
                _kpi(console.t("tasks_claimed_open"), str(personal.tasks_claimed_open), "tasks_claimed_open"),
                _kpi(console.t("escalated_away"), str(personal.escalated_away), "escalated_away"),
            ),
            html.div(
                {"class_name": "km-charts"},
                gauge(
                    console.t("satisfaction"), personal.satisfaction or 0.0, chart_id="satisfaction",
                    label=None if personal.satisfaction is not None else "—",
                    note=console.t("satisfaction_basis", settled=personal.disputes_settled, unappealed=personal.disputes_unappealed)
                    if personal.disputes_settled else console.t("satisfaction_none"),
                    attrs={"data-satisfaction": "" if personal.satisfaction is None else f"{personal.satisfaction:.4f}",
                           "data-settled": str(personal.disputes_settled)},
                ),
                gauge(console.t("on_time_rate"), personal.on_time_rate, chart_id="on_time_rate"),
                column_chart(console.t("per_day"), daily, chart_id="per_day"),
            ),
        )
    figures = report.regions
    risk = data.get("risk") or {}
    label = (lambda r: region_text(r, lang))
    charts = [
        bar_chart(console.t("gmv"), [(label(f.region), f.gmv / 100) for f in figures], fmt=lambda v: f"¥{v:,.0f}", chart_id="gmv"),
        bar_chart(console.t("complaint_rate"), [(label(f.region), f.complaint_rate) for f in figures], fmt=lambda v: f"{v:.2%}", chart_id="complaint_rate", color="#b45309"),
        bar_chart(console.t("orders"), [(label(f.region), f.orders) for f in figures], chart_id="orders", color="#1d4ed8"),
    ]
    if scope == "global":
        charts.append(bar_chart(console.t("sla_breaches"), [(label(f.region), f.overdue_tasks) for f in figures], chart_id="sla", color="#7c2d12"))
        charts.append(bar_chart(console.t("open_risk"), [(label(f.region), risk.get(f.region, 0)) for f in figures], chart_id="risk", color="#6d28d9"))
        flows = sorted(report.fund_flows.items())
        names = {"withdrawal": ("提现", "Withdrawals"), "fee_rate_change": ("费率调整", "Fee-rate changes"), "merchant_settlement": ("商家结算", "Settlements"), "refund": ("退款", "Refunds")}
        charts.append(
            bar_chart(console.t("fund_flows"), [((names.get(k, (k, k))[0 if lang == "zh" else 1]), v / 100) for k, v in flows], fmt=lambda v: f"¥{v:,.0f}", chart_id="fund_flows", color="#047857")
            if flows else html.figure({"class_name": "km-chart", "key": "flows"}, html.figcaption(console.t("fund_flows")), html.p({"class_name": "km-muted"}, console.t("no_fund_flows")))
        )
    totals = {
        "gmv": sum(f.gmv for f in figures), "orders": sum(f.orders for f in figures),
        "disputes": sum(f.disputes for f in figures), "overdue": sum(f.overdue_tasks for f in figures),
    }
    table = html.table(
        {"class_name": "km-table compact", "id": "region-figures"},
        html.thead(html.tr([html.th({"key": k}, console.t(k)) for k in ("col_region", "gmv", "orders", "refunds", "disputes", "complaint_rate", "open_tasks_short", "sla_breaches")])),
        html.tbody(
            [
                html.tr(
                    {"key": f.region, "data-region": f.region},
                    html.td(label(f.region)), html.td(yuan(f.gmv)), html.td(f"{f.orders:,}"), html.td(str(f.refunds)),
                    html.td(str(f.disputes)), html.td(f"{f.complaint_rate:.2%}"), html.td(str(f.open_tasks)), html.td(str(f.overdue_tasks)),
                )
                for f in figures
            ]
        ),
    )
    return html.section(
        {"class_name": "km-card", "id": "dashboard", "data-scope": scope},
        html.h2(console.t("dashboard_global" if scope == "global" else "dashboard_region")),
        html.div(
            {"class_name": "km-kpis"},
            _kpi(console.t("gmv"), yuan(totals["gmv"]), "gmv"),
            _kpi(console.t("orders"), f"{totals['orders']:,}", "orders"),
            _kpi(console.t("disputes"), str(totals["disputes"]), "disputes"),
            _kpi(console.t("sla_breaches"), str(totals["overdue"]), "sla"),
        ),
        html.div({"class_name": "km-charts"}, charts),
        html.h3(console.t("chart_table")),
        table,
    )


def _kpi(label: str, value: str, key: str):
    return html.div({"class_name": "km-kpi", "data-kpi": key, "key": key}, html.span({"class_name": "km-kpi-value"}, value), html.span({"class_name": "km-kpi-label"}, label))


@component
def InternDocs():
    console = use_console()
    lang = console.lang
    tick = use_live("tasks")
    hints, set_hints = use_state(None)

    @use_effect(dependencies=[tick, console.session])
    async def load():
        set_hints(await hints_for(console.actor.regions) if console.holds("risk.view_hints") else [])

    held = DEFAULT_POLICY.effective(console.actor, datetime.now(UTC))
    ladder = html.table(
        {"class_name": "km-table compact"},
        html.thead(html.tr(html.th(console.t("tier")), html.th(t("cap", lang)), html.th("职责" if lang == "zh" else "Role"))),
        html.tbody(
            [
                html.tr({"key": tier.key}, html.td(tier_text(tier.key, lang)), html.td(str(tier.cap) if tier.cap else "—"), html.td(_DUTIES[tier.key][0 if lang == "zh" else 1]))
                for tier in DEFAULT_LADDER.tiers
            ]
        ),
    )
    return html.div(
        {"class_name": "km-docs-page", "id": "intern-docs"},
        html.section(
            {"class_name": "km-card"},
            html.h2(console.t("docs_title")),
            html.h3(console.t("docs_duties")),
            html.p(console.t("docs_duties_text")),
            html.p({"class_name": "km-muted"}, console.t("docs_promotion")),
        ),
        html.section(
            {"class_name": "km-card", "id": "hints"},
            html.h3(console.t("docs_hints")),
            html.ul([html.li({"key": h["task_id"], "data-hint": h["task_id"]}, h["evidence"].get("hint_zh") or h["title"], html.span({"class_name": "km-muted"}, f" · {region_text(h['region'], lang)}")) for h in hints])
            if hints else html.p({"class_name": "km-muted"}, console.t("docs_no_hints") if hints is not None else console.t("loading")),
        ),
        html.section(
            {"class_name": "km-card"},
            html.h3(console.t("docs_my_permissions")),
            html.ul([html.li({"key": perm}, permission_text(perm, lang), html.span({"class_name": "km-muted"}, f" · {value_text('scope', scope.value, lang)}")) for perm, scope, _end in held]),
            html.h3(console.t("docs_tiers")),
            ladder,
        ),
    )


_DUTIES = {
    "super": ("平台整体战略制定、核心系统配置、最高级风控规则审批、区域管理员任免与考核；拥有一票否决权，资金操作需双人复核。", "Strategy, core configuration, final risk rules, appointing and assessing regional admins; veto; fund operations need a second super."),
    "regional": ("制定区域运营策略、审核普通管理员的高阶操作申请（如大额商品上架）、处理跨区域纠纷，并向超级管理员汇报区域数据。", "Regional operations, reviewing normal admins' advanced requests (high-value listings), cross-region disputes, reporting upward."),
    "normal": ("处理基础用户咨询、执行标准化操作（商品上下架、优惠券发放）、监控异常订单并上报；所有操作留痕可追溯。", "User questions, standard operations (listings, coupons), flagging unusual orders; every action is logged."),
    "intern": ("查看基础运营文档、参与用户简单问题分流、在普通管理员指导下辅助完成低风险操作（如商品信息分类整理）。", "Read the docs, triage simple questions, assist with low-risk work (classifying product info) under a normal admin."),
}
