"""``kameng dev``: one foreground process tree running the whole product."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass

from infra.settings import Settings
from infra.temporal.devserver import dev_server_command

log = logging.getLogger("kameng.dev")


@dataclass
class Child:
    name: str
    process: subprocess.Popen


def wait_for_port(host: str, port: int, timeout: float, child: Child | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child is not None and child.process.poll() is not None:
            raise RuntimeError(f"{child.name} exited with {child.process.returncode} while starting")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {host}:{port} after {timeout:.0f}s")


def port_in_use(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.3)
        return sock.connect_ex((host, port)) == 0


def _spawn(name: str, cmd: list[str]) -> Child:
    # A session of its own: Ctrl-C reaches the supervisor, which stops children in order.
    process = subprocess.Popen(cmd, start_new_session=True, env=os.environ.copy())
    log.info("started %s (pid %d)", name, process.pid)
    return Child(name, process)


def _kameng(*args: str) -> list[str]:
    return [sys.executable, "-m", "infra.cli", *args]


def stop(children: list[Child], timeout: float = 10.0) -> None:
    for child in reversed(children):
        if child.process.poll() is None:
            child.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for child in reversed(children):
        remaining = max(0.1, deadline - time.monotonic())
        try:
            child.process.wait(remaining)
        except subprocess.TimeoutExpired:
            log.warning("%s did not stop in time; killing it", child.name)
            child.process.kill()
            child.process.wait()
        log.info("stopped %s", child.name)


def banner(settings: Settings, logins: list[tuple[str, str]]) -> str:
    host = settings.host
    lines = [
        "",
        "  卡盟治理中心 Kameng is running",
        f"  console      http://{host}:{settings.port}/",
        f"  API docs     http://{host}:{settings.port}/schema",
        f"  health       http://{host}:{settings.port}/health",
        f"  Temporal UI  http://{settings.temporal_address.rsplit(':', 1)[0]}:{settings.temporal_ui_port}/",
        f"  intake token {settings.intake_token_list[0] if settings.intake_token_list else '(none)'}",
        f"  demo logins  (password: {settings.demo_password})",
    ]
    lines += [f"    {username:<26} {tier}" for username, tier in logins]
    lines += ["  Ctrl-C stops everything.", ""]
    return "\n".join(lines)


def run_dev(settings: Settings, logins: list[tuple[str, str]]) -> int:
    host, port = settings.temporal_address.rsplit(":", 1)
    for what, (h, p) in {
        "Temporal": (host, int(port)),
        "Temporal UI": (host, settings.temporal_ui_port),
        "web": (settings.host, settings.port),
    }.items():
        if port_in_use(h, p):
            log.error("port %s:%d (%s) is already taken; set KAMENG_* to use another", h, p, what)
            return 2

    children: list[Child] = []
    stopping = False

    def request_stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        temporal = _spawn("temporal", dev_server_command(settings))
        children.append(temporal)
        wait_for_port(host, int(port), 60, temporal)
        children.append(_spawn("worker", _kameng("worker")))
        web = _spawn("web", _kameng("web"))
        children.append(web)
        wait_for_port(settings.host, settings.port, 60, web)
        print(banner(settings, logins), flush=True)
        while not stopping:
            for child in children:
                if child.process.poll() is not None:
                    log.error("%s exited with %s; stopping the rest", child.name, child.process.returncode)
                    return 1
            time.sleep(0.3)
        return 0
    except RuntimeError as exc:
        log.error("%s", exc)
        return 1
    finally:
        stop(children)
