"""`kameng risk ...` as an operator runs it, against the demo platform."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from infra.seed import BURST_ADMIN

pytestmark = [pytest.mark.db, pytest.mark.timeout(120)]


def kameng(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "infra.cli", *args], capture_output=True, text=True, timeout=100, env=dict(os.environ))


def test_risk_scan_lists_the_planted_anomalies_with_their_explanations(demo):
    result = kameng("risk", "scan", "--no-open")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "brushing  merchant M" in out and "反复下单的买家" in out
    assert "duplicate_orders  buyer B" in out and "两次下单同一商品" in out
    assert f"admin_off_hours_edits  admin {BURST_ADMIN}" in out and "连续改价" in out
    english = kameng("risk", "scan", "--no-open", "--lang", "en")
    assert "small orders" in english.stdout


def test_risk_backtest_reports_both_versions_and_refuses_a_bad_parameter(demo):
    result = kameng("risk", "backtest", "brushing", "--set", "min_orders=30", "--days", "90")
    assert result.returncode == 0, result.stderr
    assert "as it is:" in result.stdout and "as proposed: 0 signals" in result.stdout
    assert "major change, needs a second super" in result.stdout
    bad = kameng("risk", "backtest", "brushing", "--set", "min_orders=zero")
    assert bad.returncode != 0 and "NAME=NUMBER" in bad.stderr
    unknown = kameng("risk", "backtest", "brushing", "--set", "min=3")
    assert unknown.returncode != 0 and "unknown_param" in unknown.stderr
    rules = kameng("risk", "rules")
    assert rules.returncode == 0 and "brushing" in rules.stdout and "tier=regional" in rules.stdout


async def test_the_demo_platform_s_planted_anomalies_are_measured_in_the_database(demo):
    from datetime import datetime

    from activities.risk.quality import measure_database
    from infra.db.tables import PlatformMeta

    # the platform as seeded: orders other tests report later are not the demo's history
    seeded = await PlatformMeta.select(PlatformMeta.value).where(PlatformMeta.key == "seeded").first()
    report = await measure_database(datetime.fromisoformat(seeded["value"]))
    assert report.orders >= 20_000
    for kind in ("brushing", "duplicate", "night_burst"):
        assert report.kinds[kind].planted > 0 and report.kinds[kind].recall >= 0.9, report.kinds[kind]
        assert report.kinds[kind].precision >= 0.9, report.kinds[kind]
