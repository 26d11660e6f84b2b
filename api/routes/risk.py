"""Risk control over HTTP: the rules in force, a rule change's backtest, and the signals found.

A rule change itself is a governed process: ``POST /api/processes/risk-rule-change``
(derived from the registry like every process); its approval task shows the backtest.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import get, post
from litestar.di import Provide
from litestar.openapi.spec import Example
from litestar.params import Body, Parameter

from activities.risk.backtest import BacktestReport
from activities.risk.rules import DEFAULT_RULES, DETECTOR_PARAMS, ReviewTier, RuleChange, check_change
from api.errors import ApiError, error_responses
from api.routes.data import _require
from api.security import Principal, provide_principal
from infra.db.tables import RiskSignal
from workflows.domain.permissions import Scope
from workflows.domain.policy import Subject

PRINCIPAL = {"principal": Provide(provide_principal)}


class RuleParamRead(msgspec.Struct, frozen=True):
    name: str
    value: float
    low: float
    high: float
    zh: str
    en: str


class RiskRuleRead(msgspec.Struct, frozen=True):
    key: str
    title_zh: str
    title_en: str
    detector: str
    signal: str
    tier: str
    enabled: bool
    version: int
    updated_by: str | None
    params: list[RuleParamRead]


class BacktestBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    params: dict[str, float] = {}
    tier: ReviewTier | None = None
    enabled: bool | None = None
    days: Annotated[int, msgspec.Meta(ge=1, le=365)] = 30


class RiskSignalRead(msgspec.Struct, frozen=True):
    key: str
    rule: str
    signal: str
    subject_kind: str
    subject: str
    region: str | None
    score: float
    explanation: str
    explanation_en: str
    baseline: Any
    evidence: Any
    occurred_at: datetime
    detected_at: datetime
    process_id: str | None
    status: str


def rule_read(rule) -> RiskRuleRead:
    specs = DETECTOR_PARAMS[rule.detector]
    return RiskRuleRead(
        key=rule.key, title_zh=rule.title_zh, title_en=rule.title_en, detector=rule.detector, signal=rule.signal,
        tier=rule.tier, enabled=rule.enabled, version=rule.version, updated_by=rule.updated_by,
        params=[RuleParamRead(name, value, specs[name].low, specs[name].high, specs[name].zh, specs[name].en) for name, value in rule.params.items()],
    )


@get("/api/risk/rules", summary="The risk rules in force", tags=["risk"], dependencies=PRINCIPAL, responses=error_responses(401, 403))
async def list_rules(principal: Principal) -> list[RiskRuleRead]:
    from activities.risk.store import load_rules

    await _require(principal, "risk.flag", Subject(kind="risk-rule"), target="risk-rules")
    return [rule_read(rule) for rule in (await load_rules()).values()]


@post(
    "/api/risk/rules/{key:str}/backtest",
    summary="Backtest a proposed change of a risk rule over the last N days",
    description="Needs `risk.define_rules`. Changes nothing: propose the change with POST /api/processes/risk-rule-change.",
    tags=["risk"], dependencies=PRINCIPAL, status_code=200, responses=error_responses(400, 401, 403, 404, 422),
)
async def backtest_rule(
    principal: Principal,
    key: Annotated[str, Parameter(max_length=64)],
    data: Annotated[BacktestBody, Body(examples=[Example(summary="example", value={"params": {"min_orders": 10}, "days": 30})])],
) -> BacktestReport:
    from activities.risk import run_backtest

    await _require(principal, "risk.define_rules", Subject(kind="risk-rule", id=key), target=f"risk-rule:{key}")
    if key not in DEFAULT_RULES:
        raise ApiError(404, "unknown_rule", f"there is no risk rule {key!r}")
    change = RuleChange(params=dict(data.params), tier=data.tier, enabled=data.enabled)
    problem = check_change(key, change)
    if problem is not None:
        raise ApiError(422, *problem)
    return await run_backtest(key, change, data.days)


@get(
    "/api/risk/signals", summary="Risk signals found, newest first, within your scope", tags=["risk"], dependencies=PRINCIPAL,
    description="``process_id`` lists the findings of one risk review: the one that opened it and those that joined it later "
    "(``status``: ``opened``, ``joined``).",
    responses=error_responses(401, 403),
)
async def list_signals(
    principal: Principal,
    rule: Annotated[str | None, Parameter(max_length=64)] = None,
    subject: Annotated[str | None, Parameter(max_length=64)] = None,
    process_id: Annotated[str | None, Parameter(max_length=200)] = None,
    limit: Annotated[int, Parameter(ge=1, le=200)] = 50,
) -> list[RiskSignalRead]:
    scope = await _require(principal, "risk.review", Subject(kind="risk-signal"), target="risk-signals")
    query = RiskSignal.select().order_by(RiskSignal.occurred_at, ascending=False).limit(limit).output(load_json=True)
    if scope is not Scope.GLOBAL:  # admin misuse is judged by supers only
        query = query.where(RiskSignal.region.is_in(list(principal.actor.regions) or ["-"]) & (RiskSignal.signal != "admin_misuse"))
    if rule:
        query = query.where(RiskSignal.rule == rule)
    if subject:
        query = query.where(RiskSignal.subject == subject)
    if process_id:
        query = query.where(RiskSignal.process_id == process_id)
    rows = await query
    return [msgspec.convert({k: r[k] for k in RiskSignalRead.__struct_fields__}, RiskSignalRead) for r in rows]


RISK_ROUTES = [list_rules, backtest_rule, list_signals]
