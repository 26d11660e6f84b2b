from __future__ import annotations

import httpx
import pytest

from api.app import create_app
from infra.temporal.worker import build_worker
from tests.conftest import audit_head, processes_since, terminate_quietly, time_skipping_env


@pytest.fixture(scope="session")
async def temporal_env():
    """A test server of the API tests' own (see tests/conftest.py)."""
    async for env in time_skipping_env():
        yield env


@pytest.fixture
async def api(demo, temporal_env):
    """The real app in this event loop (the database pool and Temporal client live here too).

    The ``database`` fixture has bound the tables and started the pool, which is all the
    app's startup hook does.
    """
    app = create_app(temporal_client=temporal_env.client)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
    started: list[str] = []
    mark = await audit_head()

    async def remember_started(response: httpx.Response) -> None:
        if response.status_code == 201 and response.request.url.path.startswith(("/api/processes/", "/api/intake/")):
            await response.aread()
            started.append(response.json()["process_id"])

    worker = build_worker(temporal_env.client)  # on the task queue the app starts processes on
    async with worker, httpx.AsyncClient(
        transport=transport, base_url="http://testserver.local", event_hooks={"response": [remember_started]}
    ) as client:
        yield client
        # Parked workflows on a queue nobody serves would stop the test server skipping time.
        for process_id in started + [p for p in await processes_since(mark) if p not in started]:
            await terminate_quietly(temporal_env.client.get_workflow_handle(process_id))


async def login(client: httpx.AsyncClient, username: str, password: str = "kameng-demo") -> str:
    response = await client.post("/api/auth/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return response.json()["token"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
