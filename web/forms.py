"""Forms built from msgspec structs: the action's (or the process's) input struct gives the
fields, their types, what is required and the limits; msgspec's own validation gives the
messages, mapped back onto the fields; the workflow's refusal (code + reason) is shown as is.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from typing import Any

import msgspec
import msgspec.inspect as mi
from reactpy import component, event, html, use_ref, use_state

from web.i18n import form_text

MONEY_FIELDS = {"amount", "refund_amount", "price", "new_price", "amount_claimed"}
"""Cents in the struct, yuan in the form."""
LONG_TEXT = {"reason", "justification", "reasons", "notes", "statement", "explanation"}

DURATIONS: list[tuple[str, tuple[str, str]]] = [
    ("PT4H", ("4 小时", "4 hours")),
    ("PT12H", ("12 小时", "12 hours")),
    ("P1D", ("1 天", "1 day")),
    ("P3D", ("3 天", "3 days")),
    ("P7D", ("7 天", "7 days")),
    ("P14D", ("14 天", "14 days")),
    ("P30D", ("30 天", "30 days")),
]


@dataclass(frozen=True)
class Field:
    name: str
    widget: str
    """``text``, ``textarea``, ``int``, ``money``, ``float``, ``select``, ``multi``, ``bool``."""
    required: bool
    default: Any = None
    choices: tuple[tuple[str, str], ...] = ()
    min_length: int | None = None
    max_length: int | None = None
    ge: float | None = None
    le: float | None = None
    count: int | None = None
    """For ``multi``: exactly this many choices."""
    label: str | None = None
    help: str | None = None


class FormError(Exception):
    """A refusal to show on the form: a message, and per-field messages when known."""

    def __init__(self, message: str, fields: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields or {}


def _unwrap(kind: Any) -> tuple[Any, bool]:
    """(the type under Metadata and Optional, whether None is allowed)."""
    nullable = False
    while True:
        if isinstance(kind, mi.Metadata):
            kind = kind.type
            continue
        if isinstance(kind, mi.UnionType):
            others = [k for k in kind.types if not isinstance(k, mi.NoneType)]
            nullable = nullable or len(others) < len(kind.types)
            if len(others) == 1:
                kind = others[0]
                continue
        return kind, nullable


def fields_of(struct: type, lang: str, *, skip: tuple[str, ...] = (), overrides: dict[str, dict[str, Any]] | None = None) -> list[Field]:
    """The form fields of a struct; fields of types a form cannot express are left out when optional."""
    overrides = overrides or {}
    found: list[Field] = []
    for info in mi.type_info(struct).fields:
        if info.name in skip:
            continue
        kind, nullable = _unwrap(info.type)
        required = info.required
        default = None if info.default is mi.NODEFAULT else info.default
        spec: Field | None = None
        limits = {k: getattr(kind, k, None) for k in ("min_length", "max_length")}
        if isinstance(kind, mi.StrType):
            widget = "textarea" if info.name in LONG_TEXT or (kind.max_length or 0) > 200 else "text"
            spec = Field(info.name, widget, required, default, **limits)
        elif isinstance(kind, mi.IntType):
            ge = kind.ge if kind.ge is not None else (kind.gt + 1 if kind.gt is not None else None)
            le = kind.le if kind.le is not None else (kind.lt - 1 if kind.lt is not None else None)
            widget = "money" if info.name in MONEY_FIELDS else "int"
            spec = Field(info.name, widget, required and not nullable, default, ge=ge, le=le)
        elif isinstance(kind, mi.FloatType):
            spec = Field(info.name, "float", required, default, ge=kind.ge, le=kind.le)
        elif isinstance(kind, mi.BoolType):
            spec = Field(info.name, "bool", required, default)
        elif isinstance(kind, mi.LiteralType):
            spec = Field(info.name, "select", required, default, choices=tuple((str(v), str(v)) for v in kind.values))
        elif isinstance(kind, mi.EnumType):
            default = default.value if hasattr(default, "value") else default
            spec = Field(info.name, "select", required, default, choices=tuple((str(m.value), str(m.value)) for m in kind.cls))
        elif isinstance(kind, mi.TimeDeltaType):
            spec = Field(info.name, "select", required, default, choices=tuple((v, zh if lang == "zh" else en) for v, (zh, en) in DURATIONS))
        elif isinstance(kind, (mi.VarTupleType, mi.ListType, mi.SetType, mi.FrozenSetType)):
            item, _ = _unwrap(kind.item_type)
            if isinstance(item, (mi.StrType, mi.LiteralType)):
                choices = tuple((str(v), str(v)) for v in item.values) if isinstance(item, mi.LiteralType) else ()
                spec = Field(info.name, "multi", required, default, choices=choices, min_length=kind.min_length, max_length=kind.max_length)
        if spec is None:
            if required:
                raise TypeError(f"{struct.__name__}.{info.name}: a form cannot express {info.type}")
            continue
        if info.name in overrides:
            spec = replace(spec, **overrides[info.name])
            if spec.choices and spec.widget == "text":
                spec = replace(spec, widget="select")
        found.append(spec)
    return found


MESSAGES = [
    (re.compile(r"Expected `str` of length >= (\d+)"), ("至少 {0} 个字符", "at least {0} characters")),
    (re.compile(r"Expected `str` of length <= (\d+)"), ("最多 {0} 个字符", "at most {0} characters")),
    (re.compile(r"Expected `int` >= (-?\d+)"), ("不能小于 {0}", "must be at least {0}")),
    (re.compile(r"Expected `int` <= (-?\d+)"), ("不能大于 {0}", "must be at most {0}")),
    (re.compile(r"Expected `int` > (-?\d+)"), ("须大于 {0}", "must be more than {0}")),
    (re.compile(r"Expected `array` of length >= (\d+)"), ("至少选择 {0} 项", "choose at least {0}")),
    (re.compile(r"Expected `array` of length <= (\d+)"), ("最多选择 {0} 项", "choose at most {0}")),
    (re.compile(r"Expected `str` matching regex"), ("格式不正确", "wrong format")),
    (re.compile(r"Invalid enum value"), ("不是可选的值", "not one of the choices")),
    (re.compile(r"Expected `duration`"), ("请选择时长", "choose a duration")),
]
_AT = re.compile(r"at `\$\.([A-Za-z_][A-Za-z0-9_]*)")
_MISSING = re.compile(r"Object missing required field `([^`]+)`")


def readable_validation(message: str, lang: str) -> tuple[str | None, str]:
    """(field, words) for a msgspec validation message."""
    missing = _MISSING.search(message)
    if missing:
        return missing.group(1), "必填" if lang == "zh" else "required"
    where = _AT.search(message)
    name = where.group(1) if where else None
    for pattern, (zh, en) in MESSAGES:
        found = pattern.search(message)
        if found:
            return name, (zh if lang == "zh" else en).format(*found.groups())
    return name, message


def coerce(fields: list[Field], raw: dict[str, Any], lang: str) -> tuple[dict[str, Any], dict[str, str]]:
    """Form values (strings, lists) -> the body's plain values, with per-field problems."""
    body: dict[str, Any] = {}
    problems: dict[str, str] = {}
    for spec in fields:
        value = raw.get(spec.name)
        empty = value is None or value == "" or value == [] or (isinstance(value, str) and not value.strip())
        if empty:
            if spec.widget == "bool":
                body[spec.name] = False
            elif spec.required:
                problems[spec.name] = "必填" if lang == "zh" else "required"
            continue
        try:
            if spec.widget == "int":
                body[spec.name] = int(str(value).strip())
            elif spec.widget == "money":
                cents = Decimal(str(value).strip().replace(",", "").lstrip("¥")) * 100
                if cents != cents.to_integral_value():
                    raise ValueError
                body[spec.name] = int(cents)
            elif spec.widget == "float":
                body[spec.name] = float(str(value).strip())
            elif spec.widget == "multi":
                items = value if isinstance(value, list) else [v.strip() for v in str(value).split(",") if v.strip()]
                if spec.count is not None and len(items) != spec.count:
                    problems[spec.name] = f"请选择 {spec.count} 项" if lang == "zh" else f"choose exactly {spec.count}"
                    continue
                body[spec.name] = items
            elif spec.widget == "bool":
                body[spec.name] = bool(value)
            else:
                body[spec.name] = value
        except (ValueError, InvalidOperation):
            problems[spec.name] = (
                ("请输入金额，如 128.50" if lang == "zh" else "enter an amount such as 128.50") if spec.widget == "money"
                else ("请输入数字" if lang == "zh" else "enter a number")
            )
    return body, problems


def validate(struct: type, body: dict[str, Any], lang: str) -> tuple[Any | None, dict[str, str], str | None]:
    """(the decoded struct, field problems, a general problem) — decoded as the API would (JSON)."""
    try:
        return msgspec.json.decode(msgspec.json.encode(body), type=struct), {}, None
    except msgspec.ValidationError as exc:
        name, words = readable_validation(str(exc), lang)
        if name is not None:
            return None, {name: words}, None
        return None, {}, words


def _attrs(spec: Field, form_id: str) -> dict[str, Any]:
    attrs: dict[str, Any] = {"name": spec.name, "id": f"{form_id}-{spec.name}"}
    if spec.required:
        attrs["aria-required"] = "true"
    return attrs


@component
def StructForm(
    form_id: str,
    struct: type,
    fields: list[Field],
    lang: str,
    submit_label: str,
    on_submit: Callable[[Any, dict[str, Any]], Awaitable[Any]],
    initial: dict[str, Any] | None = None,
):
    """A form for ``struct``; ``on_submit(decoded, body)`` returns what to show, or raises FormError."""
    values = use_ref({s.name: _initial(s, initial) for s in fields})
    errors, set_errors = use_state({})
    general, set_general = use_state(None)
    outcome, set_outcome = use_state(None)
    busy, set_busy = use_state(False)

    def setter(spec: Field):
        def handle(e):
            target = e.get("target", {})
            if spec.widget == "multi":
                chosen = list(values.current.get(spec.name) or [])
                value = target.get("value")
                if target.get("checked"):
                    if value not in chosen:
                        chosen.append(value)
                elif value in chosen:
                    chosen.remove(value)
                values.current[spec.name] = chosen
            elif spec.widget == "bool":
                values.current[spec.name] = bool(target.get("checked"))
            else:
                values.current[spec.name] = target.get("value", "")

        return handle

    @event(prevent_default=True)
    async def submit(_event):
        if busy:
            return
        body, problems = coerce(fields, values.current, lang)
        decoded, more, problem = (None, {}, None)
        if not problems:
            decoded, more, problem = validate(struct, body, lang)
        problems = {**problems, **more}
        if problems or problem:
            set_errors(problems)
            set_general(problem or ("请修改标红的字段" if lang == "zh" else "Please fix the highlighted fields"))
            return
        set_errors({})
        set_general(None)
        set_busy(True)
        try:
            shown = await on_submit(decoded, body)
        except FormError as exc:
            set_errors(exc.fields)
            set_general(exc.message)
            set_outcome(None)
        else:
            set_outcome(shown)
        finally:
            set_busy(False)

    rows = [_field_row(spec, form_id, lang, errors.get(spec.name), setter(spec), values.current.get(spec.name)) for spec in fields]
    return html.form(
        {"id": form_id, "class_name": "km-form", "on_submit": submit, "novalidate": True},
        *rows,
        html.div({"class_name": "km-error", "role": "alert", "data-form-error": "1"}, general) if general else "",
        html.div(
            {"class_name": "km-form-actions"},
            html.button(
                {"class_name": "km-button", "type": "submit", "disabled": busy, "data-submit": form_id},
                ("提交中…" if lang == "zh" else "Submitting…") if busy else submit_label,
            ),
        ),
        html.div({"class_name": "km-outcome", "role": "status"}, outcome) if outcome is not None else "",
    )


def _initial(spec: Field, initial: dict[str, Any] | None) -> Any:
    if initial and spec.name in initial:
        return initial[spec.name]
    if spec.default is None or spec.default == ():
        if spec.widget == "select" and spec.required and spec.choices:
            return spec.choices[0][0]
        return [] if spec.widget == "multi" else None
    if spec.widget == "money" and isinstance(spec.default, int):
        return f"{spec.default / 100:.2f}" if spec.default else None
    if isinstance(spec.default, (list, tuple)):
        return list(spec.default)
    return spec.default


def _field_row(spec: Field, form_id: str, lang: str, error: str | None, on_change, current: Any):
    label = spec.label or form_text(spec.name, lang)
    marker = html.span({"class_name": "km-req"}, " *") if spec.required else html.span({"class_name": "km-muted"}, " （选填）" if lang == "zh" else " (optional)")
    attrs = {**_attrs(spec, form_id), "on_change": on_change}
    if error:
        attrs["aria-invalid"] = "true"
    if spec.widget == "textarea":
        attrs |= {"rows": 3, "default_value": current or ""}
        if spec.max_length:
            attrs["maxlength"] = spec.max_length
        control = html.textarea(attrs)
    elif spec.widget == "select":
        options = [html.option({"value": "", "key": "-"}, "—")] if not spec.required else []
        options += [html.option({"value": value, "key": value}, text) for value, text in spec.choices]
        attrs["default_value"] = "" if current is None else str(current)
        control = html.select(attrs, *options)
    elif spec.widget == "multi":
        chosen = set(current or [])
        control = html.div(
            {"class_name": "km-checks", "id": f"{form_id}-{spec.name}", "role": "group"},
            [
                html.label(
                    {"key": value, "class_name": "km-check"},
                    html.input({"type": "checkbox", "name": spec.name, "value": value, "default_checked": value in chosen, "on_change": on_change}),
                    " ", text,
                )
                for value, text in spec.choices
            ],
        ) if spec.choices else html.input({**attrs, "default_value": ",".join(current or []), "placeholder": "a, b, c"})
    elif spec.widget == "bool":
        control = html.input({**attrs, "type": "checkbox", "default_checked": bool(current)})
    else:
        kind = {"int": "number", "float": "number", "money": "text"}.get(spec.widget, "text")
        attrs |= {"type": kind, "default_value": "" if current is None else str(current)}
        if spec.widget == "money":
            attrs["inputmode"] = "decimal"
            attrs["placeholder"] = "0.00"
        if spec.widget in ("int", "float"):
            if spec.ge is not None:
                attrs["min"] = spec.ge
            if spec.le is not None:
                attrs["max"] = spec.le
        if spec.max_length:
            attrs["maxlength"] = spec.max_length
        control = html.input(attrs)
    hint = []
    if spec.help:
        hint.append(spec.help)
    if spec.min_length and spec.widget in ("text", "textarea"):
        hint.append(f"至少 {spec.min_length} 个字符" if lang == "zh" else f"at least {spec.min_length} characters")
    return html.div(
        {"class_name": "km-field" + (" invalid" if error else ""), "key": spec.name, "data-field": spec.name},
        html.label({"html_for": f"{form_id}-{spec.name}"}, label, marker),
        control,
        html.div({"class_name": "km-hint"}, "；".join(hint) if lang == "zh" else "; ".join(hint)) if hint else "",
        html.div({"class_name": "km-field-error", "role": "alert"}, error) if error else "",
    )
