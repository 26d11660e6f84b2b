"""A task's evidence, readable: labelled fields, amounts in yuan, risk scores as meters, the
risk explanation as a checklist, merchant documents with what is missing, dispute messages,
promotion metrics as a chart. Unknown keys still show, with their key as the label."""

from __future__ import annotations

from typing import Any

from reactpy import html

from web.charts import bar_chart, meter
from web.i18n import category_text, field_text, region_text, tier_text, value_text

CENTS = {"amount", "order_amount", "amount_claimed", "refund_threshold", "refund_amount", "refund_awarded", "price", "new_price", "old_price"}
REGION_KEYS = {"region", "buyer_region", "merchant_region"}
TIER_KEYS = {"requester_tier", "maker_tier", "nominee_tier", "target_tier", "decided_tier", "from_tier", "to_tier"}
SCORE_KEYS = {"risk_score", "score"}
SECTIONS: list[tuple[str, tuple[str, ...], tuple[str, str]]] = [
    ("risk", ("risk_score", "high_risk", "explanation", "duplicates", "signal", "score", "hint_zh"), ("自动检查与风险", "Automatic checks and risk")),
    ("documents", ("documents", "missing"), ("资质材料", "Qualification documents")),
    ("messages", ("reason", "merchant_response", "escalation", "decision", "appeal", "justification", "reasons", "verify_comment"), ("陈述与往来", "Statements and messages")),
    ("metrics", ("metrics",), ("考核指标", "Assessment metrics")),
    ("rows", ("rows",), ("证据明细", "Evidence rows")),
]


def yuan(cents: Any) -> str:
    try:
        return f"¥{int(cents) / 100:,.2f}"
    except (TypeError, ValueError):
        return str(cents)


def value_view(key: str, value: Any, lang: str):
    """One value, formatted by what its key means."""
    if value is None or value == "" or value == []:
        return html.span({"class_name": "km-muted"}, "—")
    if isinstance(value, bool):
        yes = ("是" if lang == "zh" else "yes") if value else ("否" if lang == "zh" else "no")
        return html.span({"class_name": "km-flag " + ("escalated" if value and key in ("high_risk", "cross_region", "high_value") else "neutral")}, yes)
    if key in CENTS and isinstance(value, int):
        return html.span({"class_name": "km-money"}, yuan(value))
    if key in REGION_KEYS and isinstance(value, str):
        return html.span(region_text(value, lang))
    if key in ("regions", "current_regions") and isinstance(value, list):
        return html.span("、".join(region_text(v, lang) for v in value))
    if key in TIER_KEYS and isinstance(value, str):
        return html.span(tier_text(value, lang))
    if key == "category" and isinstance(value, str):
        return html.span(category_text(value, lang))
    if isinstance(value, str) and (words := value_text(key, value, lang)) is not None:
        return html.span({"title": value}, words)
    if key in SCORE_KEYS and isinstance(value, (int, float)):
        return html.span({"class_name": "km-score"}, meter(float(value)), f" {float(value):.2f}")
    if key == "accuracy" and isinstance(value, (int, float)):
        return html.span(f"{float(value):.0%}")
    if key == "fee_rate_bps" and isinstance(value, int):
        return html.span(f"{value / 100:.2f}%")
    if key == "explanation" and isinstance(value, str) and "\n" in value:  # one line per signal of a risk review
        value = [line.removeprefix("· ") for line in value.splitlines() if line.strip()]
    if key == "explanation" and isinstance(value, list):
        return html.ol({"class_name": "km-explain"}, [html.li({"key": str(i)}, str(v)) for i, v in enumerate(value)])
    if key == "missing" and isinstance(value, list):
        return html.ul({"class_name": "km-missing"}, [html.li({"key": str(v)}, "✗ ", str(v)) for v in value])
    if key == "documents" and isinstance(value, list):
        return html.ul({"class_name": "km-docs"}, [html.li({"key": str(i)}, "✓ ", _plain(v)) for i, v in enumerate(value)])
    if key == "metrics" and isinstance(value, dict):
        return metrics_view(value, lang)
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        return rows_table(value, lang)
    if isinstance(value, list):
        return html.span("、".join(_plain(v) for v in value) if lang == "zh" else ", ".join(_plain(v) for v in value))
    if isinstance(value, dict):
        return html.dl({"class_name": "km-dl nested"}, _pairs(value, lang))
    text = str(value)
    if len(text) > 80 or key in ("reason", "justification", "reasons", "statement", "merchant_response", "escalation"):
        return html.blockquote({"class_name": "km-quote"}, text)
    return html.span(text)


def _plain(value: Any) -> str:
    if isinstance(value, dict):
        return " · ".join(f"{k}: {v}" for k, v in value.items())
    return str(value)


def _pairs(data: dict[str, Any], lang: str) -> list:
    out = []
    for key, value in data.items():
        out.append(html.dt({"key": f"{key}-k"}, field_text(key, lang)))
        out.append(html.dd({"key": f"{key}-v", "data-key": key}, value_view(key, value, lang)))
    return out


def rows_table(rows: list[dict[str, Any]], lang: str):
    keys: list[str] = []
    for row in rows:
        for k in row:
            if k not in keys:
                keys.append(k)
    return html.table(
        {"class_name": "km-table compact"},
        html.thead(html.tr([html.th({"key": k}, field_text(k, lang)) for k in keys])),
        html.tbody(
            [
                html.tr({"key": str(i)}, [html.td({"key": k}, yuan(row.get(k)) if k in CENTS and isinstance(row.get(k), int) else _plain(row.get(k, ""))) for k in keys])
                for i, row in enumerate(rows[:50])
            ]
        ),
    )


def metrics_view(metrics: dict[str, Any], lang: str):
    counts = [(field_text(k, lang), float(metrics[k])) for k in ("tasks_decided", "tasks_assisted", "decisions_stood", "audit_events", "prior_reviews") if isinstance(metrics.get(k), (int, float))]
    facts = {k: v for k, v in metrics.items() if k in ("accuracy", "prior_mean_score", "since", "until")}
    return html.div(
        {"class_name": "km-metrics"},
        bar_chart("考核期内的工作量" if lang == "zh" else "Work during the assessment", counts, chart_id="metrics", color="#1d4ed8") if counts else "",
        html.dl({"class_name": "km-dl"}, _pairs(facts, lang)),
    )


def evidence_view(evidence: dict[str, Any], lang: str):
    """The evidence in sections: risk, documents, messages, metrics, the rest as facts."""
    if not evidence:
        return html.div({"class_name": "km-empty"}, "没有附带证据" if lang == "zh" else "No evidence attached")
    used: set[str] = set()
    blocks = []
    for name, keys, (zh, en) in SECTIONS:
        present = {k: evidence[k] for k in keys if k in evidence and evidence[k] not in (None, "", [])}
        if not present:
            continue
        used.update(present)
        only = next(iter(present)) if len(present) == 1 else None
        content = value_view(only, present[only], lang) if only in ("rows", "metrics") else html.dl({"class_name": "km-dl"}, _pairs(present, lang))
        blocks.append(
            html.section(
                {"class_name": f"km-evidence-section {name}", "key": name, "data-section": name},
                html.h4(zh if lang == "zh" else en),
                content,
            )
        )
    facts = {k: v for k, v in evidence.items() if k not in used}
    if facts:
        blocks.insert(
            0,
            html.section(
                {"class_name": "km-evidence-section facts", "key": "facts", "data-section": "facts"},
                html.h4("基本信息" if lang == "zh" else "Facts"),
                html.dl({"class_name": "km-dl"}, _pairs(facts, lang)),
            ),
        )
    return html.div({"class_name": "km-evidence", "id": "evidence"}, blocks)
