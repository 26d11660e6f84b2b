"""Figure 6: risk quality, from ``activities/risk/quality.py``: precision and recall of the
default rules on a generated, labelled platform history (not the demo's seed), the lowest
over the planted kinds."""

from __future__ import annotations

import asyncio

from activities.risk.quality import labelled_history, measure
from bench.core import Figure, Spread

SEED = 20261122
"""Not the demo platform's seed (7): a history the rules were not tuned on."""


def run(*, quick: bool) -> list[Figure]:
    history, labels = labelled_history(rng_seed=SEED)
    report = asyncio.run(measure(history, labels))
    per_kind = "; ".join(
        f"{k.kind} ({k.rule}): {k.correct} of {k.flagged} flagged right, {k.correct} of {k.planted} planted found"
        for k in report.kinds.values()
    )
    figures = []
    for key, title, attr in (("6a", "risk quality: precision", "precision"), ("6b", "risk quality: recall", "recall")):
        values = [getattr(k, attr) for k in report.kinds.values()]
        low = min(values)
        figures.append(Figure(
            key=key, title=f"{title} (lowest of {len(values)} kinds)", target="≥ 0.90", value=low, unit="",
            spread=Spread.of(values), passed=low >= 0.9,
            peers={k.kind: Spread.of([getattr(k, attr)]) for k in report.kinds.values()},
            note=(f"seed {SEED}, {report.orders:,} orders and {report.price_edits:,} price edits scanned in {report.seconds:.3f} s; {per_kind}"
                  if key == "6a" else ""),
        ))
    return figures
