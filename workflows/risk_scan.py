"""The standing risk scan (SPEC §6): scan the event history, open reviews for what is new,
sleep for the interval the settings name (``KAMENG_RISK_SCAN_SECONDS``), continue as new.

A loop rather than a Temporal Schedule, so it runs the same on the time-skipping test server.
It is not a process with human steps: ``infra/temporal/schedules.py`` starts it (once) when
a worker starts, and the worker runs it beside the registered processes.
"""

from __future__ import annotations

from datetime import timedelta

import msgspec
from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.risk import ScanRequest, ScanSummary

SCAN_TIMEOUT = timedelta(minutes=10)
WORKFLOW_ID = "risk-scan"


class RiskScanInput(msgspec.Struct, frozen=True, kw_only=True):
    scans: int = 0
    """Scans done by earlier runs (carried across continue-as-new)."""
    last: ScanSummary | None = None


@workflow.defn(name="RiskScan")
class RiskScanWorkflow:
    def __init__(self) -> None:
        self._last: ScanSummary | None = None
        self._scans = 0

    @workflow.query(name="last_scan")
    def last_scan(self) -> RiskScanInput:
        return RiskScanInput(scans=self._scans, last=self._last)

    @workflow.run
    async def run(self, params: RiskScanInput) -> None:
        self._scans, self._last = params.scans, params.last
        self._last = await workflow.execute_activity(
            "run_risk_scan", ScanRequest(at=workflow.now()), result_type=ScanSummary,
            start_to_close_timeout=SCAN_TIMEOUT,
            retry_policy=RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1)),
        )
        self._scans += 1
        await workflow.sleep(timedelta(seconds=self._last.next_scan_seconds))
        workflow.continue_as_new(RiskScanInput(scans=self._scans, last=self._last))
