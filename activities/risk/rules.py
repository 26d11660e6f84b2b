"""Risk rules as data (SPEC §3 risk row: supers define thresholds and anti-fraud rules).

A rule names a detector, the signal type its findings raise (the risk-review process's
``signal``), the tier that reviews them, and the detector's parameters. The defaults below
ship with the product; a super changes a rule through the risk-rule-change process, and the
stored row (``RiskRule``) then wins. Pure: the rule-change workflow imports this module.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

Signal = Literal["admin_misuse", "brushing", "duplicate_order", "unusual_refund"]
ReviewTier = Literal["super", "regional", "normal"]
"""Tiers that hold ``risk.review`` (interns only see hints)."""
TIER_RANK = {"normal": 1, "regional": 2, "super": 3}


class RiskRule(msgspec.Struct, frozen=True, kw_only=True):
    key: str
    detector: str
    signal: Signal
    tier: ReviewTier
    """Who reviews what this rule raises."""
    enabled: bool = True
    params: dict[str, float] = {}
    title_zh: str = ""
    title_en: str = ""
    version: int = 0
    """0 for the shipped default; each applied change adds one."""
    updated_by: str | None = None


class Param(msgspec.Struct, frozen=True):
    low: float
    high: float
    zh: str
    en: str
    integer: bool = True


DETECTOR_PARAMS: dict[str, dict[str, Param]] = {
    "brushing": {
        "gap_minutes": Param(1, 240, "同一会话内相邻订单的最大间隔（分钟）", "Largest gap between orders of one burst (minutes)"),
        "min_orders": Param(2, 1000, "一次爆发的最少订单数", "Fewest orders in a burst"),
        "max_amount": Param(1, 10**9, "计入的单笔最高金额（分）", "Largest order amount counted (cents)"),
        "min_z": Param(0, 1000, "相对商家小时基线的最小稳健 z 值", "Least robust z against the merchant's hourly baseline", integer=False),
        "min_repeat_share": Param(0, 1, "重复买家订单的最低占比", "Least share of orders from repeat buyers", integer=False),
    },
    "circular": {
        "window_days": Param(1, 90, "观察窗口（天）", "Window (days)"),
        "min_cycles": Param(2, 1000, "同一买家与商家间最少退款往返次数", "Fewest order-refund cycles between one buyer and merchant"),
        "min_refund_share": Param(0, 1, "该买卖对退款占比下限", "Least refunded share of the pair's orders", integer=False),
    },
    "duplicate": {
        "window_seconds": Param(10, 86_400, "同一买家同一商品同一金额的时间窗（秒）", "Window for the same buyer, item and amount (seconds)"),
        "max_usual_share": Param(0, 1, "买家平时快速复购占比上限", "Largest share of the buyer's usual quick repeats", integer=False),
    },
    "admin_edits": {
        "gap_minutes": Param(1, 240, "同一批改价相邻间隔（分钟）", "Largest gap between edits of one burst (minutes)"),
        "min_edits": Param(2, 1000, "一批改价的最少次数", "Fewest edits in a burst"),
        "max_hour_share": Param(0, 1, "该时段在管理员以往活跃日中的占比上限", "Largest share of the admin's earlier active days with work at that hour", integer=False),
        "min_z": Param(0, 1000, "相对管理员小时基线的最小稳健 z 值", "Least robust z against the admin's hourly baseline", integer=False),
    },
    "bulk_reads": {
        "window_minutes": Param(1, 1440, "统计窗口（分钟）", "Window (minutes)"),
        "min_reads": Param(2, 100_000, "窗口内最少读取用户数据次数", "Fewest reads of user data in the window"),
        "min_z": Param(0, 1000, "相对管理员基线的最小稳健 z 值", "Least robust z against the admin's baseline", integer=False),
    },
    "refunds": {
        "min_refunds": Param(1, 100_000, "单日最少退款笔数", "Fewest refunds in a day"),
        "min_z": Param(0, 1000, "相对商家日基线的最小稳健 z 值", "Least robust z against the merchant's daily baseline", integer=False),
    },
    "settlements": {
        "min_history": Param(1, 1000, "商家以往结算的最少笔数", "Fewest earlier settlements of the merchant"),
        "min_z": Param(0, 1000, "相对商家结算基线的最小稳健 z 值", "Least robust z against the merchant's settlements", integer=False),
    },
}


def _rule(key: str, detector: str, signal: Signal, tier: ReviewTier, zh: str, en: str, **params: float) -> RiskRule:
    return RiskRule(key=key, detector=detector, signal=signal, tier=tier, params=params, title_zh=zh, title_en=en)


DEFAULT_RULES: dict[str, RiskRule] = {
    r.key: r
    for r in (
        _rule("brushing", "brushing", "brushing", "regional", "刷单：同一商家短时间内大量小额订单", "Brushing: bursts of small orders at one merchant",
              gap_minutes=20, min_orders=8, max_amount=5_000, min_z=4.0, min_repeat_share=0.6),
        _rule("circular_trades", "circular", "brushing", "regional", "循环交易：同一买卖对反复下单退款", "Circular trades: one buyer and merchant ordering and refunding again and again",
              window_days=7, min_cycles=4, min_refund_share=0.5),
        _rule("duplicate_orders", "duplicate", "duplicate_order", "normal", "重复下单：同一买家同一商品同一金额", "Duplicate orders: same buyer, item and amount",
              window_seconds=300, max_usual_share=0.5),
        _rule("admin_off_hours_edits", "admin_edits", "admin_misuse", "super", "管理员非工作时间高频改价", "Admin price edits in bursts at unusual hours",
              gap_minutes=30, min_edits=5, max_hour_share=0.25, min_z=3.0),
        _rule("admin_bulk_reads", "bulk_reads", "admin_misuse", "super", "管理员批量读取或导出用户数据", "Admin bulk reads or exports of user data",
              window_minutes=60, min_reads=30, min_z=5.0),
        _rule("unusual_refunds", "refunds", "unusual_refund", "regional", "商家退款量异常", "Refunds unusual for the merchant",
              min_refunds=4, min_z=4.0),
        _rule("unusual_settlements", "settlements", "unusual_refund", "regional", "商家结算金额异常", "Settlements unusual for the merchant",
              min_history=3, min_z=4.0),
    )
}


class RuleChange(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What a super proposes: any of the parameters, the reviewing tier, on or off."""

    params: dict[str, float] = {}
    tier: ReviewTier | None = None
    enabled: bool | None = None


def check_change(rule_key: str, change: RuleChange) -> tuple[str, str] | None:
    """Why this change cannot be proposed, or None."""
    base = DEFAULT_RULES.get(rule_key)
    if base is None:
        return ("unknown_rule", f"there is no risk rule {rule_key!r} (rules: {', '.join(DEFAULT_RULES)})")
    if not change.params and change.tier is None and change.enabled is None:
        return ("no_change", "name at least one parameter, the tier or enabled")
    known = DETECTOR_PARAMS[base.detector]
    for name, value in change.params.items():
        spec = known.get(name)
        if spec is None:
            return ("unknown_param", f"rule {rule_key} has no parameter {name!r} (it has: {', '.join(known)})")
        if not spec.low <= value <= spec.high:
            return ("param_out_of_range", f"{name} must lie between {spec.low:g} and {spec.high:g}")
        if spec.integer and value != int(value):
            return ("param_not_integer", f"{name} is a whole number")
    if change.tier is not None and base.signal == "admin_misuse" and change.tier != "super":
        return ("tier_not_allowed", "admin misuse is judged by super admins only (SPEC §3)")
    return None


def apply_change(rule: RiskRule, change: RuleChange, *, by: str | None = None) -> RiskRule:
    return msgspec.structs.replace(
        rule,
        params={**rule.params, **change.params},
        tier=change.tier if change.tier is not None else rule.tier,
        enabled=change.enabled if change.enabled is not None else rule.enabled,
        version=rule.version + 1,
        updated_by=by,
    )


MAJOR_PARAM_MOVE = 0.25
"""A threshold moved by more than this share of its value is a major change."""
MAJOR_SIGNAL_SWING = 0.5
"""A change whose backtest raises or drops more than this share of the signals is major."""


def major_reasons(before: RiskRule, after: RiskRule, signals_before: int, signals_after: int, lang: str = "en") -> list[str]:
    """Why a change needs a second super (empty: a minor change, applied once backtested)."""
    zh = lang == "zh"
    reasons = []
    if before.enabled and not after.enabled:
        reasons.append("停用该规则" if zh else "turns the rule off")
    if TIER_RANK[after.tier] < TIER_RANK[before.tier]:
        reasons.append(f"审核级别由 {before.tier} 降为 {after.tier}" if zh else f"sends its reviews down from {before.tier} to {after.tier}")
    for name, value in after.params.items():
        old = before.params.get(name, value)
        if old != value and (old == 0 or abs(value - old) / abs(old) > MAJOR_PARAM_MOVE):
            reasons.append(
                f"{name} 由 {old:g} 调为 {value:g}（变动超过 {MAJOR_PARAM_MOVE:.0%}）" if zh
                else f"moves {name} from {old:g} to {value:g} (more than {MAJOR_PARAM_MOVE:.0%})"
            )
    swing = abs(signals_after - signals_before)
    if swing and swing > MAJOR_SIGNAL_SWING * max(signals_before, 1):
        reasons.append(
            f"回测信号数由 {signals_before} 变为 {signals_after}" if zh
            else f"changes the signals raised over the backtest from {signals_before} to {signals_after}"
        )
    return reasons


RuleKey = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[a-z_]+$")]
