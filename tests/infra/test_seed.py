"""The demo platform: counts, demo logins, planted anomalies and idempotence."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest

from infra.accounts import authenticate
from infra.db.tables import (
    Admin,
    Buyer,
    Dispute,
    Merchant,
    Order,
    PlatformMeta,
    PriceBand,
    Product,
    ProductPriceChange,
    Region,
    TierConfig,
)
from infra.seed import BURST_ADMIN, DEMO_LOGINS, build_plan, seed
from workflows.domain.regions import DEFAULT_REGIONS, PRODUCT_CATEGORIES
from workflows.domain.tiers import DEFAULT_TIERS

pytestmark = pytest.mark.db

PASSWORD = "kameng-demo"  # tests/conftest.py sets KAMENG_DEMO_PASSWORD
COUNTED = {
    "regions": Region,
    "admins": Admin,
    "merchants": Merchant,
    "products": Product,
    "buyers": Buyer,
    "orders": Order,
    "disputes": Dispute,
    "price_changes": ProductPriceChange,
}


async def counts() -> dict[str, int]:
    return {name: await table.count() for name, table in COUNTED.items()}


async def seeded_at() -> datetime:
    row = await PlatformMeta.select(PlatformMeta.value).where(PlatformMeta.key == "seeded").first()
    return datetime.fromisoformat(row["value"])


async def test_counts_are_in_range_and_match_the_summary(demo):
    assert demo.created
    actual = await counts()
    assert actual == {name: getattr(demo, name) for name in COUNTED}
    assert actual["regions"] == len(DEFAULT_REGIONS)
    assert actual["admins"] == len(DEMO_LOGINS)
    assert 40 <= actual["merchants"] <= 60
    assert 400 <= actual["products"] <= 600
    assert 1_800 <= actual["buyers"] <= 2_200
    assert 18_000 <= actual["orders"] <= 22_000
    assert 80 <= actual["disputes"] <= 120
    assert actual["price_changes"] >= 200
    assert set(demo.planted) == {"brushing", "duplicate", "night_burst"}
    assert all(n > 0 for n in demo.planted.values())


async def test_regions_tiers_and_price_bands(demo):
    regions = await Region.select(Region.key, Region.name_zh, Region.kind).order_by(Region.id)
    assert [(r["key"], r["name_zh"], r["kind"]) for r in regions] == [
        (r.key, r.name_zh, r.kind) for r in DEFAULT_REGIONS
    ]
    tiers = {t["key"]: t for t in await TierConfig.select()}
    assert {k: (t["rank"], t["cap"]) for k, t in tiers.items()} == {
        t.key: (t.rank, t.cap) for t in DEFAULT_TIERS
    }
    bands = {(b["region"], b["category"]): (b["low"], b["high"]) for b in await PriceBand.select()}
    assert set(bands) == {(r.key, c) for r in DEFAULT_REGIONS for c in PRODUCT_CATEGORIES}
    assert bands[("game-items", "game_account")][1] > bands[("game-cards", "point_card")][1]
    for product in await Product.select():
        low, high = bands[(product["region"], product["category"])]
        assert low <= product["price"] <= high, product
        if product["category"] == "game_account":
            assert product["high_value"], product
    assert await Product.count().where(Product.category == "game_account") >= 3


async def test_every_demo_login_exists_and_signs_in(demo):
    hashes = set()
    for login in DEMO_LOGINS:
        admin = await Admin.select().where(Admin.username == login.username).first()
        assert admin is not None, login.username
        assert admin["tier"] == login.tier
        assert tuple(admin["regions"]) == login.regions
        assert admin["station_master"] == login.station_master
        assert admin["display_name"] == login.display_name
        assert admin["password_changed_at"].tzinfo is not None
        hashes.add(admin["password_hash"])
        signed_in = await authenticate(login.username, PASSWORD)
        assert signed_in is not None and signed_in["username"] == login.username
        assert await authenticate(login.username, PASSWORD + "!") is None
    assert len(hashes) == len(DEMO_LOGINS), "each admin has its own salted hash"


def test_demo_logins_cover_every_region():
    names = {login.username for login in DEMO_LOGINS}
    assert {"station-master", "super-2", "super-3"} <= names
    for region in ("game-items", "mobile-topup", "game-cards", "east-china"):
        assert {
            f"regional-{region}",
            f"normal-{region}-1",
            f"normal-{region}-2",
            f"intern-{region}-1",
        } <= names
    by_name = {login.username: login for login in DEMO_LOGINS}
    assert by_name["station-master"].display_name == "总站长"
    assert by_name["regional-game-items"].display_name == "游戏道具专区区域管理员"
    assert by_name["normal-game-cards-2"].regions == ("game-cards",)


async def test_super_tier_respects_its_cap_and_has_one_station_master(demo):
    cap = (await TierConfig.select(TierConfig.cap).where(TierConfig.key == "super").first())["cap"]
    assert cap == 3
    assert await Admin.count().where(Admin.tier == "super") <= cap
    masters = await Admin.select(Admin.username, Admin.tier).where(
        Admin.station_master == True
    )  # noqa: E712
    assert masters == [{"username": "station-master", "tier": "super"}]


async def test_planted_anomalies_are_labelled_and_organic_rows_are_not(demo):
    orders = await Order.select(Order.anomaly, Order.anomaly_group)
    assert {o["anomaly"] for o in orders} == {None, "brushing", "duplicate"}
    assert all((o["anomaly"] is None) == (o["anomaly_group"] is None) for o in orders)
    changes = await ProductPriceChange.select(ProductPriceChange.anomaly)
    assert {c["anomaly"] for c in changes} == {None, "night_burst"}
    planted = defaultdict(int)
    for row in orders + changes:
        if row["anomaly"]:
            planted[row["anomaly"]] += 1
    assert dict(planted) == demo.planted
    assert sum(o["anomaly"] is None for o in orders) >= 18_000


async def test_brushing_rings_are_few_buyers_and_one_merchant_in_short_sessions(demo):
    rows = await Order.select(
        Order.anomaly_group,
        Order.buyer,
        Order.merchant,
        Order.amount,
        Order.quantity,
        Order.created_at,
        Order.region,
        Order.merchant.region,
    ).where(Order.anomaly == "brushing")
    rings = defaultdict(list)
    for row in rows:
        rings[row["anomaly_group"]].append(row)
    assert len(rings) >= 2
    assert all(group.startswith("ring-") for group in rings)
    ring_buyers = []
    for orders in rings.values():
        assert len(orders) >= 20
        assert len({o["merchant"] for o in orders}) == 1
        buyers = {o["buyer"] for o in orders}
        assert 2 <= len(buyers) <= 5
        ring_buyers.append(buyers)
        assert all(o["quantity"] == 1 and o["amount"] <= 5_000 for o in orders)
        assert all(o["region"] == o["merchant.region"] for o in orders)
        # Sessions: bursts of many orders, each within an hour.
        times = sorted(o["created_at"] for o in orders)
        sessions, current = [], [times[0]]
        for at in times[1:]:
            if at - current[-1] > timedelta(hours=2):
                sessions.append(current)
                current = []
            current.append(at)
        sessions.append(current)
        assert len(sessions) >= 2
        for session in sessions:
            assert len(session) >= 10 and session[-1] - session[0] <= timedelta(hours=1)
    for i, a in enumerate(ring_buyers):
        for b in ring_buyers[i + 1 :]:
            assert not a & b, "rings are distinct groups of buyers"


async def test_duplicate_pairs_match_within_minutes(demo):
    rows = await Order.select(
        Order.anomaly_group,
        Order.buyer,
        Order.product,
        Order.amount,
        Order.quantity,
        Order.created_at,
    ).where(Order.anomaly == "duplicate")
    pairs = defaultdict(list)
    for row in rows:
        pairs[row["anomaly_group"]].append(row)
    assert len(pairs) >= 5
    for group, (a, b, *rest) in pairs.items():
        assert not rest, group
        for key in ("buyer", "product", "amount", "quantity"):
            assert a[key] == b[key], (group, key)
        assert abs(a["created_at"] - b["created_at"]) <= timedelta(minutes=3)


async def test_night_burst_is_one_normal_admin_around_3am(demo):
    burst_admin = await Admin.select().where(Admin.username == BURST_ADMIN).first()
    assert burst_admin["tier"] == "normal"
    rows = await ProductPriceChange.select(
        ProductPriceChange.admin,
        ProductPriceChange.changed_at,
        ProductPriceChange.product.region,
    ).where(ProductPriceChange.anomaly == "night_burst")
    nights = defaultdict(int)
    for row in rows:
        at = row["changed_at"].astimezone(UTC)
        assert row["admin"] == burst_admin["id"]
        assert 2 <= at.hour <= 4, at
        assert row["product.region"] in burst_admin["regions"]
        nights[at.date()] += 1
    assert len(nights) >= 3
    assert all(n >= 5 for n in nights.values())


async def test_price_history_is_organic_in_working_hours_and_chains_to_todays_price(demo):
    changes = await ProductPriceChange.select(
        ProductPriceChange.product,
        ProductPriceChange.old_price,
        ProductPriceChange.new_price,
        ProductPriceChange.changed_at,
        ProductPriceChange.anomaly,
        ProductPriceChange.product.price,
    ).order_by(ProductPriceChange.changed_at)
    by_product = defaultdict(list)
    for change in changes:
        assert change["old_price"] != change["new_price"]
        if change["anomaly"] is None:
            assert 9 <= change["changed_at"].astimezone(UTC).hour <= 18
        by_product[change["product"]].append(change)
    for history in by_product.values():
        for before, after in zip(history, history[1:]):
            assert before["new_price"] == after["old_price"]
        assert history[-1]["new_price"] == history[-1]["product.price"]


async def test_seeding_again_changes_nothing(demo):
    before = await counts()
    again = await seed(password="something-else", rng_seed=1)
    assert again.created is False
    assert await counts() == before
    assert {name: getattr(again, name) for name in COUNTED} == before
    assert again.planted == demo.planted
    assert await PlatformMeta.count().where(PlatformMeta.key == "seeded") == 1
    assert await authenticate("station-master", PASSWORD) is not None


async def test_orders_price_region_and_time_are_consistent(demo):
    at = await seeded_at()
    rows = await Order.select(
        Order.amount,
        Order.quantity,
        Order.region,
        Order.merchant,
        Order.status,
        Order.created_at,
        Order.product.price,
        Order.product.region,
        Order.product.merchant,
    )
    for row in rows:
        assert row["amount"] == row["product.price"] * row["quantity"], row
        assert row["region"] == row["product.region"], row
        assert row["merchant"] == row["product.merchant"], row
        assert at - timedelta(days=90) <= row["created_at"] <= at, row
    statuses = defaultdict(int)
    for row in rows:
        statuses[row["status"]] += 1
    assert set(statuses) == {"completed", "refunded", "disputed"}
    assert statuses["completed"] / len(rows) > 0.9


async def test_every_disputed_order_has_one_dispute(demo):
    disputes = await Dispute.select(
        Dispute.order,
        Dispute.region,
        Dispute.opened_at,
        Dispute.order.status,
        Dispute.order.region,
        Dispute.order.created_at,
    )
    assert len({d["order"] for d in disputes}) == len(disputes)
    assert len(disputes) == await Order.count().where(Order.status == "disputed")
    for dispute in disputes:
        assert dispute["order.status"] == "disputed"
        assert dispute["region"] == dispute["order.region"]
        assert dispute["opened_at"] >= dispute["order.created_at"]


async def test_buyers_are_handled_by_normal_admins_of_their_region(demo):
    normals = {
        a["username"]: a["regions"]
        for a in await Admin.select(Admin.username, Admin.regions).where(Admin.tier == "normal")
    }
    buyers = await Buyer.select().output(load_json=True)
    handled = 0
    for buyer in buyers:
        assert len(buyer["handled_by"]) <= 2
        assert len(set(buyer["handled_by"])) == len(buyer["handled_by"])
        for username in buyer["handled_by"]:
            assert buyer["region"] in normals[username], (buyer["code"], username)
        handled += bool(buyer["handled_by"])
        assert isinstance(buyer["spending_profile"], dict)
        assert isinstance(buyer["sensitive_ops"], list)
        assert buyer["login_ip"] and buyer["email"] and buyer["contact_phone"]
    assert 0 < handled < len(buyers)


def test_plan_is_deterministic():
    now = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    first, second = build_plan(now, 7), build_plan(now, 7)
    assert first == second
    assert build_plan(now, 8).orders != first.orders
    assert all(o["created_at"] < now for o in first.orders)
