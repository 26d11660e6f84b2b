"""Charts as inline SVG rendered in Python: no chart library, no CDN, printable."""

from __future__ import annotations

from reactpy import html, svg
from reactpy.core.vdom import make_vdom_constructor

svg_text = make_vdom_constructor("text")
"""ReactPy's ``svg.text`` refuses children (it is declared like HTML's void elements)."""

PALETTE = ("#b91c1c", "#1d4ed8", "#047857", "#b45309", "#6d28d9", "#0e7490", "#be185d")


def _nice_max(value: float) -> float:
    """The axis top: the next 1, 2, 2.5 or 5 times a power of ten at or above ``value``."""
    import math

    if value <= 0:
        return 1
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        top = step * magnitude
        if top >= value:
            return top
    return value


def bar_chart(title: str, data: list[tuple[str, float]], *, fmt=lambda v: f"{v:,.0f}", chart_id: str = "", color: str = PALETTE[0], width: int = 460):
    """Horizontal bars: one row per label, the value printed at the bar's end."""
    row_h, label_w, pad = 26, 130, 8
    height = max(1, len(data)) * row_h + pad * 2
    top = _nice_max(max((v for _, v in data), default=0))
    bar_w = width - label_w - 90
    rows = []
    for i, (label, value) in enumerate(data):
        y = pad + i * row_h
        w = 0 if top == 0 else max(1.5, bar_w * value / top) if value else 0
        rows.append(
            svg.g(
                {"key": f"{label}-{i}"},
                svg_text({"x": label_w - 8, "y": y + row_h / 2 + 4, "text_anchor": "end", "font_size": 12, "fill": "#374151"}, label),
                svg.rect({"x": label_w, "y": y + 4, "width": round(w, 1), "height": row_h - 8, "rx": 3, "fill": color}),
                svg_text({"x": label_w + w + 6, "y": y + row_h / 2 + 4, "font_size": 12, "fill": "#111827"}, fmt(value)),
            )
        )
    return html.figure(
        {"class_name": "km-chart", "data-chart": chart_id or title},
        html.figcaption(title),
        svg.svg(
            {"viewBox": f"0 0 {width} {height}", "width": "100%", "role": "img", "aria_label": title, "preserveAspectRatio": "xMinYMin meet"},
            svg.line({"x1": label_w, "x2": label_w, "y1": pad, "y2": height - pad, "stroke": "#d1d5db"}),
            *rows,
        ),
    )


def column_chart(title: str, data: list[tuple[str, float]], *, fmt=lambda v: f"{v:,.0f}", chart_id: str = "", color: str = PALETTE[1], width: int = 460, height: int = 180):
    """Vertical columns over time (labels under each column)."""
    pad_l, pad_b, pad_t = 28, 22, 16
    top = _nice_max(max((v for _, v in data), default=0))
    n = max(1, len(data))
    slot = (width - pad_l - 8) / n
    plot_h = height - pad_b - pad_t
    cols = []
    for i, (label, value) in enumerate(data):
        h = 0 if not value else max(1.5, plot_h * value / top)
        x = pad_l + i * slot + slot * 0.15
        cols.append(
            svg.g(
                {"key": f"{label}-{i}"},
                svg.rect({"x": round(x, 1), "y": round(pad_t + plot_h - h, 1), "width": round(slot * 0.7, 1), "height": round(h, 1), "rx": 2, "fill": color}),
                svg_text({"x": round(x + slot * 0.35, 1), "y": height - 6, "text_anchor": "middle", "font_size": 9, "fill": "#6b7280"}, label if n <= 16 or i % 2 == 0 else ""),
                svg_text({"x": round(x + slot * 0.35, 1), "y": round(pad_t + plot_h - h - 3, 1), "text_anchor": "middle", "font_size": 9, "fill": "#111827"}, fmt(value) if value else ""),
            )
        )
    return html.figure(
        {"class_name": "km-chart", "data-chart": chart_id or title},
        html.figcaption(title),
        svg.svg(
            {"viewBox": f"0 0 {width} {height}", "width": "100%", "role": "img", "aria_label": title},
            svg.line({"x1": pad_l, "x2": width - 8, "y1": pad_t + plot_h, "y2": pad_t + plot_h, "stroke": "#d1d5db"}),
            svg_text({"x": 2, "y": pad_t + 4, "font_size": 9, "fill": "#6b7280"}, fmt(top)),
            *cols,
        ),
    )


def gauge(title: str, ratio: float, *, label: str | None = None, chart_id: str = "", color: str = PALETTE[2],
          note: str | None = None, attrs: dict | None = None):
    """A half-ring for a share between 0 and 1, with an optional note under it saying what it counts."""
    import math

    ratio = min(1.0, max(0.0, ratio))
    r, cx, cy = 70, 90, 90
    angle = math.pi * (1 - ratio)
    x, y = cx + r * math.cos(angle), cy - r * math.sin(angle)
    arc = f"M {cx - r} {cy} A {r} {r} 0 0 1 {x:.1f} {y:.1f}"
    return html.figure(
        {"class_name": "km-chart km-gauge", "data-chart": chart_id or title, **(attrs or {})},
        html.figcaption(title),
        svg.svg(
            {"viewBox": "0 0 180 110", "width": "180", "role": "img", "aria_label": f"{title}: {label or f'{ratio:.0%}'}"},
            svg.path({"d": f"M {cx - r} {cy} A {r} {r} 0 0 1 {cx + r} {cy}", "stroke": "#e5e7eb", "stroke_width": 14, "fill": "none"}),
            svg.path({"d": arc, "stroke": color, "stroke_width": 14, "fill": "none"}) if ratio > 0 else "",
            svg_text({"x": cx, "y": cy - 8, "text_anchor": "middle", "font_size": 22, "font_weight": 700, "fill": "#111827"}, label or f"{ratio:.0%}"),
        ),
        html.p({"class_name": "km-muted km-gauge-note"}, note) if note else "",
    )


def meter(value: float, *, high: float = 0.6):
    """A small inline bar for a 0–1 score (risk scores in the evidence)."""
    value = min(1.0, max(0.0, value))
    color = PALETTE[0] if value >= high else (PALETTE[3] if value >= high / 2 else PALETTE[2])
    return svg.svg(
        {"viewBox": "0 0 120 10", "width": "120", "height": "10", "class_name": "km-meter", "role": "img", "aria_label": f"{value:.2f}"},
        svg.rect({"x": 0, "y": 0, "width": 120, "height": 10, "rx": 5, "fill": "#e5e7eb"}),
        svg.rect({"x": 0, "y": 0, "width": round(120 * value, 1), "height": 10, "rx": 5, "fill": color}),
    )
