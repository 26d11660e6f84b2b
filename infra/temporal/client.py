"""The one place that connects to Temporal: address, namespace, converter, tracing, and the
runtime that exports the SDK's worker metrics (``infra.telemetry.temporal_runtime``)."""

from __future__ import annotations

from pathlib import Path

from temporalio.client import Client, Interceptor
from temporalio.service import TLSConfig

from infra.settings import Settings, get_settings
from infra.telemetry import temporal_interceptors, temporal_runtime
from infra.temporal.converter import DATA_CONVERTER


def interceptors() -> list[Interceptor]:
    """Tracing for starts, updates, workflows and activities (the worker inherits them)."""
    return temporal_interceptors()


def tls_config(settings: Settings) -> TLSConfig | bool:
    """The frontend connection's TLS (``KAMENG_TEMPORAL_TLS_*``): server verification against
    a CA of its own (or the system's roots), and a client certificate for mutual TLS, as a
    production frontend that admits only Kameng's processes requires (docs/deploy.md)."""
    def read(path: str) -> bytes | None:
        return Path(path).read_bytes() if path else None

    if not (settings.temporal_tls or settings.temporal_tls_ca or settings.temporal_tls_cert):
        return False
    if bool(settings.temporal_tls_cert) != bool(settings.temporal_tls_key):
        raise ValueError("KAMENG_TEMPORAL_TLS_CERT and KAMENG_TEMPORAL_TLS_KEY go together")
    return TLSConfig(
        server_root_ca_cert=read(settings.temporal_tls_ca),
        client_cert=read(settings.temporal_tls_cert),
        client_private_key=read(settings.temporal_tls_key),
        domain=settings.temporal_tls_server_name or None,
    )


async def connect(settings: Settings | None = None, *, address: str | None = None) -> Client:
    settings = settings or get_settings()
    return await Client.connect(
        address or settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=DATA_CONVERTER,
        interceptors=interceptors(),
        runtime=temporal_runtime(),  # None: the default runtime (no SDK metrics exported)
        tls=tls_config(settings),
    )
