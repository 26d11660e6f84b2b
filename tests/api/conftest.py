from __future__ import annotations

import pytest
from litestar.testing import AsyncTestClient

from api.app import create_app


@pytest.fixture
async def api(demo, temporal_env):
    async with AsyncTestClient(app=create_app(temporal_client=temporal_env.client)) as client:
        yield client


async def login(client: AsyncTestClient, username: str, password: str = "kameng-demo") -> str:
    response = await client.post("/api/auth/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return response.json()["token"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
