"""docker-compose.yml is valid and speaks the settings the app actually reads."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from infra.settings import PREFIX, Settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose() -> dict:
    assert shutil.which("docker-compose"), "Debian's docker-compose is required (make system-deps installs it)"
    env_values = dict(
        line.split("=", 1) for line in (ROOT / ".env.example").read_text().splitlines() if line and not line.startswith("#")
    )
    result = subprocess.run(
        ["docker-compose", "-f", str(ROOT / "docker-compose.yml"), "config"],
        capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", **env_values}, timeout=60, check=False,
    )
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def test_services_of_the_production_shape(compose):
    assert {"postgres", "temporal", "temporal-ui", "migrate", "web", "worker"} <= set(compose["services"])
    assert compose["services"]["web"]["command"] == ["kameng", "web"]
    assert compose["services"]["worker"]["command"] == ["kameng", "worker"]


def test_every_kameng_variable_is_a_setting(compose):
    fields = {PREFIX + name.upper() for name in Settings.__struct_fields__}
    for name in ("web", "worker", "migrate"):
        env = compose["services"][name]["environment"]
        unknown = {key for key in env if key.startswith(PREFIX)} - fields
        assert not unknown, f"{name} sets variables the app never reads: {unknown}"
        assert env["KAMENG_DATABASE_URL"].startswith("postgresql://")


def test_no_secret_in_the_file():
    text = (ROOT / "docker-compose.yml").read_text()
    for secret in ("change-me", "kameng-demo", "kameng-intake-dev"):
        assert secret not in text
