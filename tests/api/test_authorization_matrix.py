"""Every route × every demo tier × a subject in and out of the admin's region.

The expected statuses are written out here from SPEC §3, not derived from the matrix code.
In-region is `game-cards` (the admins are `*-game-cards*`); out-of-region is another region.
404 answers a subject outside the caller's scope, 403 an action the tier does not hold.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from infra.db.tables import Admin, Buyer, PermissionGrant, Product
from tests.api.conftest import bearer, login

pytestmark = [pytest.mark.db, pytest.mark.timeout(240)]

TIERS = {"super": "super-2", "regional": "regional-game-cards", "normal": "normal-game-cards-1", "intern": "intern-game-cards-1"}


async def subjects() -> dict[str, str]:
    buyers = await Buyer.select(Buyer.code, Buyer.region, Buyer.handled_by)
    inside = next(b["code"] for b in buyers if b["region"] == "game-cards" and "normal-game-cards-1" not in (b["handled_by"] or []))
    served = next(b["code"] for b in buyers if b["region"] == "game-cards" and "normal-game-cards-1" in (b["handled_by"] or []))
    outside = next(b["code"] for b in buyers if b["region"] == "game-items")
    sku_in = (await Product.select(Product.sku).where((Product.region == "game-cards") & (Product.status == "listed")).first())["sku"]
    sku_out = (await Product.select(Product.sku).where((Product.region == "game-items") & (Product.status == "listed")).first())["sku"]
    return {"buyer_in": inside, "buyer_served": served, "buyer_out": outside, "sku_in": sku_in, "sku_out": sku_out}


READS = [
    # path template, super, regional, normal, intern
    ("/api/me", 200, 200, 200, 200),
    ("/api/inbox", 200, 200, 200, 200),
    ("/api/audit", 200, 200, 403, 403),
    ("/api/audit/verify", 200, 403, 403, 403),
    ("/api/reports/overview", 200, 200, 200, 403),
    ("/api/buyers/{buyer_in}", 200, 200, 404, 403),
    ("/api/buyers/{buyer_served}", 200, 200, 200, 403),
    ("/api/buyers/{buyer_out}", 200, 404, 404, 403),
]


def starts(s: dict[str, str]) -> list[tuple[str, dict, tuple[int, int, int, int]]]:
    unique = uuid.uuid4().hex[:6].upper()
    grant = {"permission": "products.classify", "scope": "region", "duration": "P1D", "justification": "授权矩阵测试"}
    return [
        ("permission-grant", grant, (201, 201, 201, 201)),
        ("permission-grant", {**grant, "regions": ["game-items"]}, (201, 404, 404, 404)),
        ("fund-operation", {"operation": "merchant_settlement", "account": "M0007", "amount": 100, "reason": "授权矩阵测试"}, (201, 403, 403, 403)),
        ("account-ban", {"buyer": s["buyer_in"], "region": "game-cards", "reason": "授权矩阵测试"}, (201, 201, 403, 403)),
        ("account-ban", {"buyer": s["buyer_out"], "region": "game-items", "reason": "授权矩阵测试"}, (201, 404, 403, 403)),
        ("price-change", {"sku": s["sku_in"], "new_price": 4321, "reason": "授权矩阵测试"}, (201, 201, 201, 403)),
        ("price-change", {"sku": s["sku_out"], "new_price": 4321, "reason": "授权矩阵测试"}, (201, 404, 404, 404)),
        ("fund-operation", {"operation": "withdrawal", "account": "platform-pool", "amount": 100, "reason": "授权矩阵测试"}, (201, 403, 403, 403)),
    ]


@pytest.mark.parametrize("tier", list(TIERS))
async def test_reads_by_tier_and_scope(api, tier):
    s = await subjects()
    token = await login(api, TIERS[tier])
    column = list(TIERS).index(tier) + 1
    for row in READS:
        path = row[0].format(**s)
        response = await api.get(path, headers=bearer(token))
        assert response.status_code == row[column], (tier, path, response.text[:200])


@pytest.mark.parametrize("tier", list(TIERS))
async def test_process_starts_by_tier_and_scope(api, tier):
    s = await subjects()
    token = await login(api, TIERS[tier])
    column = list(TIERS).index(tier)
    for kind, body, expected in starts(s):
        response = await api.post(f"/api/processes/{kind}", json=body, headers=bearer(token))
        assert response.status_code == expected[column], (tier, kind, body, response.text[:300])
        if response.status_code >= 400:
            assert response.json()["error"]["code"]


@pytest.mark.parametrize(
    ("offset_start", "offset_end", "expected"),
    [(timedelta(hours=1), timedelta(hours=2), 403), (timedelta(hours=-1), timedelta(hours=1), 200), (timedelta(hours=-2), timedelta(hours=-1), 403)],
    ids=["before", "during", "after"],
)
async def test_a_grant_authorizes_only_inside_its_window(api, offset_start, offset_end, expected):
    """A regional's temporary reports grant at global scope: the global audit search opens only while it runs."""
    admin = await Admin.select(Admin.id).where(Admin.username == "regional-east-china").first()
    now = datetime.now(UTC)
    grant_id = f"matrix-{uuid.uuid4().hex[:8]}"
    await PermissionGrant.insert(
        PermissionGrant(grant_id=grant_id, admin=admin["id"], permission="audit.verify", scope="global", regions=[],
                        starts_at=now + offset_start, ends_at=now + offset_end, approved_by="super-2", justification="矩阵")
    )
    try:
        token = await login(api, "regional-east-china")
        response = await api.get("/api/audit/verify", headers=bearer(token))
        assert response.status_code == expected, response.text[:200]
        if expected == 403:  # an ended grant is not even loaded: the tier simply lacks it
            assert response.json()["error"]["code"] in {"grant_not_started", "no_permission"}
    finally:
        await PermissionGrant.delete().where(PermissionGrant.grant_id == grant_id)
