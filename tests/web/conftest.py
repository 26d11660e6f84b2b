from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from infra.stack import free_port

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
"""Screenshots of the main pages (ignored by git; docs/screenshots/ holds the committed ones)."""
INTAKE_TOKEN = "kameng-intake-dev"


@pytest.fixture(scope="session")
def web_task_queue() -> str:
    return f"kameng-web-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
async def web_worker(dev_server, database, web_task_queue):
    """A worker for the console's processes: on the real dev server, in the tests' event loop,
    writing to the test database the web process reads."""
    from infra.temporal.worker import build_worker

    worker = build_worker(dev_server.client, task_queue=web_task_queue)
    async with worker:
        yield worker


@pytest.fixture(scope="session")
def live_web(demo, dev_server, web_worker, web_task_queue):
    """The real web app (granian) on the test database, connected to the dev server."""
    port = free_port()
    env = {
        **os.environ,
        "KAMENG_PORT": str(port),
        "KAMENG_TEMPORAL_ADDRESS": dev_server.client.service_client.config.target_host,
        "KAMENG_TASK_QUEUE": web_task_queue,
        "KAMENG_SEARCH_ATTRIBUTES": "true",
    }
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log_path = ARTIFACTS / "web.log"
    log = log_path.open("wb")
    process = subprocess.Popen([sys.executable, "-m", "infra.cli", "web"], env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.3).close()
            break
        except OSError:
            assert process.poll() is None, log_path.read_text(errors="replace")
            assert time.monotonic() < deadline, "web app did not start"
            time.sleep(0.1)
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()


@pytest.fixture(scope="session")
async def chromium():
    """One Chromium for the run (Debian's, never a downloaded one); each test opens its own contexts."""
    from playwright.async_api import async_playwright

    assert os.path.exists(CHROMIUM), "Debian's chromium is required (make system-deps installs it)"
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


@pytest.fixture
async def browser(chromium):
    """The shared Chromium; contexts a test opens are closed after it."""
    contexts = []
    original = chromium.new_context

    async def new_context(**kwargs):
        context = await original(**{"viewport": {"width": 1360, "height": 900}, "locale": "zh-CN", **kwargs})
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context

    async def new_page(**kwargs):
        context = await new_context(**kwargs)
        return await context.new_page()

    class Browser:
        pass

    handle = Browser()
    handle.new_context = new_context
    handle.new_page = new_page
    yield handle
    for context in contexts:
        await context.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
