"""The delegation ceiling: nobody hands out more than they hold.

``EXPECTED_DELEGATION`` is written out by hand from the rules (SPEC §3's super-only powers,
the oversight an admin must never be able to hand themselves), not read off the permission
table: the walk checks the data against them permission by permission, for every approving
tier and every scope asked for.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from workflows.domain.permissions import PERMISSIONS, Delegation, Scope
from workflows.domain.policy import DEFAULT_POLICY, Actor, Grant, Subject, can
from workflows.domain.routing import delegation_tier

G, R, O = Scope.GLOBAL, Scope.REGION, Scope.OWN
H, S, N = Delegation.HOLDERS, Delegation.SUPER, Delegation.NEVER
HOME, AWAY = "game-cards", "east-china"
NOW = datetime(2026, 12, 1, tzinfo=UTC)

# fmt: off
EXPECTED_DELEGATION: dict[str, Delegation] = {
    # money, bans, appeals, risk rules, appointments, the whole trail: a super hands them out
    "users.ban": S, "users.approve_ban": S, "users.decide_appeal": S,
    "funds.propose": S, "funds.approve": S, "funds.veto": S,
    "risk.define_rules": S, "disputes.rule_appeal": S,
    "admins.appoint_regional": S, "admins.assess_regional": S,
    "audit.view": S, "audit.verify": S, "platform.open_business_line": S,
    # nobody: the tier configuration, the core configuration, the grant machinery itself
    "admins.configure_tiers": N, "platform.configure": N,
    "grants.request": N, "grants.approve": N, "grants.revoke": N,
}
# fmt: on


def expected(permission: str) -> Delegation:
    return EXPECTED_DELEGATION.get(permission, H)


def request(permission: str, scope: Scope, regions: tuple[str, ...] = (HOME,), tier: str = "intern") -> Subject:
    return Subject(
        kind="grant", id="permission-grant-x", region=regions[0] if regions else None, requester="intern-1",
        subject_tier=tier, permission=permission, grant_scope=scope,
        grant_regions=regions if scope is R else (),
    )


def approver(tier: str, *regions: str) -> Actor:
    return Actor(id=f"{tier}-approver", tier=tier, regions=regions or (HOME,))


def test_the_table_names_only_permissions_that_exist():
    assert set(EXPECTED_DELEGATION) <= {p.key for p in PERMISSIONS}
    assert {p.key: p.delegation for p in PERMISSIONS} == {p.key: expected(p.key) for p in PERMISSIONS}


def walk() -> list:
    return [
        pytest.param(perm.key, tier, scope, id=f"{tier}-{perm.key}-{scope.value}")
        for perm in PERMISSIONS
        for tier in ("super", "regional")
        for scope in (O, R, G)
    ]


@pytest.mark.parametrize(("permission", "tier", "scope"), walk())
def test_ceiling_cell(permission: str, tier: str, scope: Scope):
    """Each approving tier against each permission and scope: allowed exactly where the
    permission is delegable by that tier and its standing cell covers the scope."""
    decision = can(approver(tier), "grants.approve", request(permission, scope), now=NOW)
    rule = expected(permission)
    held = DEFAULT_POLICY.cell(tier, permission)
    if rule is N:
        assert (decision.allowed, decision.code) == (False, "not_delegable"), decision
    elif tier == "regional" and permission.startswith("funds."):
        assert decision.code == "funds_need_super", decision  # the cell's own condition says it first
    elif rule is S and tier != "super":
        assert (decision.allowed, decision.code) == (False, "not_delegable"), decision
    elif held is None or held.scope.breadth < scope.breadth or held.conditions:
        assert (decision.allowed, decision.code) == (False, "exceeds_approver"), decision
    else:
        assert decision.allowed, decision
    assert decision.reason and decision.reason_zh


def test_the_reported_escalation_intern_asks_for_users_view_everywhere():
    """Found in use: an intern of game-cards asked for users.view with a global scope and the
    game-cards regional, who holds it for game-cards alone, approved it."""
    regional = approver("regional", HOME)
    denied = can(regional, "grants.approve", request("users.view", G), now=NOW)
    assert (denied.allowed, denied.code) == (False, "exceeds_approver")
    assert "global" in denied.reason
    assert can(regional, "grants.approve", request("users.view", R, (HOME,)), now=NOW).allowed
    outside = can(regional, "grants.approve", request("users.view", R, (HOME, AWAY)), now=NOW)
    assert (outside.allowed, outside.code) == (False, "exceeds_approver")
    assert AWAY in outside.reason
    assert can(approver("super"), "grants.approve", request("users.view", G), now=NOW).allowed


@pytest.mark.parametrize("permission", ["audit.view", "risk.define_rules", "admins.configure_tiers", "users.ban"])
def test_a_regional_cannot_hand_a_normal_admin_super_powers(permission: str):
    decision = can(approver("regional"), "grants.approve", request(permission, R, tier="normal"), now=NOW)
    assert (decision.allowed, decision.code) == (False, "not_delegable")


def test_a_grant_of_the_approver_does_not_count_as_a_standing_right():
    """A regional holding users.view_sensitive globally through a grant still delegates it
    over their own regions only."""
    granted = Actor(
        id="regional-approver", tier="regional", regions=(HOME,),
        grants=(Grant(id="g", permission="users.view_sensitive", scope=G, starts_at=NOW - timedelta(days=1), ends_at=NOW + timedelta(days=1)),),
    )
    decision = can(granted, "grants.approve", request("users.view_sensitive", G), now=NOW)
    assert (decision.allowed, decision.code) == (False, "exceeds_approver")


def test_a_condition_the_grant_would_drop_is_not_delegated():
    """A normal admin approves listings only within the band; a regional's cell has no such
    condition, so a regional may delegate it to an intern (who keeps no condition)."""
    assert can(approver("regional"), "grants.approve", request("products.approve_listing", R), now=NOW).allowed
    policy = DEFAULT_POLICY
    assert policy.cell("normal", "products.approve_listing").conditions  # the premise


def test_a_request_missing_its_scope_is_refused():
    bare = Subject(kind="grant", region=HOME, requester="intern-1", subject_tier="intern", permission="users.view")
    assert can(approver("super"), "grants.approve", bare, now=NOW).code == "exceeds_approver"


def test_the_fast_path_agrees():
    for perm in PERMISSIONS:
        for scope in (O, R, G):
            for tier in ("super", "regional"):
                actor = approver(tier)
                subject = request(perm.key, scope)
                assert DEFAULT_POLICY.allows(actor, "grants.approve", subject, now=NOW) == can(actor, "grants.approve", subject, now=NOW).allowed


@pytest.mark.parametrize(
    ("permission", "scope", "requester", "tier"),
    [
        ("users.view", R, "intern", "regional"),
        ("users.view", G, "intern", "super"),
        ("funds.approve", R, "regional", "super"),
        ("audit.view", R, "normal", "super"),
        ("products.approve_listing", R, "normal", "regional"),
        ("users.view_sensitive", R, "regional", "super"),
    ],
)
def test_a_request_goes_to_the_lowest_tier_able_to_approve_it(permission, scope, requester, tier):
    assert delegation_tier(permission, scope, requester) == tier
