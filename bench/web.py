"""Figure 3: the authenticated inbox at 10,000 and 1,000,000 tasks against hello world.

Every server is granian with one worker and the product's settings (``kameng web``), each on
its own port; wrk drives them one after another in rotating order, round after round.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx

from bench.core import Figure, Spread, interleave, ratio_figure
from infra.stack import free_port

VAR = Path("var/bench")
INBOX = "/api/inbox?limit=50"


@contextmanager
def server(factory: str, env: dict[str, str]):
    # A free port, not a fixed one: a second bench on the machine would otherwise answer for this one.
    port = free_port()
    cmd = [
        sys.executable, "-c",
        "import sys; from granian import Granian; from granian.constants import Interfaces; "
        "Granian(sys.argv[1], address='127.0.0.1', port=int(sys.argv[2]), interface=Interfaces.ASGI, "
        "factory=True, workers=1, log_access=False).serve()",
        factory, str(port),
    ]
    proc = subprocess.Popen(cmd, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(url + "/", timeout=1)
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{factory} did not start: {proc.stderr.read().decode()[-2000:] if proc.stderr else ''}") from None
                time.sleep(0.2)
        yield url, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def wrk(url: str, seconds: float, headers: dict[str, str] | None = None, connections: int = 16) -> tuple[float, float]:
    """(requests/s, p50 ms) from one wrk run; non-2xx answers make it fail."""
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds:.0f}s", "--latency"]
    for k, v in (headers or {}).items():
        cmd += ["-H", f"{k}: {v}"]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in out:
        raise RuntimeError(f"{url} answered errors:\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    m = re.search(r"50%\s+([\d.]+)(us|ms|s)\b", out)
    p50 = float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]
    return rps, p50


def dataset(n: int) -> tuple[Path, str]:
    path = VAR / f"inbox-{n}.db"
    token = subprocess.run(
        [sys.executable, "-m", "bench.webdata", str(path), str(n)], capture_output=True, text=True, check=True,
    ).stdout.strip().splitlines()[-1]
    return path, token


def run(*, quick: bool) -> list[Figure]:
    seconds = 3 if quick else 5
    rounds = 3 if quick else 5
    small, big = 10_000, 1_000_000
    (small_db, small_token), (big_db, big_token) = dataset(small), dataset(big)
    base_env = {"KAMENG_LOG_FORMAT": "console", "OTEL_SDK_DISABLED": "true", "PYTHONPATH": os.getcwd()}
    with ExitStack() as stack:
        hello, _ = stack.enter_context(server("bench.hello:asgi_app", base_env))
        inbox_small, _ = stack.enter_context(server("api.app:asgi_app", {**base_env, "KAMENG_DATABASE_URL": f"sqlite:///{small_db}"}))
        inbox_big, _ = stack.enter_context(server("api.app:asgi_app", {**base_env, "KAMENG_DATABASE_URL": f"sqlite:///{big_db}"}))
        # Each answers, and the inbox holds a full page, before anything is timed.
        for url, token in ((inbox_small, small_token), (inbox_big, big_token)):
            page = httpx.get(url + INBOX, headers={"Authorization": f"Bearer {token}"}, timeout=30)
            page.raise_for_status()
            assert len(page.json()["items"]) == 50, page.text[:300]
        for url in (hello + "/hello", inbox_small + INBOX, inbox_big + INBOX):
            wrk(url, 1, {"Authorization": f"Bearer {small_token if url.startswith(inbox_small) else big_token}"})

        p50: dict[str, list[float]] = {"small": [], "big": []}

        def side(url: str, token: str | None, key: str | None):
            def measure() -> float:
                rps, lat = wrk(url, seconds, {"Authorization": f"Bearer {token}"} if token else None)
                if key:
                    p50[key].append(lat)
                return rps
            return measure

        got = interleave(rounds, {
            "hello": side(hello + "/hello", None, None),
            "inbox_10k": side(inbox_small + INBOX, small_token, "small"),
            "inbox_1m": side(inbox_big + INBOX, big_token, "big"),
        })
    scale = [b / s for b, s in zip(p50["big"], p50["small"], strict=True)]
    latency = Figure(
        key="3b", title="inbox p50 at 1,000,000 tasks ÷ p50 at 10,000", target="≤ 1.3×",
        spread=Spread.of(scale), value=Spread.of(scale).median,
        peers={"p50_ms_1m": Spread.of(p50["big"]), "p50_ms_10k": Spread.of(p50["small"])},
    )
    latency.passed = latency.value <= 1.3
    return [
        ratio_figure(
            "3a", "inbox (1,000,000 tasks) vs hello world", "≥ 0.12×", got["inbox_1m"], got["hello"], at_least=0.12,
            names=("inbox_1m", "hello"),
            note="granian, 1 worker each, wrk -t1 -c16; a regional admin's first page of 50 (bearer session)",
        ),
        latency,
    ]
