"""The figures the reliability suite reports at its end (SOAK=1 runs the longer version)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

SOAK = os.environ.get("KAMENG_SOAK") == "1"


def scaled(quick: int, soak: int) -> int:
    return soak if SOAK else quick


@dataclass
class Report:
    processes_under_fault: int = 0
    faults_injected: list[str] = field(default_factory=list)
    duplicates_found: int = 0
    lost_tasks: int = 0
    escalation_tried: int = 0
    escalation_denied: int = 0
    fuzz_cases: int = 0
    fuzz_5xx: int = 0
    load_requests: int = 0
    load_unexpected: int = 0
    lines: list[str] = field(default_factory=list)

    def touched(self) -> bool:
        return any((self.processes_under_fault, self.faults_injected, self.escalation_tried, self.fuzz_cases, self.load_requests))

    def render(self) -> list[str]:
        faults = ", ".join(f"{n}× {k}" for k, n in _count(self.faults_injected)) or "none"
        rows = [
            ("processes under fault", self.processes_under_fault, ""),
            ("faults injected", len(self.faults_injected), faults),
            ("duplicates found", self.duplicates_found, "must be 0"),
            ("lost tasks", self.lost_tasks, "must be 0"),
            ("escalation attempts tried / denied", f"{self.escalation_tried} / {self.escalation_denied}", "all denied"),
            ("fuzz cases run / 5xx seen", f"{self.fuzz_cases} / {self.fuzz_5xx}", "5xx must be 0"),
            ("load requests / unexpected answers", f"{self.load_requests} / {self.load_unexpected}", "only 2xx and 409"),
        ]
        width = max(len(r[0]) for r in rows)
        out = [f"{name:<{width}}  {value!s:>12}  {note}" for name, value, note in rows]
        return out + self.lines


def _count(items: list[str]) -> list[tuple[str, int]]:
    seen: dict[str, int] = {}
    for item in items:
        seen[item] = seen.get(item, 0) + 1
    return sorted(seen.items())


REPORT = Report()
