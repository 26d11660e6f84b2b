"""Risk detectors and baselines as plain functions over rows: no database, no Temporal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from activities.risk.backtest import compare
from activities.risk.baseline import robust, score
from activities.risk.detectors import History, OrderRow, PriceEditRow, ReadRow, SettlementRow, scan
from activities.risk.quality import labelled_history, measure
from activities.risk.rules import DEFAULT_RULES, RuleChange, apply_change, check_change, major_reasons
from infra.seed import PlanSizes

pytestmark = pytest.mark.timeout(60)

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def rule(key: str, **params):
    base = DEFAULT_RULES[key]
    return msgspec.structs.replace(base, params={**base.params, **params})


def test_the_baseline_counts_empty_buckets_and_never_divides_by_zero():
    b = robust([3, 1, 1], buckets=10, unit="hour")  # seven empty hours
    assert (b.median, b.mad, b.buckets) == (0.0, 0.0, 10)
    assert b.scale == 1.0 and b.z(5) == 5.0  # the Poisson floor, not an infinite z
    wide = robust([10, 12, 8, 30, 11], unit="day")
    assert wide.median == 11 and wide.mad == 1
    assert score(0, 4) == 0 and score(4, 4) == 0.5 and 0.74 < score(8, 4) < 0.76


async def test_planted_anomalies_are_found_on_a_generated_history_with_precision_and_recall_of_at_least_0_9():
    """A history unlike the demo's (seed 7, 12,000 orders, 4 rings, 20 duplicate pairs, 5 nights)."""
    history, labels = labelled_history(NOW, rng_seed=7, sizes=PlanSizes(orders=12_000, buyers=1_500, rings=4, duplicate_pairs=20, burst_nights=5))
    report = await measure(history, labels)
    for kind in ("brushing", "duplicate", "night_burst"):
        quality = report.kinds[kind]
        assert quality.planted > 0, kind
        assert quality.precision >= 0.9 and quality.recall >= 0.9, quality
    assert report.passes()


async def test_the_scan_of_a_demo_sized_history_takes_seconds_not_minutes():
    history, labels = labelled_history(NOW, rng_seed=2026, sizes=PlanSizes())
    assert len(history.orders) > 20_000
    report = await measure(history, labels)
    assert report.seconds < 5, report
    assert report.passes(), report


def test_every_finding_carries_score_baseline_evidence_and_a_checkable_sentence():
    history, _ = labelled_history(NOW, rng_seed=11)
    findings = scan(history, DEFAULT_RULES.values())
    assert {f.rule for f in findings} >= {"brushing", "duplicate_orders", "admin_off_hours_edits"}
    codes = {o.code: o for o in history.orders}
    for f in findings:
        assert 0 < f.score <= 1 and f.baseline and f.evidence and f.rows
        assert f.subject in f.explanation and f.explanation_en
        if f.rule == "brushing":
            assert "中位数" in f.explanation and f.baseline["statistic"] == "median/MAD" and f.subject_kind == "merchant"
            assert all(codes[row.removeprefix("order:")].merchant == f.subject for row in f.rows)
        if f.rule == "duplicate_orders":
            first, second = (codes[r.removeprefix("order:")] for r in f.rows)
            assert (first.buyer, first.product, first.amount) == (second.buyer, second.product, second.amount)
        if f.rule == "admin_off_hours_edits":
            assert f.subject_kind == "admin" and f.region is None and "改价" in f.explanation


def test_findings_keep_their_key_when_the_history_is_scanned_again_with_a_later_start():
    history, _ = labelled_history(NOW, rng_seed=11)
    first = {f.key for f in scan(history, DEFAULT_RULES.values())}
    later = History(orders=[o for o in history.orders if o.at > NOW - timedelta(days=80)], price_edits=history.price_edits)
    again = {f.key for f in scan(later, DEFAULT_RULES.values(), since=NOW - timedelta(days=30))}
    assert again and again <= first


def _orders(buyer, merchant, times, *, status="completed", amount=1000, product="P1"):
    return [OrderRow(f"{buyer}-{merchant}-{i}-{t:%j%H%M%S}", buyer, merchant, product, "game-cards", amount, status, t) for i, t in enumerate(times)]


def test_brushing_compares_a_burst_with_the_merchant_s_own_hourly_baseline():
    start = NOW - timedelta(days=30)
    ordinary = [o for day in range(30) for o in _orders(f"B{day:03d}", "M1", [start + timedelta(days=day, hours=10)])]
    ring = [o for b in ("R1", "R2", "R3") for o in _orders(b, "M1", [NOW - timedelta(days=2, minutes=m) for m in range(0, 30, 10)])]
    findings = scan(History(orders=ordinary + ring), [DEFAULT_RULES["brushing"]])
    assert len(findings) == 1 and findings[0].subject == "M1" and len(findings[0].rows) == 9
    assert findings[0].baseline["median"] == 0 and findings[0].baseline["z"] >= 4
    # A merchant whose every hour is this busy raises nothing: the baseline is the merchant's own.
    busy = [o for h in range(0, 24 * 20) for o in _orders(f"X{h % 3}", "M2", [start + timedelta(hours=h, minutes=m) for m in (0, 10, 20)])]
    assert scan(History(orders=busy), [DEFAULT_RULES["brushing"]]) == []


def test_circular_trades_and_unusual_refunds_and_settlements():
    cycles = _orders("B1", "M9", [NOW - timedelta(days=3, hours=h) for h in range(5)], status="refunded")
    background = [o for d in range(60) for o in _orders(f"C{d}", "M9", [NOW - timedelta(days=d, hours=5)])]
    found = scan(History(orders=cycles + background), [DEFAULT_RULES["circular_trades"], DEFAULT_RULES["unusual_refunds"]])
    assert {f.rule for f in found} == {"circular_trades", "unusual_refunds"}
    assert all(f.subject == "M9" for f in found)
    settled = [SettlementRow(f"op-{i}", "M9", "game-cards", 100_000 + i * 1_000, NOW - timedelta(days=30 - i)) for i in range(5)]
    settled.append(SettlementRow("op-big", "M9", "game-cards", 2_000_000, NOW))
    [big] = scan(History(settlements=settled), [DEFAULT_RULES["unusual_settlements"]])
    assert big.rows == ["settlement:op-big"] and big.signal == "unusual_refund"


def test_bulk_reads_of_user_data_against_the_admin_s_own_reads():
    reads = [ReadRow(i, "regional-game-cards", "users.view", f"buyer:B{i:05d}", "game-cards", NOW - timedelta(days=i % 20, hours=3)) for i in range(40)]
    burst = [ReadRow(1000 + i, "regional-game-cards", "users.view_sensitive", f"buyer:B{i:05d}", "game-cards", NOW - timedelta(minutes=i)) for i in range(45)]
    [found] = scan(History(reads=reads + burst), [DEFAULT_RULES["admin_bulk_reads"]])
    assert found.subject == "regional-game-cards" and found.signal == "admin_misuse" and len(found.rows) >= 40
    assert scan(History(reads=reads), [DEFAULT_RULES["admin_bulk_reads"]]) == []


def test_off_hours_edits_by_an_admin_who_works_days():
    days = [PriceEditRow(i, "normal-x", f"P{i}", "game-cards", 1000, 1100, NOW - timedelta(days=i, hours=2)) for i in range(1, 30)]
    night = [PriceEditRow(100 + i, "normal-x", f"P{i}", "game-cards", 1000, 1800, NOW.replace(hour=3) + timedelta(minutes=3 * i)) for i in range(8)]
    [found] = scan(History(price_edits=days + night), [DEFAULT_RULES["admin_off_hours_edits"]])
    assert len(found.rows) == 8 and found.baseline["hour_share"] == 0 and "+80%" in found.explanation
    # The same burst at the hour this admin always works is not off-hours.
    daytime = [msgspec.structs.replace(e, at=e.at.replace(hour=10)) for e in night]
    assert scan(History(price_edits=days + daytime), [DEFAULT_RULES["admin_off_hours_edits"]]) == []


def test_rule_changes_are_checked_and_judged_minor_or_major():
    assert check_change("nope", RuleChange(params={"min_orders": 3}))[0] == "unknown_rule"
    assert check_change("brushing", RuleChange())[0] == "no_change"
    assert check_change("brushing", RuleChange(params={"min_oders": 3}))[0] == "unknown_param"
    assert check_change("brushing", RuleChange(params={"min_orders": 0}))[0] == "param_out_of_range"
    assert check_change("brushing", RuleChange(params={"min_orders": 2.5}))[0] == "param_not_integer"
    assert check_change("admin_bulk_reads", RuleChange(tier="regional"))[0] == "tier_not_allowed"
    assert check_change("brushing", RuleChange(params={"min_orders": 9}, tier="super")) is None
    before = DEFAULT_RULES["brushing"]
    small = apply_change(before, RuleChange(params={"min_orders": 9}))
    assert small.version == 1 and major_reasons(before, small, 10, 10) == []
    assert major_reasons(before, apply_change(before, RuleChange(params={"min_orders": 20})), 10, 10)
    assert major_reasons(before, apply_change(before, RuleChange(enabled=False)), 10, 0)
    assert major_reasons(before, apply_change(before, RuleChange(tier="normal")), 10, 10)
    assert major_reasons(before, small, 10, 3)  # the backtest swings


def test_a_backtest_counts_both_versions_over_the_same_days_with_examples():
    history, _ = labelled_history(NOW, rng_seed=11)
    before = DEFAULT_RULES["brushing"]
    after = apply_change(before, RuleChange(params={"min_orders": 30}))
    report = compare(history, before, after, since=NOW - timedelta(days=60), until=NOW, days=60)
    assert report.signals_before > 0 and report.signals_after < report.signals_before
    assert report.dropped == report.signals_before - report.signals_after and report.dropped_examples
    assert report.major  # min_orders moved by far more than a quarter
    looser = compare(history, before, apply_change(before, RuleChange(params={"min_orders": 9})), since=NOW - timedelta(days=60), until=NOW, days=60)
    assert looser.major == [] and looser.examples and looser.examples[0].explanation


def test_an_empty_platform_raises_nothing():
    assert scan(History(), DEFAULT_RULES.values()) == []
    lone = _orders("B1", "M1", [NOW])
    assert scan(History(orders=lone), DEFAULT_RULES.values()) == []
