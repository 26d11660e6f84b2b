"""Schemathesis against the live app's own OpenAPI document: no 5xx, and every response,
error or not, matches the schema it documents. Bounded: a few examples per operation."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.infra.test_dev_smoke import free_port, wait_healthy

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]
CHECKS = "not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance"


@pytest.fixture(scope="module")
def stack(tmp_path_factory, seeded_sqlite):
    root = tmp_path_factory.mktemp("schemathesis")
    if seeded_sqlite is not None:  # the demo platform as seeded (`kameng dev` keeps it)
        (root / "var").mkdir()
        shutil.copy(seeded_sqlite, root / "var" / "kameng.db")
    ports = {"web": free_port(), "temporal": free_port(), "ui": free_port()}
    env = {
        **os.environ, "KAMENG_VAR_DIR": str(root / "var"), "KAMENG_DATABASE_URL": "", "KAMENG_PORT": str(ports["web"]),
        "KAMENG_TEMPORAL_ADDRESS": f"127.0.0.1:{ports['temporal']}", "KAMENG_TEMPORAL_UI_PORT": str(ports["ui"]),
        "KAMENG_SEARCH_ATTRIBUTES": "true",
    }
    log = root / "dev.log"
    process = subprocess.Popen([sys.executable, "-m", "infra.cli", "dev"], env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_healthy(ports["web"], process, log)
        yield f"http://127.0.0.1:{ports['web']}", root
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(60)


def token(base: str, username: str) -> str:
    request = urllib.request.Request(
        f"{base}/api/auth/login", data=json.dumps({"username": username, "password": "kameng-demo"}).encode(),
        headers={"content-type": "application/json"}, method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())["token"]


def run_schemathesis(base: str, root: Path, bearer: str, *selection: str) -> subprocess.CompletedProcess:
    st = shutil.which("st", path=str(Path(sys.executable).parent))
    assert st, "schemathesis is installed with the test extras"
    return subprocess.run(
        [st, "run", f"{base}/schema/openapi.json", "-H", f"Authorization: Bearer {bearer}", "--checks", CHECKS,
         "--max-examples", "4", "--seed", "20261122", "--no-color", *selection],
        capture_output=True, text=True, timeout=500, cwd=root,
    )


def test_admin_api_conforms_to_its_schema(stack):
    base, root = stack
    # Logout and a password change would end the session the run uses; login is fuzzed with
    # its own credentials.
    result = run_schemathesis(
        base, root, token(base, "super-2"), "--exclude-path", "/api/auth/logout", "--exclude-path", "/api/auth/password",
        "--exclude-path-regex", "^/api/intake",
    )
    assert result.returncode == 0, result.stdout[-6000:]
    assert "generated" in result.stdout


def test_intake_api_conforms_to_its_schema(stack):
    base, root = stack
    result = run_schemathesis(base, root, "kameng-intake-dev", "--include-path-regex", "^/api/intake")
    assert result.returncode == 0, result.stdout[-6000:]
