"""The web app's Temporal client, connected on first use so the app starts without it."""

from __future__ import annotations

import asyncio

from temporalio.client import Client

from infra.settings import Settings
from infra.temporal.client import connect


class TemporalHandle:
    def __init__(self, settings: Settings, client: Client | None = None) -> None:
        self._settings = settings
        self._client: Client | None = client
        self._lock = asyncio.Lock()

    async def client(self, timeout: float = 5.0) -> Client:
        if self._client is not None:
            return self._client
        async with self._lock:
            if self._client is None:
                self._client = await asyncio.wait_for(connect(self._settings), timeout)
        return self._client

    async def check(self, timeout: float = 2.0) -> str | None:
        """None when the Temporal frontend answers, else why not."""
        try:
            client = await self.client(timeout)
            await asyncio.wait_for(client.service_client.check_health(), timeout)
        except Exception as exc:  # reported in /health, not swallowed
            return f"{type(exc).__name__}: {exc}".strip()
        return None
