"""Typed settings, read lazily from ``KAMENG_*`` environment variables."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import msgspec

PREFIX = "KAMENG_"


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    var_dir: str = "var"
    database_url: str = ""
    """``sqlite:///path`` (default ``<var_dir>/kameng.db``) or ``postgresql://...``."""
    db_lock_timeout: float = 30.0
    """Seconds an SQLite query waits for another writer's lock before it fails (the API then
    answers 503 ``database_unavailable`` and an activity retries)."""
    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    temporal_tls: bool = False
    """Connect to the frontend over TLS, verified against the system's roots (or ``temporal_tls_ca``)."""
    temporal_tls_ca: str = ""
    """A PEM file: the CA the frontend's certificate is verified against (implies TLS)."""
    temporal_tls_cert: str = ""
    temporal_tls_key: str = ""
    """PEM files: this process's client certificate and key, for a frontend that requires mutual TLS."""
    temporal_tls_server_name: str = ""
    """The name the frontend's certificate is checked for, when not the address's host."""
    temporal_ui_port: int = 8233
    temporal_db: str = ""
    """The dev server's SQLite file (default ``<var_dir>/temporal.db``)."""
    task_queue: str = "kameng"
    max_cached_workflows: int = 300
    """Workflows a worker keeps in memory between their tasks. Each costs about a third of a
    megabyte; one evicted from the cache replays its history when its next task comes."""
    search_attributes: bool = True
    """Tag processes with KamengKind/Region/Tier/Status (registered by the worker)."""
    host: str = "127.0.0.1"
    port: int = 8000
    server: str = "granian"
    """``granian`` or ``uvicorn``."""
    web_workers: int = 1
    demo_password: str = "kameng-demo"
    intake_tokens: str = "kameng-intake-dev"
    session_hours: int = 12
    login_rate_limit: str = "5/15 minutes;10/hour;20/day"
    """Failed sign-ins allowed per account: each limit in turn, so an account that keeps
    failing waits longer (15 minutes, then the hour, then the day). Never shared between accounts."""
    login_address_rate_limit: str = "200/15 minutes"
    """Failed sign-ins allowed per client address, whatever the accounts: high enough for an
    office behind one NAT, low enough to stop a password spray from one address."""
    trusted_proxies: str = ""
    """Addresses or networks of the proxies in front (``10.0.0.0/8,::1``): only from them is
    the client's address read off ``forwarded_header``; from any other peer, the peer is the client."""
    forwarded_header: str = "x-forwarded-for"
    """The header the trusted proxy sets: ``x-forwarded-for`` (Caddy, nginx) or ``forwarded`` (RFC 7239)."""
    rate_limit_storage: str = "memory://"
    """Where those counts live (``redis://host:6379`` to share them between replicas)."""
    log_format: str = "console"
    """``console`` (readable) or ``json``."""
    inbox_metrics_seconds: int = 30
    """How often a web process counts open and overdue tasks for the inbox gauges (0: never).

    Only while metrics are exported (``OTEL_EXPORTER_OTLP_ENDPOINT``)."""
    audit_seal_key: str = ""
    """The Ed25519 key that signs audit seals: its 32-byte private seed, base64. Without it the
    key lives in ``audit_seal_key_file``, generated there on first use (``docs/audit.md``)."""
    audit_seal_key_file: str = ""
    """Where the seal key is kept when ``audit_seal_key`` is empty (default ``<var_dir>/audit-seal.key``)."""
    audit_verify_keys: str = ""
    """Public keys (base64, comma-separated) of retired seal keys: their seals still verify."""
    audit_seal_minutes: int = 60
    """How often the standing ``audit-seal`` workflow seals the chain's head."""
    risk_scan_seconds: int = 300
    """How long the standing risk scan sleeps between two scans (0: workers do not start it)."""
    risk_lookback_days: int = 90
    """How much event history the risk scan reads (and learns its baselines from)."""
    temporal_metrics_prometheus: str = ""
    """``host:port`` where a worker serves the Temporal SDK's metrics for Prometheus; without
    it they go to the OTLP endpoint when one is set."""

    @property
    def var_path(self) -> Path:
        return Path(self.var_dir)

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.var_path / 'kameng.db'}"

    @property
    def is_postgres(self) -> bool:
        return self.resolved_database_url.startswith(("postgres://", "postgresql://"))

    @property
    def sqlite_path(self) -> Path:
        url = self.resolved_database_url
        if not url.startswith("sqlite:///"):
            raise ValueError(f"not an SQLite URL: {url!r}")
        return Path(url.removeprefix("sqlite:///"))

    @property
    def resolved_temporal_db(self) -> Path:
        return Path(self.temporal_db) if self.temporal_db else self.var_path / "temporal.db"

    @property
    def resolved_audit_seal_key_file(self) -> Path:
        return Path(self.audit_seal_key_file) if self.audit_seal_key_file else self.var_path / "audit-seal.key"

    @property
    def intake_token_list(self) -> list[str]:
        return [t.strip() for t in self.intake_tokens.split(",") if t.strip()]

    @property
    def temporal_port(self) -> int:
        return int(self.temporal_address.rsplit(":", 1)[1])


def settings_from_env(env: dict[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    fields = set(Settings.__struct_fields__)
    raw = {
        key[len(PREFIX) :].lower(): value
        for key, value in env.items()
        if key.startswith(PREFIX) and key[len(PREFIX) :].lower() in fields
    }
    try:
        return msgspec.convert(raw, Settings, strict=False)
    except msgspec.ValidationError as exc:
        raise SystemExit(f"invalid KAMENG_* setting: {exc}") from None


@functools.cache
def get_settings() -> Settings:
    return settings_from_env()


def setting_names() -> list[tuple[str, object]]:
    """Every setting as (environment variable, default), for the README and ``--help``."""
    defaults = Settings()
    return [(PREFIX + name.upper(), getattr(defaults, name)) for name in Settings.__struct_fields__]
