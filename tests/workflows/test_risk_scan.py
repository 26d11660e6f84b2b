"""The standing risk scan on the time-skipping server, over the demo platform: the planted
anomalies open risk reviews at the right tier and region, once."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from collections import defaultdict

import pytest
from temporalio.service import RPCError

from infra.db.tables import Order, ProductPriceChange, RiskSignal, Task
from infra.seed import BURST_ADMIN
from infra.settings import get_settings
from infra.temporal.schedules import STANDING, ensure_standing
from tests.conftest import settle_activities
from workflows.risk_scan import WORKFLOW_ID, RiskScanInput

pytestmark = [pytest.mark.db, pytest.mark.timeout(240)]


async def scans_done(handle, at_least: int, timeout: float = 90) -> RiskScanInput:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            state = await handle.query("last_scan", result_type=RiskScanInput)
        except RPCError:  # the worker is busy with the scan itself: ask again
            state = None
        if state is not None and state.scans >= at_least:
            return state
        assert asyncio.get_running_loop().time() < deadline, f"only {state.scans if state else '?'} scans"
        await asyncio.sleep(0.1)


async def planted(table, kind: str) -> set[str]:
    if table is Order:
        return {f"order:{r['code']}" for r in await Order.select(Order.code).where(Order.anomaly == kind)}
    return {f"price_change:{r['id']}" for r in await ProductPriceChange.select(ProductPriceChange.id).where(ProductPriceChange.anomaly == kind)}


async def test_the_standing_scan_opens_one_review_per_subject_and_signal_for_the_planted_anomalies(harness, demo):
    settings = get_settings()
    assert WORKFLOW_ID in [s.workflow_id for s in STANDING]
    import msgspec

    on = msgspec.structs.replace(settings, risk_scan_seconds=60, audit_seal_minutes=0)  # the scan alone
    assert await ensure_standing(harness.client, on, task_queue=harness.task_queue) == [WORKFLOW_ID]
    assert await ensure_standing(harness.client, on, task_queue=harness.task_queue) == []  # idempotent
    assert await ensure_standing(harness.client, msgspec.structs.replace(settings, audit_seal_minutes=0), task_queue=harness.task_queue) == []  # 0 s: not wanted
    handle = harness.client.get_workflow_handle(WORKFLOW_ID)
    try:
        first = await scans_done(handle, 1)
        assert first.last.findings >= 3 + 1 + 15 and first.last.reviews

        # The signals this scan stored (other tests may report signals of their own).
        opened = set(first.last.reviews)
        signals = [s for s in await RiskSignal.select().output(load_json=True) if s["process_id"] in opened]
        by_rule = defaultdict(set)
        for s in signals:
            by_rule[s["rule"]] |= set(s["rows"])
        # Every planted row is in some signal's evidence.
        assert await planted(Order, "brushing") <= by_rule["brushing"]
        assert await planted(Order, "duplicate") <= by_rule["duplicate_orders"]
        assert await planted(ProductPriceChange, "night_burst") <= by_rule["admin_off_hours_edits"]

        # One review per subject and signal type, at the rule's tier and the subject's region.
        reviews = defaultdict(set)
        for s in signals:
            reviews[(s["signal"], s["subject_kind"], s["subject"])].add(s["process_id"])
        assert all(len(pids) == 1 for pids in reviews.values()), reviews
        (admin_review,) = reviews[("admin_misuse", "admin", BURST_ADMIN)]
        tasks = {}
        for (signal, kind, subject), pids in reviews.items():
            (pid,) = pids
            await harness.task_row(pid)
            tasks[pid] = await Task.select().where(Task.process_id == pid).output(load_json=True).first()
        admin_task = tasks[admin_review]
        assert (admin_task["tier"], admin_task["region"]) == ("super", None)
        assert BURST_ADMIN in admin_task["excluded"]
        assert "改价" in admin_task["evidence"]["explanation"] and admin_task["evidence"]["baseline"]["statistic"] == "median/MAD"
        brushing = [s for s in signals if s["rule"] == "brushing"]
        for s in brushing:
            task = tasks[s["process_id"]]
            assert (task["tier"], task["region"]) == ("regional", s["region"])
        duplicate = [s for s in signals if s["rule"] == "duplicate_orders"]
        assert {tasks[s["process_id"]]["tier"] for s in duplicate} == {"normal"}
        assert all("hint_zh" in tasks[s["process_id"]]["evidence"] for s in duplicate)

        # The next scan finds the same episodes and opens nothing new.
        await harness.skip(timedelta(seconds=61))  # the scan's sleep
        second = await scans_done(handle, 2)
        assert second.last.new == 0 and second.last.reviews == []
        assert await RiskSignal.count().where(RiskSignal.process_id.is_in(list(opened))) == len(signals)
        assert await Task.count().where(Task.process_id.is_in(list(tasks))) == len(tasks)
    finally:
        await settle_activities(handle)
        await handle.terminate("test finished")
