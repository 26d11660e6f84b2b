"""Figure 1: policy decisions per second against pycasbin and a frozenset, from the same data."""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta

from bench.core import Figure, interleave, ratio_figure
from workflows.domain.permissions import PERMISSIONS, Scope
from workflows.domain.policy import _OWN, DEFAULT_POLICY, Actor, Grant, Subject

REGIONS = tuple(f"region-{n:02d}" for n in range(20))
ACTIONS = tuple(p.key for p in PERMISSIONS)
NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)

CASBIN_MODEL = """
[request_definition]
r = sub, dom, act

[policy_definition]
p = sub, dom, act

[role_definition]
g = _, _

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = r.dom == p.dom && r.act == p.act && g(r.sub, p.sub)
"""


def admins(count: int = 10_000, seed: int = 2026) -> list[Actor]:
    """The demo's tiers over 20 regions, every admin holding temporary grants (some ended)."""
    rng = random.Random(seed)
    out: list[Actor] = []
    for n in range(count):
        tier = "super" if n < 3 else rng.choices(("regional", "normal", "intern"), (2, 5, 3))[0]
        regions = REGIONS if tier == "super" else tuple(rng.sample(REGIONS, rng.randrange(1, 4)))
        grants = []
        for k in range(rng.randrange(1, 3)):
            start = NOW - timedelta(hours=rng.randrange(1, 72))
            end = start + timedelta(hours=rng.randrange(1, 96))
            grants.append(Grant(
                id=f"g{n}-{k}", permission=rng.choice(ACTIONS), scope=rng.choice((Scope.REGION, Scope.REGION, Scope.GLOBAL, Scope.OWN)),
                starts_at=start, ends_at=end, regions=tuple(rng.sample(REGIONS, rng.randrange(0, 3))),
            ))
        out.append(Actor(id=f"admin-{n:05d}", tier=tier, regions=regions, grants=tuple(grants)))
    return out


def casbin_rules(actors: list[Actor]) -> tuple[list[list[str]], list[list[str]]]:
    """The same matrix and grants as casbin policies (p) and role links (g).

    Roles are a tier in a region (``regional@east-china``) or everywhere (``super@*``, with
    its lines repeated in every region so the enforcer's index covers them), the
    domains of RBAC-with-domains folded into role names: pycasbin's domain role manager
    copies every link into each domain the first time it is asked about it, minutes at
    10,000 admins, before a single decision.

    Cells with conditions and own-scope cells need subject facts a (user, region, action)
    request lacks, and the policy denies them such a request: they get no line here.
    """
    policy = DEFAULT_POLICY
    p: list[list[str]] = []
    for (tier, action), cell in policy._cells.items():
        if cell.conditions or cell.scope is Scope.OWN:
            continue
        if cell.scope is Scope.GLOBAL:
            p += [[f"{tier}@*", region, action] for region in REGIONS]
        else:
            p += [[f"{tier}@{region}", region, action] for region in REGIONS]
    g: list[list[str]] = []
    for actor in actors:
        g.append([actor.id, f"{actor.tier}@*"])
        g += [[actor.id, f"{actor.tier}@{region}"] for region in actor.regions]
        for grant in actor.grants:
            tier_cell = policy.cell(actor.tier, grant.permission)
            if not grant.active_at(NOW) or grant.scope is Scope.OWN or (tier_cell is not None and tier_cell.conditions):
                continue
            if grant.scope is Scope.GLOBAL:
                p += [[actor.id, region, grant.permission] for region in REGIONS]
            else:
                p += [[actor.id, region, grant.permission] for region in grant.regions or actor.regions]
    return p, g


def enforcer(actors: list[Actor]):
    import tempfile

    import casbin

    with tempfile.NamedTemporaryFile("w", suffix=".conf") as conf:
        conf.write(CASBIN_MODEL)
        conf.flush()
        # The fast enforcer keeps the policy indexed by (region, action): a request reads
        # only the few lines of its own region and action.
        e = casbin.FastEnforcer(conf.name, cache_key_order=[1, 2])
    p, g = casbin_rules(actors)
    e.add_named_policies("p", p)
    e.add_named_grouping_policies("g", g)
    return e


def allowed_triples(actors: list[Actor]):
    """Unrolled from each admin's compiled rules (region-scoped requests, no conditions)."""
    for actor in actors:
        for action, rule in DEFAULT_POLICY._compile(actor, NOW).rules.items():
            if rule is True:
                yield from ((actor.id, r, action) for r in REGIONS)
            elif isinstance(rule, frozenset):
                yield from ((actor.id, r, action) for r in rule)
            elif rule is not _OWN:  # conditions, or own and region scope mixed: ask
                yield from (
                    (actor.id, r, action) for r in REGIONS
                    if DEFAULT_POLICY.allows(actor, action, Subject(kind="product", region=r), now=NOW)
                )


def requests(actors: list[Actor], count: int, seed: int = 7) -> list[tuple[Actor, str, str]]:
    rng = random.Random(seed)
    return [(rng.choice(actors), rng.choice(REGIONS), rng.choice(ACTIONS)) for _ in range(count)]


def run(*, quick: bool) -> list[Figure]:
    actors = admins()
    subjects = {region: Subject(kind="product", region=region) for region in REGIONS}
    built = time.perf_counter()
    e = enforcer(actors)
    build_s = time.perf_counter() - built

    # They must agree before they are compared.
    sample = requests(actors, 2_000, seed=11)
    disagree = [
        (a.id, r, act) for a, r, act in sample
        if DEFAULT_POLICY.allows(a, act, subjects[r], now=NOW) != e.enforce(a.id, r, act)
        or DEFAULT_POLICY.allows(a, act, subjects[r], now=NOW) != DEFAULT_POLICY.can(a, act, subjects[r], now=NOW).allowed
    ]
    if disagree:
        raise SystemExit(f"policy and casbin disagree on {len(disagree)} of {len(sample)}: {disagree[:5]}")
    allowed_share = sum(DEFAULT_POLICY.allows(a, act, subjects[r], now=NOW) for a, r, act in sample) / len(sample)

    # The naive lookup: every (admin, region, action) the policy allows, as one frozenset.
    allowed = frozenset(allowed_triples(actors))
    if any(((a.id, r, act) in allowed) != DEFAULT_POLICY.allows(a, act, subjects[r], now=NOW) for a, r, act in sample):
        raise SystemExit("the frozenset and the policy disagree")
    fast_reqs = [(a, act, subjects[r]) for a, r, act in requests(actors, 200_000)]
    set_reqs = [(a.id, r, act) for a, r, act in requests(actors, 200_000)]
    casbin_reqs = [(a.id, r, act) for a, r, act in requests(actors, 1_000)]
    allows = DEFAULT_POLICY.allows

    def ours() -> float:
        start = time.perf_counter()
        for actor, action, subject in fast_reqs:
            allows(actor, action, subject, now=NOW)
        return len(fast_reqs) / (time.perf_counter() - start)

    def frozen() -> float:
        start = time.perf_counter()
        for key in set_reqs:
            key in allowed  # noqa: B015
        return len(set_reqs) / (time.perf_counter() - start)

    def peer() -> float:
        n = 300 if quick else 1_000
        start = time.perf_counter()
        enforce = e.enforce
        for user, region, action in casbin_reqs[:n]:
            enforce(user, region, action)
        return n / (time.perf_counter() - start)

    rounds = interleave(3 if quick else 5, {"ours": ours, "frozenset": frozen, "casbin": peer})
    detail = (
        f"10,000 admins with grants, 4 tiers × 20 regions × {len(ACTIONS)} actions; "
        f"{len(sample):,} requests agree with casbin and can(); {allowed_share:.0%} allowed; "
        f"casbin built in {build_s:.1f} s"
    )
    absolute = Figure(
        key="1a", title="policy decisions/s, one thread", target="≥ 1,000,000/s",
        fmt="{:,.0f}", unit="/s", note=detail,
    )
    from bench.core import Spread

    absolute.spread = Spread.of(rounds["ours"])
    absolute.value = absolute.spread.median
    absolute.passed = absolute.value >= 1_000_000
    return [
        absolute,
        ratio_figure("1b", "policy vs pycasbin FastEnforcer", "≥ 50×", rounds["ours"], rounds["casbin"], at_least=50, names=("ours", "casbin")),
        ratio_figure("1c", "policy vs frozenset lookup", "≥ 0.2×", rounds["ours"], rounds["frozenset"], at_least=0.2, names=("ours", "frozenset")),
    ]
