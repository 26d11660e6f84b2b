"""`kameng dev` end to end: the real Temporal dev server, worker and web app on free ports."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from infra.stack import free_port

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def get_json(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def start_dev(var_dir: Path, ports: dict[str, int], log_path: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "KAMENG_VAR_DIR": str(var_dir),
        "KAMENG_DATABASE_URL": "",
        "KAMENG_PORT": str(ports["web"]),
        "KAMENG_TEMPORAL_ADDRESS": f"127.0.0.1:{ports['temporal']}",
        "KAMENG_TEMPORAL_UI_PORT": str(ports["ui"]),
        "KAMENG_RISK_SCAN_SECONDS": "300",  # the product's default: the worker starts the standing scan
    }
    return subprocess.Popen(
        [sys.executable, "-m", "infra.cli", "dev"],
        env=env,
        stdout=log_path.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def wait_healthy(port: int, process: subprocess.Popen, log_path: Path, timeout: float = 150) -> dict:
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        assert process.poll() is None, f"kameng dev exited early:\n{log_path.read_text()}"
        try:
            status, body = get_json(f"http://127.0.0.1:{port}/health")
            last = body
            if status == 200:
                return body
        except OSError as exc:
            last = exc
        time.sleep(0.2)
    raise AssertionError(f"never healthy: {last}\n{log_path.read_text()}")


def interrupt(process: subprocess.Popen) -> int:
    process.send_signal(signal.SIGINT)
    return process.wait(60)


def pids_alive(pids: list[int]) -> list[int]:
    alive = []
    for pid in pids:
        try:
            os.kill(pid, 0)
            alive.append(pid)
        except ProcessLookupError:
            pass
    return alive


def child_pids(log_text: str) -> list[int]:
    return [int(line.rsplit("pid ", 1)[1].rstrip(")")) for line in log_text.splitlines() if "(pid " in line]


def wait_for_risk_reviews(database: Path, at_least: int, timeout: float = 120) -> int:
    """Risk-review tasks in the inbox, once at least ``at_least`` reviews are stored and every
    stored signal's review has its task (the scan stores and opens them one by one)."""
    import sqlite3

    deadline = time.monotonic() + timeout
    found = 0
    while time.monotonic() < deadline:
        with sqlite3.connect(database) as conn:
            reviews = {r[0] for r in conn.execute("SELECT DISTINCT process_id FROM risk_signal WHERE process_id IS NOT NULL")}
            tasks = {r[0] for r in conn.execute("SELECT process_id FROM task WHERE kind = 'risk-review'")}
        found = len(reviews & tasks)
        if len(reviews) >= at_least and reviews <= tasks:
            return found
        time.sleep(0.25)
    raise AssertionError(f"only {found} risk reviews have their task (wanted {at_least})")


def test_dev_runs_the_whole_product_and_stops_cleanly(tmp_path: Path) -> None:
    ports = {"web": free_port(), "temporal": free_port(), "ui": free_port()}
    var_dir = tmp_path / "var"
    log_path = tmp_path / "dev.log"
    process = start_dev(var_dir, ports, log_path)
    try:
        health = wait_healthy(ports["web"], process, log_path)
        assert health["database"]["ok"] and health["temporal"]["ok"]
        assert (var_dir / "temporal.db").exists() and (var_dir / "kameng.db").exists()

        with urllib.request.urlopen(f"http://127.0.0.1:{ports['ui']}/", timeout=5) as ui:
            assert ui.status == 200
        with urllib.request.urlopen(f"http://127.0.0.1:{ports['web']}/", timeout=5) as page:
            assert "/_reactpy/assets/" in page.read().decode()

        deadline = time.monotonic() + 30
        while "worker polling" not in log_path.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        # The worker starts the standing audit-seal workflow, which seals at once with the key
        # it generates into var/ (owner-only).
        while "audit trail sealed" not in log_path.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        # The banner follows the web port opening, a moment after the app can answer.
        while "kameng-demo" not in log_path.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        text = log_path.read_text()
        assert "worker polling" in text
        assert "started standing workflow audit-seal" in text and "audit trail sealed" in text
        assert (var_dir / "audit-seal.key").stat().st_mode & 0o777 == 0o600
        assert "demo platform loaded" in text
        assert "station-master" in text and "kameng-demo" in text
        # The standing risk scan has run and opened the planted anomalies' reviews.
        assert wait_for_risk_reviews(var_dir / "kameng.db", at_least=3 + 1 + 15) >= 3 + 1 + 15
    finally:
        code = interrupt(process) if process.poll() is None else process.returncode
    text = log_path.read_text()
    assert code == 0, text
    pids = child_pids(text)
    assert len(pids) == 3, text
    assert pids_alive(pids) == [], "children outlived kameng dev"

    # A second run keeps the data.
    process = start_dev(var_dir, ports, log_path)
    try:
        wait_healthy(ports["web"], process, log_path)
        deadline = time.monotonic() + 30
        while "worker polling" not in log_path.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        text = log_path.read_text()
        assert "demo platform kept" in text
        assert "worker polling" in text and "started standing workflow" not in text  # still running from the first
    finally:
        assert interrupt(process) == 0
