"""Which tier a decision goes to."""

from __future__ import annotations

from workflows.domain.policy import DEFAULT_POLICY, Policy


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
