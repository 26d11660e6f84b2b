"""One trace per user action, the metrics, and trace ids in the logs, with in-memory exporters.

An HTTP request to the real app starts or advances a real process on the test server; the
spans it leaves form one tree: HTTP server span → workflow start/update → workflow →
activity → database query. The business counters move by exactly what was done.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from api.app import create_app
from tests.conftest import terminate_quietly
from infra import telemetry
from infra.db.tables import Task
from infra.logs import ConsoleFormatter, JSONFormatter, TraceContextFilter
from infra.settings import get_settings
from infra.temporal.worker import build_worker
from tests.api.conftest import bearer
from tests.api.conftest import login as _login
from workflows.domain.messages import AuditRecord

pytestmark = [pytest.mark.db, pytest.mark.timeout(90)]

GRANT = {"permission": "funds.approve", "scope": "region", "duration": "P3D", "justification": "大促期间需要区域资金审批权"}
START_ROUTE = "/api/processes/permission-grant"
ACTION_ROUTE = "/api/processes/permission-grant/{process_id}/actions/{action}"


@pytest.fixture(scope="module")
def exporters():
    """This process's telemetry, set up as production does but with in-memory exporters."""
    spans, reader = InMemorySpanExporter(), InMemoryMetricReader()
    telemetry.configure_telemetry(get_settings(), "kameng-test", span_exporter=spans, metric_reader=reader)
    yield spans, reader
    spans.clear()
    spans.shutdown()  # later tests in this process keep no spans in memory


@pytest.fixture
async def web(exporters, demo, temporal_env):
    """The real app in this loop, with a worker on the queue it starts processes on."""
    app = create_app(temporal_client=temporal_env.client)
    started: list[str] = []

    async def remember(response: httpx.Response) -> None:
        if response.status_code == 201 and response.request.url.path.startswith("/api/processes/"):
            await response.aread()
            started.append(response.json()["process_id"])

    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40001))
    async with build_worker(temporal_env.client), httpx.AsyncClient(
        transport=transport, base_url="http://testserver.local", event_hooks={"response": [remember]}
    ) as client:
        yield client
        for process_id in started:  # parked workflows would stop the test server skipping time
            await terminate_quietly(temporal_env.client.get_workflow_handle(process_id))


# ----- helpers ---------------------------------------------------------------------------


async def login(client: httpx.AsyncClient, username: str) -> str:
    """A bearer token; the session cookie is dropped (a later sign-in would rotate it away)."""
    token = await _login(client, username)
    client.cookies.clear()
    return token


async def open_task(process_id: str) -> dict:
    for _ in range(200):
        row = await Task.select().where((Task.process_id == process_id) & (Task.status == "open")).first()
        if row:
            return row
        await asyncio.sleep(0.05)
    raise AssertionError(f"no open task for {process_id}")


def lineage(span: ReadableSpan, by_id: dict[int, ReadableSpan]) -> list[str]:
    """Names from the root of the span's trace down to the span."""
    names = [span.name]
    while span.parent is not None and span.parent.span_id in by_id:
        span = by_id[span.parent.span_id]
        names.append(span.name)
    return names[::-1]


def points(reader: InMemoryMetricReader, name: str) -> list:
    data = reader.get_metrics_data()
    found = []
    for resource_metrics in data.resource_metrics if data else []:
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                if metric.name == name:
                    found += list(metric.data.data_points)
    return found


def value(reader: InMemoryMetricReader, name: str, **attributes: object) -> float:
    """A counter's or gauge's value (a histogram's count) for exactly these attributes."""
    total = 0.0
    for point in points(reader, name):
        if all(point.attributes.get(k) == v for k, v in attributes.items()):
            total += getattr(point, "value", None) if hasattr(point, "value") else point.count
    return total


# ----- the trace of one action ------------------------------------------------------------


def trace_tree(exporter: InMemorySpanExporter, trace_id: int) -> tuple[list[ReadableSpan], dict[int, ReadableSpan]]:
    spans = [s for s in exporter.get_finished_spans() if s.context.trace_id == trace_id]
    return spans, {s.context.span_id: s for s in spans}


async def wait_for_chain(exporter: InMemorySpanExporter, root_name: str, chain: list[str], timeout: float = 10) -> tuple[ReadableSpan, list[ReadableSpan], list[str]]:
    """The latest server span ``root_name`` whose trace holds a span with exactly ``chain``
    (root first) as its ancestry; spans end as activities finish, so poll for it."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        roots = [s for s in exporter.get_finished_spans() if s.kind == trace.SpanKind.SERVER and s.name == root_name]
        if roots:
            spans, by_id = trace_tree(exporter, roots[-1].context.trace_id)
            for span in spans:
                if span.name == chain[-1] and lineage(span, by_id) == chain:
                    return roots[-1], spans, chain
        if asyncio.get_running_loop().time() > deadline:
            have = {tuple(lineage(s, by_id)) for s in spans} if roots else set()
            raise AssertionError(f"no {chain} under {root_name}; lineages seen:\n" + "\n".join(" > ".join(l) for l in sorted(have)))
        await asyncio.sleep(0.05)


def one_tree(spans: list[ReadableSpan], by_id: dict[int, ReadableSpan]) -> set[int]:
    """The roots of a trace's spans: one for a trace that is whole."""
    roots = set()
    for span in spans:
        while span.parent is not None and span.parent.span_id in by_id:
            span = by_id[span.parent.span_id]
        roots.add(span.context.span_id)
    return roots


async def test_each_action_is_one_trace_from_http_to_the_database(web, exporters):
    spans, _ = exporters
    regional = await login(web, "regional-game-cards")
    started = await web.post(START_ROUTE, json=GRANT, headers=bearer(regional))
    assert started.status_code == 201, started.text
    pid = started.json()["process_id"]
    task = await open_task(pid)

    # An action: HTTP → update → update handler → activity → database, all in one trace,
    # including what the workflow's main coroutine does because of it.
    approve = "POST " + ACTION_ROUTE.replace("{action}", "approve")
    sup = await login(web, "super-2")
    approved = await web.post(f"{START_ROUTE}/{pid}/actions/approve", params={"task_id": task["task_id"]}, json={"reason": "同意"}, headers=bearer(sup))
    assert approved.status_code == 200 and approved.json()["status"] == "active", approved.text
    root, in_trace, _ = await wait_for_chain(
        spans, approve,
        [approve, "StartWorkflowUpdate:act", "HandleUpdate:act", "StartActivity:apply_writes", "RunActivity:apply_writes", "UPDATE task"],
    )
    await wait_for_chain(
        spans, approve,
        [approve, "StartWorkflowUpdate:act", "HandleUpdate:act", "StartActivity:apply_writes", "RunActivity:apply_writes", "INSERT permission_grant"],
    )
    in_trace, by_id = trace_tree(spans, root.context.trace_id)
    assert one_tree(in_trace, by_id) == {root.context.span_id}  # no orphan in the action's trace
    assert root.attributes["http.route"] == ACTION_ROUTE.replace("{action}", "approve")
    assert root.attributes["http.status_code"] == 200
    assert pid not in root.name  # spans are named by route template, never by id
    update = next(s for s in in_trace if s.name == "UPDATE task")
    assert update.attributes["db.system"] in ("sqlite", "postgresql") and update.attributes["db.sql.table"] == "task"
    assert update.attributes["db.statement"].startswith("UPDATE") and pid not in update.attributes["db.statement"]

    # The start: HTTP → StartWorkflow → the workflow run → activity → database. The workflow's
    # span covers its whole run, so it is exported when the process ends: revoke it.
    revoked = await web.post(f"{START_ROUTE}/{pid}/actions/revoke", json={"reason": "用完了"}, headers=bearer(regional))
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked", revoked.text
    start = f"POST {START_ROUTE}"
    root, _, _ = await wait_for_chain(
        spans, start,
        [start, "StartWorkflow:PermissionGrant", "RunWorkflow:PermissionGrant", "StartActivity:apply_writes", "RunActivity:apply_writes", "INSERT task"],
    )
    in_trace, by_id = trace_tree(spans, root.context.trace_id)
    assert one_tree(in_trace, by_id) == {root.context.span_id}
    assert root.attributes["http.status_code"] == 201
    run = next(s for s in in_trace if s.name == "RunWorkflow:PermissionGrant")
    assert run.attributes["temporalWorkflowID"] == pid
    assert run.end_time > run.start_time  # a real duration: the run, from start to revocation


# ----- metrics ------------------------------------------------------------------------------


async def wait_until(condition: Callable[[], bool], timeout: float = 10) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition never held"
        await asyncio.sleep(0.05)


async def test_metrics_move_by_what_was_done(web, exporters):
    _, reader = exporters
    kind = "permission-grant"
    approve_route = ACTION_ROUTE.replace("{action}", "approve")

    def snapshot() -> dict[str, float]:
        return {
            "starts": value(reader, "kameng.process.starts", kind=kind),
            "revoked": value(reader, "kameng.process.completions", kind=kind, status="revoked"),
            "denied": value(reader, "kameng.denials", action=f"{kind}.start", tier="intern"),
            "audit_writes": value(reader, "kameng.audit.write.duration", written=True),
            "http_started": value(reader, "http.server.duration", **{"http.target": START_ROUTE, "http.status_code": 201}),
            "http_approved": value(reader, "http.server.duration", **{"http.target": approve_route, "http.status_code": 200}),
        }

    before = snapshot()
    regional = await login(web, "regional-east-china")
    started = await web.post(START_ROUTE, json=GRANT, headers=bearer(regional))
    assert started.status_code == 201, started.text
    pid = started.json()["process_id"]
    task = await open_task(pid)
    sup = await login(web, "super-2")
    approved = await web.post(f"{START_ROUTE}/{pid}/actions/approve", params={"task_id": task["task_id"]}, json={"reason": "同意"}, headers=bearer(sup))
    assert approved.status_code == 200, approved.text
    revoked = await web.post(f"{START_ROUTE}/{pid}/actions/revoke", json={"reason": "用完了"}, headers=bearer(regional))
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked", revoked.text
    intern = await login(web, "intern-game-cards-1")
    refused = await web.post(START_ROUTE, json={**GRANT, "regions": ["east-china"]}, headers=bearer(intern))
    assert refused.status_code == 404  # refused, and audited as a denial

    await wait_until(lambda: snapshot()["revoked"] == before["revoked"] + 1)
    after = snapshot()
    assert after["starts"] == before["starts"] + 1
    assert after["revoked"] == before["revoked"] + 1
    assert after["denied"] == before["denied"] + 1
    assert after["http_started"] == before["http_started"] + 1, points(reader, "http.server.duration")
    assert after["http_approved"] == before["http_approved"] + 1
    # started, task opened, approve, activated, revoke, revoked, the denial: each timed.
    assert after["audit_writes"] >= before["audit_writes"] + 7


def test_escalations_count_once_per_written_event(exporters):
    _, reader = exporters
    labels = {"kind": "permission-grant", "tier": "super", "region": "game-cards"}
    before = value(reader, "kameng.task.escalations", **labels)
    record = AuditRecord(
        actor="system", actor_tier="system", action="task.escalated", target="task:t", outcome="escalated",
        region="game-cards", process_id="permission-grant-regional-game-cards-funds.approve-abc", after={"tier": "super"},
        dedup_key="t:escalated:1",
    )
    telemetry.observe_audit(record, 0.004, written=True)
    telemetry.observe_audit(record, 0.001, written=False)  # an activity's retry: deduplicated, not counted
    assert value(reader, "kameng.task.escalations", **labels) == before + 1


async def test_inbox_gauges_count_open_and_overdue_tasks_by_tier_and_region(web, exporters):
    _, reader = exporters
    regional = await login(web, "regional-mobile-topup")
    started = await web.post(START_ROUTE, json=GRANT, headers=bearer(regional))
    assert started.status_code == 201, started.text
    task = await open_task(started.json()["process_id"])
    key = {"tier": task["tier"], "region": task["region"]}
    waiting = Task.status.is_in(["open", "claimed"]) & (Task.tier == task["tier"]) & (Task.region == task["region"])

    now = datetime.now(UTC)
    await telemetry.INBOX.refresh(now=now)
    expected = await Task.count().where(waiting)
    assert expected >= 1 and value(reader, "kameng.inbox.open", **key) == expected
    overdue = await Task.count().where(waiting & (Task.due_at < now))
    assert value(reader, "kameng.inbox.overdue", **key) == overdue

    # Once its due time has passed, the task counts as overdue. (Its due time comes from the
    # test server's clock, which earlier tests may have skipped far ahead.)
    later = task["due_at"] + timedelta(seconds=1)
    await telemetry.INBOX.refresh(now=later)
    overdue = await Task.count().where(waiting & (Task.due_at < later))
    assert overdue >= 1 and value(reader, "kameng.inbox.overdue", **key) == overdue
    await telemetry.INBOX.refresh()


# ----- logs and configuration ---------------------------------------------------------------


def test_log_lines_carry_the_trace_id(exporters):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JSONFormatter())
    handler.addFilter(TraceContextFilter())
    logger = logging.getLogger(f"kameng.test.{uuid.uuid4().hex[:6]}")
    logger.addHandler(handler)
    logger.propagate = False
    with telemetry.TRACER.start_as_current_span("work") as span:
        logger.info("inside a span")
        record = logging.LogRecord(logger.name, logging.INFO, __file__, 1, "console line", None, None)
        TraceContextFilter().filter(record)
    logger.info("outside any span")
    inside, outside = (json.loads(line) for line in stream.getvalue().splitlines())
    context = span.get_span_context()
    assert inside["trace_id"] == format(context.trace_id, "032x") and inside["span_id"] == format(context.span_id, "016x")
    assert inside["message"] == "inside a span" and inside["level"] == "info"
    assert "trace_id" not in outside
    assert ConsoleFormatter().format(record).endswith(f"[trace {format(context.trace_id, '032x')[:8]}]")


async def test_a_request_keeps_its_trace_context_and_records_a_span_only_when_spans_leave(exporters, monkeypatch):
    """With nothing exported the server span would be built only to be dropped: the request
    then carries just its trace context (the caller's continued, or a new trace)."""
    from litestar import Litestar, get

    spans, _ = exporters

    @get("/trace", sync_to_thread=False)
    def current_trace() -> dict:
        span = trace.get_current_span()
        context = span.get_span_context()
        return {"trace_id": format(context.trace_id, "032x"), "sampled": context.trace_flags.sampled, "recording": span.is_recording()}

    app = Litestar([current_trace], plugins=telemetry.litestar_plugins(get_settings()))
    caller = "4bf92f3577b34da6a3ce929d0e0e4736"
    traceparent = {"traceparent": f"00-{caller}-00f067aa0ba902b7-01"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver.local") as client:
        state = telemetry.current()
        monkeypatch.setattr(state, "traces_exported", False)
        monkeypatch.setattr(state, "metrics_exported", False)
        spans.clear()
        fresh = (await client.get("/trace")).json()
        continued = (await client.get("/trace", headers=traceparent)).json()
        assert fresh["trace_id"] != "0" * 32 and fresh["sampled"] and not fresh["recording"]
        assert continued["trace_id"] == caller and not continued["recording"]
        assert (await client.get("/trace")).json()["trace_id"] != fresh["trace_id"]
        assert not [s for s in spans.get_finished_spans() if s.name.startswith("GET")]

        monkeypatch.undo()  # spans leave the process again: the full server span
        exported = (await client.get("/trace", headers=traceparent)).json()
        assert exported["trace_id"] == caller and exported["recording"]
        [server] = [s for s in spans.get_finished_spans() if s.name == "GET /trace"]
        assert server.kind is trace.SpanKind.SERVER and server.attributes["http.status_code"] == 200


def test_temporal_spans_are_opened_only_where_spans_leave_the_process(exporters, monkeypatch):
    """A worker or web process that exports no spans adds no tracing interceptor: its starts,
    updates, workflow tasks and activities carry no span and no trace header."""
    from temporalio.contrib.opentelemetry import OpenTelemetryInterceptor

    state = telemetry.current()
    assert state is not None and state.traces_exported
    assert [type(i) for i in telemetry.temporal_interceptors()] == [OpenTelemetryInterceptor, telemetry.ActionTracing]
    monkeypatch.setattr(state, "traces_exported", False)
    assert telemetry.temporal_interceptors() == []


@pytest.mark.parametrize(
    ("env", "traces", "metrics"),
    [
        ({}, (), ()),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/"}, ("otlp",), ("otlp",)),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "OTEL_METRICS_EXPORTER": "none"}, ("otlp",), ()),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://jaeger:4318/v1/traces"}, ("otlp",), ()),
        ({"OTEL_TRACES_EXPORTER": "console"}, ("console",), ()),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "OTEL_SDK_DISABLED": "true"}, (), ()),
    ],
)
def test_the_otel_variables_choose_the_exporters(env, traces, metrics):
    plan = telemetry.export_plan(env)
    assert (plan.traces, plan.metrics) == (traces, metrics)
    if "otlp" in traces:
        assert plan.otlp_traces_endpoint == env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://collector:4318/v1/traces")
    if "otlp" in metrics:
        assert plan.otlp_metrics_endpoint == "http://collector:4318/v1/metrics"
    assert telemetry.export_plan({"OTEL_TRACES_EXPORTER": "otlp"}).otlp_traces_endpoint == "http://localhost:4318/v1/traces"


SMOKE = """
import logging, sys
from infra.logs import configure_logging
from infra.telemetry import TRACER, PROCESS_STARTS, configure_telemetry, shutdown_telemetry, temporal_runtime
configure_logging("json")
state = configure_telemetry(None, "kameng-smoke")
assert configure_telemetry(None, "again") is state  # idempotent
with TRACER.start_as_current_span("smoke"):
    logging.getLogger("kameng.smoke").info("hello")
    PROCESS_STARTS.add(1, {"kind": "smoke"})
shutdown_telemetry(2000)
print(state.traces_exported, state.metrics_exported, temporal_runtime() is not None)
"""


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "False False False"),  # nothing set: nothing exported, nothing breaks
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9"}, "True True True"),  # nobody listens: still fine
    ],
)
def test_a_process_runs_with_or_without_a_collector(env, expected, tmp_path):
    import os
    import subprocess
    import sys

    clean = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    result = subprocess.run(
        [sys.executable, "-c", SMOKE], env={**clean, **env, "OTEL_BSP_EXPORT_TIMEOUT": "500", "OTEL_EXPORTER_OTLP_TIMEOUT": "1"},
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == expected
    line = next(json.loads(l) for l in result.stderr.splitlines() if '"hello"' in l)
    assert len(line["trace_id"]) == 32  # log lines carry trace ids even with nothing exported
