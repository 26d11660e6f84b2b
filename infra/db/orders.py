"""Order events reported by the platform: stored once by order code, for risk control."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

from infra.db.engine import write_transaction
from infra.db.tables import Buyer, Merchant, Order, Product

Code = Annotated[str, msgspec.Meta(min_length=1, max_length=32)]


class OrderEvent(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    code: Code
    buyer: Code
    merchant: Code
    product: Code
    quantity: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 1
    amount: Annotated[int, msgspec.Meta(ge=0, le=10**12)]
    """In cents."""
    status: Literal["completed", "refunded", "disputed"] = "completed"
    at: datetime


class RejectedEvent(msgspec.Struct, frozen=True):
    index: int
    code: str
    reason: str


class OrderEventsResult(msgspec.Struct, frozen=True):
    accepted: int
    rejected: list[RejectedEvent]


async def _ids(table, codes: set[str], column) -> dict[str, dict]:
    if not codes:
        return {}
    rows = await table.select(table.id, column, *([table.region] if hasattr(table, "region") else [])).where(column.is_in(list(codes)))
    return {row[column._meta.name]: row for row in rows}


async def store_order_events(events: list[OrderEvent]) -> OrderEventsResult:
    """New orders are inserted; a known order code only updates its status."""
    buyers = await _ids(Buyer, {e.buyer for e in events}, Buyer.code)
    merchants = await _ids(Merchant, {e.merchant for e in events}, Merchant.code)
    products = await _ids(Product, {e.product for e in events}, Product.sku)
    rejected: list[RejectedEvent] = []
    accepted = 0
    async with write_transaction():
        known = {
            row["code"]: row["id"]
            for row in await Order.select(Order.id, Order.code).where(Order.code.is_in(list({e.code for e in events}) or [""]))
        }
        for index, event in enumerate(events):
            missing = [name for name, table, key in (("buyer", buyers, event.buyer), ("merchant", merchants, event.merchant), ("product", products, event.product)) if key not in table]
            if missing:
                rejected.append(RejectedEvent(index, event.code, f"unknown {', '.join(missing)}"))
                continue
            if event.at.tzinfo is None:
                rejected.append(RejectedEvent(index, event.code, "`at` needs a time zone"))
                continue
            if event.code in known:
                await Order.update({Order.status: event.status}).where(Order.id == known[event.code])
            else:
                [inserted] = await Order.insert(
                    Order(
                        code=event.code, buyer=buyers[event.buyer]["id"], merchant=merchants[event.merchant]["id"],
                        product=products[event.product]["id"], region=products[event.product]["region"],
                        quantity=event.quantity, amount=event.amount, status=event.status, created_at=event.at,
                    )
                ).returning(Order.id)
                known[event.code] = inserted["id"]  # the same code again in this batch is an update
            accepted += 1
    return OrderEventsResult(accepted=accepted, rejected=rejected)
