"""docker-compose.yml is valid, has the production shape, and speaks the settings the app
actually reads; the Dockerfile and the files the compose mounts agree with it.

There is no Docker engine here: Debian's docker-compose validates and resolves the file.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml

from infra.cli import main as cli
from infra.settings import PREFIX, Settings
from infra.telemetry import OTEL_VARIABLES

ROOT = Path(__file__).resolve().parents[2]
KAMENG_ROLES = ("migrate", "web", "worker")
ONE_SHOTS = {"temporal-schema", "temporal-namespace", "migrate"}
# Images without a shell or an HTTP client to run a check with (both serve no data).
NO_HEALTH_TOOL = {"otel-collector", "temporal-ui"}


def env_example() -> dict[str, str]:
    lines = (ROOT / ".env.example").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


@pytest.fixture(scope="module")
def compose() -> dict:
    assert shutil.which("docker-compose"), "Debian's docker-compose is required (make system-deps installs it)"
    result = subprocess.run(
        ["docker-compose", "-f", str(ROOT / "docker-compose.yml"), "config"],
        capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", **env_example()}, timeout=60, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "WARNING" not in result.stderr, result.stderr  # e.g. a variable .env.example lacks
    return yaml.safe_load(result.stdout)


def test_services_of_the_production_shape(compose):
    services = compose["services"]
    assert {
        "postgres", "temporal-schema", "temporal", "temporal-namespace", "temporal-ui",
        "migrate", "web", "worker", "proxy", "otel-collector", "jaeger",
    } <= set(services)
    for role in KAMENG_ROLES:
        service = services[role]
        assert service["command"] == ["kameng", role]
        assert role in cli.commands  # the image's command is one the CLI has
        assert service["image"] == "kameng:latest" and service["build"]["context"] == str(ROOT)


def test_temporal_runs_on_the_same_postgresql(compose):
    services = compose["services"]
    server, schema = services["temporal"], services["temporal-schema"]
    version = server["image"].split(":")[1]
    assert server["image"].startswith("temporalio/server:") and re.fullmatch(r"\d+\.\d+\.\d+", version)
    assert schema["image"] == f"temporalio/admin-tools:{version}"  # the schema tool of the same release
    assert services["temporal-namespace"]["image"] == schema["image"]
    assert server["environment"]["DB"] == "postgres12" and server["environment"]["POSTGRES_SEEDS"] == "postgres"
    assert server["depends_on"]["temporal-schema"]["condition"] == "service_completed_successfully"
    assert schema["depends_on"]["postgres"]["condition"] == "service_healthy"
    for role in ("web", "worker"):
        assert services[role]["environment"]["KAMENG_TEMPORAL_ADDRESS"] == "temporal:7233"
        assert services[role]["depends_on"]["temporal-namespace"]["condition"] == "service_completed_successfully"
        assert services[role]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    script = (ROOT / "deploy/temporal-schema.sh").read_text()
    assert "temporal_visibility" in script and "update-schema" in script and "SQL_PASSWORD" not in script.split("set -eu")[1]


def test_web_and_workers_scale_out(compose):
    services = compose["services"]
    assert not [name for name, s in services.items() if "container_name" in s]  # replicas need generated names
    for role in ("web", "worker"):
        assert "ports" not in services[role]  # no host port to clash between replicas
        assert services[role]["deploy"]["replicas"] >= 2
    assert services["web"]["environment"]["KAMENG_HOST"] == "0.0.0.0"
    published = [p["published"] for p in services["proxy"]["ports"]]
    assert published == [8000]
    caddyfile = (ROOT / "deploy/Caddyfile").read_text()
    port = services["web"]["environment"]["KAMENG_PORT"]
    assert re.search(r"dynamic a \{\s*name web\s*port " + port, caddyfile), "the proxy must find every web replica by DNS"


def test_health_checks_and_restart_policies(compose):
    services = compose["services"]
    for name, service in services.items():
        if name in ONE_SHOTS:
            assert service["restart"] == "no" or service["restart"].startswith("on-failure"), name
            continue
        assert service["restart"] == "unless-stopped", name
        if name not in NO_HEALTH_TOOL:
            assert service.get("healthcheck", {}).get("test"), f"{name} has no health check"
    for name, service in services.items():
        for dependency, rule in (service.get("depends_on") or {}).items():
            if rule["condition"] == "service_healthy":
                assert "healthcheck" in services[dependency], f"{name} waits for {dependency} to be healthy, which it never reports"
            if rule["condition"] == "service_completed_successfully":
                assert dependency in ONE_SHOTS, f"{name} waits for {dependency} to finish, which it never does"


def test_every_kameng_and_otel_variable_is_read_by_the_app(compose):
    settings = {PREFIX + name.upper() for name in Settings.__struct_fields__}
    for role in KAMENG_ROLES:
        env = compose["services"][role]["environment"]
        unknown = {k for k in env if k.startswith(PREFIX)} - settings
        assert not unknown, f"{role} sets variables the app never reads: {unknown}"
        unknown = {k for k in env if k.startswith("OTEL_")} - set(OTEL_VARIABLES)
        assert not unknown, f"{role} sets telemetry variables nothing reads: {unknown}"
        assert env["KAMENG_DATABASE_URL"].startswith("postgresql://")
        assert env["KAMENG_LOG_FORMAT"] == "json"
        endpoint = urlparse(env["OTEL_EXPORTER_OTLP_ENDPOINT"])
        assert endpoint.hostname == "otel-collector" and endpoint.port == 4318


def test_the_collector_takes_otlp_and_feeds_the_trace_viewer(compose):
    services = compose["services"]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in services["otel-collector"]["volumes"]}
    config_path = next(a.split("=", 1)[1] for a in services["otel-collector"]["command"] if a.startswith("--config="))
    config = yaml.safe_load(Path(mounts[config_path]).read_text())
    assert config["receivers"]["otlp"]["protocols"]["http"]["endpoint"].endswith(":4318")
    pipelines = config["service"]["pipelines"]
    for pipeline in pipelines.values():
        assert set(pipeline["receivers"]) <= set(config["receivers"])
        assert set(pipeline["processors"]) <= set(config["processors"])
        assert set(pipeline["exporters"]) <= set(config["exporters"])
    (trace_exporter,) = pipelines["traces"]["exporters"]
    viewer = config["exporters"][trace_exporter]["endpoint"].split(":")[0]
    assert viewer in services and services[viewer]["environment"]["COLLECTOR_OTLP_ENABLED"] == "true"
    assert "otlp" in pipelines["metrics"]["receivers"]


def test_every_mounted_file_is_in_the_repository(compose):
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("/"):
                assert Path(source).is_file() and Path(source).is_relative_to(ROOT), f"{name} mounts {source}"


def test_the_dockerfile_is_multi_stage_unprivileged_and_pinned():
    text = (ROOT / "Dockerfile").read_text()
    stages = re.findall(r"^FROM\s+(\S+)(?:\s+AS\s+(\S+))?", text, re.MULTILINE)
    assert len(stages) >= 2, "a build stage and a runtime stage"
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)", text, re.MULTILINE)
    assert base and re.fullmatch(r"python:3\.11\.\d+-slim-\w+", base.group(1)), "a pinned Python 3.11 patch release"
    runtime = text.split(f"FROM {stages[-1][0]}")[-1]
    user = re.findall(r"^USER\s+(\S+)", runtime, re.MULTILINE)
    assert user and user[-1].split(":")[0] not in ("root", "0")
    assert "COPY --from=build" in runtime and ":latest" not in stages[0][0] + base.group(1)
    assert ".venv" in (ROOT / ".dockerignore").read_text().split()


def test_no_secret_in_the_file():
    text = (ROOT / "docker-compose.yml").read_text()
    for secret in ("change-me", "kameng-demo", "kameng-intake-dev"):
        assert secret not in text
    referenced = set(re.findall(r"\$\{(\w+)", text))
    assert referenced <= set(env_example()), f".env.example lacks {referenced - set(env_example())}"
