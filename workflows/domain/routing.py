"""Which tier a decision goes to."""

from __future__ import annotations

from workflows.domain.permissions import Scope
from workflows.domain.policy import DEFAULT_POLICY, Actor, Policy, Subject


def approver_tier(permission: str, above: str, policy: Policy = DEFAULT_POLICY) -> str:
    """The lowest tier that holds ``permission`` and outranks tier ``above``.

    At the top of the ladder, the top tier itself (another admin of it approves).
    """
    ladder = policy.ladder
    rank = ladder.rank(above)
    for tier in reversed(ladder.tiers):
        if tier.rank > rank and policy.cell(tier.key, permission) is not None:
            return tier.key
    return ladder.top.key


def delegation_tier(permission: str, scope: Scope, requester_tier: str, policy: Policy = DEFAULT_POLICY) -> str:
    """The lowest tier above the requester whose admins may approve a grant of ``permission``
    over ``scope`` (``Policy.delegation_ceiling``): a regional's inbox gets only requests a
    regional can approve, the rest go straight to the top tier."""
    ladder = policy.ladder
    rank = ladder.rank(requester_tier) if requester_tier in ladder else -1
    for tier in reversed(ladder.tiers):
        if tier.rank <= rank or policy.cell(tier.key, "grants.approve") is None:
            continue
        probe = Actor(id="", tier=tier.key, regions=("*",))
        subject = Subject(
            kind="grant", permission=permission, grant_scope=scope, grant_regions=("*",),
            subject_tier=requester_tier,
        )
        if policy.delegation_ceiling(probe, subject) is None:
            return tier.key
    return ladder.top.key
