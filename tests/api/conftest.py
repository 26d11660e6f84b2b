from __future__ import annotations

import httpx
import pytest

from api.app import create_app


@pytest.fixture
async def api(demo, temporal_env):
    """The real app in this event loop (the database pool and Temporal client live here too).

    The ``database`` fixture has bound the tables and started the pool, which is all the
    app's startup hook does.
    """
    app = create_app(temporal_client=temporal_env.client)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver.local") as client:
        yield client


async def login(client: httpx.AsyncClient, username: str, password: str = "kameng-demo") -> str:
    response = await client.post("/api/auth/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return response.json()["token"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
