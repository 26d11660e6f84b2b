"""Admins at work over HTTP: start processes of every kind and take each one's open steps,
retrying what a fault interrupts with the same Idempotency-Key, as a careful client does."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
import msgspec

from workflows.registry import BY_KIND

REGIONS = ("game-items", "mobile-topup", "game-cards", "east-china")
SUPERS = ("station-master", "super-2", "super-3")

# The step each kind's autopilot takes, first available first.
PREFERRED: dict[str, tuple[str, ...]] = {
    "permission-grant": ("approve",),
    "fund-operation": ("approve",),
    "merchant-onboarding": ("approve", "approve_high_risk"),
    "product-listing": ("approve",),
    "price-change": ("confirm",),
    "account-ban": ("reject",),
    "dispute": ("resolve", "rule"),
    "promotion": ("score", "decline"),  # never reached here: the assessment takes weeks
    "risk-review": ("dismiss",),
}

# Where each kind ends on the path the autopilot takes; a granted permission stays running,
# active, until it ends or is revoked.
EXPECTED: dict[str, str] = {
    "permission-grant": "active",
    "fund-operation": "executed",
    "merchant-onboarding": "approved",
    "product-listing": "listed",
    "price-change": "applied",
    "account-ban": "rejected",
    "dispute": "running",  # in its appeal window, after mediation or a ruling
    "promotion": "assessment",
    "risk-review": "dismissed",
}
RESTING = {
    "permission-grant": ("status", "active"),
    "dispute": ("step", "appeal_window"),
    "promotion": ("step", "assessment"),  # a timer of weeks: the assessment period
}
# What the platform sends a process while it waits (the intake API, with a service token).
EVENTS = {("dispute", "merchant_response"): {"statement": "已核实卡密，同意按平台裁决处理", "evidence": ["发货记录.png"]}}
SERVICE = {"Authorization": "Bearer kameng-intake-dev"}

RETRYABLE = {502, 503, 504}


def candidates(tier: str, region: str | None) -> list[str]:
    """Demo admins who may hold a task of this tier and region, the region's own first."""
    if tier == "super":
        return list(SUPERS)
    regions = [region] if region else list(REGIONS)
    names = {
        "regional": [f"regional-{r}" for r in regions],
        "normal": [f"normal-{r}-{n}" for r in regions for n in (1, 2)],
        "intern": [f"intern-{r}-1" for r in regions],
    }.get(tier, [])
    return names + list(SUPERS)


@dataclass
class Tally:
    """What the clients saw: status codes by kind of request, and retries after faults."""

    statuses: Counter = field(default_factory=Counter)
    retries: int = 0
    unexpected: list[str] = field(default_factory=list)


class Admins:
    """One signed-in bearer token per demo admin, kept for the run."""

    def __init__(self, client: httpx.AsyncClient, tally: Tally) -> None:
        self.client = client
        self.tally = tally
        self.tokens: dict[str, dict[str, str]] = {}
        self.started: list[str] = []
        self.lock = asyncio.Lock()

    async def headers(self, username: str) -> dict[str, str]:
        if username in self.tokens:
            return self.tokens[username]
        # One sign-in at a time: two at once for the same admin would carry the first one's
        # session cookie into the second, which rotates it away (signing in again ends the
        # cookie's session), and the token kept could be the ended one.
        async with self.lock:
            if username not in self.tokens:
                response = await request(self.client, self.tally, "POST", "/api/auth/login", json={"username": username, "password": "kameng-demo"})
                assert response.status_code == 200, response.text
                self.client.cookies.clear()  # bearer tokens only
                self.tokens[username] = {"Authorization": f"Bearer {response.json()['token']}"}
        return self.tokens[username]


async def request(client: httpx.AsyncClient, tally: Tally, method: str, url: str, *, deadline: float = 120, **kwargs: Any) -> httpx.Response:
    """One logical request: retried (same headers, so the same Idempotency-Key) while the web
    app or Temporal is down, until it gets an answer that is not 'try again'."""
    give_up = time.monotonic() + deadline
    while True:
        try:
            response = await client.request(method, url, **kwargs)
            if response.status_code not in RETRYABLE:
                tally.statuses[response.status_code] += 1
                return response
            tally.statuses[response.status_code] += 1
        except httpx.TransportError:
            tally.statuses["transport"] += 1
        tally.retries += 1
        if time.monotonic() > give_up:
            raise AssertionError(f"{method} {url}: no answer in {deadline}s")
        await asyncio.sleep(0.3)


async def read(admins: Admins, kind: str, process_id: str) -> dict:
    response = await request(admins.client, admins.tally, "GET", f"/api/processes/{kind}/{process_id}", headers=await admins.headers("station-master"))
    assert response.status_code == 200, response.text
    return response.json()


async def start(admins: Admins, kind: str, username: str, body: dict, *, key: str | None = None) -> str:
    headers = {**await admins.headers(username), "Idempotency-Key": key or uuid.uuid4().hex}
    response = await request(admins.client, admins.tally, "POST", f"/api/processes/{kind}", json=body, headers=headers)
    assert response.status_code == 201, (kind, username, body, response.status_code, response.text)
    admins.started.append(response.json()["process_id"])
    return response.json()["process_id"]


async def drive(admins: Admins, kind: str, process_id: str, *, timeout: float = 150) -> dict:
    """Take the process's open steps, as whichever eligible admin the policy accepts, until it
    rests where its happy path ends. Returns the last view."""
    spec = BY_KIND[kind]
    give_up = time.monotonic() + timeout
    tried: set[tuple[str, str]] = set()
    while True:
        view = await read(admins, kind, process_id)
        field_, value = RESTING.get(kind, ("", None))
        if view["step"] == "finished" or (value is not None and view[field_] == value and not view["tasks"]):
            return view
        event = EVENTS.get((kind, view["step"]))
        if event is not None:
            response = await request(
                admins.client, admins.tally, "POST", f"/api/intake/processes/{kind}/{process_id}/events/{view['step']}",
                json=event, headers={**SERVICE, "Idempotency-Key": f"{process_id}:{view['step']}"},
            )
            if response.status_code not in (200, 201, 202, 409):
                admins.tally.unexpected.append(f"{kind} event {view['step']}: {response.status_code} {response.text}")
            await asyncio.sleep(0.1)
            continue
        if time.monotonic() > give_up:
            raise AssertionError(f"{process_id} never settled: {view}")
        task = next((t for t in view["tasks"] if any(a in t["actions"] for a in PREFERRED[kind])), None)
        if task is None and view["tasks"]:
            raise AssertionError(f"{process_id}: no step the autopilot takes is open: {view['tasks']}")
        if task is None:
            await asyncio.sleep(0.2)
            continue
        action = next(a for a in PREFERRED[kind] if a in task["actions"])
        body = dict(spec.action(action).example)
        if "refund_amount" in body:  # half of what the buyer claims
            body["refund_amount"] = task["evidence"].get("amount_claimed", 0) // 2
        key = uuid.uuid4().hex
        left = [u for u in candidates(task["tier"], task["region"]) if (task["task_id"], u) not in tried]
        if not left:
            raise AssertionError(f"{process_id}: no admin may take {action} on {task}; {admins.tally.unexpected}")
        for username in left:
            if (task["task_id"], username) in tried:
                continue
            headers = {**await admins.headers(username), "Idempotency-Key": key}
            response = await request(
                admins.client, admins.tally, "POST", f"/api/processes/{kind}/{process_id}/actions/{action}",
                params={"task_id": task["task_id"]}, json=body, headers=headers,
            )
            if response.status_code == 200:
                break
            tried.add((task["task_id"], username))
            if response.status_code == 409:  # someone else's step, or the process moved on
                break
            if response.status_code not in (403, 404):
                raise AssertionError(f"{kind} {action} by {username}: {response.status_code} {response.text}")
        await asyncio.sleep(0.05)


def unique(prefix: str, width: int = 5) -> str:
    return f"{prefix}{uuid.uuid4().int % 10**width:0{width}d}"


class Workload:
    """Starts of every kind on the demo platform, each with subjects of its own: the spec's
    own example body, pointed at this run's merchants, products, buyers and orders."""

    def __init__(self, subjects: dict[str, list[Any]]) -> None:
        self.subjects = {k: iter(v) if k == "order" else itertools.cycle(v) for k, v in subjects.items()}

    def start_of(self, kind: str, n: int) -> tuple[str, dict]:
        """(starter, body) for the n-th process of ``kind``."""
        body = dict(msgspec.to_builtins(BY_KIND[kind].example))
        region = REGIONS[n % len(REGIONS)]
        if kind == "permission-grant":
            return f"regional-{region}", {**body, "justification": "故障演练：大促期间资金审批"}
        if kind == "fund-operation":
            merchant, _ = next(self.subjects["merchant"])
            return SUPERS[1 + n % 2], {**body, "account": merchant, "amount": 10_000 + n, "reason": "故障演练：商家结算"}
        if kind == "merchant-onboarding":
            return f"normal-{region}-1", {**body, "code": unique("MR"), "name": f"演练商户{n:03d}", "region": region}
        if kind == "product-listing":
            merchant, merchant_region = next(self.subjects["merchant"])
            return f"normal-{merchant_region}-1", {**body, "merchant": merchant, "sku": unique("PR"), "region": merchant_region}
        if kind == "price-change":
            sku, sku_region, price = next(self.subjects["product"])
            return f"normal-{sku_region}-1", {**body, "sku": sku, "new_price": price + 100 * (1 + n % 3), "reason": "故障演练：渠道进价上调"}
        if kind == "account-ban":
            buyer, buyer_region = next(self.subjects["buyer"])
            return f"regional-{buyer_region}", {**body, "buyer": buyer, "region": buyer_region}
        if kind == "risk-review":
            buyer, buyer_region = next(self.subjects["buyer"])
            return f"regional-{buyer_region}", {**body, "subject": buyer, "region": buyer_region}
        if kind == "dispute":
            order, order_region, amount = next(self.subjects["order"])
            return f"normal-{order_region}-1", {**body, "dispute_code": unique("DR"), "order_code": order, "amount_claimed": amount}
        if kind == "promotion":
            intern_region = REGIONS[n % len(REGIONS)]
            reviewers = [f"normal-{intern_region}-2", f"regional-{REGIONS[(n + 1) % len(REGIONS)]}", "super-2"]
            return f"regional-{intern_region}", {**body, "nominee": f"intern-{intern_region}-1", "reviewers": reviewers}
        raise KeyError(kind)
