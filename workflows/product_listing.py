"""Product listing (商品上架, SPEC §5.2): standard goods (point cards, top-ups, game items) priced
inside the region's preset band are approved by a normal admin of the region; goods outside the
band or high-value ones (game accounts, or 1,000 yuan and up) need the regional admin.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.products import (
        HIGH_VALUE_CENTS,
        STANDARD_CATEGORIES,
        ListingRecord,
        ProductFacts,
        ProductOutcome,
    )
    from workflows.domain.permissions import Scope
    from workflows.domain.policy import DEFAULT_POLICY, Actor, Subject
    from workflows.domain.regions import DEFAULT_REGIONS, PRODUCT_CATEGORIES
    from workflows.process import Process, Start
    from workflows.spec import ActionSpec, WorkflowSpec


class ListingRequest(msgspec.Struct, frozen=True, kw_only=True):
    merchant: Annotated[str, msgspec.Meta(examples=["M0003"])]
    """The merchant's code."""
    sku: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_-]{2,32}$", examples=["P09001"])]
    name: Annotated[str, msgspec.Meta(min_length=2, max_length=128)]
    category: Annotated[str, msgspec.Meta(examples=["point_card"])]
    price: Annotated[int, msgspec.Meta(gt=0, examples=[4800])]
    """In cents."""
    region: Annotated[str, msgspec.Meta(examples=["game-cards"])]


class ReviewInput(msgspec.Struct, frozen=True, kw_only=True):
    reason: Annotated[str, msgspec.Meta(max_length=2000)] = ""


class RejectInput(msgspec.Struct, frozen=True, kw_only=True):
    reason: Annotated[str, msgspec.Meta(min_length=2, max_length=2000)]


SPEC_START_PERMISSION = "products.classify"
"""Entering goods for review is checking and classifying product info: every tier holds it."""


def listing_workflow_id(start: Start[ListingRequest]) -> str:
    return f"product-listing-{start.body.sku}"


def yuan(cents: int) -> str:
    return f"{cents / 100:.2f}"


@workflow.defn(name="ProductListing")
class ProductListingWorkflow(Process):
    KIND = "product-listing"
    ACTIONS = (
        ActionSpec("approve", ReviewInput, "products.approve_listing", "批准上架", "Approve listing", {"reason": "价格在区间内，信息核对无误"}),
        ActionSpec("reject", RejectInput, "products.approve_listing", "驳回上架", "Reject listing", {"reason": "商品描述与实物不符"}),
    )

    @workflow.run
    async def run(self, params: Start[ListingRequest]) -> dict:
        if (refused := await self.admit(params)) is not None:
            return refused
        item = params.body
        starter = params.by
        await self.start(starter, f"{item.name}（{item.sku}）{yuan(item.price)} 元 申请上架", params.config, item.region)
        problem = check_listing(item, starter)
        if problem is not None:
            return await self.finish("rejected", problem[1], code=problem[0], sku=item.sku)
        facts = msgspec.convert(
            await self._activity(
                "record_product",
                ListingRecord(merchant=item.merchant, sku=item.sku, name=item.name, category=item.category, price=item.price, region=item.region),
            ),
            ProductFacts,
        )
        if facts.problem:
            return await self.finish("rejected", facts.problem, code=facts.code, sku=item.sku)
        tier, route = route_listing(facts)
        parties = (starter.id,) if starter else ()
        subject = Subject(
            kind="product", id=item.sku, region=item.region, price=item.price, band=facts.band,
            high_value=facts.high_value, requester=starter.id if starter else None, excluded=parties,
        )
        decided = await self.human_step(
            "review",
            title=f"商品上架审核：{item.name}（{item.sku}）{yuan(item.price)} 元",
            tier=tier,
            actions=("approve", "reject"),
            subject=subject,
            evidence={
                "merchant": item.merchant, "sku": item.sku, "name": item.name,
                "category": PRODUCT_CATEGORIES[item.category][0], "price_yuan": yuan(item.price),
                "band_yuan": [yuan(v) for v in facts.band] if facts.band else None,
                "high_value": facts.high_value, "route": route,
            },
            excluded=parties,
        )
        status = "listed" if decided.action == "approve" else "rejected"
        await self._activity("settle_product", ProductOutcome(sku=item.sku, status=status))
        return await self.finish(status, decided.reason or route, sku=item.sku, decided_by=decided.actor.id, tier=tier)


def route_listing(facts: ProductFacts) -> tuple[str, str]:
    """(tier, why): who approves this listing under SPEC §3."""
    if facts.high_value:
        return "regional", f"高价值商品（游戏账号或单价 ≥ {yuan(HIGH_VALUE_CENTS)} 元）需区域管理员审批"
    if facts.category not in STANDARD_CATEGORIES:
        return "regional", "非标准类目需区域管理员审批"
    if facts.band is None:
        return "regional", "本区域该类目没有预设价格区间，需区域管理员审批"
    low, high = facts.band
    if not low <= facts.price <= high:
        return "regional", f"价格 {yuan(facts.price)} 元超出预设区间 {yuan(low)}–{yuan(high)} 元，需区域管理员审批"
    return "normal", f"标准商品，价格在预设区间 {yuan(low)}–{yuan(high)} 元内"


def check_listing(item: ListingRequest, actor: Actor | None = None) -> tuple[str, str] | None:
    """Why this listing cannot even be filed, or None."""
    if item.region not in {r.key for r in DEFAULT_REGIONS}:
        return ("unknown_region", f"there is no region {item.region!r}")
    if item.category not in PRODUCT_CATEGORIES:
        return ("unknown_category", f"there is no category {item.category!r}")
    cell = DEFAULT_POLICY.cell(actor.tier, SPEC_START_PERMISSION) if actor is not None else None
    if actor is not None and cell is not None and cell.scope is Scope.REGION and item.region not in actor.regions:
        return ("out_of_region", f"{item.region} is outside your regions")
    return None


SPEC = WorkflowSpec(
    kind="product-listing",
    workflow=ProductListingWorkflow,
    input=ListingRequest,
    workflow_id=listing_workflow_id,
    start_permission=SPEC_START_PERMISSION,
    title_zh="商品上架审核",
    title_en="Product listing",
    description="A merchant's product enters review: standard goods inside the region's price band go to a normal admin, the rest to the regional admin.",
    validate_start=check_listing,
    example={"merchant": "M0003", "sku": "P09001", "name": "网易一卡通100元", "category": "point_card", "price": 9600, "region": "game-cards"},
    platform_start=True,
)
