"""Products under listing review (商品上架) and price changes (改价), with the region's price band."""

from __future__ import annotations

from datetime import datetime

import msgspec
from temporalio import activity

from infra.db.engine import write_transaction
from infra.db.tables import Admin, Merchant, PermissionGrant, PriceBand, Product, ProductPriceChange

HIGH_VALUE_CENTS = 100_000
"""1,000 yuan: at or above it an item is high-value (游戏账号 always is)."""
HIGH_VALUE_CATEGORIES = frozenset({"game_account"})
STANDARD_CATEGORIES = frozenset({"point_card", "topup", "game_item"})
"""Goods a normal admin may list inside the region's band."""


def is_high_value(category: str, price: int) -> bool:
    return category in HIGH_VALUE_CATEGORIES or price >= HIGH_VALUE_CENTS


class ListingRecord(msgspec.Struct, frozen=True, kw_only=True):
    merchant: str
    sku: str
    name: str
    category: str
    price: int
    region: str


class ProductFacts(msgspec.Struct, frozen=True, kw_only=True):
    """A product as a decision sees it; ``problem`` says why there is nothing to decide."""

    sku: str
    status: str = ""
    problem: str = ""
    code: str = ""
    name: str = ""
    merchant: str = ""
    region: str = ""
    category: str = ""
    price: int = 0
    high_value: bool = False
    band: tuple[int, int] | None = None


class ProductOutcome(msgspec.Struct, frozen=True, kw_only=True):
    sku: str
    status: str
    """``listed`` or ``rejected``."""


class PriceChangeApply(msgspec.Struct, frozen=True, kw_only=True):
    sku: str
    new_price: int
    admin: str
    """The admin who made the change (for a confirmed proposal: the proposer)."""
    at: datetime
    """When it takes effect; with sku, admin and price it identifies the change on retries."""


class PriceApplied(msgspec.Struct, frozen=True, kw_only=True):
    old_price: int
    new_price: int
    change_id: int


class ConfirmerQuery(msgspec.Struct, frozen=True, kw_only=True):
    permission: str
    region: str
    at: datetime
    exclude: tuple[str, ...] = ()


async def _band(region: str, category: str) -> tuple[int, int] | None:
    row = await PriceBand.select(PriceBand.low, PriceBand.high).where(
        (PriceBand.region == region) & (PriceBand.category == category)
    ).first()
    return (row["low"], row["high"]) if row else None


def _facts(row: dict, merchant: str, band: tuple[int, int] | None) -> ProductFacts:
    return ProductFacts(
        sku=row["sku"], status=row["status"], name=row["name"], merchant=merchant, region=row["region"],
        category=row["category"], price=row["price"], high_value=row["high_value"], band=band,
    )


class ProductActivities:
    @activity.defn(name="record_product")
    async def record_product(self, listing: ListingRecord) -> ProductFacts:
        """The product as ``pending`` under its merchant, with the region's band for its category."""
        merchant = await Merchant.select(Merchant.id, Merchant.status, Merchant.region).where(
            Merchant.code == listing.merchant
        ).first()
        if merchant is None:
            return ProductFacts(sku=listing.sku, code="no_merchant", problem=f"没有商家 {listing.merchant}")
        if merchant["status"] != "active":
            return ProductFacts(sku=listing.sku, code="merchant_inactive", problem=f"商家 {listing.merchant} 状态为 {merchant['status']}，不能上架")
        if merchant["region"] != listing.region:
            return ProductFacts(sku=listing.sku, code="wrong_region", problem=f"商家 {listing.merchant} 属于 {merchant['region']}，不在 {listing.region}")
        values = dict(
            merchant=merchant["id"], region=listing.region, category=listing.category, name=listing.name,
            price=listing.price, high_value=is_high_value(listing.category, listing.price),
        )
        await Product.insert(Product(sku=listing.sku, status="pending", **values)).on_conflict(action="DO NOTHING")
        row = await Product.select().where(Product.sku == listing.sku).first()
        if row["status"] != "pending" or any(row[k] != v for k, v in values.items()):
            return ProductFacts(sku=listing.sku, status=row["status"], code="sku_exists", problem=f"商品编码 {listing.sku} 已被占用（{row['status']}）")
        return _facts(row, listing.merchant, await _band(listing.region, listing.category))

    @activity.defn(name="settle_product")
    async def settle_product(self, outcome: ProductOutcome) -> None:
        await Product.update({Product.status: outcome.status}).where(
            (Product.sku == outcome.sku) & (Product.status == "pending")
        )

    @activity.defn(name="load_product")
    async def load_product(self, sku: str) -> ProductFacts:
        row = await Product.select(*Product.all_columns(), Product.merchant.code).where(Product.sku == sku).first()
        if row is None:
            return ProductFacts(sku=sku, code="no_product", problem=f"没有商品 {sku}")
        return _facts(row, row["merchant.code"], await _band(row["region"], row["category"]))

    @activity.defn(name="apply_price_change")
    async def apply_price_change(self, change: PriceChangeApply) -> PriceApplied:
        """Set the price and write its history row, once: a retry finds the row and stops."""
        async with write_transaction():
            product = await Product.select(Product.id, Product.price).where(Product.sku == change.sku).first()
            admin = await Admin.select(Admin.id).where(Admin.username == change.admin).first()
            if product is None or admin is None:
                raise ValueError(f"no product {change.sku!r} or no admin {change.admin!r}")
            earlier = await ProductPriceChange.select().where(
                (ProductPriceChange.product == product["id"])
                & (ProductPriceChange.admin == admin["id"])
                & (ProductPriceChange.new_price == change.new_price)
            )
            for row in earlier:
                if row["changed_at"] == change.at:
                    return PriceApplied(old_price=row["old_price"], new_price=row["new_price"], change_id=row["id"])
            inserted = await ProductPriceChange.insert(
                ProductPriceChange(
                    product=product["id"], admin=admin["id"], old_price=product["price"],
                    new_price=change.new_price, changed_at=change.at,
                )
            ).returning(ProductPriceChange.id)
            await Product.update({Product.price: change.new_price}).where(Product.id == product["id"])
        return PriceApplied(old_price=product["price"], new_price=change.new_price, change_id=inserted[0]["id"])

    @activity.defn(name="find_price_confirmers")
    async def find_price_confirmers(self, query: ConfirmerQuery) -> list[str]:
        """Admins below the confirming tier who hold an active temporary grant for this region.

        They are named on the task, so the tier check lets them through and the policy then
        decides on their grant at the moment they act (an expired grant authorizes nothing).
        """
        rows = await PermissionGrant.select(
            PermissionGrant.scope, PermissionGrant.regions, PermissionGrant.admin.username,
            PermissionGrant.admin.regions, PermissionGrant.admin.status,
        ).where(
            (PermissionGrant.permission == query.permission)
            & (PermissionGrant.starts_at <= query.at)
            & (PermissionGrant.ends_at > query.at)
            & PermissionGrant.revoked_at.is_null()
        )
        names = set()
        for row in rows:
            covered = row["scope"] == "global" or (
                row["scope"] == "region" and query.region in (row["regions"] or row["admin.regions"] or [])
            )
            if covered and row["admin.status"] == "active" and row["admin.username"] not in query.exclude:
                names.add(row["admin.username"])
        return sorted(names)
