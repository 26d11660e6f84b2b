"""Who sees which inbox task: tier, regions, named candidates, grants."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from workflows.domain.policy import Actor


def task_visible(
    actor: Actor,
    *,
    tier: str,
    region: str | None,
    assignee: str | None,
    candidates: Iterable[str],
    excluded: Iterable[str],
    permissions: Iterable[str],
    now: datetime,
) -> bool:
    """True when the task belongs in this admin's inbox.

    A task is for its tier (within the actor's regions, when it has one), for the admins it
    names, for its assignee, and for anyone holding an active grant of a permission one of
    its actions needs. The parties to a case never see it as a task.
    """
    if actor.id in excluded or not actor.active:
        return False
    if assignee == actor.id or actor.id in candidates:
        return True
    in_region = region is None or region in actor.regions
    if tier == actor.tier and in_region:
        return True
    needed = set(permissions)
    for grant in actor.grants:
        if grant.permission in needed and grant.active_at(now):
            grant_regions = grant.regions or actor.regions
            if grant.scope.value == "global" or region is None or region in grant_regions:
                return True
    return False
