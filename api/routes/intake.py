"""Platform intake: the marketplace reports in with a service token, never an admin session.

Merchant applications and disputes start their processes; risk signals open risk reviews;
events a running process waits for (a merchant's documents, a merchant's response, a buyer's
appeal) are delivered to it; order events are stored for risk control.
"""

import hashlib
import uuid
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, Router, post
from litestar.di import Provide
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import Body, Parameter

from api import commands
from api.errors import ApiError, error_responses
from api.routes.processes import ProcessStarted, _examples, _snake, idempotency_key
from api.security import Service, provide_service
from infra.db.audit import append
from infra.db.orders import OrderEvent, OrderEventsResult, store_order_events
from infra.temporal.processes import ProcessError, deliver_event
from workflows.domain.messages import AuditRecord
from workflows.process import ActionResult, PlatformEventInput, ProcessConfig
from workflows.registry import BY_KIND, REGISTRY
from workflows.risk_review import SPEC as RISK_REVIEW
from workflows.risk_review import RiskSignalInput, check_signal
from workflows.spec import WorkflowSpec

SERVICE = {"service": Provide(provide_service)}
INTAKE_ERRORS = error_responses(400, 401, 404, 409, 422)

STARTS = {
    "merchant-applications": "merchant-onboarding",
    "disputes": "dispute",
}
"""Intake path -> the process kind it starts (risk signals have a route of their own)."""


def _intake_start(path: str, spec: WorkflowSpec):
    async def receive(request: Request, service: Service, data: Any) -> Response[ProcessStarted]:
        settings = request.app.state.settings
        target = commands.Target(
            client=await request.app.state.temporal.client(), task_queue=settings.task_queue,
            config=ProcessConfig(search_attributes=settings.search_attributes),
        )
        process_id = await commands.start_for_platform(
            target, service.source, spec, data, idempotency_key=idempotency_key(request), path=path,
        )
        return Response(ProcessStarted(process_id=process_id, kind=spec.kind), status_code=201)

    receive.__annotations__["data"] = Annotated[spec.input, Body(title=spec.title_en, examples=_examples(spec.example))]
    return post(
        f"/api/intake/{path}",
        operation_id=f"intake_{_snake(path)}",
        summary=f"Intake: {spec.title_zh} ({spec.title_en})",
        tags=["intake"],
        dependencies=SERVICE,
        status_code=201,
        responses=INTAKE_ERRORS,
    )(receive)


def _intake_event(spec: WorkflowSpec, event: str, body_type: type):
    async def deliver(
        request: Request, service: Service, process_id: Annotated[str, Parameter(max_length=300)], data: Any
    ) -> ActionResult:
        if not process_id.startswith(f"{spec.kind}-"):
            raise ApiError(404, "not_found", f"{process_id} is not a {spec.kind} process")
        request_id = idempotency_key(request) or uuid.uuid4().hex
        client = await request.app.state.temporal.client()
        payload = PlatformEventInput(event=event, request_id=f"platform:{request_id}", source=service.name, body=msgspec.to_builtins(data))
        try:
            return await deliver_event(client, process_id, payload)
        except ProcessError as exc:
            raise ApiError(exc.status, exc.code, exc.reason) from None

    deliver.__annotations__["data"] = body_type
    return post(
        f"/api/intake/processes/{spec.kind}/{{process_id:str}}/events/{event}",
        operation_id=f"intake_{_snake(spec.kind)}_{event}",
        summary=f"Intake: {spec.title_zh}: {event}",
        tags=["intake"],
        dependencies=SERVICE,
        status_code=200,
        responses=INTAKE_ERRORS,
    )(deliver)


@post(
    "/api/intake/order-events",
    summary="Intake: a batch of order events for risk control",
    tags=["intake"],
    dependencies=SERVICE,
    status_code=200,
    responses=INTAKE_ERRORS,
)
async def order_events(
    service: Service,
    data: Annotated[list[OrderEvent], Body(description="At most 1,000 events; each is stored once by its order code")],
) -> OrderEventsResult:
    if len(data) > 1000:
        raise ApiError(422, "batch_too_large", "send at most 1,000 events per batch")
    result = await store_order_events(data)
    await append(
        AuditRecord(
            actor="platform", actor_tier="service", action="intake.order-events", target="orders",
            outcome="accepted", source=service.source,
            after={"accepted": result.accepted, "rejected": len(result.rejected)},
        )
    )
    return result


class RiskSignalAccepted(msgspec.Struct, frozen=True):
    process_id: str
    kind: str
    joined: bool
    """True when a review of this subject and signal type was already open: the signal joined it."""


@post(
    "/api/intake/risk-signals",
    operation_id="intake_risk_signals",
    summary="Intake: 风控审核 (Risk review): a risk signal opens a review, or joins the subject's open one",
    tags=["intake"],
    dependencies=SERVICE,
    status_code=201,
    responses={
        **INTAKE_ERRORS,
        200: ResponseSpec(data_container=RiskSignalAccepted, description="Joined the open review of the same subject and signal type"),
    },
)
async def risk_signals(
    request: Request,
    service: Service,
    data: Annotated[RiskSignalInput, Body(title="Risk signal", examples=_examples(RISK_REVIEW.example))],
) -> Response[RiskSignalAccepted]:
    """Stored as a signal like the scan's findings, so one subject has one open review per
    signal type whoever reports it; the same Idempotency-Key answers with the same review."""
    from activities.risk.store import report_signal

    problem = check_signal(data, None)
    if problem is not None:
        raise ApiError(422, *problem)
    header = idempotency_key(request)
    key = "intake:" + hashlib.sha256(f"platform\n{header or uuid.uuid4().hex}".encode()).hexdigest()[:24]
    settings = request.app.state.settings
    process_id, joined = await report_signal(
        data, key, by=None, client=await request.app.state.temporal.client(), task_queue=settings.task_queue,
        config=ProcessConfig(search_attributes=settings.search_attributes),
    )
    await append(
        AuditRecord(
            actor="platform", actor_tier="service", action="intake.risk-signals", target=f"process:{process_id}",
            outcome="joined" if joined else "accepted", source=service.source, process_id=process_id,
        )
    )
    return Response(RiskSignalAccepted(process_id=process_id, kind=RISK_REVIEW.kind, joined=joined), status_code=200 if joined else 201)


def intake_router() -> Router:
    handlers: list = [order_events, risk_signals]
    for path, kind in STARTS.items():
        if kind in BY_KIND:
            handlers.append(_intake_start(path, BY_KIND[kind]))
    for spec in REGISTRY:
        for event, body_type in getattr(spec.workflow, "PLATFORM_EVENTS", {}).items():
            handlers.append(_intake_event(spec, event, body_type))
    return Router(path="/", route_handlers=handlers)


