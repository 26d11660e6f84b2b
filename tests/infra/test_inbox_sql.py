"""The inbox query filters in SQL exactly as ``task_visible`` decides, page after page."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from infra.db.inbox import list_tasks, visible
from infra.db.tables import Task, TaskKey, task_keys
from workflows.domain.permissions import PERMISSIONS, Scope
from workflows.domain.policy import Actor, Grant

pytestmark = pytest.mark.db

TIERS = ("super", "regional", "normal", "intern")
REGIONS = ("game-items", "mobile-topup", "game-cards", "east-china")
PEOPLE = tuple(f"p{n}" for n in range(12))
PERMS = tuple(p.key for p in PERMISSIONS[:8])
NOW = datetime.now(UTC)


def _task(rng: random.Random, kind: str, n: int) -> Task:
    return Task(
        task_id=f"{kind}-{n}", kind=kind, process_id=f"{kind}-proc-{n}", step="s", title="t",
        tier=rng.choice(TIERS), region=rng.choice(REGIONS + (None,)),
        candidates=rng.sample(PEOPLE, rng.choice((0, 0, 0, 1, 2))),
        excluded=rng.sample(PEOPLE, rng.choice((0, 0, 0, 1))),
        assignee=rng.choice((None, None, None) + PEOPLE),
        status=rng.choice(("open", "open", "claimed", "done", "cancelled")),
        actions=[{"name": "a", "permission": p} for p in rng.sample(PERMS, rng.randrange(0, 3))],
        evidence={}, created_at=NOW,
    )


def _actor(rng: random.Random, name: str) -> Actor:
    grants = tuple(
        Grant(
            id=f"g-{name}-{k}", permission=rng.choice(PERMS), scope=rng.choice(list(Scope)),
            regions=tuple(rng.sample(REGIONS, rng.randrange(0, 2))),
            starts_at=NOW - timedelta(hours=rng.choice((-1, 1))), ends_at=NOW + timedelta(hours=rng.choice((-1, 2))),
        )
        for k in range(rng.choice((0, 0, 1, 2)))
    )
    return Actor(
        id=name, tier=rng.choice(TIERS), regions=tuple(rng.sample(REGIONS, rng.randrange(0, 3))),
        grants=grants, active=rng.random() > 0.05,
    )


async def _all_pages(actor: Actor, **filters) -> list[int]:
    seen: list[int] = []
    cursor = None
    while True:
        rows, cursor = await list_tasks(actor, now=NOW, limit=7, cursor=cursor, **filters)
        seen += [r["id"] for r in rows]
        if cursor is None:
            return seen


async def test_sql_visibility_matches_task_visible(database):
    rng = random.Random(5)
    kind = f"vis-{uuid.uuid4().hex[:8]}"
    for n in range(400):
        task = _task(rng, kind, n)
        [row] = await Task.insert(task)
        keys = task_keys(task.candidates, task.actions)
        if keys:
            await TaskKey.insert(*(TaskKey(task=row["id"], key=k) for k in keys))
    rows = await Task.select().where(Task.kind == kind).order_by(Task.id, ascending=False).output(load_json=True)
    assert len(rows) == 400

    for n in range(40):
        actor = _actor(rng, rng.choice(PEOPLE))
        expected = [r["id"] for r in rows if visible(actor, r, NOW)]
        assert await _all_pages(actor, kind=kind) == expected, actor
        status = rng.choice(("open", "claimed", "done"))
        statuses = ("done", "cancelled") if status == "done" else (status,)
        assert await _all_pages(actor, kind=kind, status=status) == [
            r["id"] for r in rows if r["status"] in statuses and visible(actor, r, NOW)
        ]
        region = rng.choice(REGIONS)
        assert await _all_pages(actor, kind=kind, region=region) == [
            r["id"] for r in rows if r["region"] == region and visible(actor, r, NOW)
        ]
