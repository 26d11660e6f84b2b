"""Standing workflows: one fixed id each, always running, started wherever a worker starts.

Adding one: a workflow whose run loops (work, ``workflow.sleep``, ``continue_as_new``), and an
entry in ``STANDING``. ``ensure_standing`` starts whichever is not running; one already
running is left as it is, so every worker and every restart may call it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from temporalio.client import Client
from temporalio.exceptions import WorkflowAlreadyStartedError

from infra.settings import get_settings
from workflows.audit_seal import WORKFLOW_ID as AUDIT_SEAL_ID, AuditSealWorkflow, SealAuditInput

log = logging.getLogger("kameng.standing")


@dataclass(frozen=True)
class Standing:
    workflow_id: str
    workflow: type
    first_input: Callable[[], Any]


STANDING: tuple[Standing, ...] = (
    Standing(AUDIT_SEAL_ID, AuditSealWorkflow, SealAuditInput),
)


async def ensure_standing(client: Client, *, task_queue: str | None = None) -> list[str]:
    """Start every standing workflow not running now; returns the ids it started."""
    task_queue = task_queue or get_settings().task_queue
    started = []
    for standing in STANDING:
        name = standing.workflow.__temporal_workflow_definition.name  # type: ignore[attr-defined]
        try:
            await client.start_workflow(name, standing.first_input(), id=standing.workflow_id, task_queue=task_queue)
        except WorkflowAlreadyStartedError:
            continue
        log.info("started standing workflow %s", standing.workflow_id)
        started.append(standing.workflow_id)
    return started
