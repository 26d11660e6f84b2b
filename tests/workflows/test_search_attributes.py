"""Operators find processes with Temporal's own CLI: readable ids, filters by kind, region,
tier and status (the real dev server, as `make dev` runs it)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from infra.accounts import load_actor
from infra.temporal.binaries import temporal_cli
from infra.temporal.processes import start_process
from infra.temporal.worker import build_worker
from workflows.permission_grant import RequestGrantInput
from workflows.process import ProcessConfig
from workflows.registry import BY_KIND

pytestmark = [pytest.mark.db, pytest.mark.slow, pytest.mark.timeout(90)]


def workflow_list(address: str, query: str) -> list[str]:
    out = subprocess.run(
        [str(temporal_cli()), "workflow", "list", "--address", address, "--query", query, "-o", "json"],
        capture_output=True, text=True, timeout=30, check=True,
    ).stdout
    rows = json.loads(out) if out.strip().startswith("[") else [json.loads(line) for line in out.splitlines() if line.strip()]
    return [row["execution"]["workflowId"] for row in rows]


async def test_temporal_cli_filters_processes_by_kind_region_tier_status(dev_server, demo):
    client = dev_server.client
    address = client.service_client.config.target_host
    queue = f"kameng-sa-{uuid.uuid4().hex[:6]}"
    async with build_worker(client, task_queue=queue):
        regional = await load_actor("regional-east-china", datetime.now(UTC))
        body = RequestGrantInput(permission="funds.approve", scope="region", duration=timedelta(days=1), justification="运营人员检索演示")
        pid = await start_process(client, BY_KIND["permission-grant"], by=regional, body=body, key=uuid.uuid4().hex[:6], task_queue=queue, config=ProcessConfig())
        assert pid.startswith("permission-grant-regional-east-china-funds.approve-")

        query = "KamengKind='permission-grant' AND KamengRegion='east-china' AND KamengTier='super' AND KamengStatus='running'"
        for _ in range(60):  # visibility is eventually consistent
            if pid in workflow_list(address, query):
                break
            await asyncio.sleep(0.25)
        else:
            raise AssertionError(f"{pid} not found by {query}")
        assert pid not in workflow_list(address, "KamengRegion='game-cards'")
        await client.get_workflow_handle(pid).terminate("test finished")
