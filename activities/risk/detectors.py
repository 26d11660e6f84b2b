"""Detectors: plain functions over the platform's event history, no database.

Each compares what an actor did against a baseline learned from that actor's own history
(``baseline.robust``: median and MAD per time bucket), and returns ``Finding``s that carry
their score, the baseline, the evidence rows and a sentence a person can check.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

import msgspec

from activities.risk.baseline import robust, score
from activities.risk.rules import RiskRule

HOUR = timedelta(hours=1)
MAX_EVIDENCE = 40


class OrderRow(msgspec.Struct, frozen=True):
    code: str
    buyer: str
    merchant: str
    product: str
    region: str
    amount: int
    status: str
    at: datetime
    anomaly: str | None = None


class PriceEditRow(msgspec.Struct, frozen=True):
    id: int
    admin: str
    product: str
    region: str
    old_price: int
    new_price: int
    at: datetime
    anomaly: str | None = None


class ReadRow(msgspec.Struct, frozen=True):
    """An admin reading (or exporting) user data, from the audit trail."""

    seq: int
    admin: str
    action: str
    target: str
    region: str | None
    at: datetime


class SettlementRow(msgspec.Struct, frozen=True):
    operation_id: str
    merchant: str
    region: str | None
    amount: int
    at: datetime


class History(msgspec.Struct, kw_only=True):
    orders: list[OrderRow] = []
    price_edits: list[PriceEditRow] = []
    reads: list[ReadRow] = []
    settlements: list[SettlementRow] = []
    merchant_regions: dict[str, str] = {}


class Finding(msgspec.Struct, frozen=True, kw_only=True):
    key: str
    """Stable for the same episode: rescanning finds it again under the same key."""
    rule: str
    signal: str
    subject_kind: str
    subject: str
    region: str | None
    score: float
    baseline: dict
    evidence: list[dict]
    rows: list[str]
    """Every evidence row's id (``order:O0000123``, ``price_change:17``, ``audit:880``)."""
    explanation: str
    explanation_en: str
    at: datetime
    """When the episode began."""
    tier: str | None = None
    """The reviewing tier, when no rule names it (a signal the platform reports in)."""


def _key(rule: RiskRule, *parts: object) -> str:
    digest = hashlib.sha256("\n".join(str(p) for p in parts).encode()).hexdigest()[:16]
    return f"{rule.key}:{digest}"


def _yuan(cents: int) -> str:
    return f"¥{cents / 100:,.2f}"


def _bursts(times: list[datetime], gap: timedelta) -> list[tuple[int, int]]:
    """Runs [start, end) of sorted ``times`` whose consecutive gaps are at most ``gap``."""
    runs, start = [], 0
    for i in range(1, len(times) + 1):
        if i == len(times) or times[i] - times[i - 1] > gap:
            runs.append((start, i))
            start = i
    return runs


def _hourly(times: Iterable[datetime]) -> dict[datetime, int]:
    counts: dict[datetime, int] = defaultdict(int)
    for t in times:
        counts[t.replace(minute=0, second=0, microsecond=0)] += 1
    return counts


def _span_hours(history_start: datetime, history_end: datetime) -> int:
    return max(int((history_end - history_start) / HOUR) + 1, 1)


# ----- order brushing --------------------------------------------------------------------------


def brushing(history: History, rule: RiskRule, since: datetime | None = None) -> list[Finding]:
    """Bursts of small orders at one merchant, far above its hourly baseline, mostly from a
    few buyers ordering again and again (a ring)."""
    p = rule.params
    gap, min_orders, max_amount = timedelta(minutes=p["gap_minutes"]), p["min_orders"], p["max_amount"]
    if not history.orders:
        return []
    start = min(o.at for o in history.orders)
    end = max(o.at for o in history.orders)
    by_merchant: dict[str, list[OrderRow]] = defaultdict(list)
    for order in history.orders:
        by_merchant[order.merchant].append(order)
    findings = []
    for merchant, orders in by_merchant.items():
        orders.sort(key=lambda o: o.at)
        small = [o for o in orders if o.amount <= max_amount]
        candidates = [(a, b) for a, b in _bursts([o.at for o in small], gap) if b - a >= min_orders]
        if not candidates:
            continue
        inside = {o.code for a, b in candidates for o in small[a:b]}
        # The merchant's ordinary hourly orders, the bursts under test left out.
        baseline = robust(_hourly(o.at for o in orders if o.code not in inside).values(), buckets=_span_hours(start, end), unit="hour")
        bursts = []
        for a, b in candidates:
            burst = small[a:b]
            per_buyer: dict[str, int] = defaultdict(int)
            for o in burst:
                per_buyer[o.buyer] += 1
            repeaters = {buyer for buyer, n in per_buyer.items() if n >= 2}
            share = sum(per_buyer[b] for b in repeaters) / len(burst)
            z = baseline.z(len(burst) / max((burst[-1].at - burst[0].at) / HOUR, 1.0))
            if z >= p["min_z"] and share >= p["min_repeat_share"]:
                bursts.append((burst, repeaters, share, z))
        ring = set().union(*(r for _, r, _, _ in bursts)) if bursts else set()
        for burst, repeaters, share, z in bursts:
            if since is not None and burst[-1].at < since:
                continue
            members = [o for o in burst if o.buyer in ring]
            buyers = sorted({o.buyer for o in members})
            minutes = max(round((burst[-1].at - burst[0].at).total_seconds() / 60), 1)
            total = sum(o.amount for o in members)
            region = members[0].region
            findings.append(
                Finding(
                    key=_key(rule, merchant, burst[0].code),
                    rule=rule.key, signal=rule.signal, subject_kind="merchant", subject=merchant, region=region,
                    score=score(z, p["min_z"]),
                    baseline=baseline.describe() | {"observed_per_hour": round(len(burst) / max(minutes / 60, 1.0), 2), "z": round(z, 2), "repeat_share": round(share, 2)},
                    evidence=[_order_evidence(o) for o in members[:MAX_EVIDENCE]],
                    rows=[f"order:{o.code}" for o in members],
                    explanation=(
                        f"商家 {merchant} 在 {burst[0].at:%Y-%m-%d %H:%M} 起 {minutes} 分钟内收到 {len(burst)} 笔小额订单"
                        f"（≤{_yuan(int(max_amount))}，合计 {_yuan(total)}），其中 {len(members)} 笔来自 {len(buyers)} 个反复下单的买家 "
                        f"{'、'.join(buyers[:6])}；该商家平时每小时订单中位数 {baseline.median:g}（MAD {baseline.mad:g}），稳健 z={z:.1f}"
                    ),
                    explanation_en=(
                        f"Merchant {merchant} took {len(burst)} small orders (≤{_yuan(int(max_amount))}, {_yuan(total)} in all) within "
                        f"{minutes} minutes from {burst[0].at:%Y-%m-%d %H:%M} UTC; {len(members)} came from {len(buyers)} buyers ordering "
                        f"again and again ({', '.join(buyers[:6])}); its usual hourly orders: median {baseline.median:g}, MAD {baseline.mad:g}; robust z={z:.1f}"
                    ),
                    at=burst[0].at,
                )
            )
    return findings


def _order_evidence(o: OrderRow) -> dict:
    return {"order": o.code, "buyer": o.buyer, "merchant": o.merchant, "product": o.product, "amount": o.amount, "status": o.status, "at": o.at.isoformat()}


def circular(history: History, rule: RiskRule, since: datetime | None = None) -> list[Finding]:
    """Circular trades: one buyer and one merchant ordering and refunding round and round
    within the window, where the pair's refunds far exceed the platform's refund rate."""
    p = rule.params
    window = timedelta(days=p["window_days"])
    orders = history.orders
    if not orders:
        return []
    platform_rate = sum(o.status == "refunded" for o in orders) / len(orders)
    pairs: dict[tuple[str, str], list[OrderRow]] = defaultdict(list)
    for o in orders:
        pairs[(o.buyer, o.merchant)].append(o)
    findings = []
    for (buyer, merchant), rows in pairs.items():
        refunded = [o for o in rows if o.status == "refunded"]
        if len(refunded) < p["min_cycles"]:
            continue
        rows.sort(key=lambda o: o.at)
        refunded.sort(key=lambda o: o.at)
        # the densest window of refunds
        best, lo = (0, 0), 0
        for hi in range(len(refunded)):
            while refunded[hi].at - refunded[lo].at > window:
                lo += 1
            if hi - lo + 1 > best[1] - best[0]:
                best = (lo, hi + 1)
        cycle = refunded[best[0]:best[1]]
        first, last = cycle[0].at, cycle[-1].at
        in_window = [o for o in rows if first <= o.at <= last]
        share = len(cycle) / len(in_window)
        if len(cycle) < p["min_cycles"] or share < p["min_refund_share"]:
            continue
        if since is not None and last < since:
            continue
        expected = max(platform_rate * len(in_window), 0.5)
        z = (len(cycle) - expected) / max(expected**0.5, 1.0)
        findings.append(
            Finding(
                key=_key(rule, buyer, merchant, cycle[0].code),
                rule=rule.key, signal=rule.signal, subject_kind="merchant", subject=merchant, region=cycle[0].region,
                score=score(z, 3.0),
                baseline={"statistic": "platform refund rate", "unit": "order", "refund_rate": round(platform_rate, 4), "expected_refunds": round(expected, 2), "observed": len(cycle), "z": round(z, 2)},
                evidence=[_order_evidence(o) for o in in_window[:MAX_EVIDENCE]],
                rows=[f"order:{o.code}" for o in in_window],
                explanation=(
                    f"买家 {buyer} 与商家 {merchant} 在 {first:%Y-%m-%d} 至 {last:%Y-%m-%d} 间 {len(in_window)} 笔订单中有 {len(cycle)} 笔退款"
                    f"（占 {share:.0%}），平台平均退款率 {platform_rate:.1%}：疑似循环交易刷流水"
                ),
                explanation_en=(
                    f"Buyer {buyer} and merchant {merchant}: {len(cycle)} of {len(in_window)} orders between {first:%Y-%m-%d} and {last:%Y-%m-%d} "
                    f"were refunded ({share:.0%}) against a platform refund rate of {platform_rate:.1%}: money going round"
                ),
                at=first,
            )
        )
    return findings


# ----- duplicate orders ------------------------------------------------------------------------


def duplicate(history: History, rule: RiskRule, since: datetime | None = None) -> list[Finding]:
    """The same buyer, item and amount twice within the window, unless quick repeats are
    what this buyer ordinarily does (their own share of quick repeats is the baseline)."""
    p = rule.params
    window = timedelta(seconds=p["window_seconds"])
    by_buyer: dict[str, list[OrderRow]] = defaultdict(list)
    for o in history.orders:
        by_buyer[o.buyer].append(o)
    findings = []
    for buyer, orders in by_buyer.items():
        orders.sort(key=lambda o: o.at)
        last_seen: dict[tuple[str, int], OrderRow] = {}
        pairs = []
        for o in orders:
            previous = last_seen.get((o.product, o.amount))
            if previous is not None and o.at - previous.at <= window:
                pairs.append((previous, o))
            last_seen[(o.product, o.amount)] = o
        if not pairs:
            continue
        # Baseline: how often this buyer's orders repeat the previous item within an hour,
        # the pairs under test left out.
        paired = {o.code for pair in pairs for o in pair}
        rest = [o for o in orders if o.code not in paired]
        quick = sum(1 for a, b in zip(rest, rest[1:]) if a.product == b.product and b.at - a.at <= HOUR)
        usual = quick / max(len(rest) - 1, 1)
        if usual > p["max_usual_share"]:
            continue
        for first, second in pairs:
            if since is not None and second.at < since:
                continue
            seconds = int((second.at - first.at).total_seconds())
            closeness = 1 - seconds / max(window.total_seconds(), 1)
            s = round(min(1.0, 0.5 + 0.5 * closeness) * (1 - usual), 3)
            findings.append(
                Finding(
                    key=_key(rule, buyer, first.code, second.code),
                    rule=rule.key, signal=rule.signal, subject_kind="buyer", subject=buyer, region=second.region,
                    score=s,
                    baseline={"statistic": "buyer's share of quick repeat orders", "unit": "order", "usual_share": round(usual, 3), "orders": len(rest), "gap_seconds": seconds},
                    evidence=[_order_evidence(first), _order_evidence(second)],
                    rows=[f"order:{first.code}", f"order:{second.code}"],
                    explanation=(
                        f"买家 {buyer} 在 {seconds} 秒内两次下单同一商品 {first.product}、同一金额 {_yuan(first.amount)}"
                        f"（{first.code}、{second.code}）；该买家平时一小时内重复购买同一商品的比例为 {usual:.0%}"
                    ),
                    explanation_en=(
                        f"Buyer {buyer} ordered the same item {first.product} for the same amount {_yuan(first.amount)} twice within "
                        f"{seconds} seconds ({first.code}, {second.code}); this buyer repeats an item within an hour in {usual:.0%} of orders"
                    ),
                    at=first.at,
                )
            )
    return findings


# ----- admin misuse ----------------------------------------------------------------------------


def admin_edits(history: History, rule: RiskRule, since: datetime | None = None) -> list[Finding]:
    """Bursts of price edits by one admin at hours that admin did not work on earlier days,
    at a rate far above their own hourly baseline. The baseline is what was known before the
    burst: an admin who has done it before is not thereby excused."""
    p = rule.params
    gap = timedelta(minutes=p["gap_minutes"])
    by_admin: dict[str, list[PriceEditRow]] = defaultdict(list)
    for e in history.price_edits:
        by_admin[e.admin].append(e)
    findings = []
    for admin, edits in by_admin.items():
        edits.sort(key=lambda e: e.at)
        for a, b in _bursts([e.at for e in edits], gap):
            burst = edits[a:b]
            if len(burst) < p["min_edits"]:
                continue
            if since is not None and burst[-1].at < since:
                continue
            before = edits[:a]
            day = burst[0].at.date()
            earlier = [e for e in before if e.at.date() != day]
            days = {e.at.date() for e in earlier}
            hours = {burst[0].at.hour, burst[-1].at.hour}
            near = {(h + d) % 24 for h in hours for d in (-1, 0, 1)}
            days_at_hour = {e.at.date() for e in earlier if e.at.hour in near}
            hour_share = len(days_at_hour) / len(days) if days else 0.0
            active_hours = _hourly(e.at for e in earlier)
            baseline = robust(active_hours.values(), unit="active hour")
            minutes = max((burst[-1].at - burst[0].at).total_seconds() / 60, 1)
            rate = len(burst) / max(minutes / 60, 1.0)
            z = baseline.z(rate)
            if hour_share > p["max_hour_share"] or z < p["min_z"]:
                continue
            changes = [e.new_price / e.old_price - 1 for e in burst if e.old_price]
            mean_change = sum(changes) / len(changes) if changes else 0.0
            findings.append(
                Finding(
                    key=_key(rule, admin, burst[0].id),
                    rule=rule.key, signal=rule.signal, subject_kind="admin", subject=admin, region=None,
                    score=round(score(z, p["min_z"]) * (1 - hour_share), 3),
                    baseline=baseline.describe() | {"observed_per_hour": round(rate, 2), "z": round(z, 2), "active_days": len(days), "days_at_this_hour": len(days_at_hour), "hour_share": round(hour_share, 3)},
                    evidence=[
                        {"price_change": e.id, "admin": e.admin, "product": e.product, "region": e.region, "old_price": e.old_price, "new_price": e.new_price, "at": e.at.isoformat()}
                        for e in burst[:MAX_EVIDENCE]
                    ],
                    rows=[f"price_change:{e.id}" for e in burst],
                    explanation=(
                        f"管理员 {admin} 于 {burst[0].at:%Y-%m-%d %H:%M}–{burst[-1].at:%H:%M}（UTC）连续改价 {len(burst)} 次，平均调价 {mean_change:+.0%}；"
                        f"此前 {len(days)} 个活跃日中只有 {len(days_at_hour)} 天在该时段工作，平时每个活跃小时改价中位数 {baseline.median:g} 次，稳健 z={z:.1f}"
                    ),
                    explanation_en=(
                        f"Admin {admin} changed {len(burst)} prices between {burst[0].at:%Y-%m-%d %H:%M} and {burst[-1].at:%H:%M} UTC, by {mean_change:+.0%} on average; "
                        f"on {len(days_at_hour)} of their {len(days)} earlier active days they worked at that hour; usual edits per active hour: median {baseline.median:g}; robust z={z:.1f}"
                    ),
                    at=burst[0].at,
                )
            )
    return findings


def bulk_reads(history: History, rule: RiskRule, since: datetime | None = None) -> list[Finding]:
    """Many reads (or exports) of user data by one admin within the window, far above the
    admin's own reads per window."""
    p = rule.params
    window = timedelta(minutes=p["window_minutes"])
    if not history.reads:
        return []
    start, end = min(r.at for r in history.reads), max(r.at for r in history.reads)
    by_admin: dict[str, list[ReadRow]] = defaultdict(list)
    for r in history.reads:
        by_admin[r.admin].append(r)
    findings = []
    width = window.total_seconds()
    buckets = max(int(end.timestamp() // width) - int(start.timestamp() // width) + 1, 1)
    for admin, reads in by_admin.items():
        reads.sort(key=lambda r: r.at)
        counts: dict[int, list[ReadRow]] = defaultdict(list)
        for r in reads:  # windows anchored at the epoch, so a rescan finds the same ones
            counts[int(r.at.timestamp() // width)].append(r)
        for bucket, rows in counts.items():
            if len(rows) < p["min_reads"]:
                continue
            if since is not None and rows[-1].at < since:
                continue
            others = [len(v) for k, v in counts.items() if k != bucket]
            baseline = robust(others, buckets=buckets - 1, unit=f"{int(p['window_minutes'])} minutes")
            z = baseline.z(len(rows))
            if z < p["min_z"]:
                continue
            subjects = sorted({r.target for r in rows})
            findings.append(
                Finding(
                    key=_key(rule, admin, bucket),
                    rule=rule.key, signal=rule.signal, subject_kind="admin", subject=admin, region=None,
                    score=score(z, p["min_z"]),
                    baseline=baseline.describe() | {"observed": len(rows), "z": round(z, 2)},
                    evidence=[{"audit": r.seq, "action": r.action, "target": r.target, "region": r.region, "at": r.at.isoformat()} for r in rows[:MAX_EVIDENCE]],
                    rows=[f"audit:{r.seq}" for r in rows],
                    explanation=(
                        f"管理员 {admin} 在 {rows[0].at:%Y-%m-%d %H:%M} 起 {int(p['window_minutes'])} 分钟内读取/导出用户数据 {len(rows)} 次（{len(subjects)} 个用户）；"
                        f"平时每 {int(p['window_minutes'])} 分钟中位数 {baseline.median:g} 次（MAD {baseline.mad:g}），稳健 z={z:.1f}"
                    ),
                    explanation_en=(
                        f"Admin {admin} read or exported user data {len(rows)} times ({len(subjects)} users) within {int(p['window_minutes'])} minutes "
                        f"from {rows[0].at:%Y-%m-%d %H:%M} UTC; usual per window: median {baseline.median:g}, MAD {baseline.mad:g}; robust z={z:.1f}"
                    ),
                    at=rows[0].at,
                )
            )
    return findings


# ----- refunds and settlements -----------------------------------------------------------------


def refunds(history: History, rule: RiskRule, since: datetime | None = None) -> list[Finding]:
    """Days on which a merchant's refunds far exceed its own daily refunds."""
    p = rule.params
    if not history.orders:
        return []
    start, end = min(o.at for o in history.orders), max(o.at for o in history.orders)
    days = max((end.date() - start.date()).days + 1, 1)
    by_merchant: dict[str, dict] = defaultdict(lambda: defaultdict(list))
    for o in history.orders:
        if o.status == "refunded":
            by_merchant[o.merchant][o.at.date()].append(o)
    findings = []
    for merchant, per_day in by_merchant.items():
        for day, rows in per_day.items():
            if len(rows) < p["min_refunds"]:
                continue
            if since is not None and max(o.at for o in rows) < since:
                continue
            baseline = robust([len(v) for d, v in per_day.items() if d != day], buckets=days - 1, unit="day")
            z = baseline.z(len(rows))
            if z < p["min_z"]:
                continue
            total = sum(o.amount for o in rows)
            findings.append(
                Finding(
                    key=_key(rule, merchant, day),
                    rule=rule.key, signal=rule.signal, subject_kind="merchant", subject=merchant, region=rows[0].region,
                    score=score(z, p["min_z"]),
                    baseline=baseline.describe() | {"observed": len(rows), "z": round(z, 2)},
                    evidence=[_order_evidence(o) for o in rows[:MAX_EVIDENCE]],
                    rows=[f"order:{o.code}" for o in rows],
                    explanation=(
                        f"商家 {merchant} 在 {day} 有 {len(rows)} 笔退款（合计 {_yuan(total)}），该商家平时每日退款中位数 {baseline.median:g}"
                        f"（MAD {baseline.mad:g}），稳健 z={z:.1f}"
                    ),
                    explanation_en=(
                        f"Merchant {merchant} had {len(rows)} refunds ({_yuan(total)}) on {day}; its usual daily refunds: median {baseline.median:g}, "
                        f"MAD {baseline.mad:g}; robust z={z:.1f}"
                    ),
                    at=min(o.at for o in rows),
                )
            )
    return findings


def settlements(history: History, rule: RiskRule, since: datetime | None = None) -> list[Finding]:
    """A settlement far larger (or smaller) than the merchant's earlier settlements."""
    p = rule.params
    by_merchant: dict[str, list[SettlementRow]] = defaultdict(list)
    for s in history.settlements:
        by_merchant[s.merchant].append(s)
    findings = []
    for merchant, rows in by_merchant.items():
        rows.sort(key=lambda s: s.at)
        for i, s in enumerate(rows):
            earlier = rows[:i]
            if len(earlier) < p["min_history"] or (since is not None and s.at < since):
                continue
            baseline = robust([e.amount for e in earlier], unit="settlement")
            spread = max(1.4826 * baseline.mad, 0.05 * max(baseline.median, 1.0))
            z = abs(s.amount - baseline.median) / spread
            if z < p["min_z"]:
                continue
            findings.append(
                Finding(
                    key=_key(rule, s.operation_id),
                    rule=rule.key, signal=rule.signal, subject_kind="merchant", subject=merchant, region=s.region,
                    score=score(z, p["min_z"]),
                    baseline=baseline.describe() | {"observed": s.amount, "z": round(z, 2)},
                    evidence=[{"operation": s.operation_id, "merchant": merchant, "amount": s.amount, "at": s.at.isoformat()}],
                    rows=[f"settlement:{s.operation_id}"],
                    explanation=(
                        f"商家 {merchant} 的结算 {_yuan(s.amount)}（{s.at:%Y-%m-%d}）远离其以往 {len(earlier)} 笔结算的中位数 {_yuan(int(baseline.median))}，稳健 z={z:.1f}"
                    ),
                    explanation_en=(
                        f"Merchant {merchant}'s settlement of {_yuan(s.amount)} on {s.at:%Y-%m-%d} is far from the median {_yuan(int(baseline.median))} "
                        f"of its {len(earlier)} earlier settlements; robust z={z:.1f}"
                    ),
                    at=s.at,
                )
            )
    return findings


DETECTORS: dict[str, Callable[[History, RiskRule, datetime | None], list[Finding]]] = {
    "brushing": brushing,
    "circular": circular,
    "duplicate": duplicate,
    "admin_edits": admin_edits,
    "bulk_reads": bulk_reads,
    "refunds": refunds,
    "settlements": settlements,
}


def scan(history: History, rules: Iterable[RiskRule], since: datetime | None = None) -> list[Finding]:
    """Every enabled rule over the history; only episodes reaching ``since`` are reported
    (baselines still learn from the whole history)."""
    found: list[Finding] = []
    for rule in rules:
        if rule.enabled:
            found += DETECTORS[rule.detector](history, rule, since)
    # A repeat inside a brushing burst is explained by the burst: not a duplicate of its own.
    brushed = {row for f in found if f.signal == "brushing" for row in f.rows}
    found = [f for f in found if not (f.signal == "duplicate_order" and brushed.issuperset(f.rows))]
    found.sort(key=lambda f: (-f.score, f.at))
    return found

