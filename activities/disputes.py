"""Disputes (纠纷仲裁) in the database: the order's facts, the Dispute row (idempotent by its
code) and its outcome.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from temporalio import activity

from infra.db.engine import serialize_writers, write_transaction
from infra.db.tables import Dispute, Order, PlatformMeta

DISPUTE_LOCK_KEY = 7_401_302
REFUND_THRESHOLD_CENTS = 50_000
"""Refunds above 500 yuan are fund operations and need dual review (SPEC §5.3)."""
REFUND_THRESHOLD_KEY = "dispute.refund_threshold"
"""PlatformMeta key overriding the threshold (in cents), read when a dispute opens."""


class DisputeContextQuery(msgspec.Struct, frozen=True, kw_only=True):
    order_code: str


class DisputeContext(msgspec.Struct, frozen=True, kw_only=True):
    found: bool
    order_code: str
    order_amount: int = 0
    order_status: str = ""
    order_region: str = ""
    product_name: str = ""
    buyer_code: str = ""
    buyer_region: str = ""
    merchant_code: str = ""
    merchant_name: str = ""
    merchant_region: str = ""
    refund_threshold: int = REFUND_THRESHOLD_CENTS


class DisputeOpen(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    order_code: str
    region: str
    reason: str
    opened_at: datetime
    process_id: str


class DisputeOpened(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    created: bool
    conflict: str = ""
    """Why this dispute cannot be opened (the code or the order belongs to another dispute)."""


class DisputeUpdate(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    status: str
    resolution: dict[str, Any] | None = None
    refund_amount: int | None = None


async def refund_threshold() -> int:
    row = await PlatformMeta.select(PlatformMeta.value).where(PlatformMeta.key == REFUND_THRESHOLD_KEY).first()
    try:
        return int(row["value"]) if row else REFUND_THRESHOLD_CENTS
    except ValueError:
        return REFUND_THRESHOLD_CENTS


class DisputeActivities:
    @activity.defn(name="load_dispute_context")
    async def load_dispute_context(self, query: DisputeContextQuery) -> DisputeContext:
        order = await Order.select(
            Order.amount, Order.status, Order.region, Order.product.name,
            Order.buyer.code, Order.buyer.region, Order.merchant.code, Order.merchant.name, Order.merchant.region,
        ).where(Order.code == query.order_code).first()
        if order is None:
            return DisputeContext(found=False, order_code=query.order_code)
        return DisputeContext(
            found=True, order_code=query.order_code, order_amount=order["amount"], order_status=order["status"],
            order_region=order["region"], product_name=order["product.name"],
            buyer_code=order["buyer.code"], buyer_region=order["buyer.region"],
            merchant_code=order["merchant.code"], merchant_name=order["merchant.name"],
            merchant_region=order["merchant.region"], refund_threshold=await refund_threshold(),
        )

    @activity.defn(name="open_dispute")
    async def open_dispute(self, opening: DisputeOpen) -> DisputeOpened:
        """The Dispute row for this code (created once), and the order marked disputed."""
        async with write_transaction():
            await serialize_writers(DISPUTE_LOCK_KEY)
            order = await Order.select(Order.id).where(Order.code == opening.order_code).first()
            if order is None:
                return DisputeOpened(code=opening.code, created=False, conflict=f"no order {opening.order_code}")
            existing = await Dispute.select(Dispute.order, Dispute.process_id).where(Dispute.code == opening.code).first()
            if existing is not None and existing["order"] != order["id"]:
                return DisputeOpened(code=opening.code, created=False, conflict=f"dispute {opening.code} belongs to another order")
            other = await Dispute.select(Dispute.code).where((Dispute.order == order["id"]) & (Dispute.code != opening.code)).first()
            if other is not None:
                return DisputeOpened(code=opening.code, created=False, conflict=f"order {opening.order_code} is already under dispute {other['code']}")
            if existing is None:
                await Dispute.insert(
                    Dispute(
                        code=opening.code, order=order["id"], region=opening.region, status="open",
                        reason=opening.reason, opened_at=opening.opened_at, process_id=opening.process_id,
                    )
                ).on_conflict(action="DO NOTHING")
            else:
                await Dispute.update({Dispute.process_id: opening.process_id}).where(Dispute.code == opening.code)
            await Order.update({Order.status: "disputed"}).where((Order.id == order["id"]) & (Order.status == "completed"))
        return DisputeOpened(code=opening.code, created=existing is None)

    @activity.defn(name="update_dispute")
    async def update_dispute(self, update: DisputeUpdate) -> None:
        values: dict = {Dispute.status: update.status}
        if update.resolution is not None:
            values[Dispute.resolution] = update.resolution
        if update.refund_amount is not None:
            values[Dispute.refund_amount] = update.refund_amount
        await Dispute.update(values).where(Dispute.code == update.code)
