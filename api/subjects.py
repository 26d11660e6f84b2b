"""What a process start is about, looked up in the platform's data, so the policy judges the
real subject (the product's region, the buyer's region, the nominee's tier) and not what the
request claims."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from api.errors import ApiError
from infra.db.tables import Admin, Buyer, Product
from infra.db.tiers import ladder_from_db
from workflows.domain.policy import Actor, Subject


async def _product(body: Any, actor: Actor) -> Subject:
    product = await Product.select(Product.region).where(Product.sku == body.sku).first()
    if product is None:
        raise ApiError(404, "not_found", f"no product {body.sku}")
    return Subject(kind="product", id=body.sku, region=product["region"], owners=(actor.id,))


async def _buyer(body: Any, actor: Actor) -> Subject:
    buyer = await Buyer.select(Buyer.region).where(Buyer.code == body.buyer).first()
    if buyer is None:
        raise ApiError(404, "not_found", f"no buyer {body.buyer}")
    return Subject(kind="buyer", id=body.buyer, region=buyer["region"], owners=(actor.id,))


async def _nominee(body: Any, actor: Actor) -> Subject:
    nominee = await Admin.select(Admin.tier, Admin.regions).where(Admin.username == body.nominee).first()
    if nominee is None:
        raise ApiError(404, "not_found", f"no admin {body.nominee}")
    ladder = await ladder_from_db()
    if body.target_tier in ladder:
        full = ladder.check_capacity(body.target_tier, await Admin.count().where(Admin.tier == body.target_tier))
        if full is not None:  # said now, not after weeks of assessment
            raise ApiError(409, "tier_full", full)
    regions = nominee["regions"] or []
    region = regions[0] if len(regions) == 1 else None
    return Subject(kind="admin", id=body.nominee, region=region, subject_tier=nominee["tier"], owners=(actor.id,), excluded=(body.nominee,))


async def _appointee(body: Any, actor: Actor) -> Subject:
    admin = await Admin.select(Admin.tier).where(Admin.username == body.admin).first()
    if admin is None:
        raise ApiError(404, "not_found", f"no admin {body.admin}")
    return Subject(kind="admin", id=body.admin, subject_tier=admin["tier"], owners=(actor.id,), excluded=(body.admin,))


RESOLVERS: dict[str, Callable[[Any, Actor], Awaitable[Subject]]] = {
    "price-change": _product,
    "account-ban": _buyer,
    "promotion": _nominee,
    "admin-appointment": _appointee,
}


async def start_subject(kind: str, body: Any, actor: Actor) -> Subject:
    resolver = RESOLVERS.get(kind)
    if resolver is not None:
        return await resolver(body, actor)
    region = getattr(body, "region", None)
    # A start is the starter's own request, about the body's region when it names one.
    return Subject(kind=kind, region=region if isinstance(region, str) else None, owners=(actor.id,))
