"""Price change (改价, SPEC §3 products and §5.2): a regional admin (own regions) or a super
changes a price at once, still audited; a normal admin's change stays pending until a regional
admin of the product's region (or a super) confirms it, and only then takes effect. The proposer
never confirms their own change; interns cannot change prices at all.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import msgspec
from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.products import ConfirmerQuery, PriceApplied, PriceChangeApply, ProductFacts
    from workflows.domain.policy import DEFAULT_POLICY, Actor, Decision, Subject
    from workflows.domain.routing import approver_tier
    from workflows.process import Process, Start
    from workflows.spec import ActionSpec, WorkflowSpec

DIRECT = "products.change_price"
PROPOSE = "products.propose_price_change"
CONFIRM = "products.confirm_price_change"


class PriceChangeRequest(msgspec.Struct, frozen=True, kw_only=True):
    sku: Annotated[str, msgspec.Meta(examples=["P00042"])]
    new_price: Annotated[int, msgspec.Meta(gt=0, examples=[9500])]
    """In cents."""
    reason: Annotated[str, msgspec.Meta(min_length=2, max_length=2000)]


class ConfirmInput(msgspec.Struct, frozen=True, kw_only=True):
    reason: Annotated[str, msgspec.Meta(max_length=2000)] = ""


class RejectInput(msgspec.Struct, frozen=True, kw_only=True):
    reason: Annotated[str, msgspec.Meta(min_length=2, max_length=2000)]


def price_change_workflow_id(start: Start[PriceChangeRequest]) -> str:
    return f"price-change-{start.body.sku}-{start.key}"


def yuan(cents: int) -> str:
    return f"{cents / 100:.2f}"


@workflow.defn(name="PriceChange")
class PriceChangeWorkflow(Process):
    KIND = "price-change"
    ACTIONS = (
        ActionSpec("confirm", ConfirmInput, CONFIRM, "确认改价", "Confirm price change", {"reason": "与渠道进价调整一致"}),
        ActionSpec("reject", RejectInput, CONFIRM, "驳回改价", "Reject price change", {"reason": "调价幅度过大，请说明依据"}),
    )

    @workflow.run
    async def run(self, params: Start[PriceChangeRequest]) -> dict:
        if (refused := await self.admit(params)) is not None:
            return refused
        change = params.body
        by = params.by
        product = msgspec.convert(await self._activity("load_product", change.sku), ProductFacts)
        await self.start(by, f"{change.sku} 改价为 {yuan(change.new_price)} 元：{change.reason}", params.config, product.region or None)
        if by is None:
            return await self.finish("rejected", "a price change is made by an admin", code="admin_required", sku=change.sku)
        if product.problem or product.status != "listed":
            return await self.finish("rejected", product.problem or f"商品 {change.sku} 状态为 {product.status}，不能改价", code=product.code or "not_listed", sku=change.sku)
        if product.price == change.new_price:
            return await self.finish("rejected", f"价格已是 {yuan(change.new_price)} 元", code="no_change", sku=change.sku)
        target = Subject(kind="product", id=change.sku, region=product.region, price=change.new_price, band=product.band, high_value=product.high_value)
        route, decision = price_change_route(by, target, workflow.now())
        if route is None:
            await self.audit("price-change.denied", "denied", actor=by, reason=decision.reason, target=f"product:{change.sku}")
            return await self.finish("rejected", decision.reason, code=decision.code, sku=change.sku)
        if route == DIRECT:
            return await self._apply(change, by, product, approved_by=by.id, at=workflow.now())

        await self.audit(
            "price-change.proposed", "pending", actor=by, reason=change.reason, target=f"product:{change.sku}",
            after={"old_price": product.price, "new_price": change.new_price},
        )
        confirmers = await self._activity(
            "find_price_confirmers", ConfirmerQuery(permission=CONFIRM, region=product.region, at=workflow.now(), exclude=(by.id,))
        )
        decided = await self.human_step(
            "confirm",
            title=f"改价确认：{product.name}（{change.sku}）{yuan(product.price)} → {yuan(change.new_price)} 元",
            tier=approver_tier(CONFIRM, by.tier),
            actions=("confirm", "reject"),
            subject=Subject(
                kind="product", id=change.sku, region=product.region, price=change.new_price, band=product.band,
                high_value=product.high_value, requester=by.id, excluded=(by.id,),
            ),
            evidence={
                "sku": change.sku, "name": product.name, "merchant": product.merchant, "proposed_by": by.id,
                "old_price_yuan": yuan(product.price), "new_price_yuan": yuan(change.new_price),
                "change_pct": round((change.new_price - product.price) * 100 / product.price, 1),
                "band_yuan": [yuan(v) for v in product.band] if product.band else None, "reason": change.reason,
            },
            candidates=tuple(confirmers),
            excluded=(by.id,),
        )
        if decided.action != "confirm":
            return await self.finish("rejected", decided.reason, sku=change.sku, proposed_by=by.id, decided_by=decided.actor.id)
        return await self._apply(change, by, product, approved_by=decided.actor.id, at=decided.at)

    async def _apply(self, change: PriceChangeRequest, by: Actor, product: ProductFacts, *, approved_by: str, at: datetime) -> dict:
        applied = msgspec.convert(
            await self._activity("apply_price_change", PriceChangeApply(sku=change.sku, new_price=change.new_price, admin=by.id, at=at)),
            PriceApplied,
        )
        await self.audit(
            "price-change.applied", "done", actor=by, reason=change.reason, target=f"product:{change.sku}",
            after={"old_price": applied.old_price, "new_price": applied.new_price, "confirmed_by": approved_by},
        )
        return await self.finish(
            "applied", change.reason, sku=change.sku, old_price=applied.old_price, new_price=applied.new_price,
            changed_by=by.id, confirmed_by=approved_by, change_id=applied.change_id,
        )


def price_change_route(actor: Actor, product: Subject, now: datetime) -> tuple[str | None, Decision]:
    """DIRECT when the actor may change the price, PROPOSE when they may only propose it, else None
    with the denial that explains why (the one about this product rather than the tier's matrix)."""
    direct = DEFAULT_POLICY.can(actor, DIRECT, product, now=now)
    if direct:
        return DIRECT, direct
    proposal = DEFAULT_POLICY.can(actor, PROPOSE, product, now=now)
    if proposal:
        return PROPOSE, proposal
    return None, direct if direct.code != "no_permission" else proposal


def check_price_change(body: PriceChangeRequest, actor: Actor | None) -> tuple[str, str] | None:
    """Checked before start, where the product's region is not known yet: may this admin change
    or propose prices at all? (The workflow checks again against the product.)"""
    if actor is None:
        return ("admin_required", "a price change is made by an admin")
    route, decision = price_change_route(actor, Subject(kind="product", id=body.sku), datetime.now(UTC))
    return None if route else (decision.code, decision.reason)


SPEC = WorkflowSpec(
    kind="price-change",
    workflow=PriceChangeWorkflow,
    input=PriceChangeRequest,
    workflow_id=price_change_workflow_id,
    # Either DIRECT or PROPOSE starts it, and a spec names one permission: the gate every
    # product-handling tier passes; validate_start (and the workflow) then require one of the two.
    start_permission="products.classify",
    also_checks=(DIRECT, PROPOSE),
    title_zh="商品改价",
    title_en="Price change",
    description="An admin changes a product's price: regional and super admins directly; a normal admin's change waits for a regional admin's confirmation.",
    validate_start=check_price_change,
    example={"sku": "P00042", "new_price": 9500, "reason": "渠道进价下调，同步调整售价"},
)
