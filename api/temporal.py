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
        """The connected client; a 503 with a clear reason while Temporal cannot be reached."""
        if self._client is not None:
            return self._client
        async with self._lock:
            if self._client is None:
                try:
                    self._client = await asyncio.wait_for(connect(self._settings), timeout)
                except Exception as exc:  # answered as 503, not a 500
                    from api.errors import ApiError

                    raise ApiError(
                        503, "temporal_unavailable",
                        f"the workflow service at {self._settings.temporal_address} is not reachable; try again shortly",
                        headers={"Retry-After": "5"},
                    ) from exc
        return self._client

    async def check(self, timeout: float = 2.0) -> str | None:
        """None when the Temporal frontend answers, else why not."""
        try:
            client = await self.client(timeout)
            await asyncio.wait_for(client.service_client.check_health(), timeout)
        except Exception as exc:  # reported in /health, not swallowed
            cause = exc.__cause__ or exc
            return f"{type(cause).__name__}: {cause}".strip()
        return None
