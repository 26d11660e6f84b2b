"""The permission policy, table-driven against SPEC §3 and §4.

``EXPECTED_SCOPES`` below is written out by hand from SPEC §3, not derived from
``DEFAULT_MATRIX``: the walk checks the matrix against the specification cell by cell.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from workflows.domain.permissions import PERMISSIONS, Condition, Scope
from workflows.domain.policy import DEFAULT_POLICY, Actor, Decision, Grant, Subject, can

G, R, O = Scope.GLOBAL, Scope.REGION, Scope.OWN
TIERS = ("super", "regional", "normal", "intern")

HOME = "game-items"
AWAY = "east-china"
THIRD = "mobile-topup"
OTHER_ADMIN = "someone-else"

# fmt: off
EXPECTED_SCOPES: dict[str, tuple[Scope | None, Scope | None, Scope | None, Scope | None]] = {
    #                                  super  regional normal intern
    # users: view all / own regions / users they served / none (template replies only)
    "users.view":                     (G,     R,       O,     None),
    # sensitive data (login IP, spending habits): super everywhere, regional in own regions;
    # normal sees basic info only, intern never touches sensitive data
    "users.view_sensitive":           (G,     R,       None,  None),
    # normal "none (may flag)"; regional runs ban requests in own regions; intern sees hints only
    "users.flag":                     (G,     R,       R,     None),
    # ban: super directly; regional "request only; a super approves"
    "users.request_ban":              (G,     R,       None,  None),
    "users.ban":                      (G,     None,    None,  None),
    "users.approve_ban":              (G,     None,    None,  None),
    # an appeal goes to a super (disputes: super gives the final ruling and appeals)
    "users.decide_appeal":            (G,     None,    None,  None),
    # §5.1: a normal admin of the region verifies; high-risk categories need a regional
    "merchants.verify":               (G,     R,       R,     None),
    "merchants.approve_high_risk":    (G,     R,       None,  None),
    # intern "checks and classifies product info" in the assigned region
    "products.classify":              (G,     R,       R,     R),
    # super any listing; regional high-value in own regions; normal inside the band
    "products.approve_listing":       (G,     R,       R,     None),
    # price change: super yes; regional in own regions; normal only proposes, a superior
    # confirms; intern none
    "products.propose_price_change":  (G,     None,    R,     None),
    "products.change_price":          (G,     R,       None,  None),
    "products.confirm_price_change":  (G,     R,       None,  None),
    # funds: super only (maker and checker); regional only through a temporary grant
    "funds.propose":                  (G,     None,    None,  None),
    "funds.approve":                  (G,     None,    None,  None),
    "funds.veto":                     (G,     None,    None,  None),
    # reports: global / own regions / personal / none
    "reports.view":                   (G,     R,       O,     None),
    # risk: super defines; regional intercepts; normal flags; intern sees system hints
    "risk.view_hints":                (G,     R,       R,     R),
    "risk.flag":                      (G,     R,       R,     None),
    "risk.intercept":                 (G,     R,       None,  None),
    "risk.review":                    (G,     R,       R,     None),
    "risk.define_rules":              (G,     None,    None,  None),
    # disputes: super final ruling and appeals; regional escalations; normal mediates in
    # own region; intern triage only
    "disputes.triage":                (G,     R,       R,     R),
    "disputes.mediate":               (G,     R,       R,     None),
    "disputes.rule":                  (G,     R,       None,  None),
    "disputes.rule_appeal":           (G,     None,    None,  None),
    # admins: super appoints/assesses regionals and configures tiers; regional reviews
    # normal admins' requests; normal mentors interns; intern none
    "admins.mentor":                  (G,     R,       R,     None),
    "admins.nominate":                (G,     R,       R,     None),
    # HR-style reviewers score independently, so reviewers are not tied to a region
    "admins.review_promotion":        (G,     G,       G,     None),
    # §5.5: the next tier up confirms
    "admins.confirm_promotion":       (G,     R,       None,  None),
    "admins.review_request":          (G,     R,       None,  None),
    "admins.appoint_regional":        (G,     None,    None,  None),
    "admins.assess_regional":         (G,     None,    None,  None),
    "admins.configure_tiers":         (G,     None,    None,  None),
    # §4: any admin may request a permission they lack and withdraw their own request;
    # a higher tier approves (a super for funds)
    "grants.request":                 (G,     O,       O,     O),
    "grants.approve":                 (G,     R,       None,  None),
    "grants.revoke":                  (G,     O,       O,     O),
    # the audit trail traces leaks; regionals see their own regions'
    "audit.view":                     (G,     R,       None,  None),
    "audit.verify":                   (G,     None,    None,  None),
    # platform: super only (core config, business lines, veto)
    "platform.configure":             (G,     None,    None,  None),
    "platform.open_business_line":    (G,     None,    None,  None),
    # intern "reads docs"; everyone may
    "docs.read":                      (G,     G,       G,     G),
}
# fmt: on

# Cells whose subject must also pass a condition (every other held cell has none).
EXPECTED_CONDITIONS: dict[tuple[str, str], frozenset[Condition]] = {
    ("normal", "products.approve_listing"): frozenset({Condition.WITHIN_BAND}),
    ("super", "admins.nominate"): frozenset({Condition.OUTRANKS_SUBJECT}),
    ("regional", "admins.nominate"): frozenset({Condition.OUTRANKS_SUBJECT}),
    ("normal", "admins.nominate"): frozenset({Condition.OUTRANKS_SUBJECT}),
    ("regional", "admins.confirm_promotion"): frozenset({Condition.OUTRANKS_SUBJECT}),
    ("regional", "admins.review_request"): frozenset({Condition.OUTRANKS_SUBJECT}),
    ("regional", "grants.approve"): frozenset(
        {Condition.OUTRANKS_SUBJECT, Condition.NON_FUND}
    ),
}

CONDITION_CODES: dict[Condition, set[str]] = {
    Condition.WITHIN_BAND: {"high_value", "band_unknown", "outside_band"},
    Condition.OUTRANKS_SUBJECT: {"not_outranking", "tier_unknown"},
    Condition.NON_FUND: {"funds_need_super"},
}

# A subject that fails one condition and satisfies the others.
FAILS: dict[Condition, dict] = {
    Condition.WITHIN_BAND: {"price": 900_000},
    Condition.OUTRANKS_SUBJECT: {"subject_tier": "super"},
    Condition.NON_FUND: {"permission": "funds.approve"},
}

APPROVALS = [p.key for p in PERMISSIONS if p.approval]

START = datetime(2025, 6, 1, 9, 0, tzinfo=UTC)
END = datetime(2025, 6, 8, 9, 0, tzinfo=UTC)


# --- helpers ---------------------------------------------------------------------------


def explained(decision: Decision) -> Decision:
    assert decision.reason.strip(), decision
    assert decision.reason_zh.strip(), decision
    return decision


def assert_allowed(decision: Decision, scope: Scope, grant_id: str | None = None) -> None:
    explained(decision)
    assert decision.allowed, decision
    assert bool(decision)
    assert decision.code == "allowed"
    assert decision.scope is scope
    assert decision.grant_id == grant_id


def assert_denied(decision: Decision, code: str) -> None:
    explained(decision)
    assert not decision.allowed, decision
    assert not bool(decision)
    assert decision.code == code, decision


def admin(tier: str, *regions: str, **kw) -> Actor:
    return Actor(id=f"{tier}-1", tier=tier, regions=regions or (HOME,), **kw)


def subject(**kw) -> Subject:
    """A subject that satisfies every condition unless told otherwise."""
    fields = dict(
        kind="record",
        id="rec-1",
        region=HOME,
        owners=(),
        requester=OTHER_ADMIN,
        subject_tier="intern",
        permission="users.view",
        grant_scope=Scope.REGION,
        price=500,
        band=(100, 1000),
        high_value=False,
    )
    fields.update(kw)
    return Subject(**fields)


def hostile(actor: Actor) -> Subject:
    """In scope for the actor, but failing every condition a cell could carry."""
    return subject(
        owners=(actor.id,),
        high_value=True,
        price=None,
        band=None,
        subject_tier="super",
        permission="funds.approve",
    )


def cells() -> list:
    return [
        pytest.param(tier, perm, EXPECTED_SCOPES[perm][i], id=f"{tier}-{perm}")
        for perm in EXPECTED_SCOPES
        for i, tier in enumerate(TIERS)
    ]


def held_cells() -> list:
    return [
        pytest.param(
            tier,
            perm,
            EXPECTED_CONDITIONS.get((tier, perm), frozenset()),
            id=f"{tier}-{perm}",
        )
        for perm in EXPECTED_SCOPES
        for i, tier in enumerate(TIERS)
        if EXPECTED_SCOPES[perm][i] is not None
    ]


# --- the table itself ------------------------------------------------------------------


def test_expected_table_names_every_permission():
    assert set(EXPECTED_SCOPES) == {p.key for p in PERMISSIONS}
    assert len(EXPECTED_SCOPES) == len(PERMISSIONS)


def test_spec_approvals_are_approval_permissions():
    # SPEC §3–§5: a super approves bans, a superior confirms price changes, a second super
    # checks a fund operation, a higher tier approves grants and confirms promotions.
    assert {
        "users.approve_ban",
        "products.approve_listing",
        "products.confirm_price_change",
        "funds.approve",
        "admins.confirm_promotion",
        "admins.review_request",
        "grants.approve",
    } <= set(APPROVALS)
    assert "funds.propose" not in APPROVALS


# --- the walk: every (tier, permission) cell --------------------------------------------


@pytest.mark.parametrize(("tier", "permission", "expected"), cells())
def test_matrix_cell(tier: str, permission: str, expected: Scope | None):
    actor = admin(tier, HOME)
    if expected is None:
        assert_denied(
            can(actor, permission, subject(region=HOME, owners=(actor.id,))), "no_permission"
        )
    elif expected is G:
        assert_allowed(can(actor, permission, subject(region=AWAY)), G)
    elif expected is R:
        assert_allowed(can(actor, permission, subject(region=HOME)), R)
        assert_denied(can(actor, permission, subject(region=AWAY)), "out_of_region")
    elif expected is O:
        assert_allowed(can(actor, permission, subject(owners=(actor.id,))), O)
        assert_denied(can(actor, permission, subject(owners=(OTHER_ADMIN,))), "not_own")
    else:  # pragma: no cover
        raise AssertionError(expected)


@pytest.mark.parametrize(("tier", "permission", "conditions"), held_cells())
def test_cell_conditions(tier: str, permission: str, conditions: frozenset[Condition]):
    """Each expected condition stops a subject failing it; no other condition is applied."""
    actor = admin(tier, HOME)
    scope = EXPECTED_SCOPES[permission][TIERS.index(tier)]
    if not conditions:
        assert_allowed(can(actor, permission, hostile(actor)), scope)
        return
    for condition in Condition:
        failing = subject(owners=(actor.id,), **FAILS[condition])
        decision = explained(can(actor, permission, failing))
        if condition in conditions:
            assert not decision.allowed, (condition, decision)
            assert decision.code in CONDITION_CODES[condition], (condition, decision)
        else:
            assert_allowed(decision, scope)


@pytest.mark.parametrize("tier", TIERS)
def test_every_decision_explains_itself(tier: str):
    actor = admin(tier, HOME)
    granted = admin(
        tier,
        HOME,
        grants=(
            Grant(id="g-1", permission="funds.approve", scope=R, starts_at=START, ends_at=END),
            Grant(id="g-2", permission="users.view", scope=G, starts_at=START, ends_at=END,
                  revoked_at=START + timedelta(days=1)),
        ),
    )
    subjects = [
        Subject(),
        subject(),
        subject(owners=(actor.id,)),
        subject(region=AWAY),
        subject(owners=(OTHER_ADMIN,)),
        hostile(actor),
        subject(requester=actor.id),
        subject(excluded=(actor.id,)),
    ]
    moments = [START - timedelta(days=1), START, START + timedelta(days=2), END]
    seen: set[str] = set()
    for perm in PERMISSIONS:
        for s in subjects:
            seen.add(explained(can(actor, perm.key, s)).code)
            for now in moments:
                seen.add(explained(can(granted, perm.key, s, now=now)).code)
    seen.add(explained(can(admin(tier, active=False), "docs.read")).code)
    seen.add(explained(can(actor, "no.such_action")).code)
    assert {"allowed", "conflict_of_interest", "inactive", "unknown_action"} <= seen


# --- conditions, one by one -----------------------------------------------------------

BAND = (1_000, 50_000)  # 10.00–500.00


@pytest.mark.parametrize(
    ("price", "band", "high_value", "code"),
    [
        pytest.param(2_000, BAND, False, "allowed", id="inside-band"),
        pytest.param(1_000, BAND, False, "allowed", id="at-band-floor"),
        pytest.param(50_000, BAND, False, "allowed", id="at-band-ceiling"),
        pytest.param(999, BAND, False, "outside_band", id="below-band"),
        pytest.param(50_001, BAND, False, "outside_band", id="above-band"),
        pytest.param(2_000, BAND, True, "high_value", id="high-value-inside-band"),
        pytest.param(2_000, None, False, "band_unknown", id="band-missing"),
        pytest.param(None, BAND, False, "band_unknown", id="price-missing"),
    ],
)
def test_normal_listing_within_band(price, band, high_value, code):
    listing = subject(kind="listing", price=price, band=band, high_value=high_value)
    decision = can(admin("normal"), "products.approve_listing", listing)
    if code == "allowed":
        assert_allowed(decision, R)
    else:
        assert_denied(decision, code)


@pytest.mark.parametrize(
    ("price", "high_value"),
    [
        pytest.param(2_000, True, id="high-value"),
        pytest.param(900_000, False, id="above-band"),
        pytest.param(None, True, id="no-band"),
    ],
)
def test_regional_listing_needs_no_band(price, high_value):
    listing = subject(kind="listing", price=price, band=None if price is None else BAND,
                      high_value=high_value)
    assert_allowed(can(admin("regional"), "products.approve_listing", listing), R)


# fmt: off
OUTRANKING = [
    # actor tier  permission                  subject tier  expected
    ("normal",   "admins.nominate",           "intern",     "allowed"),
    ("normal",   "admins.nominate",           "normal",     "not_outranking"),
    ("normal",   "admins.nominate",           "regional",   "not_outranking"),
    ("regional", "admins.nominate",           "normal",     "allowed"),
    ("regional", "admins.nominate",           "regional",   "not_outranking"),
    ("super",    "admins.nominate",           "regional",   "allowed"),
    ("super",    "admins.nominate",           "super",      "not_outranking"),
    ("regional", "admins.confirm_promotion",  "intern",     "allowed"),
    ("regional", "admins.confirm_promotion",  "regional",   "not_outranking"),
    ("regional", "admins.confirm_promotion",  "super",      "not_outranking"),
    ("regional", "admins.review_request",     "normal",     "allowed"),
    ("regional", "admins.review_request",     "regional",   "not_outranking"),
    ("regional", "grants.approve",            "regional",   "not_outranking"),
    ("normal",   "admins.nominate",           None,         "tier_unknown"),
    ("normal",   "admins.nominate",           "ghost",      "tier_unknown"),
]
# fmt: on


@pytest.mark.parametrize(
    ("tier", "permission", "subject_tier", "code"),
    OUTRANKING,
    ids=[f"{t}-{p}-{st}" for t, p, st, _ in OUTRANKING],
)
def test_outranks_subject(tier, permission, subject_tier, code):
    decision = can(admin(tier), permission, subject(kind="admin", subject_tier=subject_tier))
    if code == "allowed":
        assert_allowed(decision, R if tier != "super" else G)
    else:
        assert_denied(decision, code)


@pytest.mark.parametrize(
    ("tier", "requested", "code"),
    [
        # a ban is a super's power: a regional may not hand it out (the delegation ceiling)
        pytest.param("regional", "users.ban", "not_delegable", id="regional-approves-users.ban"),
        pytest.param("regional", "users.view_sensitive", "allowed",
                     id="regional-approves-users.view_sensitive"),
        pytest.param("regional", "funds.approve", "funds_need_super",
                     id="regional-approves-funds.approve"),
        pytest.param("regional", "funds.propose", "funds_need_super",
                     id="regional-approves-funds.propose"),
        pytest.param("regional", None, "funds_need_super", id="regional-approves-unnamed"),
        pytest.param("super", "funds.approve", "allowed", id="super-approves-funds.approve"),
    ],
)
def test_fund_grants_need_a_super(tier, requested, code):
    request = subject(kind="grant_request", subject_tier="normal", permission=requested)
    decision = can(admin(tier), "grants.approve", request)
    if code == "allowed":
        assert_allowed(decision, R if tier == "regional" else G)
    else:
        assert_denied(decision, code)


# --- separation of duties and the gates before the matrix -------------------------------


@pytest.mark.parametrize("permission", APPROVALS)
def test_no_one_approves_their_own_request(permission: str):
    boss = admin("super")
    assert_denied(can(boss, permission, subject(requester=boss.id)), "self_approval")
    assert_allowed(can(boss, permission, subject(requester="super-2")), G)


def test_fund_operation_needs_two_supers():
    maker, checker = admin("super"), Actor(id="super-2", tier="super")
    operation = subject(kind="fund_operation", requester=maker.id, excluded=(maker.id,))
    assert_denied(can(maker, "funds.approve", operation), "conflict_of_interest")
    assert_allowed(can(checker, "funds.approve", operation), G)


@pytest.mark.parametrize("permission", [p.key for p in PERMISSIONS])
def test_excluded_admin_may_not_act(permission: str):
    boss = admin("super")
    assert_denied(
        can(boss, permission, subject(owners=(boss.id,), excluded=(boss.id,))),
        "conflict_of_interest",
    )


@pytest.mark.parametrize("tier", TIERS)
def test_inactive_admin_is_denied(tier: str):
    actor = admin(tier, active=False)
    assert_denied(can(actor, "docs.read", subject()), "inactive")
    assert_denied(can(actor, "docs.read"), "inactive")


@pytest.mark.parametrize("action", ["users.delete", "funds", "", "USERS.VIEW", "docs.read "])
def test_unknown_action(action: str):
    assert_denied(can(admin("super"), action, subject()), "unknown_action")


# --- temporary grants (§4) --------------------------------------------------------------

FUND_GRANT = Grant(
    id="grant-7",
    permission="funds.approve",
    scope=R,
    regions=(HOME,),
    starts_at=START,
    ends_at=END,
)


def granted_regional(*grants: Grant) -> Actor:
    return Actor(id="regional-1", tier="regional", regions=(HOME, AWAY), grants=grants)


def fund_operation(region: str = HOME, **kw) -> Subject:
    return Subject(kind="fund_operation", id="fo-1", region=region, requester="super-1",
                   amount=5_000_000, **kw)


@pytest.mark.parametrize(
    ("now", "code"),
    [
        pytest.param(START - timedelta(seconds=1), "grant_not_started", id="before-start"),
        pytest.param(START, "allowed", id="at-start"),
        pytest.param(START + timedelta(days=3), "allowed", id="during"),
        pytest.param(END - timedelta(microseconds=1), "allowed", id="just-before-end"),
        pytest.param(END, "grant_expired", id="at-end"),
        pytest.param(END + timedelta(days=30), "grant_expired", id="after-end"),
    ],
)
def test_grant_window(now: datetime, code: str):
    decision = can(granted_regional(FUND_GRANT), "funds.approve", fund_operation(), now=now)
    if code == "allowed":
        assert_allowed(decision, R, grant_id="grant-7")
    else:
        assert_denied(decision, code)


@pytest.mark.parametrize(
    ("revoked_after", "now_after", "code"),
    [
        pytest.param(timedelta(days=1), timedelta(days=2), "grant_revoked",
                     id="revoked-before-now"),
        pytest.param(timedelta(days=1), timedelta(days=1), "grant_revoked", id="revoked-at-now"),
        pytest.param(timedelta(days=1), timedelta(days=8), "grant_revoked", id="revoked-and-ended"),
        pytest.param(timedelta(days=3), timedelta(days=2), "allowed", id="revoked-later"),
    ],
)
def test_revoked_grant(revoked_after: timedelta, now_after: timedelta, code: str):
    """Offsets are from the grant's start; it ends after seven days."""
    now = START + now_after
    grant = Grant(id="grant-7", permission="funds.approve", scope=R, regions=(HOME,),
                  starts_at=START, ends_at=END, revoked_at=START + revoked_after)
    decision = can(granted_regional(grant), "funds.approve", fund_operation(), now=now)
    if code == "allowed":
        assert_allowed(decision, R, grant_id="grant-7")
    else:
        assert_denied(decision, code)


@pytest.mark.parametrize(
    ("grant_regions", "region", "code"),
    [
        pytest.param((HOME,), HOME, "allowed", id="granted-region"),
        pytest.param((HOME,), AWAY, "out_of_region", id="actor-region-not-granted"),
        pytest.param((HOME,), THIRD, "out_of_region", id="foreign-region"),
        pytest.param((), HOME, "allowed", id="default-covers-home"),
        pytest.param((), AWAY, "allowed", id="default-covers-away"),
        pytest.param((), THIRD, "out_of_region", id="default-excludes-foreign"),
    ],
)
def test_grant_covers_only_its_regions(grant_regions, region, code):
    grant = Grant(id="grant-7", permission="funds.approve", scope=R, regions=grant_regions,
                  starts_at=START, ends_at=END)
    now = START + timedelta(days=1)
    decision = can(granted_regional(grant), "funds.approve", fund_operation(region), now=now)
    if code == "allowed":
        assert_allowed(decision, R, grant_id="grant-7")
    else:
        assert_denied(decision, code)


def test_grant_keeps_separation_of_duties():
    actor = granted_regional(FUND_GRANT)
    now = START + timedelta(days=1)
    assert_denied(
        can(actor, "funds.approve",
            Subject(kind="fund_operation", region=HOME, requester=actor.id), now=now),
        "self_approval",
    )
    assert_denied(
        can(actor, "funds.approve",
            Subject(kind="fund_operation", region=HOME, excluded=(actor.id,)), now=now),
        "conflict_of_interest",
    )


def test_grant_keeps_the_tier_conditions():
    grant = Grant(id="grant-9", permission="products.approve_listing", scope=R,
                  regions=(AWAY,), starts_at=START, ends_at=END)
    normal = Actor(id="normal-1", tier="normal", regions=(HOME,), grants=(grant,))
    now = START + timedelta(days=1)
    inside = subject(kind="listing", region=AWAY, price=2_000, band=BAND)
    assert_allowed(can(normal, "products.approve_listing", inside, now=now), R, grant_id="grant-9")
    outside = subject(kind="listing", region=AWAY, price=90_000, band=BAND)
    assert not explained(can(normal, "products.approve_listing", outside, now=now)).allowed


@pytest.mark.parametrize(
    "now",
    [
        pytest.param(START - timedelta(days=1), id="before-grants"),
        pytest.param(START + timedelta(days=2), id="during-grants"),
        pytest.param(END + timedelta(days=1), id="after-grants"),
    ],
)
@pytest.mark.parametrize(
    "grant",
    [
        pytest.param(Grant(id="narrow", permission="users.view", scope=O,
                           starts_at=START, ends_at=END), id="narrower-scope"),
        pytest.param(Grant(id="revoked", permission="users.view", scope=O, starts_at=START,
                           ends_at=END, revoked_at=START + timedelta(days=1)), id="revoked"),
        pytest.param(Grant(id="elsewhere", permission="users.view", scope=R, regions=(THIRD,),
                           starts_at=START, ends_at=END), id="other-region"),
    ],
)
def test_grant_never_removes_tier_permissions(grant: Grant, now: datetime):
    actor = granted_regional(grant)
    not_owned = subject(kind="user", region=HOME, owners=(OTHER_ADMIN,))
    assert_allowed(can(actor, "users.view", not_owned, now=now), R)
    assert_allowed(can(actor, "risk.intercept", not_owned, now=now), R)
    listed = {perm: (scope, end) for perm, scope, end in DEFAULT_POLICY.effective(actor, now)}
    assert listed["users.view"] == (R, None)


def test_grant_widens_a_narrow_tier_cell():
    grant = Grant(id="wide", permission="users.view", scope=R, starts_at=START, ends_at=END)
    normal = Actor(id="normal-1", tier="normal", regions=(HOME,), grants=(grant,))
    not_owned = subject(kind="user", region=HOME, owners=(OTHER_ADMIN,))
    assert_allowed(can(normal, "users.view", not_owned, now=START), R, grant_id="wide")
    assert_denied(can(normal, "users.view", not_owned, now=END), "not_own")


@pytest.mark.parametrize(
    "tier_and_action",
    [
        pytest.param(("regional", "funds.approve"), id="regional-granted-action"),
        pytest.param(("intern", "funds.approve"), id="intern-granted-action"),
    ],
)
def test_grants_need_now(tier_and_action):
    tier, action = tier_and_action
    actor = Actor(id=f"{tier}-1", tier=tier, regions=(HOME,), grants=(FUND_GRANT,))
    with pytest.raises(ValueError):
        can(actor, action, fund_operation())


@pytest.mark.parametrize(
    ("now", "listed"),
    [
        pytest.param(START - timedelta(seconds=1), False, id="before-start"),
        pytest.param(START, True, id="at-start"),
        pytest.param(START + timedelta(days=3), True, id="during"),
        pytest.param(END, False, id="at-end"),
        pytest.param(END + timedelta(days=1), False, id="after-end"),
    ],
)
def test_effective_lists_active_grants_with_their_end(now: datetime, listed: bool):
    actor = granted_regional(FUND_GRANT)
    held = {perm: (scope, end) for perm, scope, end in DEFAULT_POLICY.effective(actor, now)}
    if listed:
        assert held["funds.approve"] == (R, END)
    else:
        assert "funds.approve" not in held
    assert held["users.view"] == (R, None)
    assert "funds.propose" not in held


def test_effective_drops_a_revoked_grant():
    grant = Grant(id="grant-7", permission="funds.approve", scope=R, starts_at=START,
                  ends_at=END, revoked_at=START + timedelta(days=1))
    actor = granted_regional(grant)
    assert "funds.approve" in {p for p, _, _ in DEFAULT_POLICY.effective(actor, START)}
    after = DEFAULT_POLICY.effective(actor, START + timedelta(days=1))
    assert "funds.approve" not in {p for p, _, _ in after}


def test_effective_matches_the_expected_table():
    for i, tier in enumerate(TIERS):
        held = {p: s for p, s, _ in DEFAULT_POLICY.effective(admin(tier), START)}
        expected = {p: row[i] for p, row in EXPECTED_SCOPES.items() if row[i] is not None}
        assert held == expected, tier
