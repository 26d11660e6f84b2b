"""The console's live updates: one watcher per process, callbacks per topic, only on change."""

from __future__ import annotations

import asyncio

import pytest

from web.live import TOPICS, Notifier, read_signature

pytestmark = pytest.mark.timeout(30)


async def test_subscribers_hear_only_the_topics_that_changed():
    signatures = iter([
        {"tasks": (1,), "audit": (1,), "people": (1,)},
        {"tasks": (1,), "audit": (1,), "people": (1,)},
        {"tasks": (2,), "audit": (2,), "people": (1,)},
    ])
    last = {"tasks": (2,), "audit": (2,), "people": (1,)}

    async def reader():
        return next(signatures, last)

    live = Notifier(interval=0.01, idle_stop=0.05, reader=reader)
    heard: list[tuple[str, int]] = []
    undo_tasks = live.subscribe("tasks", lambda gen: heard.append(("tasks", gen)))
    undo_people = live.subscribe("people", lambda gen: heard.append(("people", gen)))
    for _ in range(100):
        if heard:
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)
    assert heard == [("tasks", 1)]  # one change, one call; people never changed
    undo_tasks()
    undo_people()
    assert live.subscriber_count == 0
    await asyncio.sleep(0.2)
    assert live._task is not None and live._task.done()  # idle: the watcher stopped by itself


async def test_one_watcher_however_many_subscribers():
    reads = 0

    async def reader():
        nonlocal reads
        reads += 1
        return {topic: (0,) for topic in TOPICS}

    live = Notifier(interval=0.05, reader=reader)
    undo = [live.subscribe("tasks", lambda gen: None) for _ in range(50)]
    await asyncio.sleep(0.3)
    assert 2 <= reads <= 10  # about one read per interval, not one per subscriber
    for u in undo:
        u()
    await live.stop()


async def test_a_failing_subscriber_does_not_stop_the_others():
    live = Notifier(reader=lambda: None)
    heard = []
    live._subscribers["audit"][1] = lambda gen: 1 / 0
    live._subscribers["audit"][2] = lambda gen: heard.append(gen)
    live.publish("audit")
    assert heard == [1]


async def test_the_signature_reads_the_real_tables(database):
    signature = await read_signature()
    assert set(signature) == set(TOPICS)
    assert all(isinstance(v, tuple) for v in signature.values())
