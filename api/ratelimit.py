"""Failed sign-ins, limited per account and, far more loosely, per address (moving windows).

An account's failures count against that account alone, in limits that grow (by default five
in 15 minutes, ten in the hour, twenty in the day): a guessed password waits longer each time,
and nobody else is locked out by it. The address limit is shared by everyone behind one
address (an office behind one NAT) and set high enough for that: it stops a spray of guesses
across many accounts from one address, not a colleague's typos.

The counts live in this process's memory: behind several web replicas, point the ``limits``
storage at a shared Redis (``KAMENG_RATE_LIMIT_STORAGE=redis://...``).
"""

from __future__ import annotations

import math
import time

from limits import parse, parse_many, storage, strategies

from api.errors import ApiError


class LoginLimiter:
    def __init__(
        self, rule: str = "5/15 minutes;10/hour;20/day", storage_uri: str = "memory://", address_rule: str = "200/15 minutes",
    ) -> None:
        self._account = parse_many(rule)
        self._address = parse_many(address_rule)
        self._limiter = strategies.MovingWindowRateLimiter(storage.storage_from_string(storage_uri))

    def _items(self, username: str, address: str):
        user = ("login-user", username.lower()[:64])
        where = ("login-addr", address or "-")
        return [(item, *user) for item in self._account] + [(item, *where) for item in self._address]

    def check(self, username: str, address: str) -> None:
        """Refuse with 429 while the account, or the address, has used up its failures."""
        wait = self._wait(username, address)
        if wait:
            raise ApiError(
                429, "rate_limited", f"too many failed sign-ins; try again in {wait} s",
                headers={"Retry-After": str(wait)},
            )

    def _wait(self, username: str, address: str) -> int:
        """Seconds until every exhausted limit has room again (0: none is exhausted)."""
        wait = 0
        for item, kind, key in self._items(username, address):
            if not self._limiter.test(item, kind, key):
                reset = self._limiter.get_window_stats(item, kind, key).reset_time
                wait = max(wait, max(1, math.ceil(reset - time.time())))
        return wait

    def failed(self, username: str, address: str) -> str | None:
        """Count a failure. Returns what it locked, when this failure used up a limit
        (``account`` or ``address``), for the audit trail; else None."""
        locked = None
        for item, kind, key in self._items(username, address):
            self._limiter.hit(item, kind, key)
            if locked is None and not self._limiter.test(item, kind, key):
                stats = self._limiter.get_window_stats(item, kind, key)
                if stats.remaining == 0:
                    locked = f"{'account' if kind == 'login-user' else 'address'} {item}"
        return locked


class AuditBudget:
    """How many unauthenticated denials one address may have written to the audit trail per
    window: enough to trace an attack, not enough to turn the trail into its target."""

    def __init__(self, rule: str = "60/minute", storage_uri: str = "memory://") -> None:
        self._item = parse(rule)
        self._limiter = strategies.MovingWindowRateLimiter(storage.storage_from_string(storage_uri))

    def allow(self, address: str) -> bool:
        return self._limiter.hit(self._item, "audit-denied-addr", address or "-")
