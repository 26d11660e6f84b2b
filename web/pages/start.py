"""Start a process where the admin may: each form is the spec's input struct; the start is
checked as the API checks it (policy, then ``spec.validate_start``) and started on Temporal."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from reactpy import component, html, use_effect, use_location, use_state

from api import commands
from api.errors import ApiError
from infra.db.directory import list_admins
from web.console import DEFINITE_DENIALS, Console, query_params, refusal_message, use_console, link
from web.forms import FormError, StructForm, fields_of
from web.i18n import permission_text, region_text, tier_text
from web.live import LIVE
from workflows.domain.permissions import PERMISSIONS, Delegation
from workflows.domain.policy import DEFAULT_POLICY, Subject
from workflows.domain.regions import DEFAULT_REGIONS, PRODUCT_CATEGORIES
from workflows.price_change import price_change_route
from workflows.registry import BY_KIND

STARTABLE = ("permission-grant", "promotion", "fund-operation", "account-ban", "product-listing", "price-change", "admin-appointment")
"""Processes an admin starts from the console (the others come from platform intake or risk signals)."""

SKIP: dict[str, tuple[str, ...]] = {
    "permission-grant": ("starts_at",),
    "fund-operation": ("dispute_code",),
    "account-ban": ("evidence", "flagged_by", "source_process"),
}
BLURB: dict[str, tuple[str, str]] = {
    "permission-grant": ("按需申请缺少的模块权限，限定范围与时长，由上级审批，到期自动失效（动态权限）。", "Ask for a module permission you lack, for a scope and a duration; a higher tier approves; it expires by itself."),
    "promotion": ("提名实习管理员转正，或提名区域管理员晋升超级管理员；考核期后三位评审独立评分。", "Nominate an intern for normal, or a regional admin for super; three reviewers score after the assessment."),
    "fund-operation": ("资金池提现、费率调整或商家结算：由一位超级管理员发起，另一位超级管理员复核（双人复核）。", "A withdrawal, fee-rate change or settlement: one super proposes, another approves."),
    "account-ban": ("申请封禁本区域的买家账户，由超级管理员审批；超级管理员可直接封禁。", "Request the ban of a buyer in your region; a super approves (or bans directly)."),
    "product-listing": ("提交商品上架：价格在预设区间内的标准商品由普通管理员审批，其余由区域管理员审批。", "Submit goods for listing: standard goods within the band go to a normal admin, others to a regional admin."),
    "admin-appointment": ("任命普通管理员为区域管理员，或免去区域管理员：由一位超级管理员提议，另一位超级管理员审批后生效。", "Appoint a normal admin as regional admin, or remove one: one super proposes, another approves."),
    "price-change": ("改价：区域及以上直接生效并留痕；普通管理员的改价需上级确认后生效。", "Change a price: regional and up directly; a normal admin's change waits for confirmation."),
}
OPERATION_TEXT = {
    "withdrawal": ("资金池提现", "Fund-pool withdrawal"),
    "fee_rate_change": ("费率调整", "Fee-rate change"),
    "merchant_settlement": ("商家结算", "Merchant settlement"),
}
SCOPE_TEXT = {"own": ("本人经手", "Own records"), "region": ("本区域", "My regions"), "global": ("全平台", "Global")}


def startable(console: Console) -> list[str]:
    """The kinds the policy lets this admin start (conditions that need the body are left to the check on submit)."""
    kinds = []
    for kind in STARTABLE:
        spec = BY_KIND.get(kind)
        if spec is None:
            continue
        decision = console.can(spec.start_permission, Subject(kind=kind, owners=(console.actor.id,)))
        if not (decision.allowed or decision.code not in DEFINITE_DENIALS):
            continue
        if kind == "fund-operation" and console.actor.tier != DEFAULT_POLICY.ladder.top.key:
            continue  # fund operations are proposed by a super admin (the spec's own check)
        if kind == "price-change":
            route, _ = price_change_route(console.actor, Subject(kind="product"), datetime.now(UTC))
            if route is None:
                continue  # neither changes nor proposes prices (interns)
        kinds.append(kind)
    return kinds


def _pair(pair: tuple[str, str], lang: str) -> str:
    return pair[0] if lang == "zh" else pair[1]


def overrides_for(kind: str, console: Console, admins: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    lang = console.lang
    actor = console.actor
    my_regions = actor.regions or tuple(r.key for r in DEFAULT_REGIONS)
    region_choices = tuple((r, region_text(r, lang)) for r in my_regions)
    if kind == "permission-grant":
        # what the tier lacks (not what it holds right now: a grant arriving mid-form must not reshuffle the list)
        # (nor what nobody delegates: the tier configuration, the core configuration, the grant machinery)
        wanted = [
            p for p in PERMISSIONS if DEFAULT_POLICY.cell(actor.tier, p.key) is None and p.delegation is not Delegation.NEVER
        ] or [p for p in PERMISSIONS if p.delegation is not Delegation.NEVER]
        return {
            "permission": {"choices": tuple((p.key, f"{permission_text(p.key, lang)}（{p.key}）" if lang == "zh" else f"{p.name_en} ({p.key})") for p in wanted)},
            "scope": {"choices": tuple((k, _pair(v, lang)) for k, v in SCOPE_TEXT.items()), "default": "region"},
            "regions": {"choices": region_choices, "help": "不选则为本人全部区域" if lang == "zh" else "none chosen: all my regions"},
            "duration": {"default": "P3D"},
        }
    if kind == "promotion":
        active = [a for a in admins if a["status"] == "active" and a["username"] != actor.id]
        nominees = []
        for a in active:
            if a["tier"] == "intern" and (actor.tier == "super" or set(a["regions"] or ()) & set(actor.regions)):
                nominees.append(a)
            elif a["tier"] == "regional" and actor.tier == "super":
                nominees.append(a)
        reviewers = [a for a in active if a["tier"] in ("super", "regional", "normal")]
        return {
            "nominee": {"widget": "select", "choices": tuple((a["username"], f"{a['display_name']}（{a['username']}，{tier_text(a['tier'], lang)}）") for a in nominees)},
            "target_tier": {"choices": tuple((k, tier_text(k, lang)) for k in ("normal", "super") if k == "normal" or actor.tier == "super")},
            "reviewers": {"choices": tuple((a["username"], f"{a['display_name']}（{tier_text(a['tier'], lang)}）") for a in reviewers), "count": 3},
        }
    if kind == "admin-appointment":
        movable = [a for a in admins if a["status"] == "active" and a["username"] != actor.id and a["tier"] in ("normal", "regional")]
        return {
            "admin": {"widget": "select", "choices": tuple((a["username"], f"{a['display_name']}（{a['username']}，{tier_text(a['tier'], lang)}）") for a in movable)},
            "change": {"choices": (("appoint", "任命为区域管理员" if lang == "zh" else "Appoint as regional admin"), ("remove", "免去区域管理员" if lang == "zh" else "Remove as regional admin"))},
            "regions": {"choices": tuple((r.key, region_text(r.key, lang)) for r in DEFAULT_REGIONS),
                        "help": "任命：所辖区域；免职：保留的一个区域（不选则保留第一个）" if lang == "zh" else "appoint: the regions to govern; remove: the one region kept (none: their first)"},
        }
    if kind == "fund-operation":
        return {"operation": {"choices": tuple((k, _pair(v, lang)) for k, v in OPERATION_TEXT.items())}}
    if kind == "account-ban":
        return {"region": {"widget": "select", "choices": region_choices}}
    if kind == "product-listing":
        return {
            "region": {"widget": "select", "choices": region_choices},
            "category": {"widget": "select", "choices": tuple((k, _pair(v, lang)) for k, v in PRODUCT_CATEGORIES.items())},
        }
    return {}


async def start(console: Console, kind: str, decoded: Any) -> str:
    """Start through the command layer (as the API does); returns the process id or raises FormError."""
    try:
        process_id = (await commands.start(await console.target(), console.requester, BY_KIND[kind], decoded)).process_id
    except ApiError as exc:
        raise FormError(console.t("refusal", message=refusal_message(exc.code, exc.reason, console.lang))) from None
    LIVE.publish("tasks", "audit")
    return process_id


@component
def StartPage():
    console = use_console()
    lang = console.lang
    location = use_location()
    params = query_params(location.search)
    kinds = startable(console)
    chosen = params.get("kind") if params.get("kind") in kinds else None
    admins, set_admins = use_state(None)

    @use_effect(dependencies=[chosen])
    async def load():
        if chosen in ("promotion", "admin-appointment"):
            set_admins(await list_admins())

    cards = [
        html.li(
            {"key": kind, "class_name": "km-start-card" + (" active" if kind == chosen else "")},
            link({"href": f"/start?kind={kind}", "data-start": kind}, html.strong(BY_KIND[kind].title_zh if lang == "zh" else BY_KIND[kind].title_en)),
            html.p({"class_name": "km-muted"}, _pair(BLURB.get(kind, ("", "")), lang)),
        )
        for kind in kinds
    ]
    body: Any = ""
    if chosen is not None and (chosen not in ("promotion", "admin-appointment") or admins is not None):
        spec = BY_KIND[chosen]
        initial = {k: v for k, v in params.items() if k != "kind"}
        fields = fields_of(spec.input, lang, skip=SKIP.get(chosen, ()), overrides=overrides_for(chosen, console, admins or []))

        async def on_submit(decoded, _body):
            process_id = await start(console, chosen, decoded)
            return html.span(
                {"id": "started", "data-process": process_id},
                console.t("started_ok", process=process_id), " ",
                link({"href": f"/case?id={process_id}", "class_name": "km-button small secondary"}, console.t("view_case")),
            )

        body = html.section(
            {"class_name": "km-card", "id": f"start-{chosen}"},
            html.h3(spec.title_zh if lang == "zh" else spec.title_en),
            StructForm(f"start-form-{chosen}", spec.input, fields, lang, console.t("start_submit"), on_submit, initial=initial, key=f"start-{chosen}"),
        )
    elif chosen is not None:
        body = html.div({"class_name": "km-empty"}, console.t("loading"))
    return html.div(
        {"class_name": "km-start"},
        html.section(
            {"class_name": "km-card"},
            html.h2(console.t("start_title")),
            html.p({"class_name": "km-muted"}, console.t("start_intro")),
            html.ul({"class_name": "km-start-list"}, cards) if cards else html.p({"id": "start-none"}, console.t("start_none")),
        ),
        body,
    )
