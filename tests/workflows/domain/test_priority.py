"""Task priority: money, bans and late work first."""

from __future__ import annotations

import pytest

from workflows.domain.priority import priority_band, task_priority

pytestmark = pytest.mark.timeout(10)


@pytest.mark.parametrize(
    ("kind", "step", "evidence", "escalations", "expected"),
    [
        ("fund-operation", "approve", {"amount": 1_280_000}, 0, 80),
        ("fund-operation", "approve", {"amount": 50_000}, 0, 70),
        ("account-ban", "approve", {}, 0, 60),
        ("dispute", "appeal", {"amount_claimed": 9_900}, 0, 60),
        ("merchant-onboarding", "verify", {"high_risk": False}, 0, 30),
        ("merchant-onboarding", "regional_approval", {"high_risk": True}, 0, 50),
        ("permission-grant", "approve", {"permission": "funds.approve"}, 0, 50),
        ("product-listing", "review", {"price": 990}, 0, 25),
        ("product-listing", "review", {"price": 990}, 2, 65),
        ("fund-operation", "approve", {"amount": 9_000_000}, 3, 100),
        ("some-new-kind", "decide", {}, 0, 30),
    ],
)
def test_task_priority(kind, step, evidence, escalations, expected):
    assert task_priority(kind, step, evidence, escalations) == expected


def test_bands():
    assert [priority_band(p) for p in (100, 70, 69, 40, 39, 0)] == ["high", "high", "medium", "medium", "low", "low"]
