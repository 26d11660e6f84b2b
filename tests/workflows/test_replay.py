"""Every recorded history replays on today's workflow code: a change that would break running
processes fails here, not in production.

Histories live in tests/workflows/histories/ and are recorded by running the process tests
with ``KAMENG_RECORD_HISTORIES=1`` (``make record-histories``); commit new ones when a process
is added, keep old ones as long as such processes may still be running. Those in
``histories/activities/`` were recorded before the ``local-writes`` patch, when each step's
writes were activity tasks: they replay on the patched code's old branch. Those in
``histories/local-writes/`` were recorded before ``ProcessConfig.batch_writes``, when each
write was a local activity of its own: their inputs lack the flag, and they replay so. Those in
``histories/before-release-claims/`` are appointments approved before the ``release-claims``
patch, which did not release the changed admin's claimed tasks: they replay on its old branch.
Those in ``histories/before-trust-core/`` were recorded before the trust core's one patch
(``workflows.process.TRUST_CORE``: a process checking its own start, grants routed by what
their approver may delegate, a refused refund coming back to its tier, a nomination refused
into a full tier and withdrawable): they replay on its old branches.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from infra.temporal.worker import replayer
from workflows.registry import REGISTRY

HISTORIES = sorted((Path(__file__).parent / "histories").rglob("*.json"))


def test_every_process_kind_has_recorded_histories():
    kinds = {path.name.split("--", 1)[0] for path in HISTORIES if path.parent.name == "histories"}
    missing = {spec.kind for spec in REGISTRY} - kinds
    assert not missing, f"record histories for {sorted(missing)}: make record-histories"


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem if p.parent.name == "histories" else f"{p.parent.name}/{p.stem}" for p in HISTORIES])
async def test_history_replays(path: Path):
    recorded = json.loads(path.read_text())
    history = WorkflowHistory.from_json(recorded["workflow_id"], recorded["history"])
    result = await replayer().replay_workflow(history, raise_on_replay_failure=True)
    assert result.replay_failure is None
