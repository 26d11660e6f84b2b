"""The pip-installed Temporal dev server, persisting to SQLite with WAL pragmas."""

from __future__ import annotations

from infra.settings import Settings
from infra.temporal.binaries import temporal_cli

SEARCH_ATTRIBUTES = {
    "KamengKind": "Keyword",
    "KamengRegion": "Keyword",
    "KamengTier": "Keyword",
    "KamengStatus": "Keyword",
}
"""Registered at start so operators can filter processes in Temporal's CLI and UI."""

SQLITE_PRAGMAS = ("journal_mode=wal", "synchronous=normal")


def dev_server_command(settings: Settings, *, headless: bool = False) -> list[str]:
    host, port = settings.temporal_address.rsplit(":", 1)
    db = settings.resolved_temporal_db
    db.parent.mkdir(parents=True, exist_ok=True)
    cmd = [
        str(temporal_cli()),
        "server",
        "start-dev",
        "--db-filename", str(db),
        "--ip", host,
        "--port", port,
        "--ui-port", str(settings.temporal_ui_port),
        "--namespace", settings.temporal_namespace,
        "--log-level", "warn",
        "--ui-disable-news-fetch",
    ]
    for pragma in SQLITE_PRAGMAS:
        cmd += ["--sqlite-pragma", pragma]
    for name, kind in SEARCH_ATTRIBUTES.items():
        cmd += ["--search-attribute", f"{name}={kind}"]
    if headless:
        cmd.append("--headless")
    return cmd
