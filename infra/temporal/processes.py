"""Starting processes and acting on them: what the API and the tests call."""

from __future__ import annotations

from typing import Any

import msgspec
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle, WorkflowQueryFailedError, WorkflowUpdateFailedError
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from workflows.domain.policy import Actor
from workflows.process import (
    KIND,
    REGION,
    STATUS,
    ActInput,
    ActionResult,
    ClaimInput,
    PlatformEventInput,
    ProcessConfig,
    ProcessView,
    Start,
    TaskView,
)
from workflows.spec import WorkflowSpec


class ProcessError(Exception):
    """A refusal with a stable code; ``status`` is the HTTP status it maps to."""

    def __init__(self, code: str, reason: str, status: int = 409) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.status = status


_NOT_FOUND = {"no_such_task"}
_FORBIDDEN = {
    "no_permission", "out_of_region", "not_own", "self_approval", "conflict_of_interest", "not_independent",
    "exceeds_approver", "not_delegable",
    "tier_too_low", "not_outranking", "funds_need_super", "outside_band", "high_value",
    "grant_expired", "grant_not_started", "grant_revoked", "inactive", "not_assignee",
    "not_grantee", "band_unknown", "tier_unknown", "not_station_master",
}
_INVALID = {
    "invalid_body", "too_long", "request_id_required", "task_required", "bad_duration",
    "unknown_permission", "region_required", "scope_too_wide", "unknown_event",
}


SCOPE_CODES = {"out_of_region", "not_own"}
"""Refusals that would reveal a subject outside the caller's scope: the API answers 404."""


def status_for(code: str) -> int:
    if code in _NOT_FOUND or code in SCOPE_CODES:
        return 404
    if code in _FORBIDDEN:
        return 403
    if code in _INVALID:
        return 422
    return 409


def _from_update_error(exc: WorkflowUpdateFailedError) -> ProcessError:
    cause = exc.cause
    if isinstance(cause, ApplicationError) and cause.type:
        return ProcessError(cause.type, cause.message, status_for(cause.type))
    return ProcessError("action_failed", str(cause or exc), 409)


_TRY_AGAIN = {RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.UNAVAILABLE, RPCStatusCode.RESOURCE_EXHAUSTED, RPCStatusCode.CANCELLED}


def _from_rpc(exc: RPCError) -> ProcessError:
    if exc.status == RPCStatusCode.NOT_FOUND:
        return ProcessError("not_found", "no such process", 404)
    if exc.status in _TRY_AGAIN:
        # No worker answered in time (one restarting, all busy): nothing is lost, and the
        # same request again (an action by its request id) is answered once a worker is back.
        return ProcessError("process_unavailable", "the process did not answer in time (its worker may be restarting); try again shortly", 503)
    raise exc


async def start_process(
    client: Client,
    spec: WorkflowSpec,
    *,
    by: Actor | None,
    body: Any,
    key: str,
    task_queue: str,
    config: ProcessConfig = ProcessConfig(),
    case: dict[str, tuple[str, ...]] | None = None,
) -> str:
    """``case``: the roles of the case the process is opened in, from the process opening it."""
    # Every process started from here on batches its writes (runs started before replay as recorded).
    config = msgspec.structs.replace(config, batch_writes=True)
    start = Start(by=by.bearing(spec.permissions) if by is not None else None, body=body, key=key, config=config, case=case or {})
    workflow_id = spec.workflow_id(start)
    attributes = TypedSearchAttributes([SearchAttributePair(KIND, spec.kind), SearchAttributePair(STATUS, "running")])
    region = getattr(body, "region", None)
    if isinstance(region, str):
        attributes = TypedSearchAttributes([*attributes.search_attributes, SearchAttributePair(REGION, region)])
    try:
        await client.start_workflow(
            spec.workflow.run,  # type: ignore[attr-defined]
            start,
            id=workflow_id,
            task_queue=task_queue,
            search_attributes=attributes if config.search_attributes else None,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        )
    except WorkflowAlreadyStartedError:
        raise ProcessError("already_started", f"process {workflow_id} already exists", 409) from None
    return workflow_id


def spec_of(process_id: str) -> WorkflowSpec | None:
    """The registered kind a process id belongs to (ids start with ``<kind>-``)."""
    from workflows.registry import REGISTRY

    found = [spec for spec in REGISTRY if process_id.startswith(f"{spec.kind}-")]
    return max(found, key=lambda spec: len(spec.kind)) if found else None


def _bearing(actor: Actor, process_id: str) -> Actor:
    """The actor as a process's input carries it: with the grants of the permissions the
    process checks (its history keeps every input; an admin may hold many other grants)."""
    spec = spec_of(process_id)
    return actor.bearing(spec.permissions) if spec is not None else actor


async def _ended(handle: WorkflowHandle, exc: RPCError) -> ProcessError:
    """An update refused as NOT_FOUND: a process that has ended (409 ``process_ended``,
    with its final status) or one that never existed (404)."""
    if exc.status == RPCStatusCode.NOT_FOUND:
        try:
            described = await handle.describe()
        except RPCError:
            described = None
        if described is not None and described.status not in (None, WorkflowExecutionStatus.RUNNING):
            state = described.status.name.lower()
            return ProcessError("process_ended", f"process {handle.id} has ended ({state}); nothing in it can be decided any more", 409)
    return _from_rpc(exc)


async def act(client: Client, process_id: str, request: ActInput) -> ActionResult:
    handle = client.get_workflow_handle(process_id)
    request = msgspec.structs.replace(request, actor=_bearing(request.actor, process_id))
    try:
        return await handle.execute_update("act", request, id=f"act-{request.request_id}", result_type=ActionResult)
    except WorkflowUpdateFailedError as exc:
        raise _from_update_error(exc) from None
    except RPCError as exc:
        raise await _ended(handle, exc) from None


async def deliver_event(client: Client, process_id: str, request: PlatformEventInput) -> ActionResult:
    """Hand a platform event (a merchant's documents, a buyer's appeal) to a running process."""
    handle = client.get_workflow_handle(process_id)
    try:
        return await handle.execute_update(
            "platform_event", request, id=f"event-{request.request_id}", result_type=ActionResult
        )
    except WorkflowUpdateFailedError as exc:
        raise _from_update_error(exc) from None
    except RPCError as exc:
        raise await _ended(handle, exc) from None


async def claim(client: Client, process_id: str, request: ClaimInput, *, release: bool = False) -> TaskView:
    handle = client.get_workflow_handle(process_id)
    name = "release" if release else "claim"
    request = msgspec.structs.replace(request, actor=_bearing(request.actor, process_id))
    try:
        return await handle.execute_update(name, request, result_type=TaskView)
    except WorkflowUpdateFailedError as exc:
        raise _from_update_error(exc) from None
    except RPCError as exc:
        raise await _ended(handle, exc) from None


async def view(client: Client, process_id: str) -> ProcessView:
    handle = client.get_workflow_handle(process_id)
    try:
        return await handle.query("view", result_type=ProcessView)
    except WorkflowQueryFailedError as exc:
        # The worker could not run the query (the workflow's task is failing or being
        # recovered); the process itself is intact.
        raise ProcessError("process_unavailable", f"the process cannot be read right now ({exc}); try again shortly", 503) from None
    except RPCError as exc:
        raise _from_rpc(exc) from None
