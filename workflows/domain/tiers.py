"""Admin tiers (管理员级别) as data: an operator can merge or add tiers (弹性级别设置)."""

from __future__ import annotations

import msgspec


class Tier(msgspec.Struct, frozen=True):
    key: str
    rank: int
    """Higher outranks lower; escalation goes to the next rank up."""
    name_zh: str
    name_en: str
    cap: int | None = None
    """Head-count limit for the tier (the super tier holds at most 3)."""
    badge_zh: str = ""


DEFAULT_TIERS: tuple[Tier, ...] = (
    Tier("super", 40, "超级管理员", "Super admin", cap=3, badge_zh="超级"),
    Tier("regional", 30, "区域管理员", "Regional admin", badge_zh="区域"),
    Tier("normal", 20, "普通管理员", "Normal admin", badge_zh="普通"),
    Tier("intern", 10, "实习管理员", "Intern admin", badge_zh="实习"),
)


class TierError(ValueError):
    pass


class TierLadder:
    """The tiers of one platform, ordered by rank."""

    def __init__(self, tiers: tuple[Tier, ...] = DEFAULT_TIERS) -> None:
        if not tiers:
            raise TierError("a platform needs at least one tier")
        keys = [t.key for t in tiers]
        if len(set(keys)) != len(keys):
            raise TierError(f"duplicate tier keys: {keys}")
        ranks = [t.rank for t in tiers]
        if len(set(ranks)) != len(ranks):
            raise TierError(f"two tiers share a rank: {ranks}")
        self.tiers = tuple(sorted(tiers, key=lambda t: t.rank, reverse=True))
        self._by_key = {t.key: t for t in self.tiers}

    def __contains__(self, key: str) -> bool:
        return key in self._by_key

    def __getitem__(self, key: str) -> Tier:
        try:
            return self._by_key[key]
        except KeyError:
            raise TierError(f"unknown tier {key!r}") from None

    def rank(self, key: str) -> int:
        return self[key].rank

    def outranks(self, a: str, b: str) -> bool:
        return self.rank(a) > self.rank(b)

    def above(self, key: str) -> Tier | None:
        """The next tier up, where an overdue task escalates; None at the top."""
        rank = self.rank(key)
        higher = [t for t in self.tiers if t.rank > rank]
        return higher[-1] if higher else None

    def below(self, key: str) -> Tier | None:
        rank = self.rank(key)
        lower = [t for t in self.tiers if t.rank < rank]
        return lower[0] if lower else None

    @property
    def top(self) -> Tier:
        return self.tiers[0]

    def check_capacity(self, key: str, current_count: int) -> str | None:
        """Why one more admin cannot join tier ``key``, or None if they can."""
        tier = self[key]
        if tier.cap is not None and current_count >= tier.cap:
            return (
                f"the {tier.name_en} tier is capped at {tier.cap} and already has "
                f"{current_count} ({tier.name_zh}最多{tier.cap}人)"
            )
        return None


TOP_CAP_RANGE = (1, 3)
"""The top tier (super) always has a cap, between 1 and 3 admins (SPEC §2: 1–3, enforced)."""


def check_cap(ladder: TierLadder, key: str, cap: int | None, headcount: int) -> tuple[str, str] | None:
    """Why tier ``key`` cannot be given this cap, or None: (code, reason)."""
    if key not in ladder:
        return ("unknown_tier", f"there is no tier {key!r}")
    tier = ladder[key]
    low, high = TOP_CAP_RANGE
    if key == ladder.top.key and (cap is None or not low <= cap <= high):
        return ("cap_out_of_range", f"the {tier.name_en} tier holds {low} to {high} admins ({tier.name_zh}须为{low}–{high}人)")
    if cap is not None and cap < 1:
        return ("cap_out_of_range", "a cap is at least 1 (no cap: leave it empty)")
    if cap is not None and cap < headcount:
        return (
            "cap_below_headcount",
            f"the {tier.name_en} tier has {headcount} admins now; a cap of {cap} would leave it over (现有{headcount}人)",
        )
    return None


DEFAULT_LADDER = TierLadder()
