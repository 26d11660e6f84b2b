"""The one policy function: ``can(actor, action, subject, now=...) -> Decision``.

HTTP guards, workflow update validators and the UI all ask it. It reads the matrix and the
actor's temporary grants and never touches I/O or the clock: time comes in as ``now``.
``allows()`` gives the same yes or no without the reasons, from rules compiled per actor out
of the same matrix and grants (for hot loops: filtering many subjects for one admin).
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from workflows.domain.permissions import (
    DEFAULT_MATRIX,
    PERMISSIONS_BY_KEY,
    Cell,
    Condition,
    Delegation,
    Permission,
    Scope,
)
from workflows.domain.tiers import DEFAULT_LADDER, TierLadder


class Grant(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """A temporary permission (动态权限): active in ``[starts_at, ends_at)`` unless revoked."""

    permission: str
    scope: Scope
    starts_at: datetime
    ends_at: datetime
    regions: tuple[str, ...] = ()
    """For region scope: the regions it covers; empty means the actor's own regions."""
    revoked_at: datetime | None = None
    id: str = ""

    def active_at(self, now: datetime) -> bool:
        if self.revoked_at is not None and self.revoked_at <= now:
            return False
        return self.starts_at <= now < self.ends_at


class Actor(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    id: str
    tier: str
    regions: tuple[str, ...] = ()
    grants: tuple[Grant, ...] = ()
    station_master: bool = False
    active: bool = True

    def bearing(self, permissions: frozenset[str] | set[str]) -> Actor:
        """The same admin holding only the grants of ``permissions``: every question about
        one of those permissions gets the same answer (``can`` reads only the grants of the
        permission it is asked about). What a workflow input carries, so that a process's
        history holds the grants that bear on it, not every grant the admin ever held."""
        if all(g.permission in permissions for g in self.grants):
            return self
        return msgspec.structs.replace(self, grants=tuple(g for g in self.grants if g.permission in permissions))


class Subject(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """What an action is about. Every field is optional; a check that needs one it lacks denies."""

    kind: str = ""
    id: str = ""
    region: str | None = None
    owners: tuple[str, ...] = ()
    """Admins who personally handled it (for ``own`` scope)."""
    requester: str | None = None
    """Who asked for it: never the one who approves it."""
    excluded: tuple[str, ...] = ()
    """Admins who may not act on it at all (the nominee, the nominator, the maker)."""
    independent_of: tuple[tuple[str, str], ...] = ()
    """(role, admin) pairs: who took which part earlier in the case; the action's deciders
    must be none of them (an appeal judge is not the first ruler, a refund's checker not the
    appeal judge)."""
    subject_tier: str | None = None
    """The tier of the admin the action is about (a nominee, a grant's requester)."""
    permission: str | None = None
    """The permission a grant request asks for."""
    grant_scope: Scope | None = None
    """The scope a grant request asks for (the delegation ceiling compares it with the approver's)."""
    grant_regions: tuple[str, ...] = ()
    """The regions a region-scoped grant request covers."""
    price: int | None = None
    """In cents."""
    band: tuple[int, int] | None = None
    """The region's preset price band for the category, in cents (inclusive)."""
    high_value: bool = False
    amount: int | None = None


NO_SUBJECT = Subject()


class Decision(msgspec.Struct, frozen=True, kw_only=True):
    allowed: bool
    code: str
    """Machine-readable: ``allowed``, ``no_permission``, ``out_of_region``, ..."""
    reason: str
    reason_zh: str
    scope: Scope | None = None
    grant_id: str | None = None

    def __bool__(self) -> bool:
        return self.allowed


def _deny(code: str, reason: str, reason_zh: str) -> Decision:
    return Decision(allowed=False, code=code, reason=reason, reason_zh=reason_zh)


class Policy:
    """A tier ladder and a matrix; ``DEFAULT_POLICY`` holds SPEC §3."""

    def __init__(
        self,
        ladder: TierLadder = DEFAULT_LADDER,
        matrix: dict[str, dict[str, Cell]] = DEFAULT_MATRIX,
        permissions: dict[str, Permission] = PERMISSIONS_BY_KEY,
    ) -> None:
        unknown_tiers = set(matrix) - {t.key for t in ladder.tiers}
        if unknown_tiers:
            raise ValueError(f"matrix names tiers the ladder lacks: {sorted(unknown_tiers)}")
        for cells in matrix.values():
            unknown = set(cells) - set(permissions)
            if unknown:
                raise ValueError(f"matrix names unknown permissions: {sorted(unknown)}")
        self.ladder = ladder
        self.permissions = permissions
        self._cells: dict[tuple[str, str], Cell] = {
            (tier, perm): cell for tier, cells in matrix.items() for perm, cell in cells.items()
        }
        self._approvals = frozenset(key for key, p in permissions.items() if p.approval)
        self._views: dict[str, _View] = {}

    def cell(self, tier: str, permission: str) -> Cell | None:
        return self._cells.get((tier, permission))

    def can(
        self,
        actor: Actor,
        action: str,
        subject: Subject = NO_SUBJECT,
        *,
        now: datetime | None = None,
    ) -> Decision:
        decision = self._can(actor, action, subject, now)
        if decision.allowed and self.permissions[action].delegates:
            ceiling = self.delegation_ceiling(actor, subject)
            if ceiling is not None:
                return ceiling
        return decision

    def holds(self, actor: Actor, action: str, *, region: str | None = None, now: datetime | None = None) -> Decision:
        """Whether the actor holds ``action`` at all (their tier's cell or a live grant), for a
        subject in ``region`` when it is known: what ``can()`` answers before it looks at the
        subject's conditions, for a caller that knows no more of the subject than its region."""
        perm = self.permissions.get(action)
        if perm is None:
            return _deny("unknown_action", f"unknown action {action!r}", f"未知操作 {action}")
        if not actor.active:
            return _deny("inactive", "this admin account is not active", "该管理员账号已停用")
        sources = []
        cell = self._cells.get((actor.tier, action))
        if cell is not None:
            sources.append((cell.scope, actor.regions, None))
        for grant in actor.grants:
            if grant.permission == action and now is not None and grant.active_at(now):
                sources.append((grant.scope, grant.regions or actor.regions, grant))
        for scope, regions, grant in sources:
            if scope is not Scope.REGION or region is None or region in regions:
                return Decision(
                    allowed=True, code="allowed", scope=scope, grant_id=grant.id if grant is not None and grant.id else None,
                    reason=f"{self._tier_en(actor.tier)} holds {action} ({scope.value})",
                    reason_zh=f"{self._tier_zh(actor.tier)}拥有「{perm.name_zh}」权限",
                )
        if sources:
            return _deny("out_of_region", f"region {region} is outside {', '.join(actor.regions) or 'no region'}", f"对象属于「{region}」，不在你的管辖区域内")
        for grant in actor.grants:
            if grant.permission == action and now is not None:
                return self._inactive_grant(grant, now)
        return _deny(
            "no_permission",
            f"a {self._tier_en(actor.tier)} does not hold {action} ({perm.name_en})",
            f"{self._tier_zh(actor.tier)}没有「{perm.name_zh}」权限",
        )

    def delegation_ceiling(self, approver: Actor, subject: Subject) -> Decision | None:
        """Why ``approver`` may not hand ``subject.permission`` over ``subject.grant_scope``
        (and ``grant_regions``) to the subject's requester, or None when they may.

        Nobody delegates more than they hold: the permission must be delegable at all (some
        are for the top tier to delegate, some for nobody), the approver must hold it as a
        standing right of their tier (never through a grant of their own), over a scope at
        least as wide and, for a region scope, over every region asked for, and without
        conditions the grant would not keep."""
        key = subject.permission
        perm = self.permissions.get(key or "")
        if perm is None:
            return _deny("unknown_permission", f"there is no permission {key!r}", f"不存在权限 {key}")
        if perm.delegation is Delegation.NEVER:
            return _deny(
                "not_delegable",
                f"{perm.key} ({perm.name_en}) is never delegated: it comes only with a tier",
                f"「{perm.name_zh}」不能临时授予，只随级别持有",
            )
        top = self.ladder.top.key
        if perm.delegation is Delegation.SUPER and approver.tier != top:
            return _deny(
                "not_delegable",
                f"only a {self._tier_en(top)} delegates {perm.key} ({perm.name_en})",
                f"「{perm.name_zh}」只能由{self._tier_zh(top)}授予",
            )
        held = self._cells.get((approver.tier, perm.key))
        if held is None:
            return _deny(
                "exceeds_approver",
                f"a {self._tier_en(approver.tier)} does not hold {perm.key} and cannot delegate it",
                f"{self._tier_zh(approver.tier)}本身不具备「{perm.name_zh}」权限，不能授予他人",
            )
        wanted = subject.grant_scope
        if wanted is None or held.scope.breadth < wanted.breadth:
            asked = wanted.value if wanted is not None else "an unknown scope"
            return _deny(
                "exceeds_approver",
                f"the request asks for {perm.key} over {asked}; you hold it over {held.scope.value} only",
                f"申请范围（{asked}）超出你本人持有的「{perm.name_zh}」范围（{held.scope.value}）",
            )
        if held.scope is Scope.REGION and wanted is Scope.REGION:
            outside = [r for r in subject.grant_regions or (subject.region,) if r not in approver.regions]
            if outside or not (subject.grant_regions or subject.region):
                return _deny(
                    "exceeds_approver",
                    f"the request covers {', '.join(str(r) for r in outside) or 'no named region'}, outside your regions",
                    f"申请的区域（{'、'.join(str(r) for r in outside) or '未指定'}）不在你的管辖区域内",
                )
        kept = self._cells.get((subject.subject_tier or "", perm.key))
        lost = held.conditions - (kept.conditions if kept is not None else frozenset())
        if lost:
            names = ", ".join(sorted(c.value for c in lost))
            return _deny(
                "exceeds_approver",
                f"you hold {perm.key} only where {names} holds; the grant would not keep that condition",
                f"你持有的「{perm.name_zh}」附带条件（{names}），授予后该条件将不再适用",
            )
        return None

    def _can(self, actor: Actor, action: str, subject: Subject, now: datetime | None) -> Decision:
        perm = self.permissions.get(action)
        if perm is None:
            return _deny("unknown_action", f"unknown action {action!r}", f"未知操作 {action}")
        if not actor.active:
            return _deny("inactive", "this admin account is not active", "该管理员账号已停用")
        if actor.id in subject.excluded:
            return _deny(
                "conflict_of_interest",
                f"{actor.id} is a party to this {subject.kind or 'case'} and may not act on it",
                f"{actor.id} 是本事项的当事人，不能处理",
            )
        for role, holder in subject.independent_of:
            if holder == actor.id:
                return _deny(
                    "not_independent",
                    f"{actor.id} was this case's {role.replace('_', ' ')} and may not also decide this step",
                    f"{actor.id} 已在本案中担任「{role}」，不能再处理此环节（职责分离）",
                )
        if perm.approval and subject.requester is not None and subject.requester == actor.id:
            return _deny(
                "self_approval",
                "no one approves their own request (separation of duties)",
                "不能审批自己提交的申请（职责分离）",
            )

        tier_cell = self._cells.get((actor.tier, action))
        first_denial: Decision | None = None
        if tier_cell is not None:
            verdict = self._check_cell(actor, perm, tier_cell, subject, actor.regions)
            if verdict is None:
                return Decision(
                    allowed=True,
                    code="allowed",
                    reason=f"{self._tier_en(actor.tier)} holds {action} ({tier_cell.scope.value})",
                    reason_zh=f"{self._tier_zh(actor.tier)}拥有「{perm.name_zh}」权限",
                    scope=tier_cell.scope,
                )
            first_denial = verdict

        grant_denial: Decision | None = None
        for grant in actor.grants:
            if grant.permission != action:
                continue
            if now is None:
                raise ValueError("a policy question about an actor with grants needs `now`")
            if not grant.active_at(now):
                grant_denial = grant_denial or self._inactive_grant(grant, now)
                continue
            cell = tier_cell_for_grant(grant, tier_cell)
            verdict = self._check_cell(actor, perm, cell, subject, grant.regions or actor.regions)
            if verdict is None:
                return Decision(
                    allowed=True,
                    code="allowed",
                    reason=f"temporary grant of {action} ({grant.scope.value}) until {grant.ends_at.isoformat()}",
                    reason_zh=f"临时权限「{perm.name_zh}」有效至 {grant.ends_at.isoformat()}",
                    scope=grant.scope,
                    grant_id=grant.id or None,
                )
            first_denial = first_denial or verdict

        if first_denial is not None:
            return first_denial
        if grant_denial is not None:
            return grant_denial
        return _deny(
            "no_permission",
            f"a {self._tier_en(actor.tier)} does not hold {action} ({perm.name_en})",
            f"{self._tier_zh(actor.tier)}没有「{perm.name_zh}」权限",
        )

    def allows(
        self,
        actor: Actor,
        action: str,
        subject: Subject = NO_SUBJECT,
        *,
        now: datetime | None = None,
    ) -> bool:
        """``can(...).allowed`` without the reasons, from a per-actor view compiled from the
        same cells and grants (``tests/workflows/domain/test_policy_fast.py`` proves them equal).

        A cell's conditions are checked as ``can()`` checks them (``_holds``); an own-scope
        source beside a region-scope one is answered by ``can()`` itself.
        """
        try:
            view: _View | None = self._views[actor.id]
        except KeyError:  # the first question about this admin
            view = None
        if view is None or view.actor is not actor or (view.now is not now and not view.covers(now)):
            if actor.grants and now is None:
                return self.can(actor, action, subject, now=now).allowed
            view = self._compile(actor, now)
        rule = view.rules.get(action)
        if rule is None:
            return False
        if subject.excluded or subject.requester is not None or subject.independent_of:
            if actor.id in subject.excluded or (subject.requester == actor.id and action in self._approvals):
                return False
            if any(holder == actor.id for _, holder in subject.independent_of):
                return False
        if rule.__class__ is _Conditional:
            holds = self._holds
            for condition in rule.conditions:
                if not holds(actor, condition, subject):
                    return False
            rule = rule.scope
        if rule.__class__ is frozenset:
            region = subject.region
            return region is None or region in rule
        if rule is True:
            return True
        if rule is _OWN:
            return subject is NO_SUBJECT or actor.id in subject.owners
        return self.can(actor, action, subject, now=now).allowed

    def _compile(self, actor: Actor, now: datetime | None) -> _View:
        """What the actor may do, as one rule per action, valid between two grant boundaries."""
        lo = hi = None
        for grant in actor.grants:
            for edge in (grant.starts_at, grant.ends_at, grant.revoked_at):
                if edge is None or now is None:
                    continue
                if edge <= now:
                    lo = edge if lo is None or edge > lo else lo
                elif hi is None or edge < hi:
                    hi = edge
        rules: dict[str, _Rule] = {}
        if actor.active:
            sources: dict[str, list[tuple[Cell, tuple[str, ...]]]] = {}
            for (tier, action), cell in self._cells.items():
                if tier == actor.tier:
                    sources.setdefault(action, []).append((cell, actor.regions))
            for grant in actor.grants:
                if grant.permission in self.permissions and now is not None and grant.active_at(now):
                    cell = tier_cell_for_grant(grant, self._cells.get((actor.tier, grant.permission)))
                    sources.setdefault(grant.permission, []).append((cell, grant.regions or actor.regions))
            for action, found in sources.items():
                rule = _rule(found)
                if self.permissions[action].delegates and rule is not _SLOW:
                    # an approval that delegates holds only under the ceiling: one condition more
                    scope, conditions = (rule.scope, rule.conditions) if rule.__class__ is _Conditional else (rule, ())
                    rule = _Conditional(scope, (*conditions, _CEILING))
                rules[action] = rule
        if len(self._views) >= _MAX_VIEWS:
            self._views.clear()
        view = _View(actor, rules, bool(actor.grants), lo, hi, now)
        self._views[actor.id] = view
        return view

    def _check_cell(
        self,
        actor: Actor,
        perm: Permission,
        cell: Cell,
        subject: Subject,
        regions: tuple[str, ...],
    ) -> Decision | None:
        if cell.scope is Scope.REGION and subject.region is not None:
            if subject.region not in regions:
                return _deny(
                    "out_of_region",
                    f"{subject.kind or 'the subject'} is in region {subject.region}, "
                    f"outside {', '.join(regions) or 'no region'}",
                    f"对象属于「{subject.region}」，不在你的管辖区域内",
                )
        elif cell.scope is Scope.OWN and subject is not NO_SUBJECT:
            if actor.id not in subject.owners:
                return _deny(
                    "not_own",
                    f"only records you personally handled are in scope for {perm.key}",
                    "只能处理本人经手的记录",
                )
        for condition in cell.conditions:
            denial = self._check_condition(actor, condition, subject)
            if denial is not None:
                return denial
        return None

    def _holds(self, actor: Actor, condition: Condition, subject: Subject) -> bool:
        """Whether a cell's condition holds: what ``can()`` checks and explains
        (``_check_condition``) and the fast path checks alone (``allows``)."""
        if condition is Condition.WITHIN_BAND:
            band, price = subject.band, subject.price
            return not subject.high_value and price is not None and band is not None and band[0] <= price <= band[1]
        if condition is Condition.OUTRANKS_SUBJECT:
            tier = subject.subject_tier
            return tier is not None and tier in self.ladder and self.ladder.outranks(actor.tier, tier)
        if condition is Condition.NON_FUND:
            return subject.permission is not None and not subject.permission.startswith("funds.")
        if condition is _CEILING:
            return self.delegation_ceiling(actor, subject) is None
        return True

    def _check_condition(
        self, actor: Actor, condition: Condition, subject: Subject
    ) -> Decision | None:
        """None when the condition holds, else the denial that says why not."""
        if self._holds(actor, condition, subject):
            return None
        if condition is Condition.WITHIN_BAND:
            if subject.high_value:
                return _deny(
                    "high_value",
                    "high-value goods need a regional admin's approval",
                    "高价值商品需区域管理员审批",
                )
            if subject.price is None or subject.band is None:
                return _deny("band_unknown", "the price band is unknown", "无法确定价格区间")
            low, high = subject.band
            return _deny(
                "outside_band",
                f"price {subject.price / 100:.2f} is outside the band "
                f"{low / 100:.2f}-{high / 100:.2f}",
                f"价格 {subject.price / 100:.2f} 超出预设区间 {low / 100:.2f}-{high / 100:.2f}",
            )
        if condition is Condition.OUTRANKS_SUBJECT:
            if subject.subject_tier is None or subject.subject_tier not in self.ladder:
                return _deny("tier_unknown", "the subject admin's tier is unknown", "对象级别未知")
            return _deny(
                "not_outranking",
                f"a {self._tier_en(actor.tier)} does not outrank a "
                f"{self._tier_en(subject.subject_tier)}",
                f"{self._tier_zh(actor.tier)}的级别不高于{self._tier_zh(subject.subject_tier)}",
            )
        return _deny(  # Condition.NON_FUND
            "funds_need_super",
            "fund permissions are approved by a super admin",
            "资金类权限须由超级管理员审批",
        )

    def _inactive_grant(self, grant: Grant, now: datetime) -> Decision:
        if grant.revoked_at is not None and grant.revoked_at <= now:
            return _deny("grant_revoked", f"the grant of {grant.permission} was revoked", "临时权限已被撤销")
        if now < grant.starts_at:
            return _deny(
                "grant_not_started",
                f"the grant of {grant.permission} starts at {grant.starts_at.isoformat()}",
                f"临时权限尚未生效（{grant.starts_at.isoformat()} 起）",
            )
        return _deny(
            "grant_expired",
            f"the grant of {grant.permission} expired at {grant.ends_at.isoformat()}",
            f"临时权限已于 {grant.ends_at.isoformat()} 过期",
        )

    def _tier_en(self, key: str) -> str:
        return self.ladder[key].name_en.lower() if key in self.ladder else key

    def _tier_zh(self, key: str) -> str:
        return self.ladder[key].name_zh if key in self.ladder else key

    def effective(self, actor: Actor, now: datetime) -> list[tuple[str, Scope, datetime | None]]:
        """Every permission the actor holds now: (permission, scope, grant end or None)."""
        held: dict[str, tuple[Scope, datetime | None]] = {
            perm: (cell.scope, None)
            for (tier, perm), cell in self._cells.items()
            if tier == actor.tier
        }
        for grant in actor.grants:
            if not grant.active_at(now):
                continue
            current = held.get(grant.permission)
            if current is None or grant.scope.breadth > current[0].breadth:
                held[grant.permission] = (grant.scope, grant.ends_at)
        return [(perm, scope, end) for perm, (scope, end) in sorted(held.items())]


class _Marker:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


class _Conditional:
    """A scope rule that applies only where the cell's conditions hold for the subject."""

    __slots__ = ("scope", "conditions")

    def __init__(self, scope: bool | frozenset | _Marker, conditions: tuple[Condition, ...]) -> None:
        self.scope = scope
        self.conditions = conditions


_OWN = _Marker("own")
_CEILING = _Marker("delegation ceiling")
"""The fast path's condition on an approval that delegates (``Policy.delegation_ceiling``)."""
_SLOW = _Marker("ask can()")
_Rule = bool | frozenset | _Marker | _Conditional
"""True: global; a frozenset: those regions; _OWN: own records; _Conditional: one of those
where conditions hold; _SLOW: ask ``can()``."""
_MAX_VIEWS = 100_000


class _View:
    """One actor's rules, valid while ``now`` stays in ``[lo, hi)`` (between grant edges)."""

    __slots__ = ("actor", "rules", "timed", "lo", "hi", "now")

    def __init__(self, actor: Actor, rules: dict[str, _Rule], timed: bool, lo: datetime | None, hi: datetime | None, now: datetime | None) -> None:
        self.actor = actor
        self.rules = rules
        self.timed = timed
        self.lo = lo
        self.hi = hi
        self.now = now
        """The last moment found inside the window: the same ``now`` again skips the check."""

    def covers(self, now: datetime | None) -> bool:
        if not self.timed:
            self.now = now
            return True
        if now is None or (self.lo is not None and now < self.lo) or (self.hi is not None and now >= self.hi):
            return False
        self.now = now
        return True


def _rule(sources: list[tuple[Cell, tuple[str, ...]]]) -> _Rule:
    """One action's sources (the tier's cell, active grants) folded into one rule.

    A grant keeps its tier cell's conditions (``tier_cell_for_grant``), so an action's sources
    share theirs, which then depend on the actor and the subject alone: the action is allowed
    where they hold and some source's scope reaches the subject. Sources with different
    conditions are left to ``can()``."""
    conditions = {cell.conditions for cell, _ in sources}
    if len(conditions) > 1:
        return _SLOW
    [shared] = conditions
    rule = _scope_rule(sources)
    if shared and rule is not _SLOW:
        return _Conditional(rule, tuple(sorted(shared, key=lambda c: c.value)))
    return rule


def _scope_rule(sources: list[tuple[Cell, tuple[str, ...]]]) -> _Rule:
    scopes = {cell.scope for cell, _ in sources}
    if Scope.GLOBAL in scopes:
        return True
    if scopes == {Scope.REGION}:
        return frozenset(r for _, regions in sources for r in regions)
    if scopes == {Scope.OWN}:
        return _OWN
    return _SLOW


def tier_cell_for_grant(grant: Grant, tier_cell: Cell | None) -> Cell:
    """A grant reaches its own scope; it keeps the conditions the tier's cell had."""
    conditions = tier_cell.conditions if tier_cell is not None else frozenset()
    return Cell(grant.scope, conditions)


DEFAULT_POLICY = Policy()


def can(actor: Actor, action: str, subject: Subject = NO_SUBJECT, *, now: datetime | None = None) -> Decision:
    return DEFAULT_POLICY.can(actor, action, subject, now=now)


def allows(actor: Actor, action: str, subject: Subject = NO_SUBJECT, *, now: datetime | None = None) -> bool:
    return DEFAULT_POLICY.allows(actor, action, subject, now=now)
