"""The worker's workflow runner: Temporal's sandbox, its snippets compiled once."""

from __future__ import annotations

import json
from pathlib import Path

from temporalio.client import WorkflowHistory
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from infra.temporal.worker import PASSTHROUGH, replayer, sandbox_code, workflow_runner

HISTORY = Path(__file__).parent / "histories" / "permission-grant--test_non_fund_grant_is_approved_by_the_regional_of_the_region.json"


def test_the_runner_keeps_the_sdks_restrictions():
    runner = workflow_runner()
    assert isinstance(runner, SandboxedWorkflowRunner)
    assert runner.restrictions == SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH)


async def test_replays_compile_the_sandboxs_snippets_once():
    recorded = json.loads(HISTORY.read_text())
    history = WorkflowHistory.from_json(recorded["workflow_id"], recorded["history"])
    assert (await replayer().replay_workflow(history, raise_on_replay_failure=True)).replay_failure is None
    compiled = sandbox_code.cache_info()
    for _ in range(3):  # each replay is a new run: its own sandbox, its activations, its payloads
        assert (await replayer().replay_workflow(history, raise_on_replay_failure=True)).replay_failure is None
    again = sandbox_code.cache_info()
    assert again.misses == compiled.misses, "every snippet a replay of the same workflow runs was compiled already"
    assert again.hits >= compiled.hits + 3 * 4  # per run: import, create, at least one activation, a payload context
