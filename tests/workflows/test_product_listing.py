"""Product listing on the time-skipping server, with the real database."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from infra.accounts import load_actor
from infra.db.tables import Admin, AuditEvent, Merchant, PermissionGrant, Product, Task
from infra.temporal.processes import ProcessError
from workflows.domain.timing import StepTiming
from workflows.product_listing import ListingRequest, check_listing

pytestmark = [pytest.mark.db, pytest.mark.timeout(60)]


async def actor(username: str):
    found = await load_actor(username, datetime.now(UTC) - timedelta(days=400))
    assert found is not None, username
    return found


async def new_merchant(region: str, category: str, status: str = "active") -> str:
    code = "ML" + uuid.uuid4().hex[:8].upper()
    await Merchant.insert(
        Merchant(
            code=code, name=f"上架测试商行{code}", region=region, category=category, status=status,
            identity_number="91" + uuid.uuid4().hex[:16], contact_phone="13700000000", risk_score=0.1,
            joined_at=datetime.now(UTC), documents=[],
        )
    )
    return code


async def listing(region: str, category: str, price: int, name: str = "网易一卡通100元") -> ListingRequest:
    merchant = await new_merchant(region, category)
    return ListingRequest(merchant=merchant, sku="PL" + uuid.uuid4().hex[:8].upper(), name=name, category=category, price=price, region=region)


async def product(sku: str) -> dict:
    row = await Product.select().where(Product.sku == sku).first()
    assert row is not None, sku
    return row


async def audit_actions(pid: str) -> list[str]:
    rows = await AuditEvent.select(AuditEvent.action).where(AuditEvent.process_id == pid).order_by(AuditEvent.seq)
    return [r["action"] for r in rows]

async def final(harness, pid: str, by, action: str, body=None, **kw) -> dict:
    """Act, then the process's outcome once it has finished."""
    await harness.act(pid, by, action, body, **kw)
    return await harness.result(pid)


async def test_standard_goods_inside_the_band_are_listed_by_a_normal_admin(harness, demo):
    item = await listing("game-cards", "point_card", 9_600)
    pid = await harness.start("product-listing", None, item)
    assert pid == f"product-listing-{item.sku}"
    view = await harness.wait_for(pid, lambda v: v.tasks)
    task = view.tasks[0]
    assert (task.step, task.tier, task.region) == ("review", "normal", "game-cards")
    assert task.evidence["band_yuan"] == ["1.00", "500.00"] and task.evidence["high_value"] is False
    row = await product(item.sku)
    assert row["status"] == "pending" and row["price"] == 9_600 and row["high_value"] is False

    with pytest.raises(ProcessError) as intern:
        await harness.act(pid, await actor("intern-game-cards-1"), "approve", {})
    assert intern.value.code == "tier_too_low"
    with pytest.raises(ProcessError) as elsewhere:
        await harness.act(pid, await actor("normal-mobile-topup-1"), "approve", {})
    assert elsewhere.value.code == "out_of_region"

    result = await final(harness, pid, await actor("normal-game-cards-1"), "approve", {"reason": "价格在区间内"})
    assert result["status"] == "listed" and result["tier"] == "normal"
    assert (await product(item.sku))["status"] == "listed"
    closed = await Task.select().where(Task.task_id == task.task_id).first()
    assert closed["status"] == "done" and closed["decided_by"] == "normal-game-cards-1"
    actions = await audit_actions(pid)
    assert actions[0] == "product-listing.started" and "product-listing.approve" in actions
    assert actions[-1] == "product-listing.listed"


async def test_price_outside_the_band_goes_to_the_regional_admin(harness, demo):
    item = await listing("game-cards", "point_card", 60_000)  # 600 yuan: above the 500 yuan band
    pid = await harness.start("product-listing", None, item)
    view = await harness.wait_for(pid, lambda v: v.tasks)
    assert view.tasks[0].tier == "regional" and "超出预设区间" in view.tasks[0].evidence["route"]
    with pytest.raises(ProcessError) as normal:
        await harness.act(pid, await actor("normal-game-cards-1"), "approve", {})
    assert normal.value.code == "tier_too_low"
    result = await final(harness, pid, await actor("regional-game-cards"), "approve", {"reason": "节日礼包定价合理"})
    assert result["status"] == "listed" and result["tier"] == "regional"
    assert (await product(item.sku))["status"] == "listed"


async def test_high_value_game_account_is_rejected_by_the_regional_admin(harness, demo):
    item = await listing("game-items", "game_account", 50_000, name="梦幻西游账号（十年老号）")
    pid = await harness.start("product-listing", None, item)
    view = await harness.wait_for(pid, lambda v: v.tasks)
    assert view.tasks[0].tier == "regional" and view.tasks[0].evidence["high_value"] is True
    assert (await product(item.sku))["high_value"] is True
    with pytest.raises(ProcessError) as no_reason:
        await harness.act(pid, await actor("regional-game-items"), "reject", {})
    assert no_reason.value.code == "invalid_body"
    result = await final(harness, pid, await actor("regional-game-items"), "reject", {"reason": "账号来源无法核实"})
    assert result["status"] == "rejected"
    assert (await product(item.sku))["status"] == "rejected"
    assert (await audit_actions(pid))[-1] == "product-listing.rejected"


async def test_expensive_standard_item_is_high_value(harness, demo):
    item = await listing("game-items", "game_item", 150_000, name="剑网3·传说武器")  # inside the band, but 1,500 yuan
    pid = await harness.start("product-listing", None, item)
    view = await harness.wait_for(pid, lambda v: v.tasks)
    assert view.tasks[0].tier == "regional" and "高价值" in view.tasks[0].evidence["route"]
    with pytest.raises(ProcessError) as within_band_but_high_value:
        await harness.act(pid, await actor("normal-game-items-1"), "approve", {})
    assert within_band_but_high_value.value.code == "tier_too_low"
    result = await final(harness, pid, await actor("regional-game-items"), "approve", {"reason": "价格合理"})
    assert result["status"] == "listed" and (await product(item.sku))["high_value"] is True


async def test_normal_admin_rejects_a_standard_listing(harness, demo):
    item = await listing("mobile-topup", "topup", 4_900, name="中国移动话费50元")
    pid = await harness.start("product-listing", None, item)
    await harness.wait_for(pid, lambda v: v.tasks)
    result = await final(harness, pid, await actor("normal-mobile-topup-2"), "reject", {"reason": "面值与售价不符"})
    assert result["status"] == "rejected" and result["decided_by"] == "normal-mobile-topup-2"
    assert (await product(item.sku))["status"] == "rejected"


async def test_inactive_merchant_taken_sku_and_bad_input_are_refused_without_a_task(harness, demo):
    pending = await new_merchant("game-cards", "point_card", status="pending")
    item = ListingRequest(merchant=pending, sku="PL" + uuid.uuid4().hex[:8].upper(), name="骏网一卡通30元", category="point_card", price=2_900, region="game-cards")
    pid = await harness.start("product-listing", None, item)
    outcome = await harness.result(pid)
    assert outcome["status"] == "rejected" and outcome["code"] == "merchant_inactive"
    assert not await Product.exists().where(Product.sku == item.sku)

    seeded = await Product.select(Product.sku, Product.price, Product.status).where(Product.sku == "P00001").first()
    taken = await listing("game-items", "game_item", 1_000)
    taken = ListingRequest(**{**{f: getattr(taken, f) for f in taken.__struct_fields__}, "sku": "P00001"})
    pid = await harness.start("product-listing", None, taken)
    outcome = await harness.result(pid)
    assert outcome["status"] == "rejected" and outcome["code"] == "sku_exists"
    after = await Product.select(Product.sku, Product.price, Product.status).where(Product.sku == "P00001").first()
    assert after == seeded
    assert await Task.count().where(Task.process_id == pid) == 0

    assert check_listing(ListingRequest(merchant="M1", sku="PX1", name="x店", category="weapons", price=1, region="game-cards"))[0] == "unknown_category"
    assert check_listing(item, await actor("normal-east-china-1"))[0] == "out_of_region"
    assert check_listing(item, await actor("super-2")) is None


async def test_admin_who_enters_a_listing_cannot_approve_it(harness, demo):
    maker = await actor("normal-game-cards-1")
    item = await listing("game-cards", "point_card", 4_800, name="Q币卡50元")
    pid = await harness.start("product-listing", maker, item)
    await harness.wait_for(pid, lambda v: v.tasks)
    with pytest.raises(ProcessError) as own:
        await harness.act(pid, maker, "approve", {})
    assert own.value.code == "conflict_of_interest"
    result = await final(harness, pid, await actor("normal-game-cards-2"), "approve", {})
    assert result["status"] == "listed"
    started = await AuditEvent.select(AuditEvent.actor).where(
        (AuditEvent.process_id == pid) & (AuditEvent.action == "product-listing.started")
    ).first()
    assert started["actor"] == "normal-game-cards-1"


async def test_overdue_review_reminds_then_escalates_to_the_regional_admin(harness, demo):
    item = await listing("east-china", "topup", 9_800, name="中国电信话费100元")
    timings = {"product-listing.review": StepTiming(due=timedelta(hours=3), remind_before=timedelta(hours=1))}
    pid = await harness.start("product-listing", None, item, timings=timings)
    view = await harness.wait_for(pid, lambda v: v.tasks)
    task_id = view.tasks[0].task_id
    await harness.skip(timedelta(hours=2, minutes=30))
    await harness.wait_for(pid, lambda v: True)
    assert (await Task.select(Task.reminded).where(Task.task_id == task_id).first())["reminded"] is True
    await harness.skip(timedelta(hours=1))
    view = await harness.wait_for(pid, lambda v: v.tasks and v.tasks[0].escalations == 1)
    assert view.tasks[0].tier == "regional"
    with pytest.raises(ProcessError) as late:
        await harness.act(pid, await actor("normal-east-china-2"), "approve", {})
    assert late.value.code == "tier_too_low"
    result = await final(harness, pid, await actor("regional-east-china"), "approve", {})
    assert result["status"] == "listed"
    row = await Task.select().where(Task.task_id == task_id).first()
    assert row["escalated"] is True and row["decided_by"] == "regional-east-china"
    assert {"task.reminded", "task.escalated"} <= set(await audit_actions(pid))


async def test_an_ended_grant_does_not_let_a_normal_admin_list_in_another_region(harness, demo):
    now = await harness.env.get_current_time()
    ended = await _admin_with_grant("products.approve_listing", "mobile-topup", now - timedelta(days=2), now - timedelta(hours=1))
    active = await _admin_with_grant("products.approve_listing", "mobile-topup", now - timedelta(days=1), now + timedelta(days=1))
    item = await listing("mobile-topup", "topup", 2_000, name="中国联通话费20元")
    pid = await harness.start("product-listing", None, item)
    await harness.wait_for(pid, lambda v: v.tasks)
    with pytest.raises(ProcessError) as refused:
        await harness.act(pid, await actor(ended), "approve", {})
    assert refused.value.code in {"out_of_region", "grant_expired"}
    result = await final(harness, pid, await actor(active), "approve", {"reason": "临时支援话费组"})
    assert result["status"] == "listed" and result["decided_by"] == active


async def _admin_with_grant(permission: str, region: str, starts_at: datetime, ends_at: datetime) -> str:
    username = f"normal-east-china-l{uuid.uuid4().hex[:6]}"
    now = datetime.now(UTC)
    rows = await Admin.insert(
        Admin(
            username=username, display_name="测试支援管理员", tier="normal", regions=["east-china"], station_master=False,
            status="active", password_hash="-", password_changed_at=now, created_at=now,
        )
    ).returning(Admin.id)
    await PermissionGrant.insert(
        PermissionGrant(
            grant_id=f"test-grant-{uuid.uuid4().hex[:8]}", admin=rows[0]["id"], permission=permission, scope="region",
            regions=[region], starts_at=starts_at, ends_at=ends_at, approved_by="regional-mobile-topup",
            justification="测试临时支援", process_id="",
        )
    )
    return username
