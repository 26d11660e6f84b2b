"""How urgent an inbox task is (0–100), from what the task is about: set when the task opens,
raised when it escalates. Sorting the inbox by priority puts money, bans and late work first."""

from __future__ import annotations

from typing import Any

KIND_BASE: dict[str, int] = {
    "fund-operation": 70,
    "account-ban": 55,
    "admin-appointment": 50,
    "risk-review": 50,
    "dispute": 45,
    "permission-grant": 40,
    "price-change": 30,
    "merchant-onboarding": 30,
    "product-listing": 25,
    "promotion": 20,
}
STEP_BONUS: dict[tuple[str, str], int] = {
    ("dispute", "appeal"): 15,
    ("dispute", "rule"): 10,
    ("merchant-onboarding", "regional_approval"): 10,
    ("account-ban", "approve"): 5,
}
LARGE_AMOUNT = 1_000_000
"""In cents (¥10,000): a task moving this much or more is more urgent."""
PER_ESCALATION = 20
HIGH, MEDIUM = 70, 40
"""Bands the console labels 高 / 中 / 低."""


def task_priority(kind: str, step: str, evidence: dict[str, Any] | None = None, escalations: int = 0) -> int:
    evidence = evidence or {}
    score = KIND_BASE.get(kind, 30) + STEP_BONUS.get((kind, step), 0)
    amounts = [evidence.get(k) for k in ("amount", "refund_amount", "amount_claimed", "price", "new_price")]
    if any(isinstance(a, int) and a >= LARGE_AMOUNT for a in amounts):
        score += 10
    if evidence.get("high_risk") is True or (evidence.get("permission") or "").startswith("funds."):
        score += 10
    score += PER_ESCALATION * escalations
    return max(0, min(100, score))


def priority_band(priority: int) -> str:
    return "high" if priority >= HIGH else "medium" if priority >= MEDIUM else "low"
