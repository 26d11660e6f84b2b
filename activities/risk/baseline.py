"""Robust baselines learned per actor: median and MAD over counts per time bucket.

Counts of rare events are mostly zero, so the MAD is often zero too; the scale then falls
back to the Poisson spread of the median (at least 1), so one extra event is never "infinitely"
unusual. The robust z of an observation is ``(x - median) / scale``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import msgspec

MAD_TO_SIGMA = 1.4826
"""The MAD of a normal distribution times this is its standard deviation."""


class Baseline(msgspec.Struct, frozen=True):
    median: float
    mad: float
    buckets: int
    """How many buckets (hours, days, settlements) the baseline was learned from."""
    unit: str
    """What one bucket is: ``hour``, ``day``, ``settlement``."""

    @property
    def scale(self) -> float:
        return max(MAD_TO_SIGMA * self.mad, math.sqrt(max(self.median, 1.0)))

    def z(self, observed: float) -> float:
        return (observed - self.median) / self.scale

    def describe(self) -> dict:
        return {"statistic": "median/MAD", "unit": self.unit, "median": round(self.median, 3), "mad": round(self.mad, 3), "buckets": self.buckets}


def _median(sorted_values: list[float]) -> float:
    n = len(sorted_values)
    if n == 0:
        return 0.0
    mid = n // 2
    return float(sorted_values[mid]) if n % 2 else (sorted_values[mid - 1] + sorted_values[mid]) / 2


def _median_with_zeros(nonzero: list[float], zeros: int) -> float:
    """The median of ``nonzero`` plus ``zeros`` zeros, without building the zeros."""
    n = len(nonzero) + zeros
    if n == 0:
        return 0.0
    ordered = sorted(nonzero)
    negatives = [v for v in ordered if v < 0]
    positives = [v for v in ordered if v >= 0]

    def at(i: int) -> float:
        if i < len(negatives):
            return negatives[i]
        if i < len(negatives) + zeros:
            return 0.0
        return positives[i - len(negatives) - zeros]

    mid = n // 2
    return at(mid) if n % 2 else (at(mid - 1) + at(mid)) / 2


def robust(values: Iterable[float], *, buckets: int | None = None, unit: str) -> Baseline:
    """Median and MAD of ``values``; with ``buckets``, the buckets not in ``values`` count as 0."""
    observed = [float(v) for v in values]
    zeros = max((buckets or len(observed)) - len(observed), 0)
    median = _median_with_zeros(observed, zeros)
    deviations = [abs(v - median) for v in observed]
    mad = _mad_with_zeros(deviations, zeros, abs(median))
    return Baseline(median=median, mad=mad, buckets=len(observed) + zeros, unit=unit)


def _mad_with_zeros(deviations: list[float], zeros: int, zero_deviation: float) -> float:
    """Median absolute deviation where ``zeros`` buckets each deviate by ``zero_deviation``."""
    n = len(deviations) + zeros
    ordered = sorted(deviations)
    below = [d for d in ordered if d < zero_deviation]
    above = [d for d in ordered if d >= zero_deviation]

    def at(i: int) -> float:
        if i < len(below):
            return below[i]
        if i < len(below) + zeros:
            return zero_deviation
        return above[i - len(below) - zeros]

    mid = n // 2
    return at(mid) if n % 2 else (at(mid - 1) + at(mid)) / 2


def score(z: float, threshold: float) -> float:
    """0–1: 0.5 at the rule's threshold, 0.75 at twice it, approaching 1 beyond."""
    if z <= 0:
        return 0.0
    return round(1 - 0.5 ** (z / max(threshold, 0.5)), 3)
