"""The demo platform: a deterministic card-alliance marketplace with planted anomalies.

``seed()`` loads it once, in one write transaction, and marks it done with a ``seeded`` row
in ``platform_meta``. The data is built in memory first (``build_plan``: pure, deterministic
for a given ``now`` and ``rng_seed``), foreign keys by code, then bulk-inserted in batches.

Planted anomalies carry a label so tests can tell them from organic history (whose label is
NULL): orders ``brushing`` (rings ``ring-N``) and ``duplicate`` (pairs ``dup-N``), price
changes ``night_burst`` (one normal admin editing prices around 3 a.m. UTC).
"""

from __future__ import annotations

import asyncio
import math
import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from itertools import accumulate, cycle
from typing import Any, NamedTuple

import msgspec
from piccolo.query.methods.select import Count
from piccolo.table import Table

from infra.accounts import hash_password
from infra.db.engine import serialize_writers, write_transaction
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
from infra.settings import get_settings
from workflows.domain.regions import DEFAULT_REGIONS, PRODUCT_CATEGORIES
from workflows.domain.tiers import DEFAULT_TIERS

SEEDED_KEY = "seeded"
BATCH = 500
_LOCK_KEY = 0x4B4D_5345_4544  # serializes concurrent seeders on PostgreSQL

N_MERCHANTS, N_BUYERS, N_ORDERS, N_DISPUTES, N_PRICE_CHANGES = 50, 2_000, 20_000, 100, 300
N_RINGS, N_DUPLICATE_PAIRS, N_BURST_NIGHTS = 3, 15, 4
BURST_ADMIN = "normal-game-cards-2"
HIGH_VALUE_CENTS = 100_000  # 1,000 yuan
PRICE_BANDS = {  # category -> (low, high) in cents
    "point_card": (100, 50_000),
    "topup": (1_000, 50_000),
    "game_item": (100, 200_000),
    "game_account": (10_000, 5_000_000),
}
_REGION_MIX = {  # the categories a region's merchants sell, cycled
    "game-items": ("game_item", "game_item", "game_item", "game_item", "game_account"),
    "mobile-topup": ("topup",),
    "game-cards": ("point_card",),
}
_RISK = {"game_account": (0.45, 0.95), "game_item": (0.2, 0.7)}  # high-risk categories
_QUANTITIES = {  # category -> (quantities, weights); anything else is bought one at a time
    "point_card": ((1, 2, 3, 5), (75, 15, 7, 3)),
    "topup": ((1, 2, 3, 5), (75, 15, 7, 3)),
    "game_item": ((1, 2), (90, 10)),
}
_EDITOR_WEIGHTS = {"super": 1, "regional": 2, "normal": 3}  # who edits prices, how often
_HOUR_WEIGHTS = (2, 1, 1, 1, 1, 1, 2, 4, 7, 9, 10, 10, 9, 9, 10, 10, 10, 9, 9, 10, 11, 10, 7, 4)

_CITIES = "杭州 上海 南京 苏州 宁波 深圳 广州 成都 武汉 厦门 北京 重庆".split()
_BRANDS = "星辰 云端 极速 鑫源 畅游 天宇 龙腾 飞鱼 博远 恒信 九州 聚宝".split()
_SHOPS = {
    "point_card": ("点卡专营店", "卡业商行"),
    "topup": ("话费充值中心", "通讯服务部"),
    "game_item": ("游戏道具行", "游戏工作室"),
    "game_account": ("账号交易行", "游戏账号工作室"),
}
_GAMES = "魔兽世界 梦幻西游 剑网3 天涯明月刀 英雄联盟 原神 王者荣耀 逆水寒".split()
_CARDS = "网易一卡通 盛大一卡通 完美一卡通 骏网一卡通 Q币卡 魔兽世界点卡 剑网3通宝卡".split()
_CARRIERS = "中国移动 中国联通 中国电信".split()
_ITEMS = "金币10万 强化石×100 稀有坐骑 限定时装 传说武器 宠物蛋 经验礼包 皮肤券".split()
_ACCOUNTS = "满级全服前百 稀有皮肤全收集 十年老号 全英雄满星".split()
_FACES = (10, 20, 30, 50, 100, 200, 300, 500)
_NICK_A = "快乐 孤独 暴躁 佛系 氪金 午夜 北极 南风 小小 无敌".split()
_NICK_B = "剑客 猎人 法师 玩家 少侠 小猫 奶妈 锦鲤 刺客 行者".split()
_MAIL = "qq.com 163.com 126.com sina.com foxmail.com".split()
_IP_PREFIXES = "114.80 183.14 223.104 36.110 120.229 117.136 112.17 58.246".split()
_SENSITIVE_OPS = "修改绑定手机 重置登录密码 绑定新银行卡 异地登录 大额提现申请".split()
_PAYMENTS = ("alipay", "wechat_pay", "bank_card")
_DISPUTE_REASONS = (
    "卡密无效，充值失败 话费未到账 道具未发放 账号被原主找回 商品与描述不符 重复扣款".split()
)


class DemoLogin(msgspec.Struct, frozen=True):
    username: str
    tier: str
    regions: tuple[str, ...]
    display_name: str
    station_master: bool = False


class SeedSummary(msgspec.Struct):
    created: bool
    regions: int
    admins: int
    merchants: int
    products: int
    buyers: int
    orders: int
    disputes: int
    price_changes: int
    planted: dict[str, int]


def _demo_logins() -> tuple[DemoLogin, ...]:
    every = tuple(r.key for r in DEFAULT_REGIONS)
    logins = [
        DemoLogin("station-master", "super", every, "总站长", station_master=True),
        DemoLogin("super-2", "super", every, "超级管理员二号"),
        DemoLogin("super-3", "super", every, "超级管理员三号"),
    ]
    for region in DEFAULT_REGIONS:
        key, zh = region.key, region.name_zh
        logins += [
            DemoLogin(f"regional-{key}", "regional", (key,), f"{zh}区域管理员"),
            DemoLogin(f"normal-{key}-1", "normal", (key,), f"{zh}普通管理员一号"),
            DemoLogin(f"normal-{key}-2", "normal", (key,), f"{zh}普通管理员二号"),
            DemoLogin(f"intern-{key}-1", "intern", (key,), f"{zh}实习管理员一号"),
        ]
    return tuple(logins)


DEMO_LOGINS: tuple[DemoLogin, ...] = _demo_logins()

Row = dict[str, Any]


@dataclass
class DemoPlan:
    """Every row to insert; foreign keys hold the referenced row's code, sku or username."""

    regions: list[Row] = field(default_factory=list)
    tiers: list[Row] = field(default_factory=list)
    bands: list[Row] = field(default_factory=list)
    merchants: list[Row] = field(default_factory=list)
    products: list[Row] = field(default_factory=list)
    buyers: list[Row] = field(default_factory=list)
    orders: list[Row] = field(default_factory=list)
    disputes: list[Row] = field(default_factory=list)
    price_changes: list[Row] = field(default_factory=list)


class PlanSizes(msgspec.Struct, frozen=True, kw_only=True):
    """How big a generated platform is (the demo's by default; risk-quality tests vary it)."""

    buyers: int = N_BUYERS
    orders: int = N_ORDERS
    rings: int = N_RINGS
    duplicate_pairs: int = N_DUPLICATE_PAIRS
    burst_nights: int = N_BURST_NIGHTS


def build_plan(now: datetime, rng_seed: int = 2026, sizes: PlanSizes = PlanSizes()) -> DemoPlan:
    """The whole demo platform in memory: the same ``now``, seed and sizes give the same plan."""
    return _Builder(now, random.Random(rng_seed), sizes).build()


class _Edit(NamedTuple):
    """A price edit before chaining: ``factor`` says how far the old price was from the new."""

    product: Row
    at: datetime
    admin: str
    anomaly: str | None
    factor: float


class _Builder:
    def __init__(self, now: datetime, rng: random.Random, sizes: PlanSizes = PlanSizes()) -> None:
        self.now, self.rng, self.plan, self.sizes = now, rng, DemoPlan(), sizes
        self.region_keys = [r.key for r in DEFAULT_REGIONS]
        self.normals: dict[str, list[str]] = defaultdict(list)
        for login in DEMO_LOGINS:
            if login.tier == "normal":
                for region in login.regions:
                    self.normals[region].append(login.username)

    def build(self) -> DemoPlan:
        p = self.plan
        p.regions = [msgspec.structs.asdict(r) for r in DEFAULT_REGIONS]
        p.tiers = [
            dict(key=t.key, rank=t.rank, name_zh=t.name_zh, name_en=t.name_en, cap=t.cap)
            for t in DEFAULT_TIERS
        ]
        p.bands = [
            dict(region=r, category=c, low=PRICE_BANDS[c][0], high=PRICE_BANDS[c][1])
            for r in self.region_keys
            for c in PRODUCT_CATEGORIES
        ]
        self.merchants()
        self.products()
        self.buyers()
        self.organic_orders()
        self.brushing_rings()
        self.duplicate_pairs()
        self.finish_orders()
        self.price_changes()
        return p

    # -- helpers -------------------------------------------------------------------------
    def phone(self) -> str:
        return "1" + self.rng.choice(("38", "39", "58", "86", "77", "99")) + self.digits(8)

    def digits(self, n: int) -> str:
        return f"{self.rng.randrange(10**n):0{n}d}"

    def ip(self) -> str:
        prefix, host = self.rng.choice(_IP_PREFIXES), self.rng.randint(1, 254)
        return f"{prefix}.{self.rng.randint(0, 255)}.{host}"

    def days_ago(self, low: int, high: int) -> datetime:
        return self.now - timedelta(
            days=self.rng.randint(low, high), seconds=self.rng.randrange(86_400)
        )

    def moment(self, days: tuple[int, int], hours: Sequence[int] | None = None) -> datetime:
        """A past moment ``days`` ago (inclusive range), at an hour weighted like real traffic."""
        rng = self.rng
        day = (self.now - timedelta(days=rng.randint(*days))).date()
        hour = rng.choice(hours) if hours else rng.choices(range(24), _HOUR_WEIGHTS)[0]
        at = datetime.combine(day, time(hour, rng.randint(0, 59), rng.randint(0, 59)), UTC)
        return at - timedelta(days=1) if at >= self.now else at

    def order(self, buyer: Row, product: Row, at: datetime, quantity: int = 1, **extra: Any) -> Row:
        row = dict(
            buyer=buyer["code"],
            merchant=product["merchant"],
            product=product["sku"],
            region=product["region"],
            quantity=quantity,
            amount=product["price"] * quantity,
            status="completed",
            created_at=at,
            anomaly=None,
            anomaly_group=None,
        )
        return row | extra

    def products_by_region(self) -> dict[str, list[Row]]:
        by_region: dict[str, list[Row]] = defaultdict(list)
        for product in self.plan.products:
            by_region[product["region"]].append(product)
        return by_region

    # -- the marketplace -----------------------------------------------------------------
    def merchants(self) -> None:
        rng, names = self.rng, set()
        mixes = {r: cycle(_REGION_MIX.get(r, tuple(PRODUCT_CATEGORIES))) for r in self.region_keys}
        for i in range(N_MERCHANTS):
            region = self.region_keys[i % len(self.region_keys)]
            category = next(mixes[region])
            name = ""
            while not name or name in names:
                name = rng.choice(_CITIES) + rng.choice(_BRANDS) + rng.choice(_SHOPS[category])
            names.add(name)
            risk = _RISK.get(category, (0.02, 0.35))
            self.plan.merchants.append(
                dict(
                    code=f"M{i + 1:04d}",
                    name=name,
                    region=region,
                    category=category,
                    status="active",
                    identity_number="91" + self.digits(16),
                    contact_phone=self.phone(),
                    risk_score=round(rng.uniform(*risk), 3),
                    joined_at=self.days_ago(120, 1500),
                )
            )

    def offer(self, category: str) -> tuple[str, int]:
        """A product name and price (in cents, inside the category's band)."""
        rng = self.rng
        low, high = PRICE_BANDS[category]
        face = rng.choice(_FACES)
        anywhere = math.exp(rng.uniform(math.log(low), math.log(high)))
        name, price = {
            "point_card": (f"{rng.choice(_CARDS)}{face}元", face * 100 * rng.uniform(0.92, 1.0)),
            "topup": (f"{rng.choice(_CARRIERS)}话费{face}元", face * 100 * rng.uniform(0.96, 1.0)),
            "game_item": (f"{rng.choice(_GAMES)}·{rng.choice(_ITEMS)}", anywhere),
            "game_account": (f"{rng.choice(_GAMES)}账号（{rng.choice(_ACCOUNTS)}）", anywhere),
        }[category]
        return name, min(max(round(price), low), high)

    def products(self) -> None:
        for merchant in self.plan.merchants:
            category = merchant["category"]
            count = self.rng.randint(*((3, 5) if category == "game_account" else (8, 13)))
            for _ in range(count):
                name, price = self.offer(category)
                self.plan.products.append(
                    dict(
                        sku=f"P{len(self.plan.products) + 1:05d}",
                        merchant=merchant["code"],
                        region=merchant["region"],
                        category=category,
                        name=name,
                        price=price,
                        high_value=category == "game_account" or price >= HIGH_VALUE_CENTS,
                        status="listed",
                    )
                )

    def buyers(self) -> None:
        rng = self.rng
        for i in range(self.sizes.buyers):
            region = rng.choice(self.region_keys)
            ops = [
                dict(
                    op=rng.choice(_SENSITIVE_OPS),
                    ip=self.ip(),
                    at=self.moment((1, 180)).isoformat(),
                )
                for _ in range(rng.choices((0, 1, 2, 3), (60, 25, 10, 5))[0])
            ]
            self.plan.buyers.append(
                dict(
                    code=f"B{i + 1:05d}",
                    nickname=rng.choice(_NICK_A) + rng.choice(_NICK_B) + str(rng.randint(1, 9999)),
                    region=region,
                    contact_phone=self.phone(),
                    email=f"player{i + 1:05d}@{rng.choice(_MAIL)}",
                    login_ip=self.ip(),
                    spending_profile={"payment": rng.choice(_PAYMENTS)},
                    sensitive_ops=sorted(ops, key=lambda op: op["at"]),
                    handled_by=rng.sample(
                        self.normals[region], rng.choices((0, 1, 2), (50, 35, 15))[0]
                    ),
                    status="active",
                    registered_at=self.days_ago(95, 900),
                )
            )

    # -- orders --------------------------------------------------------------------------
    def organic_orders(self) -> None:
        """Mostly from the buyer's own region; heavy buyers order more; few game accounts."""
        rng, plan = self.rng, self.plan
        pools = self.products_by_region() | {"*": plan.products}
        weights = {
            key: list(accumulate(0.1 if p["category"] == "game_account" else 1.0 for p in pool))
            for key, pool in pools.items()
        }
        activity = list(accumulate(rng.paretovariate(1.5) for _ in plan.buyers))
        for buyer in rng.choices(plan.buyers, cum_weights=activity, k=self.sizes.orders):
            key = buyer["region"] if rng.random() < 0.8 else "*"
            product = rng.choices(pools[key], cum_weights=weights[key])[0]
            quantity = rng.choices(*_QUANTITIES.get(product["category"], ((1,), (1,))))[0]
            status = "refunded" if rng.random() < 0.025 else "completed"
            plan.orders.append(
                self.order(buyer, product, self.moment((0, 89)), quantity, status=status)
            )
        for order in rng.sample([o for o in plan.orders if o["status"] == "completed"], N_DISPUTES):
            order["status"] = "disputed"

    def brushing_rings(self) -> None:
        """A few buyers placing many small orders with one merchant in short sessions."""
        rng, plan = self.rng, self.plan
        cheap: dict[str, list[Row]] = defaultdict(list)
        for product in plan.products:
            if product["price"] <= 5_000 and product["category"] != "game_account":
                cheap[product["merchant"]].append(product)
        merchants = [m for m in plan.merchants if len(cheap[m["code"]]) >= 2]
        used: set[str] = set()
        for n, merchant in enumerate(rng.sample(merchants, min(self.sizes.rings, len(merchants))), start=1):
            region = merchant["region"]
            locals_ = [b for b in plan.buyers if b["region"] == region and b["code"] not in used]
            ring = rng.sample(locals_, rng.randint(3, 5))
            used.update(b["code"] for b in ring)
            for day in rng.sample(range(2, 60), 3):
                start = self.moment((day, day), hours=range(10, 23))
                for _ in range(rng.randint(12, 18)):
                    at = start + timedelta(seconds=rng.randint(0, 40 * 60))
                    product = rng.choice(cheap[merchant["code"]])
                    group = dict(anomaly="brushing", anomaly_group=f"ring-{n}")
                    plan.orders.append(self.order(rng.choice(ring), product, at, **group))

    def duplicate_pairs(self) -> None:
        """The same buyer, product and amount twice within a couple of minutes."""
        rng, plan = self.rng, self.plan
        products = {p["sku"]: p for p in plan.products}
        buyers = {b["code"]: b for b in plan.buyers}
        organic = [o for o in plan.orders if o["anomaly"] is None and o["status"] == "completed"]
        for n, template in enumerate(rng.sample(organic, self.sizes.duplicate_pairs), start=1):
            buyer, product = buyers[template["buyer"]], products[template["product"]]
            first = self.moment((1, 89))
            second = first + timedelta(seconds=rng.randint(20, 150))
            group = dict(anomaly="duplicate", anomaly_group=f"dup-{n}")
            again = dict(group, status=rng.choice(("completed", "refunded")))
            plan.orders.append(self.order(buyer, product, first, template["quantity"], **group))
            plan.orders.append(self.order(buyer, product, second, template["quantity"], **again))

    def finish_orders(self) -> None:
        """Codes in time order, disputes for disputed orders, buyers' spending habits."""
        plan = self.plan
        plan.orders.sort(key=lambda o: o["created_at"])
        spent: dict[str, list[Row]] = defaultdict(list)
        for n, order in enumerate(plan.orders, start=1):
            order["code"] = f"O{n:07d}"
            spent[order["buyer"]].append(order)
            if order["status"] == "disputed":
                plan.disputes.append(self.dispute(order))
        categories = {p["sku"]: p["category"] for p in plan.products}
        for buyer in plan.buyers:
            orders = spent[buyer["code"]]
            favourite = Counter(categories[o["product"]] for o in orders).most_common(1)
            peak_hour = Counter(o["created_at"].hour for o in orders).most_common(1)
            buyer["spending_profile"] |= {
                "orders_90d": len(orders),
                "total_cents_90d": sum(o["amount"] for o in orders),
                "favorite_category": favourite[0][0] if favourite else None,
                "peak_hour_utc": peak_hour[0][0] if peak_hour else None,
            }

    def dispute(self, order: Row) -> Row:
        opened = order["created_at"] + timedelta(minutes=self.rng.randint(30, 72 * 60))
        opened = min(opened, self.now)
        return dict(
            code=f"D{len(self.plan.disputes) + 1:05d}",
            order=order["code"],
            region=order["region"],
            reason=self.rng.choice(_DISPUTE_REASONS),
            opened_at=opened,
            status="resolved" if opened < self.now - timedelta(days=14) else "open",
        )

    # -- price history -------------------------------------------------------------------
    def price_changes(self) -> None:
        rng, by_region = self.rng, self.products_by_region()
        editors = [d for d in DEMO_LOGINS if d.tier in _EDITOR_WEIGHTS]
        weights = [_EDITOR_WEIGHTS[d.tier] for d in editors]
        edits = []
        for editor in rng.choices(editors, weights, k=N_PRICE_CHANGES):
            product = rng.choice(by_region[rng.choice(editor.regions)])
            at = self.moment((1, 89), hours=range(9, 19))
            edits.append(_Edit(product, at, editor.username, None, rng.uniform(0.88, 1.12)))
        (burst_region,) = next(d.regions for d in DEMO_LOGINS if d.username == BURST_ADMIN)
        for day in rng.sample(range(3, 45), self.sizes.burst_nights):
            start = datetime.combine((self.now - timedelta(days=day)).date(), time(2, 0), UTC)
            start += timedelta(minutes=rng.randint(10, 90))
            for product in rng.sample(by_region[burst_region], rng.randint(8, 14)):
                at = start + timedelta(seconds=rng.randint(0, 50 * 60))
                edits.append(_Edit(product, at, BURST_ADMIN, "night_burst", rng.uniform(1.4, 2.0)))
        chains: dict[str, list[_Edit]] = defaultdict(list)
        for edit in edits:
            chains[edit.product["sku"]].append(edit)
        for chain in chains.values():
            self.plan.price_changes += _chained(chain)
        self.plan.price_changes.sort(key=lambda c: c["changed_at"])


def _chained(chain: list[_Edit]) -> list[Row]:
    """One product's edits, walked back from today's price: each new price is the next's old."""
    rows, after = [], chain[0].product["price"]
    low, high = PRICE_BANDS[chain[0].product["category"]]
    for edit in sorted(chain, key=lambda e: e.at, reverse=True):
        before = round(after * edit.factor)
        if not low <= before <= high:  # the move cannot have come from that side of the band
            before = round(after / edit.factor)
        before = min(max(before, low), high)
        if before == after:
            before = after + 100 if after + 100 <= high else after - 100
        rows.append(
            dict(
                product=edit.product["sku"],
                admin=edit.admin,
                old_price=before,
                new_price=after,
                changed_at=edit.at,
                anomaly=edit.anomaly,
            )
        )
        after = before
    return rows


# -- writing -------------------------------------------------------------------------------
async def seed(
    *, password: str | None = None, now: datetime | None = None, rng_seed: int = 2026
) -> SeedSummary:
    """Load the demo platform unless it is already there; either way, count what is."""
    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    now = now.astimezone(UTC)
    if await _seeded():
        return await _summary(created=False)
    plan = build_plan(now, rng_seed)
    password = password if password is not None else get_settings().demo_password
    hashes = await asyncio.gather(
        *(asyncio.to_thread(hash_password, password) for _ in DEMO_LOGINS)
    )
    async with write_transaction():
        await serialize_writers(_LOCK_KEY)
        if await _seeded():  # another process seeded while we were building
            return await _summary(created=False)
        await _write(plan, dict(zip((d.username for d in DEMO_LOGINS), hashes, strict=True)), now)
    return await _summary(created=True)


async def _write(plan: DemoPlan, hashes: dict[str, str], now: datetime) -> None:
    await _insert(Region, plan.regions)
    await _insert(TierConfig, plan.tiers)
    await _insert(PriceBand, plan.bands)
    await _insert(Admin, (_admin_row(d, hashes[d.username], now) for d in DEMO_LOGINS))
    admins = await _ids(Admin, "username")
    await _insert(Merchant, plan.merchants)
    merchants = await _ids(Merchant, "code")
    await _insert(Product, _linked(plan.products, merchant=merchants))
    products = await _ids(Product, "sku")
    await _insert(Buyer, plan.buyers)
    buyers = await _ids(Buyer, "code")
    await _insert(Order, _linked(plan.orders, buyer=buyers, merchant=merchants, product=products))
    disputed = await _ids(Order, "code", Order.status == "disputed")
    await _insert(Dispute, _linked(plan.disputes, order=disputed))
    await _insert(ProductPriceChange, _linked(plan.price_changes, product=products, admin=admins))
    await PlatformMeta.insert(PlatformMeta(key=SEEDED_KEY, value=now.isoformat()))


def _admin_row(login: DemoLogin, password_hash: str, now: datetime) -> Row:
    return dict(
        username=login.username,
        display_name=login.display_name,
        tier=login.tier,
        regions=list(login.regions),
        station_master=login.station_master,
        status="active",
        password_hash=password_hash,
        password_changed_at=now,
        created_at=now,
    )


def _linked(rows: Iterable[Row], **ids: dict[str, int]) -> Iterator[Row]:
    """Rows with each foreign key's code replaced by the referenced row's id."""
    for row in rows:
        yield row | {column: by_code[row[column]] for column, by_code in ids.items()}


async def _insert(table: type[Table], rows: Iterable[Row]) -> None:
    batch: list[Table] = []
    for row in rows:
        batch.append(table(**row))
        if len(batch) == BATCH:
            await table.insert(*batch)
            batch = []
    if batch:
        await table.insert(*batch)


async def _ids(table: type[Table], key: str, where: Any = None) -> dict[str, int]:
    query = table.select(table.id, getattr(table, key))
    rows = await (query.where(where) if where is not None else query)
    return {row[key]: row["id"] for row in rows}


async def _seeded() -> bool:
    return await PlatformMeta.exists().where(PlatformMeta.key == SEEDED_KEY)


async def _summary(*, created: bool) -> SeedSummary:
    planted: Counter[str] = Counter()
    for table in (Order, ProductPriceChange):
        rows = (
            await table.select(table.anomaly, Count())
            .where(table.anomaly.is_not_null())
            .group_by(table.anomaly)
        )
        planted.update({row["anomaly"]: row["count"] for row in rows})
    counts = [
        await t.count()
        for t in (Region, Admin, Merchant, Product, Buyer, Order, Dispute, ProductPriceChange)
    ]
    return SeedSummary(created, *counts, planted=dict(sorted(planted.items())))
