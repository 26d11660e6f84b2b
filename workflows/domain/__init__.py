"""The pure core: tiers, regions, permissions, grants and the one policy function.

Nothing here does I/O or reads the clock; workflows, the API and the UI all call it.
"""

from workflows.domain.permissions import PERMISSIONS, Permission, Scope
from workflows.domain.policy import Actor, Decision, Grant, Policy, Subject, can
from workflows.domain.tiers import DEFAULT_TIERS, Tier, TierLadder

__all__ = [
    "DEFAULT_TIERS",
    "PERMISSIONS",
    "Actor",
    "Decision",
    "Grant",
    "Permission",
    "Policy",
    "Scope",
    "Subject",
    "Tier",
    "TierLadder",
    "can",
]
