"""Admin rows as the API shows them."""

from __future__ import annotations

from typing import Any

from api.schemas import AdminRead
from workflows.domain.tiers import DEFAULT_LADDER


def admin_read(admin: dict[str, Any]) -> AdminRead:
    tier = admin["tier"]
    return AdminRead(
        username=admin["username"],
        display_name=admin["display_name"],
        tier=tier,
        tier_name_zh=DEFAULT_LADDER[tier].name_zh if tier in DEFAULT_LADDER else tier,
        regions=list(admin["regions"] or []),
        station_master=admin["station_master"],
    )
