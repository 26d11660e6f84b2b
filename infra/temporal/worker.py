"""The worker: every workflow in REGISTRY and every activity, on one task queue."""

from __future__ import annotations

import asyncio
import logging

from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.audit import AuditActivities
from activities.grants import GrantActivities
from activities.inbox import InboxActivities
from infra.settings import Settings, get_settings
from workflows.registry import REGISTRY

log = logging.getLogger("kameng.worker")

PASSTHROUGH = ("msgspec", "workflows.domain")


def activity_functions() -> list:
    audit, inbox, grants = AuditActivities(), InboxActivities(), GrantActivities()
    return [
        audit.write_audit,
        inbox.record_task,
        inbox.change_task,
        inbox.close_task,
        grants.activate_grant,
        grants.revoke_grant,
        grants.extend_grant,
    ]


def build_worker(client: Client, settings: Settings | None = None, *, task_queue: str | None = None) -> Worker:
    settings = settings or get_settings()
    return Worker(
        client,
        task_queue=task_queue or settings.task_queue,
        workflows=[spec.workflow for spec in REGISTRY],
        activities=activity_functions(),
        workflow_runner=SandboxedWorkflowRunner(
            restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH)
        ),
    )


async def run_worker(settings: Settings | None = None) -> None:
    from infra.db.engine import bind_tables, close_pool, start_pool
    from infra.temporal.client import connect

    settings = settings or get_settings()
    bind_tables()
    await start_pool()
    client = await connect(settings)
    worker = build_worker(client, settings)
    log.info(
        "worker polling task queue %r on %s (%d workflows)",
        settings.task_queue, settings.temporal_address, len(REGISTRY),
    )
    try:
        await worker.run()
    finally:
        await close_pool()
        await asyncio.sleep(0.2)
