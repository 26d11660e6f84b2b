from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def live_web(demo):
    """The real web app (granian) on the test database."""
    port = free_port()
    env = {**os.environ, "KAMENG_PORT": str(port), "KAMENG_TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}"}
    process = subprocess.Popen([sys.executable, "-m", "infra.cli", "web"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.3).close()
            break
        except OSError:
            assert process.poll() is None, process.stdout.read().decode() if process.stdout else ""
            assert time.monotonic() < deadline, "web app did not start"
            time.sleep(0.1)
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    process.wait(10)


@pytest.fixture
async def browser():
    from playwright.async_api import async_playwright

    assert os.path.exists(CHROMIUM), "Debian's chromium is required (make system-deps installs it)"
    async with async_playwright() as p:
        chromium = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()
