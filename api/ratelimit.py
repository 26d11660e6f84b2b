"""Failed sign-ins are limited per username and per address (a moving window).

The counts live in this process's memory: behind several web replicas, point the ``limits``
storage at a shared Redis (``KAMENG_RATE_LIMIT_STORAGE=redis://...``).
"""

from __future__ import annotations

import math
import time

from limits import parse, storage, strategies

from api.errors import ApiError


class LoginLimiter:
    def __init__(self, rule: str = "5/15 minutes", storage_uri: str = "memory://") -> None:
        self._item = parse(rule)
        self._limiter = strategies.MovingWindowRateLimiter(storage.storage_from_string(storage_uri))

    def _keys(self, username: str, address: str) -> list[tuple[str, str]]:
        return [("login-user", username.lower()[:64]), ("login-addr", address or "-")]

    def check(self, username: str, address: str) -> None:
        """Refuse with 429 while either key has used up its failures."""
        for kind, key in self._keys(username, address):
            if not self._limiter.test(self._item, kind, key):
                reset = self._limiter.get_window_stats(self._item, kind, key).reset_time
                wait = max(1, math.ceil(reset - time.time()))
                raise ApiError(
                    429, "rate_limited", f"too many failed sign-ins; try again in {wait} s",
                    headers={"Retry-After": str(wait)},
                )

    def failed(self, username: str, address: str) -> None:
        for kind, key in self._keys(username, address):
            self._limiter.hit(self._item, kind, key)


class AuditBudget:
    """How many unauthenticated denials one address may have written to the audit trail per
    window: enough to trace an attack, not enough to turn the trail into its target."""

    def __init__(self, rule: str = "60/minute", storage_uri: str = "memory://") -> None:
        self._item = parse(rule)
        self._limiter = strategies.MovingWindowRateLimiter(storage.storage_from_string(storage_uri))

    def allow(self, address: str) -> bool:
        return self._limiter.hit(self._item, "audit-denied-addr", address or "-")
