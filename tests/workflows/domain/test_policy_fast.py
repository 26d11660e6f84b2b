"""The compiled fast path (``Policy.allows``) answers exactly as ``can()`` does.

Random actors (every tier, one to three regions, inactive ones, grants of every scope that
start, end and are revoked around the clock), every action plus an unknown one, and subjects
that exercise every check, asked at moments before, inside and after the grants.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from workflows.domain.permissions import PERMISSIONS, Scope
from workflows.domain.policy import DEFAULT_POLICY, NO_SUBJECT, Actor, Grant, Policy, Subject

REGIONS = ("game-items", "mobile-topup", "game-cards", "east-china", "r5", "r6")
TIERS = ("super", "regional", "normal", "intern")
ACTIONS = [p.key for p in PERMISSIONS] + ["no.such_action"]
T0 = datetime(2026, 11, 1, tzinfo=UTC)


def _moment(rng: random.Random) -> datetime:
    return T0 + timedelta(hours=rng.randrange(-48, 96))


def _grant(rng: random.Random, n: int) -> Grant:
    starts = _moment(rng)
    return Grant(
        id=f"g{n}",
        permission=rng.choice(ACTIONS[:-1]),
        scope=rng.choice(list(Scope)),
        starts_at=starts,
        ends_at=starts + timedelta(hours=rng.randrange(1, 72)),
        regions=tuple(rng.sample(REGIONS, rng.randrange(0, 3))),
        revoked_at=(starts + timedelta(hours=rng.randrange(0, 48))) if rng.random() < 0.2 else None,
    )


def _actor(rng: random.Random, n: int) -> Actor:
    return Actor(
        id=f"admin{n}",
        tier=rng.choice(TIERS),
        regions=tuple(rng.sample(REGIONS, rng.randrange(1, 4))),
        grants=tuple(_grant(rng, n * 10 + k) for k in range(rng.choice((0, 0, 1, 2, 4)))),
        active=rng.random() > 0.05,
    )


def _subject(rng: random.Random, actors: list[Actor]) -> Subject:
    pick = rng.random()
    if pick < 0.15:
        return NO_SUBJECT
    if pick < 0.2:
        return Subject()
    someone = rng.choice(actors).id
    price = rng.randrange(0, 20_000)
    return Subject(
        kind=rng.choice(("product", "user", "grant", "")),
        region=rng.choice(REGIONS + (None,)),
        owners=(someone,) if rng.random() < 0.5 else (),
        requester=someone if rng.random() < 0.3 else None,
        excluded=(someone,) if rng.random() < 0.1 else (),
        subject_tier=rng.choice(TIERS + (None, "ghost")),
        permission=rng.choice((None, "funds.approve", "users.view")),
        price=price if rng.random() < 0.8 else None,
        band=(1_000, 10_000) if rng.random() < 0.8 else None,
        high_value=rng.random() < 0.1,
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_allows_equals_can_on_a_large_sample(seed: int) -> None:
    rng = random.Random(seed)
    policy = Policy()  # a fresh view cache per run
    actors = [_actor(rng, n) for n in range(300)]
    checked = 0
    for _ in range(20_000):
        actor = rng.choice(actors)
        # the parties of the subject are often the actor itself
        subject = _subject(rng, actors + [actor] * 30)
        action = rng.choice(ACTIONS)
        now = _moment(rng)
        expected = policy.can(actor, action, subject, now=now).allowed
        assert policy.allows(actor, action, subject, now=now) is expected, (actor, action, subject, now)
        checked += 1
    assert checked == 20_000


def test_allows_without_a_clock_behaves_as_can() -> None:
    rng = random.Random(7)
    for n in range(200):
        actor = _actor(rng, n)
        action = rng.choice(ACTIONS)
        subject = Subject(region=rng.choice(REGIONS))
        try:
            expected: bool | type[Exception] = DEFAULT_POLICY.can(actor, action, subject).allowed
        except ValueError:
            expected = ValueError
        if expected is ValueError:
            with pytest.raises(ValueError):
                DEFAULT_POLICY.allows(actor, action, subject)
        else:
            assert DEFAULT_POLICY.allows(actor, action, subject) is expected


def test_a_view_follows_its_grant_through_time() -> None:
    grant = Grant(
        id="g", permission="funds.approve", scope=Scope.REGION, regions=("east-china",),
        starts_at=T0, ends_at=T0 + timedelta(hours=2), revoked_at=T0 + timedelta(hours=1),
    )
    actor = Actor(id="r1", tier="regional", regions=("game-items",), grants=(grant,))
    subject = Subject(region="east-china")
    policy = Policy()
    answers = [
        policy.allows(actor, "funds.approve", subject, now=T0 + timedelta(minutes=m))
        for m in (-1, 0, 30, 59, 60, 90, 120, 30, -5)
    ]
    assert answers == [False, True, True, True, False, False, False, True, False]


def test_an_actor_bearing_some_permissions_is_judged_the_same_on_them() -> None:
    """``Actor.bearing(P)`` (what a process's inputs carry) drops the grants of other
    permissions: every decision about a permission in P, reasons included, is unchanged."""
    rng = random.Random(11)
    actors = [_actor(rng, n) for n in range(200)]
    for actor in actors:
        actor = Actor(id=actor.id, tier=actor.tier, regions=actor.regions, active=actor.active,
                      grants=actor.grants + tuple(_grant(rng, 9000 + k) for k in range(6)))
        bearing = frozenset(rng.sample(ACTIONS[:-1], rng.randrange(1, 6)))
        trimmed = actor.bearing(bearing)
        assert {g.permission for g in trimmed.grants} <= bearing
        assert [g for g in actor.grants if g.permission in bearing] == list(trimmed.grants)
        for action in bearing:
            subject = _subject(rng, actors + [actor] * 10)
            now = _moment(rng)
            assert DEFAULT_POLICY.can(trimmed, action, subject, now=now) == DEFAULT_POLICY.can(actor, action, subject, now=now)
    plain = Actor(id="a", tier="normal", regions=("r5",))
    assert plain.bearing(frozenset({"users.view"})) is plain


def test_cells_with_conditions_are_decided_without_can() -> None:
    """A normal admin's listing approval (within the region's price band) and a regional's
    grant approval (outranking the requester, no fund permission, within the delegation
    ceiling) are answered by the fast path itself, as ``can()`` would answer them."""

    class Compiled(Policy):
        def can(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            raise AssertionError("the fast path asked can()")

    fast, full = Compiled(), Policy()
    normal = Actor(id="n1", tier="normal", regions=("game-items",))
    regional = Actor(id="r1", tier="regional", regions=("game-items",))
    questions = [
        (normal, "products.approve_listing", Subject(region="game-items", price=5_000, band=(1_000, 10_000))),
        (normal, "products.approve_listing", Subject(region="game-items", price=50_000, band=(1_000, 10_000))),
        (normal, "products.approve_listing", Subject(region="game-items", price=5_000, band=(1_000, 10_000), high_value=True)),
        (normal, "products.approve_listing", Subject(region="game-items", price=5_000)),
        (normal, "products.approve_listing", Subject(region="east-china", price=5_000, band=(1_000, 10_000))),
    ]
    answers = [fast.allows(actor, action, subject, now=T0) for actor, action, subject in questions]
    assert answers == [full.can(actor, action, subject, now=T0).allowed for actor, action, subject in questions]
    assert answers == [True, False, False, False, False]
    R = Scope.REGION
    grants = [
        (regional, "grants.approve", Subject(region="game-items", subject_tier="normal", permission="users.view", grant_scope=R)),
        (regional, "grants.approve", Subject(region="game-items", subject_tier="normal", permission="users.view", grant_scope=Scope.GLOBAL)),
        (regional, "grants.approve", Subject(region="game-items", subject_tier="normal", permission="funds.approve")),
        (regional, "grants.approve", Subject(region="game-items", subject_tier="super", permission="users.view")),
        (regional, "grants.approve", Subject(region="game-items", permission="users.view", grant_scope=R)),
    ]
    answers = [fast.allows(actor, action, subject, now=T0) for actor, action, subject in grants]
    assert answers == [full.can(actor, action, subject, now=T0).allowed for actor, action, subject in grants]
    assert answers == [True, False, False, False, False]
