"""The one place that connects to Temporal: address, namespace, converter, tracing, and the
runtime that exports the SDK's worker metrics (``infra.telemetry.temporal_runtime``)."""

from __future__ import annotations

from temporalio.client import Client, Interceptor

from infra.settings import Settings, get_settings
from infra.telemetry import temporal_interceptors, temporal_runtime
from infra.temporal.converter import DATA_CONVERTER


def interceptors() -> list[Interceptor]:
    """Tracing for starts, updates, workflows and activities (the worker inherits them)."""
    return temporal_interceptors()


async def connect(settings: Settings | None = None, *, address: str | None = None) -> Client:
    settings = settings or get_settings()
    return await Client.connect(
        address or settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=DATA_CONVERTER,
        interceptors=interceptors(),
        runtime=temporal_runtime(),  # None: the default runtime (no SDK metrics exported)
    )
