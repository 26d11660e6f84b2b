from __future__ import annotations

import pytest

from tests.conftest import time_skipping_env


@pytest.fixture(scope="session")
async def temporal_env():
    """A test server of the infra tests' own (see tests/conftest.py)."""
    async for env in time_skipping_env():
        yield env
