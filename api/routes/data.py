"""Reading the platform's data within the caller's scope: audit trail, reports, buyers."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

import msgspec
from litestar import Response, get, post
from litestar.di import Provide
from litestar.params import Parameter

from api.audit import audit_denied
from api.errors import ApiError, error_responses
from api.params import Cursor, day_span, moment, position
from api.security import Principal, provide_principal
from infra.db.audit import AuditChainBroken, SealRead, Verification, append, latest_seal, seal, verify
from infra.db.forensics import actor_activity, process_timeline, who_read
from infra.db.reports import Overview, overview
from infra.db.tables import AuditEvent, Buyer, Order, Region
from workflows.domain.messages import AuditRecord
from workflows.domain.permissions import Scope
from workflows.domain.policy import DEFAULT_POLICY, NO_SUBJECT, Subject

PRINCIPAL = {"principal": Provide(provide_principal)}


class AuditEventRead(msgspec.Struct, frozen=True):
    seq: int
    at: datetime
    actor: str
    actor_tier: str
    action: str
    target: str
    region: str | None
    outcome: str
    reason: str
    source: str
    process_id: str | None
    before: Any = None
    after: Any = None


class AuditPage(msgspec.Struct, frozen=True):
    items: list[AuditEventRead]
    next_cursor: str | None


async def _require(principal: Principal, action: str, subject: Subject = NO_SUBJECT, *, target: str) -> Scope:
    decision = DEFAULT_POLICY.can(principal.actor, action, subject, now=datetime.now(UTC))
    if not decision.allowed:
        await audit_denied(principal, action, target, decision.code, decision.reason, subject.region)
        if decision.code in ("out_of_region", "not_own"):
            raise ApiError(404, "not_found", f"no such {subject.kind or 'record'} in your scope")
        raise ApiError(403, decision.code, decision.reason)
    assert decision.scope is not None
    return decision.scope


@get("/api/audit", summary="Search the audit trail", tags=["audit"], dependencies=PRINCIPAL, responses=error_responses(400, 401, 403))
async def search_audit(
    principal: Principal,
    actor: Annotated[str | None, Parameter(max_length=64)] = None,
    action: Annotated[str | None, Parameter(max_length=64)] = None,
    target: Annotated[str | None, Parameter(max_length=200)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Annotated[int, Parameter(ge=1, le=200)] = 50,
    cursor: Cursor = None,
) -> AuditPage:
    scope = await _require(principal, "audit.view", target="audit")
    since, until, after = moment("since", since), moment("until", until), position(cursor, AuditEvent.seq)
    query = AuditEvent.select().order_by(AuditEvent.seq, ascending=False).limit(limit).output(load_json=True)
    if scope is not Scope.GLOBAL:
        query = query.where(AuditEvent.region.is_in(list(principal.actor.regions) or ["-"]))
    if actor:
        query = query.where(AuditEvent.actor == actor)
    if action:
        query = query.where(AuditEvent.action == action)
    if target:
        query = query.where(AuditEvent.target == target)
    if since:
        query = query.where(AuditEvent.at >= since)
    if until:
        query = query.where(AuditEvent.at < until)
    if after is not None:
        query = query.where(AuditEvent.seq < after)
    rows = await query
    items = [msgspec.convert({k: row[k] for k in AuditEventRead.__struct_fields__}, AuditEventRead) for row in rows]
    return AuditPage(items=items, next_cursor=str(rows[-1]["seq"]) if len(rows) == limit else None)


@get("/api/audit/verify", summary="Recompute the audit hash chain and check every seal", tags=["audit"], dependencies=PRINCIPAL, responses=error_responses(401, 403))
async def verify_audit(principal: Principal) -> Verification:
    """``first_bad`` names the first edited, missing, inserted or reordered event; ``bad_seal``
    the seal that a truncated or rewritten trail, or a forged signature, contradicts."""
    await _require(principal, "audit.verify", target="audit")
    return await verify()


@get("/api/audit/seals/latest", summary="The latest seal of the audit chain's head", tags=["audit"], dependencies=PRINCIPAL, responses=error_responses(401, 403, 404))
async def latest_audit_seal(principal: Principal) -> SealRead:
    await _require(principal, "audit.view", target="audit")
    sealed = await latest_seal()
    if sealed is None:
        raise ApiError(404, "not_found", "the audit trail has not been sealed yet")
    return sealed


@post("/api/audit/seals", summary="Seal the audit chain's head now", tags=["audit"], dependencies=PRINCIPAL, status_code=201, responses=error_responses(401, 403, 409))
async def seal_audit(principal: Principal) -> SealRead:
    """The standing ``audit-seal`` workflow seals periodically; this seals at once (before an
    export, after an incident). Refused with 409 while the chain since the last seal does not
    verify: a seal vouches only for a chain that holds."""
    await _require(principal, "audit.verify", target="audit")
    try:
        sealed = await seal()
    except AuditChainBroken as exc:
        raise ApiError(409, "chain_broken", f"{exc}; GET /api/audit/verify names the first bad event") from None
    await append(AuditRecord(
        actor=principal.actor.id, actor_tier=principal.actor.tier, action="audit.sealed", target="audit",
        outcome="done", reason=f"seal #{sealed.id} at seq {sealed.seq}", source=principal.source,
    ))
    return sealed


@get("/api/audit/export", summary="A case's full timeline as JSON lines", tags=["audit"], dependencies=PRINCIPAL,
     responses=error_responses(401, 403, 404), media_type="application/x-ndjson")
async def export_case(principal: Principal, process_id: Annotated[str, Parameter(min_length=1, max_length=300)]) -> Response[bytes]:
    """Every event of one case in chain order, each line with its chain fields (so each line
    re-hashes on its own); what ``kameng audit export --process`` writes."""
    scope = await _require(principal, "audit.view", target=f"process:{process_id}")
    regions = _regions(principal, scope)
    lines = []
    async for row in process_timeline(process_id):
        if regions is not None and row.get("region") not in regions:
            continue
        lines.append(msgspec.json.encode(row))
    if not lines:
        raise ApiError(404, "not_found", "no audit events for that process, or it is outside your scope")
    return Response(b"\n".join(lines) + b"\n", media_type="application/x-ndjson",
                    headers={"Content-Disposition": f'attachment; filename="{_safe(process_id)}.jsonl"'})


def _safe(name: str) -> str:
    """A file name for the header: ASCII only, since a header is Latin-1 and ``str.isalnum``
    takes every script's letters and digits (a process id is whatever a caller asked for)."""
    return "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "_" for c in name)[:120]


class AuditEvents(msgspec.Struct, frozen=True):
    items: list[AuditEventRead]
    truncated: bool
    """More events matched than ``limit``."""


def _events(rows: list[dict[str, Any]], limit: int) -> AuditEvents:
    items = [msgspec.convert({k: row[k] for k in AuditEventRead.__struct_fields__}, AuditEventRead) for row in rows[:limit]]
    return AuditEvents(items=items, truncated=len(rows) > limit)


def _regions(principal: Principal, scope: Scope) -> tuple[str, ...] | None:
    return None if scope is Scope.GLOBAL else tuple(principal.actor.regions)


@get("/api/audit/who-read", summary="Who read a buyer's sensitive data in the last days", tags=["audit"], dependencies=PRINCIPAL, responses=error_responses(400, 401, 403, 404))
async def audit_who_read(
    principal: Principal,
    buyer: Annotated[str, Parameter(min_length=1, max_length=32)],
    days: Annotated[int, Parameter(ge=1, le=366)] = 7,
    limit: Annotated[int, Parameter(ge=1, le=1000)] = 500,
) -> AuditEvents:
    """Supers ask about any buyer; regionals about buyers of their regions (others are 404)."""
    row = await Buyer.select(Buyer.region).where(Buyer.code == buyer).first()
    if row is None:
        await audit_denied(principal, "audit.view", f"buyer:{buyer}", "not_found", "no such buyer")
        raise ApiError(404, "not_found", "no such buyer in your scope")
    scope = await _require(principal, "audit.view", Subject(kind="buyer", id=buyer, region=row["region"]), target=f"buyer:{buyer}")
    since = datetime.now(UTC) - timedelta(days=days)
    return _events(await who_read(f"buyer:{buyer}", since, regions=_regions(principal, scope), limit=limit + 1), limit)


@get("/api/audit/actors/{username:str}", summary="Everything an admin did on one day", tags=["audit"], dependencies=PRINCIPAL, responses=error_responses(400, 401, 403))
async def audit_actor_day(
    principal: Principal,
    username: Annotated[str, Parameter(max_length=64)],
    day: Annotated[date, Parameter(description="A UTC day, e.g. 2026-11-21")],
    limit: Annotated[int, Parameter(ge=1, le=5000)] = 1000,
) -> AuditEvents:
    """Oldest first; regionals see the events in their regions only."""
    scope = await _require(principal, "audit.view", target=f"admin:{username}")
    start, end = day_span("day", day)
    rows = await actor_activity(username, start, end, regions=_regions(principal, scope), limit=limit + 1)
    return _events(rows, limit)


@get("/api/reports/overview", summary="The overview report your tier allows", tags=["reports"], dependencies=PRINCIPAL, responses=error_responses(401, 403))
async def report_overview(principal: Principal) -> Overview:
    scope = await _require(principal, "reports.view", target="reports")
    actor = principal.actor
    regions = [r["key"] for r in await Region.select(Region.key).order_by(Region.key)]
    return await overview(
        scope.value, username=actor.id, tier=actor.tier, regions=actor.regions, all_regions=regions, now=datetime.now(UTC)
    )


class OrderLine(msgspec.Struct, frozen=True):
    code: str
    amount: int
    status: str
    created_at: datetime


class BuyerRead(msgspec.Struct, frozen=True, omit_defaults=True):
    """A buyer as the caller's scope allows: basic fields for whoever may view the buyer,
    sensitive ones (login IP, spending habits, sensitive operations) only with
    ``users.view_sensitive``."""

    code: str
    nickname: str
    region: str
    status: str
    contact_phone: str
    email: str
    recent_orders: list[OrderLine]
    login_ip: str | None = None
    spending_profile: Any = None
    sensitive_ops: Any = None


@get("/api/buyers/{code:str}", summary="A buyer, as far as your scope allows", tags=["users"], dependencies=PRINCIPAL, responses=error_responses(401, 403, 404))
async def read_buyer(principal: Principal, code: Annotated[str, Parameter(max_length=32)]) -> BuyerRead:
    buyer = await Buyer.select().where(Buyer.code == code).output(load_json=True).first()
    if buyer is None:
        await audit_denied(principal, "users.view", f"buyer:{code}", "not_found", "no such buyer")
        raise ApiError(404, "not_found", "no such buyer in your scope")
    subject = Subject(kind="buyer", id=code, region=buyer["region"], owners=tuple(buyer["handled_by"] or ()))
    await _require(principal, "users.view", subject, target=f"buyer:{code}")
    sensitive = DEFAULT_POLICY.can(principal.actor, "users.view_sensitive", subject, now=datetime.now(UTC)).allowed
    orders = (
        await Order.select(Order.code, Order.amount, Order.status, Order.created_at)
        .where(Order.buyer == buyer["id"]).order_by(Order.created_at, ascending=False).limit(20)
    )
    fields = {
        "code": code, "nickname": buyer["nickname"], "region": buyer["region"], "status": buyer["status"],
        "contact_phone": buyer["contact_phone"], "email": buyer["email"],
        "recent_orders": [OrderLine(**o) for o in orders],
    }
    if sensitive:
        fields |= {"login_ip": buyer["login_ip"], "spending_profile": buyer["spending_profile"], "sensitive_ops": buyer["sensitive_ops"]}
    await append(
        AuditRecord(
            actor=principal.actor.id, actor_tier=principal.actor.tier,
            action="users.view_sensitive" if sensitive else "users.view", target=f"buyer:{code}",
            outcome="allowed", region=buyer["region"], source=principal.source,
            reason="sensitive fields read" if sensitive else "basic fields read",
        )
    )
    return BuyerRead(**fields)


DATA_ROUTES = [search_audit, verify_audit, latest_audit_seal, seal_audit, export_case, audit_who_read, audit_actor_day, report_overview, read_buyer]
