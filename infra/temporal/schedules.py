"""Standing workflows: one fixed id each, started idempotently whenever a worker starts (and
so by ``kameng dev``); each runs for the life of the deployment.

Adding one: a workflow whose run loops (work, ``workflow.sleep``, ``continue_as_new``), and an
entry in ``STANDING``. ``ensure_standing`` starts whichever is wanted and not running; one
already running is left as it is, so every worker and every restart may call it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from temporalio.client import Client
from temporalio.exceptions import WorkflowAlreadyStartedError

from infra.settings import Settings, get_settings
from workflows.audit_seal import WORKFLOW_ID as AUDIT_SEAL_ID
from workflows.audit_seal import AuditSealWorkflow, SealAuditInput
from workflows.risk_scan import WORKFLOW_ID as RISK_SCAN_ID
from workflows.risk_scan import RiskScanInput, RiskScanWorkflow

log = logging.getLogger("kameng.standing")


@dataclass(frozen=True)
class Standing:
    workflow: type
    workflow_id: str
    argument: Callable[[Settings], Any]
    wanted: Callable[[Settings], bool] = lambda settings: True


STANDING: tuple[Standing, ...] = (
    Standing(AuditSealWorkflow, AUDIT_SEAL_ID, lambda settings: SealAuditInput(), lambda settings: settings.audit_seal_minutes > 0),
    Standing(RiskScanWorkflow, RISK_SCAN_ID, lambda settings: RiskScanInput(), lambda settings: settings.risk_scan_seconds > 0),
)


async def ensure_standing(client: Client, settings: Settings | None = None, *, task_queue: str | None = None) -> list[str]:
    """Start every standing workflow not already running; returns the ids started now."""
    settings = settings or get_settings()
    started = []
    for standing in STANDING:
        if not standing.wanted(settings):
            continue
        try:
            await client.start_workflow(
                standing.workflow.run,  # type: ignore[attr-defined]
                standing.argument(settings),
                id=standing.workflow_id,
                task_queue=task_queue or settings.task_queue,
            )
        except WorkflowAlreadyStartedError:
            continue
        log.info("started standing workflow %s", standing.workflow_id)
        started.append(standing.workflow_id)
    return started
