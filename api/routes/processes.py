"""Processes over HTTP, derived from REGISTRY: one start and one route per human action.

Each kind's start and each of its actions is an OpenAPI operation of its own, with the
body struct and the example its spec declares.
"""

import re

from typing import Annotated, Any

import msgspec
from litestar import Request, Response, Router, get, post
from litestar.di import Provide
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example
from litestar.params import Body, Parameter
from litestar.serialization import encode_json
from litestar.types import ASGIApp

from api import commands
from api.errors import COMMON_ERRORS, ApiError, error_responses, refuse_nul_characters
from api.schemas import ProcessStatusRead, ProcessTaskRead
from api.security import Caller, Principal, provide_principal, session_token
from infra.db.processes import process_status
from infra.temporal.processes import ProcessError, view
from workflows.process import ActionResult, ProcessConfig, ProcessView, TaskView
from workflows.registry import REGISTRY
from workflows.spec import ActionSpec, WorkflowSpec

IDEMPOTENCY_HEADER = "Idempotency-Key"
_KEY = re.compile(r"^[\x21-\x7e]{1,128}$")
PRINCIPAL = {"principal": Provide(provide_principal)}


class ProcessStarted(msgspec.Struct, frozen=True, omit_defaults=True):
    process_id: str
    kind: str
    joined: bool = False
    """True (and 200, not 201) when the start joined the process already open for the same
    subject (a risk review of the same subject and signal type)."""


def idempotency_key(request: Request) -> str | None:
    value = request.headers.get(IDEMPOTENCY_HEADER)
    if value is None:
        return None
    if not _KEY.match(value):
        raise ApiError(400, "bad_idempotency_key", "Idempotency-Key must be 1-128 visible ASCII characters")
    return value


def _requester(principal: Principal) -> commands.Requester:
    return commands.Requester(actor=principal.actor, source=principal.source)


def _start_route(spec: WorkflowSpec):
    async def start(request: Request, principal: Principal, data: Any) -> Response[ProcessStarted]:
        settings = request.app.state.settings
        target = commands.Target(
            client=await request.app.state.temporal.client(), task_queue=settings.task_queue,
            config=ProcessConfig(search_attributes=settings.search_attributes),
        )
        started = await commands.start(target, _requester(principal), spec, data, idempotency_key=idempotency_key(request))
        return Response(
            ProcessStarted(process_id=started.process_id, kind=spec.kind, joined=started.joined),
            status_code=200 if started.joined else 201,
        )

    start.__annotations__["data"] = Annotated[
        spec.input, Body(title=spec.title_en, description=spec.description, examples=_examples(spec.example))
    ]
    return post(
        f"/api/processes/{spec.kind}",
        operation_id=f"start_{_snake(spec.kind)}",
        summary=f"Start: {spec.title_zh} ({spec.title_en})",
        description=spec.description or None,
        tags=[spec.kind],
        dependencies=PRINCIPAL,
        status_code=201,
        responses={
            **error_responses(*COMMON_ERRORS),
            **({200: ResponseSpec(data_container=ProcessStarted, description="Joined the process already open for the same subject")}
               if spec.opener else {}),
        },
    )(start)


def _action_route(spec: WorkflowSpec, action: ActionSpec):
    async def perform(
        request: Request,
        principal: Principal,
        process_id: Annotated[str, Parameter(max_length=300)],
        data: Any,
        task_id: Annotated[str | None, Parameter(max_length=400, description="Which task, when the process has several open")] = None,
    ) -> ActionResult:
        request_id = idempotency_key(request)
        client = await request.app.state.temporal.client()
        return await commands.act(
            client, _requester(principal), spec, process_id, action.name, msgspec.to_builtins(data),
            task_id=task_id, request_id=request_id,
        )

    perform.__annotations__["data"] = Annotated[
        action.input, Body(title=f"{action.label_en}", examples=_examples(action.example))
    ]
    return post(
        f"/api/processes/{spec.kind}/{{process_id:str}}/actions/{action.name}",
        operation_id=f"{_snake(spec.kind)}_{action.name}",
        summary=f"{spec.title_zh}: {action.label_zh} ({action.label_en})",
        description=f"Needs `{action.permission}`.",
        tags=[spec.kind],
        dependencies=PRINCIPAL,
        status_code=200,
        responses=error_responses(*COMMON_ERRORS),
    )(perform)


def _examples(example: Any) -> list[Example] | None:
    return [Example(summary="example", value=msgspec.to_builtins(example))] if example is not None else None


def _snake(kind: str) -> str:
    return kind.replace("-", "_")


def _read_route(spec: WorkflowSpec):
    async def read(request: Request, principal: Principal, process_id: Annotated[str, Parameter(max_length=300)]) -> ProcessView:
        return await read_process(request, principal, spec.kind, process_id)

    return get(
        f"/api/processes/{spec.kind}/{{process_id:str}}",
        operation_id=f"read_{_snake(spec.kind)}",
        summary=f"{spec.title_zh}: status, current step, open tasks, timeline",
        description="The live view, answered by the process itself (a workflow query). For status alone, `.../status` is cheaper.",
        tags=[spec.kind],
        dependencies=PRINCIPAL,
        responses=error_responses(401, 404),
    )(read)


class JSONAnswer:
    """A 200 answer already encoded as JSON (by Litestar's own encoder), sent with the headers
    Litestar's response sends (``content-type: application/json`` and ``content-length``): a
    handler returning it skips building a ``Response`` and its ``ASGIResponse`` for every
    request, which cost the status read about a third of its time. The route documents its
    answer with ``responses={200: ...}``, as the return type no longer says it."""

    __slots__ = ("body",)

    def __init__(self, body: bytes) -> None:
        self.body = body

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        body = self.body
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]})
        await send({"type": "http.response.body", "body": body, "more_body": False})


_TOKEN = "kameng.session_token"
"""Where ``_token_first`` leaves the request's session token for the handler (in its scope)."""


async def _token_first(request: Request) -> None:
    """The app's own check (``refuse_nul_characters``, which a route's hook replaces), then a
    request without a usable session token is a 401 before its parameters are read, as with a
    dependency that resolves the caller. The status route has none: resolving it cost a sixth
    of the route's time (a guard would cost more: Litestar copies the handler for each call)."""
    await refuse_nul_characters(request)
    request.scope[_TOKEN] = session_token(request)  # type: ignore[literal-required]


def _status_route(spec: WorkflowSpec):
    async def status(request: Request, process_id: Annotated[str, Parameter(max_length=300)]) -> ASGIApp:
        caller = Caller(request, request.scope.get(_TOKEN) or session_token(request))
        return JSONAnswer(encode_json(await read_status(request, caller, spec.kind, process_id)))

    return get(
        f"/api/processes/{spec.kind}/{{process_id:str}}/status",
        operation_id=f"status_{_snake(spec.kind)}",
        summary=f"{spec.title_zh}: status, current step, open tasks (from the database)",
        description=(
            "Read from Kameng's database, which the process's activities keep in step with its audit trail: no "
            "workflow query. Readable by the same admins as the full view (the top tier, whoever started or took "
            "part in the process, the regional admins of its region); anyone else gets 404."
        ),
        tags=[spec.kind],
        before_request=_token_first,
        responses={200: ResponseSpec(data_container=ProcessStatusRead, description="Request fulfilled, document follows", generate_examples=False), **error_responses(401, 404)},
    )(status)


async def read_process(request: Request, principal: Principal, kind: str, process_id: str) -> ProcessView:
    if not process_id.startswith(f"{kind}-"):
        raise ApiError(404, "not_found", "no such process")
    client = await request.app.state.temporal.client()
    try:
        process = await view(client, process_id)
    except ProcessError as exc:
        if exc.status == 503:
            raise ApiError(503, exc.code, exc.reason, headers={"Retry-After": "2"}) from None
        raise ApiError(404, "not_found", "no such process") from None
    if process.kind != kind or not await commands.may_read(
        principal.actor, process_id, started_by=process.started_by, parties=process.parties, region=process.region,
    ):
        raise ApiError(404, "not_found", "no such process, or it is outside your scope")
    return process


async def read_status(request: Request, caller: Caller, kind: str, process_id: str) -> ProcessStatusRead:
    if not process_id.startswith(f"{kind}-"):
        await caller.principal()
        raise ApiError(404, "not_found", "no such process")
    found = await process_status(process_id)
    # The session is confirmed against the auth_version read with the row, before anything read is used.
    principal = await caller.principal(found[0]["auth_version"] if found is not None else None)
    if found is None:
        # No row: the process started before rows were kept, or ended before it started
        # (refused at once). The workflow answers, under the same rule.
        return _status_of(await read_process(request, principal, kind, process_id))
    row, tasks = found
    if row["kind"] != kind or not await commands.may_read(
        principal.actor, process_id, started_by=row["started_by"], parties=row["parties"] or (), region=row["region"]
    ):
        raise ApiError(404, "not_found", "no such process, or it is outside your scope")
    return ProcessStatusRead(
        kind=row["kind"], process_id=row["process_id"], status=row["status"], step=row["step"], region=row["region"],
        started_by=row["started_by"], started_at=row["started_at"], updated_at=row["updated_at"],
        finished_at=row["finished_at"], last_action=row["last_action"] or None, last_outcome=row["last_outcome"] or None,
        result=row["result"] or {},
        tasks=[
            ProcessTaskRead(
                task_id=t.task_id, step=t.step, title=t.title, tier=t.tier, region=t.region,
                status=t.status, assignee=t.assignee, due_at=t.due_at, escalated=t.escalated,
            )
            for t in tasks
        ],
    )


def _status_of(process: ProcessView) -> ProcessStatusRead:
    timeline = process.timeline
    last = timeline[-1] if timeline else None
    return ProcessStatusRead(
        kind=process.kind, process_id=process.process_id, status=process.status, step=process.step,
        region=process.region, started_by=process.started_by, started_at=timeline[0].at if timeline else None,
        updated_at=last.at if last else None, last_action=last.action if last else None, result=process.result,
        tasks=[
            ProcessTaskRead(
                task_id=t.task_id, step=t.step, title=t.title, tier=t.tier, region=t.region,
                status="claimed" if t.assignee else "open", assignee=t.assignee, due_at=t.due_at,
                escalated=t.escalations > 0,
            )
            for t in process.tasks
        ],
    )


async def _claim(request: Request, principal: Principal, task_id: str, *, release: bool) -> TaskView:
    client = await request.app.state.temporal.client()
    return await commands.claim(client, _requester(principal), task_id, release=release)


@post("/api/tasks/{task_id:str}/claim", summary="Claim a task", tags=["inbox"], dependencies=PRINCIPAL, status_code=200, responses=error_responses(*COMMON_ERRORS))
async def claim_task(request: Request, principal: Principal, task_id: Annotated[str, Parameter(max_length=400)]) -> TaskView:
    return await _claim(request, principal, task_id, release=False)


@post("/api/tasks/{task_id:str}/release", summary="Release a claimed task", tags=["inbox"], dependencies=PRINCIPAL, status_code=200, responses=error_responses(*COMMON_ERRORS))
async def release_task(request: Request, principal: Principal, task_id: Annotated[str, Parameter(max_length=400)]) -> TaskView:
    return await _claim(request, principal, task_id, release=True)


def processes_router() -> Router:
    handlers: list = []
    for spec in REGISTRY:
        handlers += [_start_route(spec), _read_route(spec), _status_route(spec)]
        handlers += [_action_route(spec, action) for action in spec.actions]
    handlers += [claim_task, release_task]
    return Router(path="/", route_handlers=handlers)
