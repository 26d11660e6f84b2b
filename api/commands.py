"""The use cases every entry point calls: start a process, act on it, claim or release a task.

Each does, once and in one order, what a governance rule needs: the subject looked up in the
platform's data (not taken from the request), the pure policy asked, the process kind's own
start check, the refusal audited with its code, and the Temporal call. The API routes, the
console's pages and platform intake are thin callers: they translate a ``Requester`` in and
an answer, or an ``ApiError`` (status, stable code, reason), out. The process checks the same
rules again inside the workflow (``workflows/process.py``), trusting no input it did not verify.
"""

from __future__ import annotations

import hashlib
import importlib
import uuid
from datetime import UTC, datetime
from typing import Any

import msgspec
from temporalio.client import Client

from api.audit import audit_denied
from api.errors import ApiError
from api.subjects import start_subject
from infra.db.audit import append
from infra.db.inbox import get_task, visible
from infra.db.processes import process_status
from infra.temporal import processes as temporal
from infra.temporal.processes import ProcessError, status_for
from workflows.domain.messages import AuditRecord
from workflows.domain.policy import DEFAULT_POLICY, Actor
from workflows.process import ActInput, ActionResult, ClaimInput, ProcessConfig, Start, TaskView
from workflows.spec import WorkflowSpec

SCOPE_CODES = temporal.SCOPE_CODES


class Requester(msgspec.Struct, frozen=True):
    """Who asks, from where: what every command audits a refusal with."""

    actor: Actor
    source: str = ""


class Target(msgspec.Struct, frozen=True):
    """Where a process is started: the Temporal client, its task queue, its configuration."""

    client: Client
    task_queue: str
    config: ProcessConfig = ProcessConfig()


def _refused(code: str, reason: str, status: int | None = None) -> ApiError:
    status = status or status_for(code)
    if status == 404:
        return ApiError(404, "not_found", "no such process or subject, or it is outside your scope")
    return ApiError(status, code, reason)


def business_key(owner: str, idempotency_key: str | None) -> str:
    """The start's business key: from the owner's idempotency key (the same key starts the
    same process) or fresh. ``owner``: the admin's id, or ``platform`` for intake."""
    if idempotency_key is None:
        return uuid.uuid4().hex[:12]
    return hashlib.sha256(f"{owner}\n{idempotency_key}".encode()).hexdigest()[:12]


def _start_refusal(code: str, reason: str) -> int:
    """A kind's own start check refusing: a body that cannot be filed is 422, not 409."""
    status = status_for(code)
    return 422 if status == 409 else status


async def _start(target: Target, spec: WorkflowSpec, by: Actor | None, body: Any, key: str, idempotent: bool) -> str:
    """The Temporal start; the same idempotent start again answers the process it started."""
    try:
        return await temporal.start_process(
            target.client, spec, by=by, body=body, key=key, task_queue=target.task_queue, config=target.config,
        )
    except ProcessError as exc:
        if exc.code != "already_started" or not idempotent:
            raise ApiError(409, exc.code, exc.reason) from None
        return spec.workflow_id(Start(by=by, body=body, key=key))


class Started(msgspec.Struct, frozen=True):
    process_id: str
    joined: bool = False
    """The start joined the process already open for its subject (``WorkflowSpec.opener``)."""


async def start(
    target: Target, requester: Requester, spec: WorkflowSpec, body: Any, *, idempotency_key: str | None = None,
) -> Started:
    """Start a process of ``spec`` for ``requester`` (or join the one open for the same
    subject, where the kind says so). With an idempotency key, the same request again
    answers the process the first one started."""
    actor = requester.actor
    action = f"{spec.kind}.start"
    try:
        subject = await start_subject(spec.kind, body, actor)
    except ApiError as exc:
        await audit_denied(requester, action, f"process:{spec.kind}", exc.code, exc.reason)
        raise
    decision = DEFAULT_POLICY.can(actor, spec.start_permission, subject, now=datetime.now(UTC))
    if not decision.allowed:
        await audit_denied(requester, action, f"process:{spec.kind}", decision.code, decision.reason, subject.region)
        raise _refused(decision.code, decision.reason, 404 if decision.code in SCOPE_CODES else 403)
    if spec.validate_start is not None:
        problem = spec.validate_start(body, actor)
        if problem is not None:
            code, reason = problem
            await audit_denied(requester, action, f"process:{spec.kind}", code, reason, subject.region)
            raise _refused(code, reason, _start_refusal(code, reason))
    key = business_key(actor.id, idempotency_key)
    if spec.opener:
        module, _, name = spec.opener.partition(":")
        opener = getattr(importlib.import_module(module), name)
        process_id, joined = await opener(
            body, f"{spec.kind}:{actor.id}:{key}", by=actor.bearing(spec.permissions), client=target.client,
            task_queue=target.task_queue, config=target.config,
        )
        return Started(process_id=process_id, joined=joined)
    return Started(process_id=await _start(target, spec, actor, body, key, idempotency_key is not None))


async def start_for_platform(
    target: Target, source: str, spec: WorkflowSpec, body: Any, *, idempotency_key: str | None = None, path: str = "",
) -> str:
    """Start a process the platform reports in (intake: a merchant's application, a buyer's
    dispute), with no admin behind it; the kind must say the platform starts it. Accepted
    and refused starts are audited as ``intake.<path>``."""
    action = f"intake.{path or spec.kind}"
    problem = None if spec.platform_start else ("starter_required", f"a {spec.kind} process is started by an admin")
    if problem is None and spec.validate_start is not None:
        problem = spec.validate_start(body, None)
    if problem is not None:
        code, reason = problem
        await append(AuditRecord(actor="platform", actor_tier="service", action=action, target=f"process:{spec.kind}",
                                 outcome="denied", reason=f"{code}: {reason}", source=source))
        raise ApiError(_start_refusal(code, reason), code, reason)
    key = business_key("platform", idempotency_key)
    process_id = await _start(target, spec, None, body, key, idempotency_key is not None)
    await append(AuditRecord(actor="platform", actor_tier="service", action=action, target=f"process:{process_id}",
                             outcome="accepted", source=source, process_id=process_id))
    return process_id


async def _readable(actor: Actor, process_id: str) -> bool:
    """Whether the actor may know the process exists (``may_read`` on its status row)."""
    found = await process_status(process_id)
    if found is None:
        return False
    row = found[0]
    return await may_read(actor, process_id, started_by=row["started_by"], parties=row["parties"] or (), region=row["region"])


def _reads_by_role(actor: Actor, *, started_by: str | None, parties: list[str] | tuple[str, ...], region: str | None) -> bool:
    """The cheap part of who may read a process: the top tier, whoever started it or took part
    in it, and the regional admins of its region (``may_read`` adds the rest)."""
    if actor.tier == DEFAULT_POLICY.ladder.top.key:
        return True
    if actor.id == started_by or actor.id in parties:
        return True
    return actor.tier in ("regional",) and region is not None and region in actor.regions


async def may_read(
    actor: Actor, process_id: str, *, started_by: str | None, parties: list[str] | tuple[str, ...], region: str | None,
) -> bool:
    """Who may read a process (its full view, its status, its case page), the one rule every
    entry point applies: ``_reads_by_role``, and whoever one of its tasks is (or was) for (in
    their inbox now, claimed or decided by them)."""
    if _reads_by_role(actor, started_by=started_by, parties=parties, region=region):
        return True
    from infra.db.directory import process_tasks

    now = datetime.now(UTC)
    return any(
        visible(actor, t, now) or actor.id in (t.get("decided_by"), t.get("assignee")) for t in await process_tasks(process_id)
    )


async def _refusal(requester: Requester, action: str, target: str, exc: ProcessError, process_id: str, region: str | None = None) -> ApiError:
    """A process's refusal as the caller may see it, audited when it denies the actor."""
    if exc.status == 503:
        return ApiError(503, exc.code, exc.reason, headers={"Retry-After": "2"})
    if exc.code == "process_ended" and not await _readable(requester.actor, process_id):
        exc = ProcessError("not_found", "no such process", 404)
    status = 404 if exc.status == 404 else status_for(exc.code)
    if status in (403, 404) or exc.code in SCOPE_CODES:
        await audit_denied(requester, action, target, exc.code, exc.reason, region)
    return _refused(exc.code, exc.reason, status)


async def act(
    client: Client, requester: Requester, spec: WorkflowSpec, process_id: str, action: str, body: dict[str, Any], *,
    task_id: str | None = None, request_id: str | None = None,
) -> ActionResult:
    """Take ``action`` on a process (on ``task_id`` when it has several open); the workflow's
    validator decides. ``request_id`` makes a retry answer what the first call did."""
    if not process_id.startswith(f"{spec.kind}-"):
        raise ApiError(404, "not_found", f"{process_id} is not a {spec.kind} process")
    actor = requester.actor
    payload = ActInput(
        actor=actor, action=action, request_id=f"{actor.id}:{request_id or uuid.uuid4().hex}",
        task_id=task_id, body=body, source=requester.source,
    )
    try:
        return await temporal.act(client, process_id, payload)
    except ProcessError as exc:
        raise await _refusal(requester, f"{spec.kind}.{action}", f"process:{process_id}", exc, process_id) from None


async def claim(client: Client, requester: Requester, task_id: str, *, release: bool = False) -> TaskView:
    """Claim a task of the requester's inbox (or release it)."""
    action = "task.release" if release else "task.claim"
    row = await get_task(task_id)
    if row is None or not visible(requester.actor, row, datetime.now(UTC)):
        reason = "no such task" if row is None else "the task is not in this admin's inbox"
        await audit_denied(requester, action, f"task:{task_id[:300]}", "not_found", reason, row["region"] if row else None)
        raise ApiError(404, "not_found", "no such task in your inbox")
    payload = ClaimInput(actor=requester.actor, task_id=task_id, request_id=uuid.uuid4().hex, source=requester.source)
    try:
        return await temporal.claim(client, row["process_id"], payload, release=release)
    except ProcessError as exc:
        if exc.code in ("not_found", "process_ended"):
            late = await get_task(task_id)
            if late is not None and late["status"] not in ("open", "claimed"):
                raise ApiError(409, "already_decided", f"task {task_id} was decided meanwhile ({late['status']})") from None
        raise await _refusal(requester, action, f"task:{task_id}", exc, row["process_id"], row["region"]) from None


async def set_tier_cap(requester: Requester, key: str, cap: int | None, reason: str) -> None:
    """Change a tier's head-count cap (``admins.configure_tiers``); refusals audited."""
    from infra.db.tiers import TierRefused, set_tier_cap as store_cap
    from workflows.domain.policy import Subject

    actor = requester.actor
    target = f"tier:{key}"
    decision = DEFAULT_POLICY.can(actor, "admins.configure_tiers", Subject(kind="tier", id=key), now=datetime.now(UTC))
    if not decision.allowed:
        await audit_denied(requester, "tiers.configure", target, decision.code, decision.reason)
        raise ApiError(403, decision.code, decision.reason)
    try:
        await store_cap(key, cap, actor=actor.id, actor_tier=actor.tier, reason=reason, source=requester.source)
    except TierRefused as exc:
        await audit_denied(requester, "tiers.configure", target, exc.code, exc.reason)
        status = {"unknown_tier": 404, "cap_out_of_range": 422}.get(exc.code, 409)
        raise ApiError(status, exc.code, exc.reason) from None


async def refuse_page(requester: Requester, page: str, permission: str) -> None:
    """A console page opened without the permission it needs: a denial like any other."""
    await audit_denied(requester, "console.page", f"page:{page}", "no_permission", permission)
