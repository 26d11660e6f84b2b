"""Live updates pushed over the console's ReactPy connection.

One watcher per web process reads a tiny signature of the tables the console shows (one
statement of scalar sub-queries, about once a second, however many browsers are connected)
and calls back the components subscribed to the topic whose part of the signature changed;
they re-read their data and re-render, and ReactPy sends the difference down the websocket
the page already has open. Nothing polls per client.

Topics:
- ``tasks``: the inbox read model (a task opened, claimed, released, escalated, closed);
- ``audit``: the head of the audit trail (anything a process or an admin did);
- ``people``: admins, their tiers, temporary grants and sessions (header, permissions), and the tier caps.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger("kameng.web.live")

TOPICS = ("tasks", "audit", "people")

SIGNATURE_SQL = """
SELECT
  (SELECT COALESCE(MAX(id), 0) FROM task) AS task_max,
  (SELECT COALESCE(SUM(version), 0) FROM task) AS task_versions,
  (SELECT COUNT(*) FROM task WHERE status IN ('done', 'cancelled')) AS task_closed,
  (SELECT COUNT(*) FROM task WHERE escalated) AS task_escalated,
  (SELECT COALESCE(MAX(seq), 0) FROM audit_event) AS audit_head,
  (SELECT COUNT(*) FROM permission_grant) AS grants,
  (SELECT COUNT(*) FROM permission_grant WHERE revoked_at IS NOT NULL) AS grants_revoked,
  (SELECT MAX(ends_at) FROM permission_grant) AS grants_end,
  (SELECT COUNT(*) FROM admin_session WHERE revoked_at IS NOT NULL) AS sessions_ended,
  (SELECT COUNT(*) FROM admin WHERE status = 'active') AS admins_active,
  (SELECT COUNT(*) FROM admin WHERE tier = 'super') AS admins_super,
  (SELECT COUNT(*) FROM admin WHERE tier = 'regional') AS admins_regional,
  (SELECT COUNT(*) FROM admin WHERE tier = 'normal') AS admins_normal,
  (SELECT COALESCE(SUM(COALESCE(cap, -1) * rank), 0) FROM tier) AS tier_caps
"""


def split(row: dict[str, Any]) -> dict[str, tuple]:
    """The signature, per topic."""
    return {
        "tasks": (row["task_max"], int(row["task_versions"] or 0), row["task_closed"], row["task_escalated"]),
        "audit": (row["audit_head"],),
        "people": (
            row["grants"], row["grants_revoked"], str(row["grants_end"]), row["sessions_ended"],
            row["admins_active"], row["admins_super"], row["admins_regional"], row["admins_normal"], row["tier_caps"],
        ),
    }


async def read_signature() -> dict[str, tuple]:
    from infra.db.tables import Task

    rows = await Task.raw(SIGNATURE_SQL)
    return split(rows[0])


Callback = Callable[[int], Any]


class Notifier:
    """An in-process publish/subscribe fed by one database watcher.

    The watcher starts with the first subscription (in the server's event loop) and stops
    once nobody has been subscribed for a while, so an idle process reads nothing.
    """

    def __init__(self, interval: float = 1.0, idle_stop: float = 30.0, reader=read_signature) -> None:
        self.interval = interval
        self.idle_stop = idle_stop
        self._reader = reader
        self._subscribers: dict[str, dict[int, Callback]] = {topic: {} for topic in TOPICS}
        self._next_id = 0
        self._task: asyncio.Task | None = None
        self._last: dict[str, tuple] | None = None
        self.generation: dict[str, int] = {topic: 0 for topic in TOPICS}
        self.reads = 0

    def subscribe(self, topic: str, callback: Callback) -> Callable[[], None]:
        """Call ``callback(generation)`` whenever ``topic`` changes; returns the unsubscriber."""
        if topic not in self._subscribers:
            raise ValueError(f"unknown topic {topic!r}")
        self._next_id += 1
        key = self._next_id
        self._subscribers[topic][key] = callback
        self._ensure_running()

        def unsubscribe() -> None:
            self._subscribers[topic].pop(key, None)

        return unsubscribe

    def publish(self, *topics: str) -> None:
        """Tell subscribers now (the console calls this right after its own writes)."""
        for topic in topics:
            self.generation[topic] += 1
            for callback in list(self._subscribers[topic].values()):
                try:
                    callback(self.generation[topic])
                except Exception:  # one broken subscriber must not stop the others
                    log.exception("live subscriber failed on %s", topic)

    @property
    def subscriber_count(self) -> int:
        return sum(len(s) for s in self._subscribers.values())

    def _ensure_running(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._watch(), name="kameng-live-watcher")

    async def _watch(self) -> None:
        idle_since: float | None = None
        loop = asyncio.get_running_loop()
        failures = 0
        while True:
            if self.subscriber_count == 0:
                idle_since = idle_since or loop.time()
                if loop.time() - idle_since > self.idle_stop:
                    self._last = None
                    return
            else:
                idle_since = None
            try:
                current = await self._reader()
                self.reads += 1
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database restarting must not end live updates
                failures += 1
                if failures in (1, 10) or failures % 100 == 0:
                    log.warning("live watcher could not read the signature: %s", exc)
                await asyncio.sleep(min(self.interval * failures, 10))
                continue
            previous, self._last = self._last, current
            if previous is not None:
                changed = [topic for topic in TOPICS if previous.get(topic) != current.get(topic)]
                if changed:
                    self.publish(*changed)
            await asyncio.sleep(self.interval)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
            self._task = None


LIVE = Notifier()
"""The web process's notifier."""
