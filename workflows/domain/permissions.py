"""Permission modules (权限模块化) and the default matrix of SPEC §3 (最小权限原则), as data."""

from __future__ import annotations

from enum import Enum

import msgspec


class Scope(str, Enum):
    """How far a held permission reaches, narrowest first."""

    OWN = "own"
    """Only records the admin personally handled."""
    REGION = "region"
    """Subjects in the admin's regions (or the grant's regions)."""
    GLOBAL = "global"

    @property
    def breadth(self) -> int:
        return _BREADTH[self]


_BREADTH = {Scope.OWN: 1, Scope.REGION: 2, Scope.GLOBAL: 3}


class Condition(str, Enum):
    """Extra tests a matrix cell applies to the subject."""

    WITHIN_BAND = "within_band"
    """Standard goods priced inside the region's preset band (普通管理员上架)."""
    OUTRANKS_SUBJECT = "outranks_subject"
    """The actor's tier ranks above the subject admin's tier."""
    NON_FUND = "non_fund"
    """The subject permission is not in the funds module (fund grants need a super)."""


class Delegation(str, Enum):
    """Who may hand a permission to someone else through a temporary grant (动态权限)."""

    HOLDERS = "holders"
    """An approver who holds it as a standing right (their tier's cell, not a grant of their
    own) over a scope that covers the one requested."""
    SUPER = "super"
    """Only the top tier: a super-only power, or one whose misuse moves money or blinds
    oversight (the whole audit trail, risk rules, tier configuration)."""
    NEVER = "never"
    """Not delegable at all: whoever needs it needs the tier (approving grants itself,
    the platform's core configuration)."""


class Permission(msgspec.Struct, frozen=True):
    key: str
    name_zh: str
    name_en: str
    approval: bool = False
    """Approves someone's request: never the actor's own (separation of duties)."""
    sensitive: bool = False
    """Reads sensitive data: every use is audited."""
    delegation: Delegation = Delegation.HOLDERS
    """Who may approve a temporary grant of it (the delegation ceiling)."""
    delegates: bool = False
    """Approving with it hands the subject's permission to someone (``grants.approve``): the
    approver must be allowed to delegate that permission over the scope asked for."""

    @property
    def module(self) -> str:
        return self.key.split(".", 1)[0]


def _p(key: str, zh: str, en: str, **kw: object) -> Permission:
    return Permission(key, zh, en, **kw)


PERMISSIONS: tuple[Permission, ...] = (
    # users 用户管理
    _p("users.view", "查看用户基础信息", "View user basic info"),
    _p("users.view_sensitive", "查看用户敏感数据", "View sensitive user data", sensitive=True),
    _p("users.flag", "标记可疑用户", "Flag a suspicious user"),
    _p("users.request_ban", "申请封禁账户", "Request an account ban"),
    _p("users.ban", "直接封禁账户", "Ban an account directly", delegation=Delegation.SUPER),
    _p("users.approve_ban", "审批封禁申请", "Approve a ban request", approval=True, delegation=Delegation.SUPER),
    _p("users.decide_appeal", "裁决封禁申诉", "Decide a ban appeal", approval=True, delegation=Delegation.SUPER),
    # merchants 商家
    _p("merchants.verify", "审核商家资质", "Verify merchant qualifications", approval=True),
    _p("merchants.approve_high_risk", "审批高风险类目商家", "Approve a high-risk merchant", approval=True),
    # products 商品
    _p("products.classify", "核对与分类商品信息", "Check and classify product info"),
    _p("products.approve_listing", "审批商品上架", "Approve a product listing", approval=True),
    _p("products.propose_price_change", "提交改价(需上级确认)", "Propose a price change"),
    _p("products.change_price", "直接改价", "Change a price directly"),
    _p("products.confirm_price_change", "确认改价", "Confirm a price change", approval=True),
    # funds 资金
    _p("funds.propose", "发起资金操作", "Propose a fund operation", delegation=Delegation.SUPER),
    _p("funds.approve", "复核资金操作", "Approve a fund operation", approval=True, delegation=Delegation.SUPER),
    _p("funds.veto", "一票否决", "Veto a major decision", delegation=Delegation.SUPER),
    # reports 数据
    _p("reports.view", "查看数据报表", "View reports"),
    # risk 风控
    _p("risk.view_hints", "查看风险提示", "See risk hints"),
    _p("risk.flag", "标记可疑订单", "Flag a suspicious order"),
    _p("risk.intercept", "拦截可疑订单", "Intercept a suspicious order"),
    _p("risk.review", "处理风控审核", "Review a risk signal"),
    _p("risk.define_rules", "制定风控规则", "Define risk rules", delegation=Delegation.SUPER),
    # disputes 纠纷
    _p("disputes.triage", "纠纷分流", "Triage a dispute"),
    _p("disputes.mediate", "调解纠纷", "Mediate a dispute"),
    _p("disputes.rule", "裁决升级与跨区域纠纷", "Rule on escalated or cross-region disputes"),
    _p("disputes.rule_appeal", "终审与申诉裁决", "Final ruling on appeals", delegation=Delegation.SUPER),
    # admins 管理员
    _p("admins.mentor", "指导实习管理员", "Mentor interns"),
    _p("admins.nominate", "提名晋升", "Nominate for promotion"),
    _p("admins.review_promotion", "评审晋升", "Score a promotion candidate"),
    _p("admins.confirm_promotion", "确认晋升", "Confirm a promotion", approval=True),
    _p("admins.review_request", "审核高阶操作申请", "Review advanced requests", approval=True),
    _p("admins.appoint_regional", "任免区域管理员", "Appoint or remove regional admins", delegation=Delegation.SUPER),
    _p("admins.assess_regional", "考核区域管理员", "Assess regional admins", delegation=Delegation.SUPER),
    _p("admins.configure_tiers", "配置管理员级别", "Configure tiers", delegation=Delegation.NEVER),
    # grants 动态权限
    _p("grants.request", "申请临时权限", "Request a temporary permission", delegation=Delegation.NEVER),
    _p("grants.approve", "审批临时权限", "Approve a temporary permission", approval=True, delegates=True, delegation=Delegation.NEVER),
    _p("grants.revoke", "撤销临时权限", "Revoke a temporary permission", delegation=Delegation.NEVER),
    # audit 审计
    _p("audit.view", "查看审计日志", "View the audit trail", sensitive=True, delegation=Delegation.SUPER),
    _p("audit.verify", "校验审计链", "Verify the audit chain", delegation=Delegation.SUPER),
    # platform 平台
    _p("platform.configure", "核心系统配置", "Core configuration", delegation=Delegation.NEVER),
    _p("platform.open_business_line", "开通新业务线", "Open a business line", delegation=Delegation.SUPER),
    # docs 文档
    _p("docs.read", "查看运营文档", "Read operating docs"),
)

PERMISSIONS_BY_KEY: dict[str, Permission] = {p.key: p for p in PERMISSIONS}


class Cell(msgspec.Struct, frozen=True):
    """One cell of the matrix: a tier holds a permission with a scope, maybe with conditions."""

    scope: Scope
    conditions: frozenset[Condition] = frozenset()


G, R, O = Scope.GLOBAL, Scope.REGION, Scope.OWN


def _cell(scope: Scope, *conditions: Condition) -> Cell:
    return Cell(scope, frozenset(conditions))


# Supers hold every permission globally; approvals still exclude their own requests.
_SUPER = {p.key: _cell(G) for p in PERMISSIONS}
_SUPER["admins.nominate"] = _cell(G, Condition.OUTRANKS_SUBJECT)

_REGIONAL = {
    "users.view": _cell(R),
    "users.view_sensitive": _cell(R),
    "users.flag": _cell(R),
    "users.request_ban": _cell(R),
    "merchants.verify": _cell(R),
    "merchants.approve_high_risk": _cell(R),
    "products.classify": _cell(R),
    "products.approve_listing": _cell(R),
    "products.change_price": _cell(R),
    "products.confirm_price_change": _cell(R),
    "reports.view": _cell(R),
    "risk.view_hints": _cell(R),
    "risk.flag": _cell(R),
    "risk.intercept": _cell(R),
    "risk.review": _cell(R),
    "disputes.triage": _cell(R),
    "disputes.mediate": _cell(R),
    "disputes.rule": _cell(R),
    "admins.mentor": _cell(R),
    "admins.nominate": _cell(R, Condition.OUTRANKS_SUBJECT),
    "admins.review_promotion": _cell(G),
    "admins.confirm_promotion": _cell(R, Condition.OUTRANKS_SUBJECT),
    "admins.review_request": _cell(R, Condition.OUTRANKS_SUBJECT),
    "grants.request": _cell(O),
    "grants.approve": _cell(R, Condition.OUTRANKS_SUBJECT, Condition.NON_FUND),
    "grants.revoke": _cell(O),
    "audit.view": _cell(R),
    "docs.read": _cell(G),
}

_NORMAL = {
    "users.view": _cell(O),
    "users.flag": _cell(R),
    "merchants.verify": _cell(R),
    "products.classify": _cell(R),
    "products.approve_listing": _cell(R, Condition.WITHIN_BAND),
    "products.propose_price_change": _cell(R),
    "reports.view": _cell(O),
    "risk.view_hints": _cell(R),
    "risk.flag": _cell(R),
    "risk.review": _cell(R),
    "disputes.triage": _cell(R),
    "disputes.mediate": _cell(R),
    "admins.mentor": _cell(R),
    "admins.nominate": _cell(R, Condition.OUTRANKS_SUBJECT),
    "admins.review_promotion": _cell(G),
    "grants.request": _cell(O),
    "grants.revoke": _cell(O),
    "docs.read": _cell(G),
}

_INTERN = {
    "products.classify": _cell(R),
    "risk.view_hints": _cell(R),
    "disputes.triage": _cell(R),
    "grants.request": _cell(O),
    "grants.revoke": _cell(O),
    "docs.read": _cell(G),
}

DEFAULT_MATRIX: dict[str, dict[str, Cell]] = {
    "super": _SUPER,
    "regional": _REGIONAL,
    "normal": _NORMAL,
    "intern": _INTERN,
}
