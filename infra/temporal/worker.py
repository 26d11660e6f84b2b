"""The worker: every workflow in REGISTRY and every activity, on one task queue."""

from __future__ import annotations

import asyncio
import functools
import importlib
import logging
import pkgutil
from types import CodeType
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker import WorkflowInstance, WorkflowInstanceDetails
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions
from temporalio.worker.workflow_sandbox._runner import _Instance as _SandboxInstance

import activities
from infra.settings import Settings, get_settings
from workflows.registry import REGISTRY

log = logging.getLogger("kameng.worker")

# opentelemetry: the tracing interceptors open spans inside workflows (one context module).
PASSTHROUGH = ("msgspec", "workflows.domain", "opentelemetry")


def activity_classes() -> list[type]:
    """Every class in ``activities/`` with ``@activity.defn`` methods: nothing to register by hand."""
    found: dict[str, type] = {}
    for module_info in pkgutil.iter_modules(activities.__path__):
        module = importlib.import_module(f"activities.{module_info.name}")
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and value.__module__ == module.__name__
                and any(hasattr(m, "__temporal_activity_definition") for m in vars(value).values())
            ):
                found[f"{module.__name__}.{value.__name__}"] = value
    return [found[k] for k in sorted(found)]


def activity_functions() -> list:
    functions = []
    for cls in activity_classes():
        instance = cls()
        functions += [
            getattr(instance, name)
            for name, member in vars(cls).items()
            if hasattr(member, "__temporal_activity_definition")
        ]
    return functions


def workflow_classes() -> list[type]:
    """Every registered process, and the standing workflows (``infra/temporal/schedules.py``)."""
    from infra.temporal.schedules import STANDING

    return [spec.workflow for spec in REGISTRY] + [s.workflow for s in STANDING]


def cache_workflow_bytecode() -> None:
    """Write the workflow modules' bytecode if it is missing (``PYTHONDONTWRITEBYTECODE``, a
    fresh image). The sandbox imports a workflow's module afresh for every run it starts;
    without the cached bytecode, each of those imports compiles the source again (about a
    quarter of the cost of starting a run). Where the tree is read-only, nothing is written."""
    import compileall

    import workflows

    for folder in workflows.__path__:
        try:
            compileall.compile_dir(folder, quiet=2, workers=1)
        except OSError:
            pass


@functools.lru_cache(maxsize=256)
def sandbox_code(source: str) -> CodeType:
    """A snippet the sandbox runs, compiled once per worker."""
    return compile(source, "<string>", "exec")


class _PrecompiledInstance(_SandboxInstance):
    """The SDK's sandboxed workflow instance, running its snippets precompiled.

    The sandbox drives each run through a few fixed snippets of source (import the
    workflow's module, create it, activate it, ask it for a payload's serialization
    context) that it hands to ``exec``, which compiles them again on every call: two or
    three times per activation, about a tenth of the worker's Python per human step in the
    profile behind figure 2c (docs/performance.md). Run precompiled, they behave the same.
    """

    def _run_code(self, code: Any, **extra_globals: Any) -> None:
        super()._run_code(sandbox_code(code) if isinstance(code, str) else code, **extra_globals)


class WorkflowRunner(SandboxedWorkflowRunner):
    """Temporal's sandbox (every restriction as the SDK sets it), with its snippets precompiled
    (``_PrecompiledInstance``)."""

    def create_instance(self, det: WorkflowInstanceDetails) -> WorkflowInstance:
        return _PrecompiledInstance(det, self.runner_class, self.restrictions)


def workflow_runner() -> SandboxedWorkflowRunner:
    return WorkflowRunner(restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH))


def replayer() -> "Replayer":
    """Replays recorded histories on today's workflow code, configured as the worker is."""
    from temporalio.worker import Replayer

    from infra.temporal.converter import DATA_CONVERTER

    return Replayer(workflows=workflow_classes(), data_converter=DATA_CONVERTER, workflow_runner=workflow_runner())


def build_worker(client: Client, settings: Settings | None = None, *, task_queue: str | None = None) -> Worker:
    from infra.telemetry import ensure_tracing

    settings = settings or get_settings()
    ensure_tracing()  # the tracing interceptor wants the replay-safe tracer provider in place
    cache_workflow_bytecode()
    return Worker(
        client,
        task_queue=task_queue or settings.task_queue,
        workflows=workflow_classes(),
        activities=activity_functions(),
        workflow_runner=workflow_runner(),
        max_cached_workflows=settings.max_cached_workflows,
    )


async def run_worker(settings: Settings | None = None) -> None:
    from infra.db.engine import bind_tables, close_pool, start_pool
    from infra.telemetry import configure_telemetry
    from infra.temporal.client import connect

    settings = settings or get_settings()
    # Before connecting: the client's runtime exports the SDK's worker metrics. Workflow and
    # activity spans come from the client's TracingInterceptor, which the Worker inherits.
    configure_telemetry(settings, "kameng-worker")
    bind_tables()
    await start_pool()
    client = await connect(settings)
    if settings.search_attributes:
        from infra.temporal.search import ensure_search_attributes

        await ensure_search_attributes(client)
    worker = build_worker(client, settings)
    from infra.temporal.schedules import ensure_standing

    await ensure_standing(client, settings)
    from infra.grants_check import revoke_exceeding

    revoked = await revoke_exceeding(client, source="worker start-up check")
    if revoked:
        log.warning("revoked %d grant(s) above the delegation ceiling", len(revoked))
    log.info(
        "worker polling task queue %r on %s (%d workflows)",
        settings.task_queue, settings.temporal_address, len(REGISTRY),
    )
    try:
        await worker.run()
    finally:
        await close_pool()
        await asyncio.sleep(0.2)
