"""Tiers as data (SPEC §2): the default ladder, escalation, the super cap, custom ladders."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from workflows.domain.permissions import Cell, Condition, Scope
from workflows.domain.policy import Actor, Policy, Subject
from workflows.domain.tiers import DEFAULT_LADDER, DEFAULT_TIERS, Tier, TierError, TierLadder

TOP_DOWN = ("super", "regional", "normal", "intern")


def test_default_ladder_is_ordered_highest_first():
    assert tuple(t.key for t in DEFAULT_LADDER.tiers) == TOP_DOWN
    assert DEFAULT_LADDER.top.key == "super"
    ranks = [DEFAULT_LADDER.rank(k) for k in TOP_DOWN]
    assert ranks == sorted(ranks, reverse=True)


def test_ladder_sorts_tiers_given_in_any_order():
    ladder = TierLadder(tuple(reversed(DEFAULT_TIERS)))
    assert tuple(t.key for t in ladder.tiers) == TOP_DOWN


@pytest.mark.parametrize(
    ("higher", "lower"),
    [
        pytest.param(a, b, id=f"{a}>{b}")
        for i, a in enumerate(TOP_DOWN)
        for b in TOP_DOWN[i + 1 :]
    ],
)
def test_outranks(higher: str, lower: str):
    assert DEFAULT_LADDER.outranks(higher, lower)
    assert not DEFAULT_LADDER.outranks(lower, higher)
    assert not DEFAULT_LADDER.outranks(higher, higher)


@pytest.mark.parametrize(
    ("key", "above", "below"),
    [
        pytest.param("intern", "normal", None, id="intern"),
        pytest.param("normal", "regional", "intern", id="normal"),
        pytest.param("regional", "super", "normal", id="regional"),
        pytest.param("super", None, "regional", id="super"),
    ],
)
def test_above_and_below(key: str, above: str | None, below: str | None):
    up = DEFAULT_LADDER.above(key)
    down = DEFAULT_LADDER.below(key)
    assert (up.key if up else None) == above
    assert (down.key if down else None) == below


def test_escalation_chain_ends_at_the_top():
    chain, tier = [], DEFAULT_LADDER["intern"]
    while tier is not None:
        chain.append(tier.key)
        tier = DEFAULT_LADDER.above(tier.key)
    assert chain == ["intern", "normal", "regional", "super"]


@pytest.mark.parametrize(
    "tiers",
    [
        pytest.param(
            (Tier("super", 40, "超级管理员", "Super"), Tier("super", 30, "重复", "Dup")),
            id="duplicate-key",
        ),
        pytest.param(
            (Tier("super", 40, "超级管理员", "Super"), Tier("regional", 40, "区域", "Regional")),
            id="duplicate-rank",
        ),
        pytest.param((), id="empty"),
    ],
)
def test_invalid_ladders_are_rejected(tiers):
    with pytest.raises(TierError):
        TierLadder(tiers)


@pytest.mark.parametrize(
    ("key", "count", "blocked"),
    [
        pytest.param("super", 0, False, id="super-0"),
        pytest.param("super", 2, False, id="super-2"),
        pytest.param("super", 3, True, id="super-3"),
        pytest.param("super", 4, True, id="super-4"),
        pytest.param("regional", 500, False, id="regional-uncapped"),
        pytest.param("intern", 500, False, id="intern-uncapped"),
    ],
)
def test_check_capacity(key: str, count: int, blocked: bool):
    reason = DEFAULT_LADDER.check_capacity(key, count)
    if blocked:
        assert isinstance(reason, str) and reason
        assert "3" in reason
    else:
        assert reason is None


@pytest.mark.parametrize(
    "ask",
    [
        pytest.param(lambda ladder: ladder["ghost"], id="getitem"),
        pytest.param(lambda ladder: ladder.rank("ghost"), id="rank"),
        pytest.param(lambda ladder: ladder.above("ghost"), id="above"),
        pytest.param(lambda ladder: ladder.below("ghost"), id="below"),
        pytest.param(lambda ladder: ladder.outranks("ghost", "intern"), id="outranks"),
        pytest.param(lambda ladder: ladder.check_capacity("ghost", 0), id="check_capacity"),
    ],
)
def test_unknown_tier_raises(ask):
    assert "ghost" not in DEFAULT_LADDER
    with pytest.raises(TierError):
        ask(DEFAULT_LADDER)


def test_tier_error_is_a_value_error():
    assert issubclass(TierError, ValueError)


# --- a custom ladder (弹性级别设置): regional and normal merged into one tier -------------

MERGED = TierLadder(
    (
        Tier("super", 40, "超级管理员", "Super admin", cap=3),
        Tier("operator", 25, "运营管理员", "Operator"),
        Tier("intern", 10, "实习管理员", "Intern admin"),
    )
)

MERGED_MATRIX = {
    "super": {
        "funds.approve": Cell(Scope.GLOBAL),
        "admins.nominate": Cell(Scope.GLOBAL, frozenset({Condition.OUTRANKS_SUBJECT})),
        "docs.read": Cell(Scope.GLOBAL),
    },
    "operator": {
        "users.view": Cell(Scope.REGION),
        "products.approve_listing": Cell(Scope.REGION),
        "admins.nominate": Cell(Scope.REGION, frozenset({Condition.OUTRANKS_SUBJECT})),
        "docs.read": Cell(Scope.GLOBAL),
    },
    "intern": {"docs.read": Cell(Scope.GLOBAL)},
}


@pytest.fixture(scope="module")
def merged_policy() -> Policy:
    return Policy(MERGED, MERGED_MATRIX)


def test_merged_ladder_escalates_through_the_merged_tier():
    assert [t.key for t in MERGED.tiers] == ["super", "operator", "intern"]
    assert MERGED.above("intern").key == "operator"
    assert MERGED.above("operator").key == "super"
    assert MERGED.above("super") is None
    assert "regional" not in MERGED and "normal" not in MERGED


@pytest.mark.parametrize(
    ("tier", "action", "subject", "code"),
    [
        pytest.param("operator", "products.approve_listing", Subject(region="game-items"),
                     "allowed", id="operator-lists-in-region"),
        pytest.param("operator", "products.approve_listing", Subject(region="east-china"),
                     "out_of_region", id="operator-lists-out-of-region"),
        pytest.param("operator", "admins.nominate", Subject(subject_tier="intern"),
                     "allowed", id="operator-nominates-intern"),
        pytest.param("operator", "admins.nominate", Subject(subject_tier="operator"),
                     "not_outranking", id="operator-nominates-operator"),
        pytest.param("super", "admins.nominate", Subject(subject_tier="operator"),
                     "allowed", id="super-nominates-operator"),
        pytest.param("operator", "admins.nominate", Subject(subject_tier="regional"),
                     "tier_unknown", id="nominee-tier-not-on-ladder"),
        pytest.param("operator", "funds.approve", Subject(region="game-items"),
                     "no_permission", id="operator-lacks-funds"),
        pytest.param("intern", "users.view", Subject(region="game-items"),
                     "no_permission", id="intern-lacks-users"),
        pytest.param("intern", "docs.read", Subject(region="east-china"),
                     "allowed", id="intern-reads-docs"),
    ],
)
def test_custom_policy(merged_policy: Policy, tier, action, subject, code):
    actor = Actor(id=f"{tier}-1", tier=tier, regions=("game-items",))
    decision = merged_policy.can(actor, action, subject)
    assert decision.code == code, decision
    assert decision.allowed is (code == "allowed")
    assert decision.reason and decision.reason_zh


def test_custom_policy_names_the_custom_tier(merged_policy: Policy):
    actor = Actor(id="operator-1", tier="operator", regions=("game-items",))
    decision = merged_policy.can(actor, "funds.approve", Subject(region="game-items"))
    assert "operator" in decision.reason
    assert "运营管理员" in decision.reason_zh


def test_custom_policy_effective(merged_policy: Policy):
    actor = Actor(id="operator-1", tier="operator", regions=("game-items",))
    held = merged_policy.effective(actor, datetime(2025, 6, 1, tzinfo=UTC))
    assert [p for p, _, _ in held] == sorted(MERGED_MATRIX["operator"])


def test_an_added_tier_slots_into_escalation():
    ladder = TierLadder((*DEFAULT_TIERS, Tier("senior", 25, "高级普通管理员", "Senior admin")))
    assert ladder.above("normal").key == "senior"
    assert ladder.above("senior").key == "regional"
    assert ladder.below("regional").key == "senior"


@pytest.mark.parametrize(
    ("ladder", "matrix", "message"),
    [
        pytest.param(
            MERGED,
            {**MERGED_MATRIX, "regional": {"docs.read": Cell(Scope.GLOBAL)}},
            "tiers",
            id="unknown-tier",
        ),
        pytest.param(
            MERGED,
            {"operator": {"funds.embezzle": Cell(Scope.GLOBAL)}},
            "permissions",
            id="unknown-permission",
        ),
        pytest.param(MERGED, None, "tiers", id="default-matrix-on-merged-ladder"),
    ],
)
def test_policy_rejects_a_matrix_that_does_not_fit(ladder, matrix, message):
    with pytest.raises(ValueError, match=message):
        Policy(ladder) if matrix is None else Policy(ladder, matrix)
