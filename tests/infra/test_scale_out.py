"""Scaling out: the web app and two workers as separate OS processes, one Temporal (the real
dev server), one database (this run's: PostgreSQL in the PostgreSQL pass), one task queue.

Processes started and approved through the HTTP API are worked on by both workers (the
workflow histories name the worker of every step's activities), every process ends up where it
should, and the telemetry the three processes export over OTLP (to a small receiver here,
standing in for the collector) joins up: one approval is one trace, from the web process's
HTTP span to the activity spans in a worker process, and the Temporal SDK's worker metrics
arrive too.
"""

from __future__ import annotations

import asyncio
import gzip
import os
import signal
import socket
import subprocess
import sys
import threading
import uuid
from datetime import UTC, datetime
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from infra.stack import free_port, listening
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from infra.db.tables import PermissionGrant, Task

pytestmark = [pytest.mark.db, pytest.mark.slow, pytest.mark.timeout(240)]

REQUESTERS = ["regional-game-cards", "regional-east-china", "regional-game-items", "regional-mobile-topup"]
PER_REQUESTER = 3
GRANT = {"permission": "funds.approve", "scope": "region", "duration": "P3D", "justification": "扩容演练：大促期间资金审批"}
APPROVE_ROUTE = "POST /api/processes/permission-grant/{process_id}/actions/approve"


class OTLPSink:
    """A minimal OTLP/HTTP receiver: keeps every span and metric it is sent, by resource."""

    def __init__(self) -> None:
        self.spans: list[tuple[dict, object]] = []
        self.metrics: list[tuple[dict, object]] = []
        self.lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server interface
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                sink.receive(self.path, body)
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def receive(self, path: str, body: bytes) -> None:
        if path.endswith("/v1/traces"):
            request = ExportTraceServiceRequest.FromString(body)
            with self.lock:
                for rs in request.resource_spans:
                    resource = {a.key: a.value.string_value for a in rs.resource.attributes}
                    self.spans += [(resource, span) for ss in rs.scope_spans for span in ss.spans]
        elif path.endswith("/v1/metrics"):
            request = ExportMetricsServiceRequest.FromString(body)
            with self.lock:
                for rm in request.resource_metrics:
                    resource = {a.key: a.value.string_value for a in rm.resource.attributes}
                    self.metrics += [(resource, metric) for sm in rm.scope_metrics for metric in sm.metrics]

    def __enter__(self) -> OTLPSink:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def snapshot(self) -> tuple[list, list]:
        with self.lock:
            return list(self.spans), list(self.metrics)


def spawn(role: str, env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "infra.cli", role], env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True,
    )


async def wait_for(condition, what: str, timeout: float = 30, logs: list[Path] = (), detail=None) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            tails = "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in logs)
            raise AssertionError(f"{what}: not after {timeout:.0f}s {detail() if detail else ''}\n{tails}")
        await asyncio.sleep(0.1)


async def open_task(process_id: str) -> dict:
    for _ in range(400):
        row = await Task.select().where((Task.process_id == process_id) & (Task.status == "open")).first()
        if row:
            return row
        await asyncio.sleep(0.05)
    raise AssertionError(f"no open task for {process_id}")


async def sign_in(client: httpx.AsyncClient, username: str) -> dict[str, str]:
    response = await client.post("/api/auth/login", json={"username": username, "password": "kameng-demo"})
    assert response.status_code == 200, response.text
    client.cookies.clear()  # bearer tokens only: a later sign-in would rotate a carried cookie
    return {"Authorization": f"Bearer {response.json()['token']}"}


async def worker_of_each_step(client, process_id: str) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """(kind, worker pid) for every workflow task and activity the history records. A step's
    writes are local activities: their markers follow the completion of the workflow task
    whose worker ran them."""
    done = []
    completed_by = ""
    async for event in client.get_workflow_handle(process_id).fetch_history_events():
        if event.HasField("activity_task_started_event_attributes"):
            done.append(("activity", event.activity_task_started_event_attributes.identity.split("@")[0]))
        elif event.HasField("workflow_task_started_event_attributes"):
            done.append(("workflow_task", event.workflow_task_started_event_attributes.identity.split("@")[0]))
        elif event.HasField("workflow_task_completed_event_attributes"):
            completed_by = event.workflow_task_completed_event_attributes.identity.split("@")[0]
        elif event.HasField("marker_recorded_event_attributes") and event.marker_recorded_event_attributes.marker_name == "core_local_activity":
            done.append(("activity", completed_by))
    return done


def instance_pid(resource: dict) -> str:
    return resource.get("process.pid") or resource.get("service.instance.id", "").rsplit("-", 1)[-1]


async def test_two_workers_share_a_task_queue_behind_the_http_api(dev_server, demo, tmp_path):
    temporal = dev_server.client
    address = temporal.service_client.config.target_host
    port = free_port()
    base = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    with OTLPSink() as sink:
        env = {
            **base,
            "KAMENG_TEMPORAL_ADDRESS": address,
            "KAMENG_TASK_QUEUE": f"kameng-scale-{uuid.uuid4().hex[:6]}",
            "KAMENG_SEARCH_ATTRIBUTES": "true",
            "KAMENG_HOST": "127.0.0.1",
            "KAMENG_PORT": str(port),
            "KAMENG_WEB_WORKERS": "1",
            "KAMENG_LOG_FORMAT": "json",
            "KAMENG_INBOX_METRICS_SECONDS": "1",
            "OTEL_EXPORTER_OTLP_ENDPOINT": sink.endpoint,
            "OTEL_BSP_SCHEDULE_DELAY": "200",
            "OTEL_METRIC_EXPORT_INTERVAL": "1000",
        }
        logs = [tmp_path / "worker-1.log", tmp_path / "worker-2.log", tmp_path / "web.log"]
        children = [spawn("worker", env, logs[0]), spawn("worker", env, logs[1]), spawn("web", env, logs[2])]
        workers = children[:2]
        worker_pids = {str(w.pid) for w in workers}
        process_ids: list[str] = []
        left_open: dict = {}
        try:
            await wait_for(lambda: all("worker polling" in log.read_text() for log in logs[:2]), "both workers polling", logs=logs)
            await wait_for(lambda: listening(port), "the web app listening", logs=logs)

            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as web:
                tokens = {name: await sign_in(web, name) for name in [*REQUESTERS, "super-2"]}

                # Start the processes at once, through the web process.
                starts = await asyncio.gather(*[
                    web.post("/api/processes/permission-grant", json=GRANT, headers=tokens[name])
                    for name in REQUESTERS for _ in range(PER_REQUESTER)
                ])
                assert all(r.status_code == 201 for r in starts), [r.text for r in starts if r.status_code != 201]
                process_ids = [r.json()["process_id"] for r in starts]
                tasks = {pid: await open_task(pid) for pid in process_ids}
                assert all(t["tier"] == "super" for t in tasks.values())  # fund permissions: a super decides

                # Approve them at once, as super-2.
                approvals = await asyncio.gather(*[
                    web.post(f"/api/processes/permission-grant/{pid}/actions/approve", params={"task_id": task["task_id"]},
                             json={"reason": "扩容演练"}, headers=tokens["super-2"])
                    for pid, task in tasks.items()
                ])
                assert [r.status_code for r in approvals] == [200] * len(process_ids), [r.text for r in approvals if r.status_code != 200]
                assert {r.json()["status"] for r in approvals} == {"active"}

                # One more, left waiting: the web processes' inbox gauge must show it.
                waiting = await web.post("/api/processes/permission-grant", json=GRANT, headers=tokens[REQUESTERS[0]])
                assert waiting.status_code == 201, waiting.text
                left_open = await open_task(waiting.json()["process_id"])

            # Every process reached its state: the grant is active, its one task is done.
            assert await PermissionGrant.count().where(PermissionGrant.grant_id.is_in(process_ids)) == len(process_ids)
            assert await Task.count().where(Task.process_id.is_in(process_ids) & (Task.status == "done")) == len(process_ids)

            # Both workers did work: the histories name the worker of every step.
            steps = [step for pid in process_ids for step in await worker_of_each_step(temporal, pid)]
            activities = Counter(pid for kind, pid in steps if kind == "activity")
            assert set(activities) == worker_pids, f"activity executions by worker pid: {dict(activities)}"
            # At least each step's writes: the start's (started, task) and the decision's (task, grant, activation).
            assert sum(activities.values()) >= 2 * len(process_ids)

            # The telemetry of the three processes joins up at the collector.
            def missing() -> list[str]:
                spans, metrics = sink.snapshot()
                runners = {instance_pid(r) for r, s in spans if s.name.startswith("RunActivity:")}
                names = {m.name for _, m in metrics}
                web_names = {m.name for r, m in metrics if r.get("service.name") == "kameng-web"}
                gaps = [f"activity spans from worker {pid}" for pid in sorted(worker_pids - runners)]
                gaps += [f"metric {name}" for name in ("kameng.process.starts",) if name not in names]
                gaps += [] if any(n.startswith("temporal_") for n in names) else ["the Temporal SDK's metrics"]
                gaps += [] if "http.server.duration" in web_names else ["web metric http.server.duration"]
                inbox = [
                    p.as_int for r, m in metrics if r.get("service.name") == "kameng-web" and m.name == "kameng.inbox.open"
                    for p in m.gauge.data_points
                    if {(a.key, a.value.string_value) for a in p.attributes} >= {("tier", "super"), ("region", left_open["region"])}
                ]
                gaps += [] if inbox and inbox[-1] >= 1 else ["the waiting task in the web's kameng.inbox.open"]
                return gaps

            def exported() -> bool:
                return not missing()

            def joined_approval() -> tuple[list[str], str] | None:
                """An approval's trace from the web's HTTP span down to a worker's activity:
                (span names root first, the worker's pid)."""
                spans = sink.snapshot()[0]
                by_id = {s.span_id: (r, s) for r, s in spans}
                for resource, span in spans:
                    if span.name != "RunActivity:apply_writes":
                        continue
                    chain, node = [], (resource, span)
                    while node is not None:
                        chain.append(node[1].name)
                        top = node
                        node = by_id.get(node[1].parent_span_id)
                    if top[1].name == APPROVE_ROUTE and top[0].get("service.name") == "kameng-web":
                        return chain[::-1], instance_pid(resource)
                return None

            await wait_for(exported, "telemetry from every process (missing: see below)", logs=logs, detail=missing)
            await wait_for(lambda: joined_approval() is not None, "an approval traced from the web process into a worker", logs=logs)
            chain, worker = joined_approval()  # type: ignore[misc]
            assert chain[:3] == [APPROVE_ROUTE, "StartWorkflowUpdate:act", "HandleUpdate:act"], chain
            assert chain[-2:] == ["StartActivity:apply_writes", "RunActivity:apply_writes"] and worker in worker_pids, (chain, worker)

            def starts_reported() -> dict[str, float]:
                """The workers' process-start counters: cumulative, so each one's last report."""
                by_worker: dict[str, float] = {}
                for resource, metric in sink.snapshot()[1]:
                    if metric.name == "kameng.process.starts" and instance_pid(resource) in worker_pids:
                        by_worker[instance_pid(resource)] = sum(
                            p.as_double or p.as_int for p in metric.sum.data_points
                            if any(a.key == "kind" and a.value.string_value == "permission-grant" for a in p.attributes)
                        )
                return by_worker

            started = len(process_ids) + 1  # and the one left waiting
            await wait_for(lambda: sum(starts_reported().values()) == started, "every start counted once", logs=logs, detail=starts_reported)
        finally:
            if process_ids:  # the grants were real: take them back so later tests start clean
                await PermissionGrant.update({PermissionGrant.revoked_at: datetime.now(UTC)}).where(
                    PermissionGrant.grant_id.is_in(process_ids) & PermissionGrant.revoked_at.is_null()
                )
            for pid in [*process_ids, *([left_open["process_id"]] if left_open else [])]:  # parked processes: end them
                try:
                    await temporal.get_workflow_handle(pid).terminate("test finished")
                except Exception:  # already ended
                    pass
            for child in children:
                if child.poll() is None:
                    os.killpg(child.pid, signal.SIGTERM)
            for child in children:
                try:
                    child.wait(20)
                except subprocess.TimeoutExpired:
                    os.killpg(child.pid, signal.SIGKILL)
                    child.wait(5)
