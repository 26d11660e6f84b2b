"""``python -m bench [--quick] [--only 1,3]``: measure every figure, print the table, write
``var/bench/latest.json`` (``quick.json`` for ``--quick``)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
import importlib
import sys
import time
import traceback
from datetime import UTC, datetime

from bench.core import Figure, machine, table, write

# Figure number -> (module, what it measures); each module has run(quick=...) -> [Figure].
SUITES: dict[str, tuple[str, str]] = {
    "1": ("bench.policy", "policy decisions"),
    "3": ("bench.web", "web: inbox and hello world"),
    "2": ("bench.temporal", "Temporal: dev server pragmas"),
    "5": ("bench.skipping", "process tests on the time-skipping server"),
    "6": ("bench.risk", "risk quality"),
}
# 2b, 2c, 3c and 4 share one running product (bench/stack.py): measured once, after the
# suites above, for whichever of "2", "3" and "4" were asked for.
STACK = ("2", "3", "4")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--quick", action="store_true", help="fewer rounds and smaller data (development)")
    parser.add_argument("--only", default="", help="comma-separated figure numbers, e.g. 1,3")
    args = parser.parse_args(argv)
    wanted = [k for k in args.only.split(",") if k] or [*SUITES, *STACK]

    started = datetime.now(UTC)
    info = machine()
    print(f"kameng bench {'(quick) ' if args.quick else ''}on {info['cpu']} × {info['cores']}, load {info['load_at_start']}", flush=True)
    figures: list[Figure] = []
    runs: list[tuple[str, str, Callable[[], list[Figure]]]] = [
        (number, what, lambda module=module: importlib.import_module(module).run(quick=args.quick))
        for number, (module, what) in SUITES.items() if number in wanted
    ]
    if any(k in wanted for k in STACK):
        steps, waiting = "2" in wanted or "3" in wanted, "4" in wanted
        what = "the product's stack: a human step (2b, 2c), a status read (3c)" if steps else "the product's stack"
        what += ", 10,000 waiting processes (4)" if waiting and not args.quick else ", 200 waiting processes (4)" if waiting else ""
        runs.append(("2-4", what, lambda: importlib.import_module("bench.stack").run(quick=args.quick, steps=steps, waiting=waiting)))
    for number, what, measure in runs:
        print(f"figure {number}: {what} ...", flush=True)
        t0 = time.perf_counter()
        try:
            found = measure()
        except Exception as exc:  # one suite failing still leaves the others' figures
            traceback.print_exc()
            found = [Figure(key=number, title=what, target="", note=f"failed: {type(exc).__name__}: {exc}")]
        figures += found
        print(f"  done in {time.perf_counter() - t0:.0f} s: " + "; ".join(f"{f.key} {f.shown()} {f.verdict()}" for f in found), flush=True)
    order = ["1a", "1b", "1c", "2a", "2b", "2c", "3a", "3b", "3c", "4a", "4b", "4c", "5", "6a", "6b"]
    figures.sort(key=lambda f: order.index(f.key) if f.key in order else len(order))
    path = write(figures, quick=args.quick, started=started, info=info)
    print()
    print(table(figures))
    print(f"\nwritten to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
