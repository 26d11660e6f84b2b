"""Figures, rounds and the table: every figure is a ratio measured beside its peer."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

OUT = Path("var/bench")


@dataclass
class Spread:
    median: float
    low: float
    high: float
    rounds: list[float]

    @classmethod
    def of(cls, values: list[float]) -> Spread:
        return cls(statistics.median(values), min(values), max(values), values)

    def text(self, fmt: str = "{:,.0f}") -> str:
        return f"{fmt.format(self.median)} ({fmt.format(self.low)}–{fmt.format(self.high)})"


@dataclass
class Figure:
    key: str
    title: str
    target: str
    value: float | None = None
    """The median of the per-round figure (a ratio, or a count where the target is one)."""
    spread: Spread | None = None
    passed: bool | None = None
    """None: not measured in this run (``note`` says why)."""
    fmt: str = "{:.2f}"
    unit: str = "×"
    note: str = ""
    peers: dict[str, Spread] = field(default_factory=dict)
    """The raw rates behind the ratio, per side, for the record."""
    profile: dict[str, Any] = field(default_factory=dict)
    """What explains the figure, measured beside it (where a waiting process's bytes go, say)."""

    def shown(self) -> str:
        if self.value is None:
            return "—"
        text = self.fmt.format(self.value) + self.unit
        if self.spread is not None and len(self.spread.rounds) > 1:
            text += f" ({self.fmt.format(self.spread.low)}–{self.fmt.format(self.spread.high)})"
        return text

    def verdict(self) -> str:
        return {True: "pass", False: "MISS", None: "not run"}[self.passed]


def ratio_figure(
    key: str,
    title: str,
    target: str,
    ours: list[float],
    peer: list[float],
    *,
    at_least: float | None = None,
    at_most: float | None = None,
    names: tuple[str, str] = ("ours", "peer"),
    note: str = "",
) -> Figure:
    """Per-round ratios ours/peer (the rounds were interleaved), judged on their median."""
    ratios = [a / b for a, b in zip(ours, peer, strict=True)]
    spread = Spread.of(ratios)
    value = spread.median
    passed = (at_least is None or value >= at_least) and (at_most is None or value <= at_most)
    return Figure(
        key=key, title=title, target=target, value=value, spread=spread, passed=passed, note=note,
        peers={names[0]: Spread.of(ours), names[1]: Spread.of(peer)},
    )


def interleave(rounds: int, sides: dict[str, Callable[[], float]]) -> dict[str, list[float]]:
    """Run every side once per round, in a rotating order, so noise hits them alike."""
    results: dict[str, list[float]] = {name: [] for name in sides}
    names = list(sides)
    for r in range(rounds):
        order = names[r % len(names):] + names[: r % len(names)]
        for name in order:
            results[name].append(sides[name]())
    return results


def rate(fn: Callable[[], int], seconds: float) -> float:
    """Calls ``fn`` (which does n operations and returns n) until ``seconds`` pass; ops/s."""
    done = 0
    start = time.perf_counter()
    while True:
        done += fn()
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return done / elapsed


def machine() -> dict[str, str]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    return {
        "host": platform.node(),
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "memory_gib": f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.1f}",
        "python": sys.version.split()[0],
        "load_at_start": " ".join(f"{x:.2f}" for x in load),
        "commit": commit,
    }


def table(figures: list[Figure]) -> str:
    rows = [("figure", "value (median, min–max)", "target", "result")]
    rows += [(f"{f.key} {f.title}", f.shown(), f.target, f.verdict()) for f in figures]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = []
    for n, row in enumerate(rows):
        lines.append("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |")
        if n == 0:
            lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    notes = [f"- {f.key}: {f.note}" for f in figures if f.note]
    return "\n".join(lines + ([""] + notes if notes else []))


def write(figures: list[Figure], *, quick: bool, started: datetime, info: dict[str, str]) -> Path:
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / ("quick.json" if quick else "latest.json")
    doc = {
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": quick,
        "machine": info,
        "figures": [asdict(f) for f in figures],
    }
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False, default=str) + "\n")
    (OUT / ("quick.md" if quick else "latest.md")).write_text(table(figures) + "\n")
    return path
