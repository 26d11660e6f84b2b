"""OpenTelemetry for every Kameng process: one trace per user action, the metrics, and the
trace ids the logs carry.

``configure_telemetry(settings, service_name)`` runs once per process (the web app's
factory, the worker, the command line) and is idempotent. What leaves the process is chosen
by the standard ``OTEL_*`` variables:

- ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or the ``..._TRACES_ENDPOINT`` / ``..._METRICS_ENDPOINT``
  ones): spans and metrics go there over OTLP/HTTP, and so do the Temporal SDK's worker
  metrics (unless ``KAMENG_TEMPORAL_METRICS_PROMETHEUS`` serves those for Prometheus).
- ``OTEL_TRACES_EXPORTER`` / ``OTEL_METRICS_EXPORTER``: ``otlp``, ``console`` or ``none``;
  naming ``otlp`` explicitly exports to the default endpoint (``http://localhost:4318``).
- ``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES``, ``OTEL_TRACES_SAMPLER``,
  ``OTEL_BSP_*``, ``OTEL_METRIC_EXPORT_INTERVAL`` and ``OTEL_SDK_DISABLED`` as usual.

With none of them set nothing is exported: spans still exist in-process (so log lines carry
a trace id and a ``traceparent`` from a caller is honoured), and nothing else happens.

The trace of one user action: the HTTP server span (Litestar's OpenTelemetry plugin, renamed
to its route template) → ``StartWorkflow:*`` / ``StartWorkflowUpdate:act`` (the Temporal
SDK's ``OpenTelemetryInterceptor`` on the client) → ``RunWorkflow:*`` / ``HandleUpdate:act``
(the same interceptor on the worker, which inherits it from the client) → ``StartActivity:*``
→ ``RunActivity:*`` → the database queries (``SELECT task``, ``INSERT audit_event``:
Piccolo's engine, wrapped by ``traced()`` below). ``ActionTracing`` keeps the activities a
workflow runs for an action inside that action's trace.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import random
import re
import socket
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import opentelemetry.context as otel_context
from opentelemetry import metrics, trace
from opentelemetry.metrics import CallbackOptions, Observation
from temporalio import client as temporal_client
from temporalio import worker as temporal_worker

if TYPE_CHECKING:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import MetricReader
    from opentelemetry.sdk.trace.export import SpanExporter
    from temporalio.runtime import Runtime

    from infra.settings import Settings
    from workflows.domain.messages import AuditRecord

log = logging.getLogger("kameng.telemetry")

DEFAULT_OTLP_ENDPOINT = "http://localhost:4318"

OTEL_VARIABLES = (
    # read here
    "OTEL_SDK_DISABLED", "OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES",
    "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
    "OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_METRICS_HEADERS",
    "OTEL_TRACES_EXPORTER", "OTEL_METRICS_EXPORTER", "OTEL_METRIC_EXPORT_INTERVAL",
    # read by the OpenTelemetry SDK and its OTLP exporters
    "OTEL_EXPORTER_OTLP_TRACES_HEADERS", "OTEL_EXPORTER_OTLP_TIMEOUT", "OTEL_EXPORTER_OTLP_COMPRESSION",
    "OTEL_EXPORTER_OTLP_CERTIFICATE", "OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG",
    "OTEL_BSP_SCHEDULE_DELAY", "OTEL_BSP_MAX_QUEUE_SIZE", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "OTEL_BSP_EXPORT_TIMEOUT",
    "OTEL_METRIC_EXPORT_TIMEOUT", "OTEL_SEMCONV_STABILITY_OPT_IN",
)
"""The telemetry environment variables Kameng's processes honour (the README lists them)."""

# ----- instruments (API proxies: they start recording once a provider is configured) -----

TRACER = trace.get_tracer("kameng")
METER = metrics.get_meter("kameng")

PROCESS_STARTS = METER.create_counter(
    "kameng.process.starts", unit="{process}", description="Processes started, by kind"
)
PROCESS_COMPLETIONS = METER.create_counter(
    "kameng.process.completions", unit="{process}",
    description="Processes that reached an end (rejected, lapsed, revoked, expired...), by kind and status",
)
ESCALATIONS = METER.create_counter(
    "kameng.task.escalations", unit="{task}", description="Tasks escalated one tier up, by kind, new tier and region"
)
DENIALS = METER.create_counter(
    "kameng.denials", unit="{request}", description="Refused actions (audited denials), by action and tier"
)
AUDIT_WRITE_DURATION_NAME = "kameng.audit.write.duration"
AUDIT_WRITE_DURATION = METER.create_histogram(
    AUDIT_WRITE_DURATION_NAME, unit="s", description="Time to append one event to the audit chain"
)
AUDIT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


# ----- the process's configuration -------------------------------------------------------


@dataclass
class Telemetry:
    service_name: str
    tracer_provider: Any = None
    """A ``ReplaySafeTracerProvider`` (an SDK ``TracerProvider`` inside)."""
    meter_provider: MeterProvider | None = None
    traces_exported: bool = False
    """Some span processor takes spans out of the process (OTLP, console, or a test's)."""
    metrics_exported: bool = False
    """Some metric reader collects (OTLP, console, or a test's)."""
    otlp_metrics_endpoint: str | None = None
    temporal_metrics_prometheus: str = ""
    sdk_disabled: bool = False
    """``OTEL_SDK_DISABLED=true``: no span has a trace id, nothing is recorded."""
    _runtime: Runtime | None = field(default=None, repr=False)


@dataclass(frozen=True)
class ExportPlan:
    """Which exporters the ``OTEL_*`` variables ask for (pure: see ``export_plan``)."""

    disabled: bool = False
    traces: tuple[str, ...] = ()
    metrics: tuple[str, ...] = ()
    otlp_traces_endpoint: str | None = None
    otlp_metrics_endpoint: str | None = None


def _exporters(env: Mapping[str, str], variable: str, signal_endpoint: str) -> tuple[str, ...]:
    named = [n.strip().lower() for n in env.get(variable, "").split(",") if n.strip()]
    if not named:  # the spec's default is "otlp": only meaningful once an endpoint is set
        return ("otlp",) if env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get(signal_endpoint) else ()
    return tuple(n for n in named if n != "none")


def export_plan(env: Mapping[str, str] | None = None) -> ExportPlan:
    env = os.environ if env is None else env
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return ExportPlan(disabled=True)
    base = env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").rstrip("/") or DEFAULT_OTLP_ENDPOINT
    traces = _exporters(env, "OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    metric_exporters = _exporters(env, "OTEL_METRICS_EXPORTER", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT")
    return ExportPlan(
        traces=traces,
        metrics=metric_exporters,
        otlp_traces_endpoint=(env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or f"{base}/v1/traces") if "otlp" in traces else None,
        otlp_metrics_endpoint=(env.get("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT") or f"{base}/v1/metrics") if "otlp" in metric_exporters else None,
    )


_STATE: Telemetry | None = None
_LOCK = threading.Lock()


def current() -> Telemetry | None:
    return _STATE


def configure_telemetry(
    settings: Settings | None = None,
    service_name: str = "kameng",
    *,
    span_exporter: SpanExporter | None = None,
    metric_reader: MetricReader | None = None,
) -> Telemetry:
    """Set up tracing and metrics for this process, once; later calls return the same setup.

    ``span_exporter`` and ``metric_reader`` are for tests (an ``InMemorySpanExporter`` and an
    ``InMemoryMetricReader``): spans are handed over synchronously, metrics on collection.
    A span exporter can join an existing setup; a metric reader only a first metrics setup.
    """
    with _LOCK:
        state = _state(settings, service_name)
        _configure_tracing(state, span_exporter)
        _configure_metrics(state, metric_reader)
        return state


def ensure_tracing(service_name: str = "kameng-worker") -> Telemetry:
    """Tracing only, if nothing set it up yet: a worker needs the replay-safe tracer provider
    (``build_worker`` calls this; a process that configured telemetry already is unchanged)."""
    with _LOCK:
        state = _state(None, service_name)
        _configure_tracing(state, None)
        return state


def _state(settings: Settings | None, service_name: str) -> Telemetry:
    global _STATE
    if _STATE is None:
        from infra.settings import get_settings

        settings = settings or get_settings()
        _STATE = Telemetry(
            service_name=service_name, temporal_metrics_prometheus=settings.temporal_metrics_prometheus,
            sdk_disabled=export_plan().disabled,
        )
    return _STATE


def _resource(service_name: str):  # type: ignore[no-untyped-def]
    from importlib.metadata import PackageNotFoundError, version

    from opentelemetry.sdk.resources import Resource

    try:
        kameng_version = version("kameng")
    except PackageNotFoundError:
        kameng_version = "0"
    attributes: dict[str, str] = {
        "service.namespace": "kameng",
        "service.version": kameng_version,
        "service.instance.id": f"{socket.gethostname()}-{os.getpid()}",
        "process.pid": str(os.getpid()),
    }
    # OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES win over the role's default name.
    if not os.environ.get("OTEL_SERVICE_NAME") and "service.name=" not in os.environ.get("OTEL_RESOURCE_ATTRIBUTES", ""):
        attributes["service.name"] = service_name
    return Resource.create(attributes)


class _EvictionDetachNoise(logging.Filter):
    """Drops OpenTelemetry's "Failed to detach context" when a workflow coroutine is closed
    (``GeneratorExit``: evicted from the worker's cache, or ended while waiting). The span
    context cannot be detached from another task there, nothing is lost, and the SDK's own
    interceptor suppresses the same message (temporalio/sdk-python#441)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.getMessage() != "Failed to detach context" or not record.exc_info:
            return True
        cause = record.exc_info[1]
        while cause is not None:
            if isinstance(cause, GeneratorExit):
                return False
            cause = cause.__context__
        return True


def _configure_tracing(state: Telemetry, span_exporter: SpanExporter | None) -> None:
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SimpleSpanProcessor

    if state.tracer_provider is None:
        from temporalio.contrib.opentelemetry import create_tracer_provider

        plan = export_plan()

        # Replay-safe: spans opened inside workflows get deterministic ids and are not emitted
        # again when a worker replays history; elsewhere it is the SDK's TracerProvider (which
        # itself honours OTEL_SDK_DISABLED and OTEL_TRACES_SAMPLER).
        provider = create_tracer_provider(resource=_resource(state.service_name))
        for name in plan.traces:
            if name == "otlp":
                from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

                provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=plan.otlp_traces_endpoint)))
            elif name == "console":
                provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
            else:
                log.warning("OTEL_TRACES_EXPORTER=%s is not supported here (otlp, console, none)", name)
                continue
            state.traces_exported = True
        trace.set_tracer_provider(provider)
        state.tracer_provider = provider
        logging.getLogger("opentelemetry.context").addFilter(_EvictionDetachNoise())
    if span_exporter is not None:
        state.tracer_provider.add_span_processor(SimpleSpanProcessor(span_exporter))
        state.traces_exported = True
    _set_db_spans(state.traces_exported)


def _configure_metrics(state: Telemetry, metric_reader: MetricReader | None) -> None:
    if state.meter_provider is not None:
        if metric_reader is not None:
            raise RuntimeError("metrics are already configured in this process: a metric reader must come first")
        return
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import ConsoleMetricExporter, PeriodicExportingMetricReader
    from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation, View

    plan = export_plan()
    readers: list = []
    for name in plan.metrics:
        if name == "otlp":
            from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

            readers.append(PeriodicExportingMetricReader(OTLPMetricExporter(endpoint=plan.otlp_metrics_endpoint)))
            state.otlp_metrics_endpoint = plan.otlp_metrics_endpoint
        elif name == "console":
            readers.append(PeriodicExportingMetricReader(ConsoleMetricExporter()))
        else:
            log.warning("OTEL_METRICS_EXPORTER=%s is not supported here (otlp, console, none)", name)
    if metric_reader is not None:
        readers.append(metric_reader)
    provider = MeterProvider(
        resource=_resource(state.service_name),
        metric_readers=readers,
        views=[View(instrument_name=AUDIT_WRITE_DURATION_NAME, aggregation=ExplicitBucketHistogramAggregation(AUDIT_BUCKETS))],
    )
    metrics.set_meter_provider(provider)
    state.meter_provider = provider
    state.metrics_exported = bool(readers)
    log.debug(
        "telemetry for %s: traces %s, metrics %s", state.service_name,
        ",".join(plan.traces) or "kept in-process", ",".join(plan.metrics) or "not exported",
    )


def shutdown_telemetry(timeout_millis: int = 5000) -> None:
    """Flush what is buffered (the SDK also does this at interpreter exit)."""
    state = _STATE
    if state is None:
        return
    if state.tracer_provider is not None:
        state.tracer_provider.force_flush(timeout_millis)
    if state.meter_provider is not None:
        state.meter_provider.force_flush(timeout_millis)


# ----- Temporal: the SDK's own (worker and client) metrics --------------------------------


def temporal_runtime() -> Runtime | None:
    """The Temporal runtime exporting the SDK's metrics, or None for the default one.

    Prometheus when ``KAMENG_TEMPORAL_METRICS_PROMETHEUS`` names an address (in a worker: one
    address cannot serve several web processes), else the OTLP metrics endpoint when one is
    configured. One runtime per process (it owns threads).
    """
    state = _STATE
    prometheus = state is not None and state.temporal_metrics_prometheus and state.service_name == "kameng-worker"
    if state is None or not (prometheus or state.otlp_metrics_endpoint):
        return None
    with _LOCK:
        if state._runtime is None:
            state._runtime = _build_runtime(state)
        return state._runtime


def _otlp_headers() -> dict[str, str]:
    raw = os.environ.get("OTEL_EXPORTER_OTLP_METRICS_HEADERS") or os.environ.get("OTEL_EXPORTER_OTLP_HEADERS", "")
    pairs = (item.split("=", 1) for item in raw.split(",") if "=" in item)
    return {k.strip(): v.strip() for k, v in pairs}


def _build_runtime(state: Telemetry) -> Runtime:
    from temporalio.runtime import OpenTelemetryConfig, PrometheusConfig, Runtime, TelemetryConfig

    tags = {"kameng_service": state.service_name, "kameng_instance": f"{socket.gethostname()}-{os.getpid()}"}
    if state.temporal_metrics_prometheus and state.service_name == "kameng-worker":
        config: Any = PrometheusConfig(bind_address=state.temporal_metrics_prometheus, durations_as_seconds=True)
    else:
        interval = int(os.environ.get("OTEL_METRIC_EXPORT_INTERVAL", "60000"))
        config = OpenTelemetryConfig(
            url=state.otlp_metrics_endpoint or "", headers=_otlp_headers(), http=True,
            metric_periodicity=timedelta(milliseconds=interval), durations_as_seconds=True,
        )
    return Runtime(telemetry=TelemetryConfig(metrics=config, global_tags=tags))


# ----- Temporal: spans of workflows and activities ----------------------------------------


def temporal_interceptors() -> list:
    """Client and worker interceptors: spans for starts, updates, workflows and activities,
    when this process exports spans (or has not set up telemetry yet).

    ``OpenTelemetryInterceptor`` (the SDK's newer integration) opens the workflow span for the
    whole run and an update span for each action, with real durations and replay-safe ids
    (the tracer provider is ``create_tracer_provider()``'s). ``ActionTracing`` then files the
    work a workflow does for an action under that action's trace: in a Kameng process the
    update handler only records the decision, and the activities it causes run in the
    workflow's main coroutine, which by itself would file them under the start's trace.
    (With several actions in flight at once, the latest one's trace gets that work.)
    """
    state = _STATE
    if state is not None and not state.traces_exported:
        # This process takes no span out (nothing configured to export them): spans opened for
        # every start, update, workflow task and activity would only cost the worker time,
        # and the trace headers they add would only lengthen each history.
        return []
    return tracing_interceptors()


def tracing_interceptors() -> list:
    """The tracing interceptors whatever this process exports (the tests' servers take them
    always: a test may add its span exporter after a client exists)."""
    from temporalio.contrib.opentelemetry import OpenTelemetryInterceptor

    return [OpenTelemetryInterceptor(add_temporal_spans=True), ActionTracing()]


class _ActionTracingInbound(temporal_worker.WorkflowInboundInterceptor):
    causes: list[otel_context.Context]

    def init(self, outbound: temporal_worker.WorkflowOutboundInterceptor) -> None:
        self.causes = []
        super().init(_ActionTracingOutbound(outbound, self))

    async def handle_update_handler(self, input: temporal_worker.HandleUpdateInput) -> Any:
        # Runs inside the update's span: the OpenTelemetry interceptor comes first.
        cause = otel_context.get_current()
        self.causes.append(cause)
        try:
            return await super().handle_update_handler(input)
        finally:
            self.causes = [c for c in self.causes if c is not cause]


class _ActionTracingOutbound(temporal_worker.WorkflowOutboundInterceptor):
    def __init__(self, next: temporal_worker.WorkflowOutboundInterceptor, root: _ActionTracingInbound) -> None:
        super().__init__(next)
        self.root = root

    def _cause(self) -> otel_context.Context | None:
        current = otel_context.get_current()
        if not self.root.causes or any(current is c for c in self.root.causes):
            return None  # no action in flight, or in an update handler's own context already
        return self.root.causes[-1]

    def start_activity(self, input: temporal_worker.StartActivityInput) -> Any:
        cause = self._cause()
        if cause is None:
            return super().start_activity(input)
        token = otel_context.attach(cause)
        try:
            return super().start_activity(input)
        finally:
            otel_context.detach(token)

    def start_local_activity(self, input: temporal_worker.StartLocalActivityInput) -> Any:
        cause = self._cause()
        if cause is None:
            return super().start_local_activity(input)
        token = otel_context.attach(cause)
        try:
            return super().start_local_activity(input)
        finally:
            otel_context.detach(token)


class ActionTracing(temporal_client.Interceptor, temporal_worker.Interceptor):
    """While an update (a person's action) is in flight, the activities the workflow starts
    belong to its trace. Listed after ``OpenTelemetryInterceptor``."""

    def workflow_interceptor_class(
        self, input: temporal_worker.WorkflowInterceptorClassInput
    ) -> type[temporal_worker.WorkflowInboundInterceptor]:
        return _ActionTracingInbound


# ----- database queries as spans ---------------------------------------------------------

_DB_SPANS = False


def _set_db_spans(on: bool) -> None:
    global _DB_SPANS
    _DB_SPANS = on


class _TracedQueries:
    """Each Piccolo query as a client span, when it runs inside a recorded trace.

    Outside a trace (migrations, the seed, health checks) or with nothing exporting spans it
    costs one boolean test. The statement is recorded with its placeholders, never values.
    """

    async def run_querystring(self, querystring, *args, **kwargs):  # type: ignore[no-untyped-def]
        if not _DB_SPANS or not trace.get_current_span().is_recording():
            return await super().run_querystring(querystring, *args, **kwargs)  # type: ignore[misc]
        with self._span(querystring):
            return await super().run_querystring(querystring, *args, **kwargs)  # type: ignore[misc]

    def _span(self, querystring):  # type: ignore[no-untyped-def]
        try:
            statement, _ = querystring.compile_string(engine_type=self.engine_type)  # type: ignore[attr-defined]
        except Exception:  # a statement we cannot render is still a span
            statement = ""
        operation, table = _describe(statement, querystring)
        span = TRACER.start_as_current_span(f"{operation} {table}".strip(), kind=trace.SpanKind.CLIENT, attributes={
            "db.system": "postgresql" if self.engine_type == "postgres" else self.engine_type,  # type: ignore[attr-defined]
            "db.operation": operation,
            **({"db.sql.table": table} if table else {}),
            **({"db.statement": statement[:2000]} if statement else {}),
        })
        return span


_TABLE = re.compile(r'\b(?:FROM|INTO|UPDATE)\s+"?([A-Za-z_][A-Za-z0-9_]*)"?', re.IGNORECASE)


def _describe(statement: str, querystring) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """``("SELECT", "task")``: the statement's verb and its (first) table."""
    words = statement.lstrip("( ").split(None, 1)
    operation = words[0].upper() if words else str(querystring.query_type or "query").upper()
    if querystring.table is not None:
        return operation, querystring.table._meta.tablename
    match = _TABLE.search(statement)
    return operation, match.group(1) if match else ""


@functools.cache
def traced(engine_class: type) -> type:
    """``traced(PostgresEngine)(config=...)``: the same engine, with its queries as spans."""
    namespace: dict[str, Any] = {}
    if hasattr(engine_class, "read_inline"):
        read = engine_class.read_inline

        def read_inline(self, sql, args, table=None):  # type: ignore[no-untyped-def]
            """A compiled query's inline read (``infra.db.compiled``), as a span like the others."""
            if not _DB_SPANS or not trace.get_current_span().is_recording():
                return read(self, sql, args, table)
            from infra.db.compiled import BoundQuery

            with self._span(BoundQuery(sql, args, table)):
                return read(self, sql, args, table)

        namespace["read_inline"] = read_inline
    return type(f"Traced{engine_class.__name__}", (_TracedQueries, engine_class), namespace)


# ----- counters derived from the audit trail ---------------------------------------------


def _kind_of(process_id: str | None) -> str:
    if not process_id:
        return "none"
    from workflows.registry import BY_KIND

    return next((k for k in sorted(BY_KIND, key=len, reverse=True) if process_id.startswith(f"{k}-")), "unknown")


def observe_audit(record: AuditRecord, seconds: float, *, written: bool) -> None:
    """Called by ``infra.db.audit.append`` for every event: its latency, and the business
    counters derived from what was written. Counted only when written, so an activity that
    retries (the event is deduplicated) counts once. Never raises: the event is written."""
    try:
        _observe_audit(record, seconds, written)
    except Exception:  # telemetry must not fail an audit write that has happened
        log.exception("audit metrics not recorded")


def _observe_audit(record: AuditRecord, seconds: float, written: bool) -> None:
    AUDIT_WRITE_DURATION.record(seconds, {"written": written})
    if not written:
        return
    action, outcome = record.action, record.outcome
    if outcome == "denied":
        DENIALS.add(1, {"action": action, "tier": record.actor_tier or "none"})
    elif action == "task.escalated":
        tier = (record.after or {}).get("tier") or "none"
        ESCALATIONS.add(1, {"kind": _kind_of(record.process_id), "tier": str(tier), "region": record.region or "none"})
    elif outcome == "started" and action.endswith(".started"):
        PROCESS_STARTS.add(1, {"kind": action.removesuffix(".started")})
    elif record.dedup_key and ":finished:" in record.dedup_key:
        # Process.finish() audits "<kind>.<status>" under the dedup key "<id>:finished:<run>".
        PROCESS_COMPLETIONS.add(1, {"kind": action.rsplit(".", 1)[0], "status": outcome})


# ----- the inbox gauges ------------------------------------------------------------------


class InboxGauges:
    """Open and overdue tasks by tier and region, read from the Task table.

    Observable gauges are read by the metric reader's thread, which cannot await the
    database: ``refresh()`` counts on the event loop and the callbacks report the last count.
    A tier/region that empties reports 0 rather than vanishing.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.open: dict[tuple[str, str], int] = {}
        self.overdue: dict[tuple[str, str], int] = {}
        self.refreshed_at: float | None = None

    async def refresh(self, now: datetime | None = None) -> None:
        from piccolo.query.functions.aggregate import Count

        from infra.db.tables import Task

        now = now or datetime.now(UTC)
        waiting = Task.status.is_in(["open", "claimed"])
        query = Task.select(Task.tier, Task.region, Count(alias="n")).group_by(Task.tier, Task.region)
        open_rows = await query.where(waiting)
        overdue_rows = await (
            Task.select(Task.tier, Task.region, Count(alias="n"))
            .where(waiting & (Task.due_at < now))
            .group_by(Task.tier, Task.region)
        )
        with self._lock:
            self.open = {key: 0 for key in self.open} | {(r["tier"], r["region"] or "none"): r["n"] for r in open_rows}
            self.overdue = {key: 0 for key in self.overdue} | {(r["tier"], r["region"] or "none"): r["n"] for r in overdue_rows}
            self.refreshed_at = time.monotonic()

    def _observe(self, counts: dict[tuple[str, str], int]) -> Iterable[Observation]:
        with self._lock:
            return [Observation(n, {"tier": tier, "region": region}) for (tier, region), n in counts.items()]

    def observe_open(self, _options: CallbackOptions) -> Iterable[Observation]:
        return self._observe(self.open)

    def observe_overdue(self, _options: CallbackOptions) -> Iterable[Observation]:
        return self._observe(self.overdue)

    async def run(self, every: float) -> None:
        while True:
            try:
                await self.refresh()
            except Exception as exc:  # the gauges keep their last values; the loop goes on
                log.warning("inbox gauges not refreshed: %s", exc)
            await asyncio.sleep(every)


INBOX = InboxGauges()
METER.create_observable_gauge(
    "kameng.inbox.open", callbacks=[INBOX.observe_open], unit="{task}", description="Open or claimed tasks, by tier and region"
)
METER.create_observable_gauge(
    "kameng.inbox.overdue", callbacks=[INBOX.observe_overdue], unit="{task}",
    description="Open or claimed tasks past their due time, by tier and region",
)


# ----- the web app -----------------------------------------------------------------------

_SAMPLED = trace.TraceFlags(trace.TraceFlags.SAMPLED)


def _new_id(bits: int) -> int:
    """A random trace (128 bits) or span (64 bits) id, never the invalid 0 (as the SDK's)."""
    while not (value := random.getrandbits(bits)):
        pass
    return value


class _RouteTemplate:
    """What the ASGI instrumentation reads (``scope["route"].path_format``) for ``http.target``."""

    __slots__ = ("path_format",)

    def __init__(self, path_format: str) -> None:
        self.path_format = path_format


def _route_naming(app):  # type: ignore[no-untyped-def]
    """Runs after routing: names the server span and the duration metric by the route
    template (``POST /api/processes/permission-grant/{process_id:str}/actions/approve``),
    never by the concrete path, so neither carries ids."""
    from litestar.handlers import HTTPRouteHandler

    async def middleware(scope, receive, send):  # type: ignore[no-untyped-def]
        template = scope.get("path_template")
        if scope["type"] == "http" and template and isinstance(scope.get("route_handler"), HTTPRouteHandler):
            scope["route"] = _RouteTemplate(template)
            span = trace.get_current_span()
            if span.is_recording():
                span.update_name(f"{scope['method']} {template}")
                span.set_attribute("http.route", template)
        await app(scope, receive, send)

    return middleware


class _RequestSpan(trace.NonRecordingSpan):
    """A request's place in its trace when nothing records it: the caller's trace continued
    (or a new one), its ids drawn only when something asks (a log line, a workflow started)."""

    def __init__(self, caller: trace.SpanContext | None) -> None:
        self._caller = caller
        self._context = None  # type: ignore[assignment]

    def get_span_context(self) -> trace.SpanContext:
        context = self._context
        if context is None:
            caller = self._caller
            if caller is not None and caller.is_valid:
                context = trace.SpanContext(caller.trace_id, _new_id(64), False, caller.trace_flags, caller.trace_state)
            else:
                context = trace.SpanContext(_new_id(128), _new_id(64), False, _SAMPLED, trace.TraceState())
            self._context = context
        return context


def _request_context(scope) -> otel_context.Context:  # type: ignore[no-untyped-def]
    """The context a request runs in: a ``_RequestSpan``, under the caller's ``traceparent``."""
    for name, _ in scope["headers"]:
        if name == b"traceparent":
            from opentelemetry.propagate import extract

            parent = extract({k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]})
            return trace.set_span_in_context(_RequestSpan(trace.get_current_span(parent).get_span_context()), parent)
    return trace.set_span_in_context(_RequestSpan(None))


def _server_telemetry_class() -> type:
    from litestar.plugins.opentelemetry import OpenTelemetryInstrumentationMiddleware

    class ServerTelemetry(OpenTelemetryInstrumentationMiddleware):
        """Litestar's OpenTelemetry middleware whenever this process exports spans or metrics.

        When it exports neither, building each request's server span and its duration
        measurement only to drop them cost more than the rest of a small request (~0.4 ms
        against Litestar's whole hello world at ~0.05 ms, in-process): the request then gets
        only what stays observable, its trace context (the caller's ``traceparent`` continued,
        or a new trace), so log lines carry the trace id and the workflows it starts join the
        trace as before. With the SDK disabled there is no trace id to carry (as with the
        middleware: its spans are invalid then).
        """

        async def __call__(self, scope, receive, send) -> None:  # type: ignore[no-untyped-def]
            state = _STATE
            if state is None or state.traces_exported or state.metrics_exported:
                await self.open_telemetry_middleware(scope, receive, send)  # type: ignore[arg-type]
                return
            if state.sdk_disabled:
                await self.app(scope, receive, send)
                return
            token = otel_context.attach(_request_context(scope))
            try:
                await self.app(scope, receive, send)
            finally:
                otel_context.detach(token)

    return ServerTelemetry


def litestar_plugins(settings: Settings) -> list:
    """The web app's telemetry: the OpenTelemetry plugin (server spans, ``http.server.duration``
    by route and status), route naming, and the inbox gauges' refresh loop."""
    from litestar.config.app import AppConfig
    from litestar.enums import ScopeType
    from litestar.plugins import InitPlugin
    from litestar.plugins.opentelemetry import OpenTelemetryConfig, OpenTelemetryPlugin

    class KamengTelemetry(InitPlugin):
        def on_app_init(self, app_config: AppConfig) -> AppConfig:
            app_config.middleware.append(_route_naming)
            app_config.on_startup.append(_start_inbox_gauges)
            app_config.on_shutdown.append(_stop_inbox_gauges)
            return app_config

    async def _start_inbox_gauges(app) -> None:  # type: ignore[no-untyped-def]
        state = _STATE
        if state is not None and state.metrics_exported and settings.inbox_metrics_seconds > 0:
            app.state.inbox_gauges = asyncio.ensure_future(INBOX.run(settings.inbox_metrics_seconds))

    async def _stop_inbox_gauges(app) -> None:  # type: ignore[no-untyped-def]
        task = app.state.get("inbox_gauges")
        if task is not None:
            task.cancel()

    config = OpenTelemetryConfig(
        scopes={ScopeType.HTTP},  # the console's websocket would be one span per visit
        exclude=["^/health", "^/static/", "^/_reactpy/"],
        exclude_spans=["receive", "send"],
        middleware_class=_server_telemetry_class(),
    )
    server = OpenTelemetryPlugin(config)
    server._middleware = config.middleware  # the plugin's own default ignores middleware_class (as Litestar sets it itself)
    return [server, KamengTelemetry()]
