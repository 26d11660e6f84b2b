"""A bounded load run on loopback: admins of every region claim and complete tasks at once
while the platform streams merchant applications in. Only 2xx and the expected 409s come
back; no task is lost or doubled; at the end the inboxes show exactly the processes' state."""

from __future__ import annotations

import asyncio
import random
import time
import uuid

import pytest

from infra.db.tables import Task
from tests.reliability.drive import PREFERRED, REGIONS, SERVICE, SUPERS, Admins, read, request, start
from tests.reliability.report import REPORT, scaled
from workflows.registry import BY_KIND

# Faults and load exercise processes and Temporal: the SQLite pass runs them; the PostgreSQL
# pass keeps the database-specific suites (outage, escalation, hostile input, sessions).
pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

ADMINS = [*SUPERS, *[f"regional-{r}" for r in REGIONS], *[f"normal-{r}-{n}" for r in REGIONS for n in (1, 2)]]
EXPECTED = {200, 201, 409}


def application(n: int) -> dict:
    code = f"ML{uuid.uuid4().hex[:8].upper()}"
    return {
        "code": code, "name": f"压测商户{n:04d}", "region": REGIONS[n % len(REGIONS)], "category": "point_card",
        "identity_number": f"9133{uuid.uuid4().int % 10**14:014d}", "contact_phone": "13812345678",
        "documents": [
            {"kind": "business_license", "ref": f"docs/{code}/license.pdf"},
            {"kind": "legal_person_id", "ref": f"docs/{code}/id.jpg"},
            {"kind": "card_issuer_authorization", "ref": f"docs/{code}/issuer.pdf"},
        ],
    }


class Load:
    def __init__(self, admins: Admins) -> None:
        self.admins = admins
        self.process_ids: list[str] = []
        self.answers: list[tuple[str, int, str]] = []
        self.taken = 0

    def note(self, what: str, response) -> None:  # type: ignore[no-untyped-def]
        self.answers.append((what, response.status_code, response.text[:200] if response.status_code not in (200, 201) else ""))

    async def intake(self, count: int) -> None:
        """The platform's stream of applications, a few per second."""
        for n in range(count):
            response = await request(self.admins.client, self.admins.tally, "POST", "/api/intake/merchant-applications",
                                     json=application(n), headers={**SERVICE, "Idempotency-Key": uuid.uuid4().hex})
            self.note("intake", response)
            if response.status_code == 201:
                self.process_ids.append(response.json()["process_id"])
            await asyncio.sleep(0.1)

    async def requests(self, count: int) -> None:
        """Admins asking for temporary permissions meanwhile."""
        for n in range(count):
            region = REGIONS[n % len(REGIONS)]
            pid = await start(self.admins, "permission-grant", f"normal-{region}-{1 + n % 2}",
                              {"permission": "products.classify", "scope": "region", "duration": "P1D", "justification": "压测：大促期间商品分类"})
            self.process_ids.append(pid)
            await asyncio.sleep(0.2)

    async def admin(self, username: str, stop: asyncio.Event) -> None:
        """One admin at work: take a task from my queue, claim it, decide it."""
        rng = random.Random(username)
        headers = await self.admins.headers(username)
        while not stop.is_set():
            inbox = await request(self.admins.client, self.admins.tally, "GET", "/api/inbox", params={"status": "open", "limit": 200}, headers=headers)
            self.note("inbox", inbox)
            # This run's processes only: the shared database also holds other tests' tasks.
            mine = set(self.process_ids)
            items = [t for t in inbox.json()["items"] if t["process_id"] in mine] if inbox.status_code == 200 else []
            if not items:
                await asyncio.sleep(0.2)
                continue
            task = rng.choice(items)
            claimed = await request(self.admins.client, self.admins.tally, "POST", f"/api/tasks/{task['id']}/claim", headers=headers)
            self.note("claim", claimed)
            if claimed.status_code != 200:
                continue
            offered = [a["name"] if isinstance(a, dict) else a for a in task["actions"]]
            action = next((a for a in PREFERRED[task["kind"]] if a in offered), None)
            assert action is not None, f"task without the autopilot's step: {task}"
            acted = await request(
                self.admins.client, self.admins.tally, "POST", f"/api/processes/{task['kind']}/{task['process_id']}/actions/{action}",
                params={"task_id": task["id"]}, json=BY_KIND[task["kind"]].action(action).example,
                headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
            )
            self.note(action, acted)
            self.taken += acted.status_code == 200


async def test_admins_claim_and_decide_under_load_and_inboxes_match_the_processes(stack, admins):
    load = Load(admins)
    await asyncio.gather(*[admins.headers(name) for name in ADMINS])
    stop = asyncio.Event()
    workers = [asyncio.create_task(load.admin(name, stop)) for name in ADMINS]
    started = time.monotonic()
    await asyncio.gather(load.intake(scaled(24, 200)), load.requests(scaled(12, 100)))

    async def settled() -> bool:
        open_rows = await Task.count().where(Task.process_id.is_in(load.process_ids) & Task.status.is_in(["open", "claimed"]))
        if open_rows:
            return False
        # Between two steps (an activity running) a process has no open task yet: the queues
        # are empty for good once no process of the run is still on its way to a next step.
        for pid in load.process_ids:
            if (await read(admins, pid.split("-")[0] + "-" + pid.split("-")[1], pid))["status"] == "running":
                return False
        return True

    deadline = time.monotonic() + scaled(90, 900)
    while not await settled():
        if time.monotonic() > deadline:
            crashed = [repr(w.exception()) for w in workers if w.done() and w.exception()]
            assert not crashed, crashed
            left = await Task.select(Task.task_id, Task.tier, Task.region, Task.status, Task.assignee).where(
                Task.process_id.is_in(load.process_ids) & Task.status.is_in(["open", "claimed"]))
            raise AssertionError(f"the admins never emptied their queues: {left[:10]}; answers: {[a for a in load.answers if a[1] not in (200, 201) and a[0] != 'claim'][:10]}")
        await asyncio.sleep(0.5)
    stop.set()
    await asyncio.gather(*workers)

    # A last batch nobody works on: it must sit in the right inboxes, exactly once.
    waiting = []
    for n in range(8):
        response = await request(admins.client, admins.tally, "POST", "/api/intake/merchant-applications",
                                 json=application(1000 + n), headers={**SERVICE, "Idempotency-Key": uuid.uuid4().hex})
        assert response.status_code == 201, response.text
        waiting.append(response.json()["process_id"])
    load.process_ids += waiting

    views = {pid: await read(admins, pid.split("-")[0] + "-" + pid.split("-")[1], pid) for pid in load.process_ids}
    view_tasks = {t["task_id"]: (pid, t) for pid, v in views.items() for t in v["tasks"]}
    for pid in waiting:
        for _ in range(100):
            if views[pid]["tasks"]:
                break
            await asyncio.sleep(0.1)
            views[pid] = await read(admins, "merchant-onboarding", pid)
            view_tasks.update({t["task_id"]: (pid, t) for t in views[pid]["tasks"]})
    rows = await Task.select(Task.task_id, Task.process_id, Task.status).where(Task.process_id.is_in(load.process_ids))
    open_rows = {r["task_id"] for r in rows if r["status"] in ("open", "claimed")}
    assert open_rows == set(view_tasks), (open_rows ^ set(view_tasks))
    assert len(rows) == len({r["task_id"] for r in rows}), "a task row twice"

    inboxes: dict[str, set[str]] = {}
    for name in ADMINS:  # every page of each admin's queue of applications
        inboxes[name], cursor = set(), None
        while True:
            params = {"status": "open", "kind": "merchant-onboarding", "limit": 200, **({"cursor": cursor} if cursor else {})}
            page = (await request(admins.client, admins.tally, "GET", "/api/inbox", params=params, headers=await admins.headers(name))).json()
            inboxes[name] |= {t["id"] for t in page["items"] if t["process_id"] in waiting}
            cursor = page["next_cursor"]
            if cursor is None:
                break
    for task_id, (pid, task) in view_tasks.items():
        if pid not in waiting:
            # A process of the load run may open its next step after the queues emptied (an
            # activity between two steps): its task is checked against the rows above, and
            # the inboxes were read for the last batch only.
            continue
        holders = [name for name, ids in inboxes.items() if task_id in ids]
        region_admins = [n for n in holders if task["region"] and task["region"] in n]
        assert region_admins, (task_id, task["tier"], task["region"], holders)
        assert all(task["region"] in n or n in SUPERS for n in holders), (task_id, holders)

    # Every process the admins finished ended where its path goes; the answers were 2xx or 409.
    finished = [v for pid, v in views.items() if pid not in waiting]
    assert all(v["status"] in ("approved", "active") for v in finished), {v["process_id"]: v["status"] for v in finished if v["status"] not in ("approved", "active")}
    unexpected = [a for a in load.answers if a[1] not in EXPECTED]
    REPORT.load_requests += len(load.answers)
    REPORT.load_unexpected += len(unexpected)
    REPORT.lines.append(
        f"load run: {len(ADMINS)} admins, {len(load.process_ids)} processes, {load.taken} decisions, "
        f"{sum(1 for a in load.answers if a[1] == 409)} × 409 (claim races), {time.monotonic() - started:.0f} s"
    )
    assert not unexpected, unexpected[:10]
    assert sum(1 for a in load.answers if a[1] == 409) > 0, "no two admins ever raced for a task: not a load run"
