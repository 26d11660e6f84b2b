"""Piccolo tables: the platform's data, the inbox read model and the audit trail."""

from __future__ import annotations

from piccolo.columns import (
    JSON,
    Array,
    BigInt,
    Boolean,
    ForeignKey,
    Integer,
    Real,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.table import Table


class PlatformMeta(Table, tablename="platform_meta"):
    key = Varchar(length=64, unique=True)
    value = Text()


class Region(Table):
    key = Varchar(length=64, unique=True)
    name_zh = Varchar(length=64)
    name_en = Varchar(length=64)
    kind = Varchar(length=16, default="segment")
    """``segment`` (business line) or ``geography``."""


class TierConfig(Table, tablename="tier"):
    key = Varchar(length=32, unique=True)
    rank = Integer()
    name_zh = Varchar(length=32)
    name_en = Varchar(length=32)
    cap = Integer(null=True, default=None)


class Admin(Table):
    username = Varchar(length=64, unique=True)
    display_name = Varchar(length=64)
    tier = Varchar(length=32, index=True)
    regions = Array(base_column=Varchar(length=64))
    station_master = Boolean(default=False)
    status = Varchar(length=16, default="active")
    password_hash = Text()
    password_changed_at = Timestamptz()
    created_at = Timestamptz()


class AdminSession(Table, tablename="admin_session"):
    token_hash = Varchar(length=64, unique=True)
    admin = ForeignKey(references=Admin, null=False)
    created_at = Timestamptz()
    expires_at = Timestamptz()
    revoked_at = Timestamptz(null=True, default=None)
    source = Varchar(length=64, default="")


class AuthVersion(Table, tablename="auth_version"):
    """One row whose ``version`` moves with every change to admins, sessions and grants.

    Database triggers (migration ``2026-11-22T07:37:17``) bump it on each update or delete of
    an admin or a session and each write of a grant, whoever makes it: the web processes'
    session caches (``infra.accounts.principal_for``) compare it on every request, so a
    signed-out session, a changed password or a revoked grant takes effect at once.
    """

    version = BigInt(default=0)


class PermissionGrant(Table, tablename="permission_grant"):
    grant_id = Varchar(length=100, unique=True)
    admin = ForeignKey(references=Admin, null=False)
    permission = Varchar(length=64)
    scope = Varchar(length=16)
    regions = Array(base_column=Varchar(length=64))
    starts_at = Timestamptz()
    ends_at = Timestamptz()
    revoked_at = Timestamptz(null=True, default=None)
    approved_by = Varchar(length=64, default="")
    justification = Text(default="")
    process_id = Varchar(length=200, default="")


class Merchant(Table):
    code = Varchar(length=32, unique=True)
    name = Varchar(length=128)
    region = Varchar(length=64, index=True)
    category = Varchar(length=32)
    status = Varchar(length=16, default="active")
    identity_number = Varchar(length=64)
    contact_phone = Varchar(length=32)
    risk_score = Real(default=0.0)
    joined_at = Timestamptz()
    documents = JSON(default=[])
    """Qualification documents: [{"kind": ..., "ref": ...}]."""
    process_id = Varchar(length=200, default="")


class PriceBand(Table, tablename="price_band"):
    region = Varchar(length=64, index=True)
    category = Varchar(length=32)
    low = BigInt()
    high = BigInt()


class Product(Table):
    sku = Varchar(length=32, unique=True)
    merchant = ForeignKey(references=Merchant, null=False)
    region = Varchar(length=64, index=True)
    category = Varchar(length=32)
    """``point_card``, ``topup``, ``game_item`` or ``game_account``."""
    name = Varchar(length=128)
    price = BigInt()
    """In cents."""
    high_value = Boolean(default=False)
    status = Varchar(length=16, default="listed")


class ProductPriceChange(Table, tablename="product_price_change"):
    product = ForeignKey(references=Product, null=False)
    admin = ForeignKey(references=Admin, null=False)
    old_price = BigInt()
    new_price = BigInt()
    changed_at = Timestamptz(index=True)
    anomaly = Varchar(length=32, null=True, default=None)
    """Set only on planted anomalies, so tests can tell them from organic history."""


class Buyer(Table):
    code = Varchar(length=32, unique=True)
    nickname = Varchar(length=64)
    region = Varchar(length=64, index=True)
    contact_phone = Varchar(length=32)
    email = Varchar(length=128)
    login_ip = Varchar(length=64)
    """Sensitive (SPEC §3)."""
    spending_profile = JSON()
    """Sensitive: spending habits."""
    sensitive_ops = JSON()
    """Sensitive: records of sensitive operations."""
    handled_by = Array(base_column=Varchar(length=64))
    """Admins who personally served this buyer (``own`` scope)."""
    status = Varchar(length=16, default="active")
    registered_at = Timestamptz()


class Order(Table, tablename="orders"):
    code = Varchar(length=32, unique=True)
    buyer = ForeignKey(references=Buyer, null=False)
    merchant = ForeignKey(references=Merchant, null=False)
    product = ForeignKey(references=Product, null=False)
    region = Varchar(length=64, index=True)
    quantity = Integer(default=1)
    amount = BigInt()
    status = Varchar(length=16, default="completed")
    """``completed``, ``refunded`` or ``disputed``."""
    created_at = Timestamptz(index=True)
    anomaly = Varchar(length=32, null=True, default=None)
    anomaly_group = Varchar(length=64, null=True, default=None)


class Dispute(Table):
    code = Varchar(length=32, unique=True)
    order = ForeignKey(references=Order, null=False)
    region = Varchar(length=64, index=True)
    status = Varchar(length=16, default="open")
    reason = Text()
    opened_at = Timestamptz()
    process_id = Varchar(length=200, default="")
    resolution = JSON(null=True, default=None)
    refund_amount = BigInt(default=0)


class Task(Table):
    """The inbox read model: one row per human step a workflow waits for."""

    task_id = Varchar(length=200, unique=True)
    kind = Varchar(length=32, index=True)
    process_id = Varchar(length=200, index=True)
    step = Varchar(length=64)
    title = Varchar(length=200)
    tier = Varchar(length=32, index=True)
    region = Varchar(length=64, null=True, default=None, index=True)
    candidates = Array(base_column=Varchar(length=64))
    excluded = Array(base_column=Varchar(length=64))
    assignee = Varchar(length=64, null=True, default=None)
    status = Varchar(length=16, default="open", index=True)
    """``open``, ``claimed``, ``done`` or ``cancelled``."""
    priority = Integer(default=0)
    due_at = Timestamptz(null=True, default=None)
    remind_at = Timestamptz(null=True, default=None)
    reminded = Boolean(default=False)
    escalated = Boolean(default=False)
    escalation_reason = Text(default="")
    actions = JSON()
    evidence = JSON()
    outcome = JSON(null=True, default=None)
    decided_by = Varchar(length=64, null=True, default=None)
    created_at = Timestamptz()
    closed_at = Timestamptz(null=True, default=None)
    version = Integer(default=0)
    inbox_json = Text(null=True, default=None)
    """The task as the inbox answers it (``api.schemas.TaskRead`` as JSON), written by the
    database itself on every insert and update (``infra.db.inbox_json``): the inbox page reads
    this one value per task instead of 13 columns to convert and encode (figure 3a)."""


class ProcessState(Table, tablename="process"):
    """A process as Kameng's database knows it, for status reads without a workflow query.

    Written in the transaction of the audit event that moves it (``infra.db.processes``): the
    start creates it, each task opened sets the step, each audited action or decision is its
    latest event, the end sets the final status and result. Its open tasks are the task rows.
    Processes started before this table existed have no row (their status comes from the
    workflow).
    """

    process_id = Varchar(length=200, unique=True)
    kind = Varchar(length=32, index=True)
    status = Varchar(length=32, default="running")
    """``running`` until the process ends, then its final status (``approved``, ``expired``...)."""
    step = Varchar(length=64, default="started")
    """``started``, then the step of each task as it opens, then ``finished``."""
    region = Varchar(length=64, null=True, default=None)
    started_by = Varchar(length=64, null=True, default=None)
    parties = Array(base_column=Varchar(length=64))
    """Admins who took part (started, acted, decided, were named on a task): they may read it."""
    started_at = Timestamptz()
    updated_at = Timestamptz()
    finished_at = Timestamptz(null=True, default=None)
    last_action = Varchar(length=64, default="")
    last_outcome = Varchar(length=32, default="")
    result = JSON(null=True, default=None)


class TaskKey(Table, tablename="task_key"):
    """Who else a task is for, as keys an index can seek: ``c:<admin>`` for each named
    candidate, ``p:<permission>`` for each permission its actions need (holders of an active
    grant of it see the task). Written with the task; indexed on (key, task)."""

    task = Integer()
    """``Task.id``."""
    key = Varchar(length=120)


def task_keys(candidates: list[str] | tuple[str, ...], actions: list[dict] | None) -> list[str]:
    keys = {f"c:{c}" for c in candidates}
    keys |= {f"p:{a.get('permission', '')}" for a in actions or [] if isinstance(a, dict)}
    return sorted(keys)


class AuditEvent(Table, tablename="audit_event"):
    """Append-only; each event chains the previous one's hash."""

    seq = BigInt(unique=True)
    at = Timestamptz(index=True)
    actor = Varchar(length=64, index=True)
    actor_tier = Varchar(length=32)
    action = Varchar(length=64, index=True)
    target = Varchar(length=200, index=True)
    region = Varchar(length=64, null=True, default=None)
    scope = Varchar(length=16, null=True, default=None)
    source = Varchar(length=64, default="")
    outcome = Varchar(length=16)
    """``allowed``, ``denied``, ``done``, ``escalated``..."""
    reason = Text(default="")
    before = JSON(null=True, default=None)
    after = JSON(null=True, default=None)
    process_id = Varchar(length=200, null=True, default=None, index=True)
    prev_hash = Varchar(length=64)
    hash = Varchar(length=64)
    dedup_key = Varchar(length=200, null=True, default=None, unique=True)


class AuditSeal(Table, tablename="audit_seal"):
    """A signed statement of the chain's head: after it, truncating the trail shows.

    Append-only like the trail; the signature covers seq, head hash, count, time and key id.
    """

    seq = BigInt(index=True)
    head_hash = Varchar(length=64)
    events = BigInt()
    sealed_at = Timestamptz(index=True)
    key_id = Varchar(length=32)
    signature = Varchar(length=128)


class LedgerEntry(Table, tablename="ledger_entry"):
    """The fund ledger: each fund operation executes exactly once, keyed by its operation id."""

    operation_id = Varchar(length=200, unique=True)
    kind = Varchar(length=32)
    amount = BigInt()
    account = Varchar(length=64)
    proposed_by = Varchar(length=64)
    approved_by = Varchar(length=64)
    executed_at = Timestamptz()
    details = JSON()


class RiskRule(Table, tablename="risk_rule"):
    """A risk rule as a super last changed it (the shipped defaults live in code until then)."""

    key = Varchar(length=64, unique=True)
    detector = Varchar(length=32)
    signal = Varchar(length=32)
    tier = Varchar(length=32)
    enabled = Boolean(default=True)
    params = JSON()
    version = Integer(default=0)
    updated_by = Varchar(length=64, null=True, default=None)
    updated_at = Timestamptz()
    process_id = Varchar(length=200, null=True, default=None)
    """The risk-rule-change process that made this version."""


class RiskSignal(Table, tablename="risk_signal"):
    """One finding of a risk rule: an episode, found once however often the history is scanned."""

    key = Varchar(length=100, unique=True)
    rule = Varchar(length=64, index=True)
    signal = Varchar(length=32)
    subject_kind = Varchar(length=16)
    subject = Varchar(length=64, index=True)
    region = Varchar(length=64, null=True, default=None, index=True)
    score = Real()
    baseline = JSON()
    evidence = JSON()
    rows = JSON()
    explanation = Text()
    explanation_en = Text()
    occurred_at = Timestamptz(index=True)
    detected_at = Timestamptz()
    process_id = Varchar(length=200, null=True, default=None, index=True)
    """The risk review it opened or joined."""
    status = Varchar(length=16, default="opened")
    """``opened`` (started a review), ``joined`` (a review of the subject was already open)."""


ALL_TABLES: tuple[type[Table], ...] = (
    PlatformMeta,
    Region,
    TierConfig,
    Admin,
    AdminSession,
    AuthVersion,
    PermissionGrant,
    Merchant,
    PriceBand,
    Product,
    ProductPriceChange,
    Buyer,
    Order,
    Dispute,
    Task,
    TaskKey,
    ProcessState,
    AuditEvent,
    AuditSeal,
    LedgerEntry,
    RiskRule,
    RiskSignal,
)
