"""The one place that connects to Temporal: address, namespace, converter, tracing."""

from __future__ import annotations

from temporalio.client import Client, Interceptor
from temporalio.contrib.opentelemetry import TracingInterceptor

from infra.settings import Settings, get_settings
from infra.temporal.converter import DATA_CONVERTER


def interceptors() -> list[Interceptor]:
    return [TracingInterceptor()]


async def connect(settings: Settings | None = None, *, address: str | None = None) -> Client:
    settings = settings or get_settings()
    return await Client.connect(
        address or settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=DATA_CONVERTER,
        interceptors=interceptors(),
    )
