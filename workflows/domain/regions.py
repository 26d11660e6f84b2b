"""Regions (区域/专区): business segments or geographies an admin can be scoped to."""

from __future__ import annotations

import msgspec


class RegionInfo(msgspec.Struct, frozen=True):
    key: str
    name_zh: str
    name_en: str
    kind: str = "segment"
    """``segment`` (a business line) or ``geography``."""


DEFAULT_REGIONS: tuple[RegionInfo, ...] = (
    RegionInfo("game-items", "游戏道具专区", "Game items"),
    RegionInfo("mobile-topup", "话费充值组", "Mobile top-up"),
    RegionInfo("game-cards", "点卡专区", "Game cards"),
    RegionInfo("east-china", "华东地区运营组", "East China operations", kind="geography"),
)

PRODUCT_CATEGORIES: dict[str, tuple[str, str]] = {
    "point_card": ("点卡", "Point card"),
    "topup": ("话费充值", "Mobile top-up"),
    "game_item": ("游戏道具", "Game item"),
    "game_account": ("游戏账号", "Game account"),
}
"""Category key -> (zh, en). Game accounts are high-value goods."""
