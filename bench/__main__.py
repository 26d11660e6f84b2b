"""``python -m bench [--quick] [--only 1,3]``: measure every figure, print the table, write
``var/bench/latest.json`` (``quick.json`` for ``--quick``)."""

from __future__ import annotations

import argparse
import importlib
import sys
import time
import traceback
from datetime import UTC, datetime

from bench.core import Figure, machine, table, write

# Figure number -> (module, what it measures); each module has run(quick=...) -> [Figure].
SUITES: dict[str, tuple[str | None, str]] = {
    "1": ("bench.policy", "policy decisions"),
    "3": ("bench.web", "web: inbox and hello world"),
    "2": ("bench.temporal", "Temporal: dev server and a human step"),
    "5": (None, "process tests on the time-skipping server"),
    "4": (None, "10,000 waiting processes"),
    "6": (None, "risk quality"),
}

# Figures without a measurement yet: listed with their targets, reported as not run.
PENDING: dict[str, list[Figure]] = {
    "5": [Figure(key="5", title="process tests: ms per simulated 30-day process", target="≤ 50 ms",
                 note="not measured yet: needs a driver running N 30-day processes on the time-skipping server")],
    "4": [
        Figure(key="4a", title="10,000 waiting processes: worker RSS", target="≤ 300 MB",
               note="not measured yet: needs 10,000 Kameng processes and 10,000 minimal waiting workflows side by side"),
        Figure(key="4b", title="server RSS per waiting process vs minimal workflow", target="≤ 1.2×"),
        Figure(key="4c", title="database size per waiting process vs minimal workflow", target="≤ 1.2×"),
    ],
    # RISK QUALITY SLOT: the integrator fills these from activities/risk/quality.py measure()
    # (precision and recall), built separately; no measurement lives here.
    "6": [
        Figure(key="6a", title="risk quality: precision", target="(from measure())", note="slot for activities/risk/quality.py measure(), wired in by the integrator"),
        Figure(key="6b", title="risk quality: recall", target="(from measure())"),
    ],
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--quick", action="store_true", help="fewer rounds and smaller data (development)")
    parser.add_argument("--only", default="", help="comma-separated figure numbers, e.g. 1,3")
    args = parser.parse_args(argv)
    wanted = [k for k in args.only.split(",") if k] or list(SUITES)

    started = datetime.now(UTC)
    info = machine()
    print(f"kameng bench {'(quick) ' if args.quick else ''}on {info['cpu']} × {info['cores']}, load {info['load_at_start']}", flush=True)
    figures: list[Figure] = []
    for number in [k for k in SUITES if k in wanted]:
        module, what = SUITES[number]
        if module is None:
            figures += PENDING[number]
            continue
        print(f"figure {number}: {what} ...", flush=True)
        t0 = time.perf_counter()
        try:
            found = importlib.import_module(module).run(quick=args.quick)
        except Exception as exc:  # one suite failing still leaves the others' figures
            traceback.print_exc()
            found = [Figure(key=number, title=what, target="", note=f"failed: {type(exc).__name__}: {exc}")]
        figures += found
        print(f"  done in {time.perf_counter() - t0:.0f} s: " + "; ".join(f"{f.key} {f.shown()} {f.verdict()}" for f in found), flush=True)
    path = write(figures, quick=args.quick, started=started, info=info)
    print()
    print(table(figures))
    print(f"\nwritten to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
