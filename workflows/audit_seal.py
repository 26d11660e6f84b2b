"""The standing workflow that seals the audit trail's head: seal, sleep, continue as new.

One seal per run keeps each history a few events long; the interval comes back from the
activity (``KAMENG_AUDIT_SEAL_MINUTES``), so a changed setting applies from the next seal.
A loop rather than a Temporal Schedule: it runs the same on the time-skipping test server.
"""

from __future__ import annotations

from datetime import timedelta

import msgspec
from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.audit import SealAuditResult

WORKFLOW_ID = "audit-seal"


class SealAuditInput(msgspec.Struct, frozen=True, kw_only=True):
    seals: int = 0
    """Seals made by earlier runs of this workflow id."""


@workflow.defn(name="AuditSeal")
class AuditSealWorkflow:
    @workflow.run
    async def run(self, loop: SealAuditInput) -> None:
        sealed: SealAuditResult = await workflow.execute_activity(
            "seal_audit",
            start_to_close_timeout=timedelta(minutes=1),
            retry_policy=RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1)),
            result_type=SealAuditResult,
        )
        await workflow.sleep(timedelta(seconds=sealed.next_in_seconds))
        workflow.continue_as_new(SealAuditInput(seals=loop.seals + 1))
