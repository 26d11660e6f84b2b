"""The standing ``audit-seal`` workflow seals at once, then after each interval, continuing as
new every time; starting it again while it runs changes nothing."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest

from infra.db.audit import verify
from infra.db.tables import AuditSeal
from infra.temporal.schedules import ensure_standing
from infra.temporal.worker import build_worker
from tests.conftest import terminate_quietly

pytestmark = pytest.mark.db


async def seals_reach(count: int, timeout: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while await AuditSeal.count() < count:
        assert asyncio.get_running_loop().time() < deadline, f"fewer than {count} seals"
        await asyncio.sleep(0.1)


async def test_the_standing_seal_workflow_seals_sleeps_and_continues_as_new(database, temporal_env):
    client = temporal_env.client
    queue = f"standing-{uuid.uuid4().hex[:8]}"
    before = await AuditSeal.count()
    handle = client.get_workflow_handle("audit-seal")
    async with build_worker(client, task_queue=queue):
        try:
            assert await ensure_standing(client, task_queue=queue) == ["audit-seal"]
            assert await ensure_standing(client, task_queue=queue) == []
            await seals_reach(before + 1)
            first_run = (await handle.describe()).run_id
            await temporal_env.sleep(timedelta(minutes=61))  # KAMENG_AUDIT_SEAL_MINUTES defaults to 60
            await seals_reach(before + 2)
            assert (await handle.describe()).run_id != first_run
        finally:
            await terminate_quietly(handle)
    assert (await verify()).ok
