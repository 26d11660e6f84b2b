"""Price changes on the time-skipping server, with the real database."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from activities.products import PriceChangeApply, ProductActivities
from infra.accounts import load_actor
from infra.db.tables import Admin, AuditEvent, Merchant, PermissionGrant, Product, ProductPriceChange, Task
from infra.temporal.processes import ProcessError
from workflows.domain.timing import StepTiming
from workflows.domain.policy import Subject, can
from workflows.price_change import SPEC, PriceChangeRequest, check_price_change

pytestmark = [pytest.mark.db, pytest.mark.timeout(60)]


async def actor(username: str):
    found = await load_actor(username, datetime.now(UTC) - timedelta(days=400))
    assert found is not None, username
    return found


async def new_product(region: str = "game-cards", category: str = "point_card", price: int = 9_600) -> str:
    code = "MP" + uuid.uuid4().hex[:8].upper()
    merchant = await Merchant.insert(
        Merchant(
            code=code, name=f"改价测试商行{code}", region=region, category=category, status="active",
            identity_number="91" + uuid.uuid4().hex[:16], contact_phone="13600000000", risk_score=0.1,
            joined_at=datetime.now(UTC), documents=[],
        )
    ).returning(Merchant.id)
    sku = "PC" + uuid.uuid4().hex[:8].upper()
    await Product.insert(
        Product(sku=sku, merchant=merchant[0]["id"], region=region, category=category, name="盛大一卡通100元", price=price, high_value=False, status="listed")
    )
    return sku


async def price(sku: str) -> int:
    return (await Product.select(Product.price).where(Product.sku == sku).first())["price"]


async def changes(sku: str) -> list[dict]:
    return await ProductPriceChange.select(
        ProductPriceChange.admin.username, ProductPriceChange.old_price, ProductPriceChange.new_price, ProductPriceChange.changed_at
    ).where(ProductPriceChange.product.sku == sku)


async def audit_actions(pid: str) -> list[str]:
    rows = await AuditEvent.select(AuditEvent.action).where(AuditEvent.process_id == pid).order_by(AuditEvent.seq)
    return [r["action"] for r in rows]

async def final(harness, pid: str, by, action: str, body=None, **kw) -> dict:
    """Act, then the process's outcome once it has finished."""
    await harness.act(pid, by, action, body, **kw)
    return await harness.result(pid)


def change(sku: str, new_price: int, reason: str = "渠道进价下调") -> PriceChangeRequest:
    return PriceChangeRequest(sku=sku, new_price=new_price, reason=reason)


async def test_normal_admins_change_waits_for_the_regional_admin_then_takes_effect(harness, demo):
    sku = await new_product()
    proposer = await actor("normal-game-cards-1")
    pid = await harness.start("price-change", proposer, change(sku, 9_200), key="k1")
    assert pid == f"price-change-{sku}-k1"
    view = await harness.wait_for(pid, lambda v: v.tasks)
    task = view.tasks[0]
    assert (task.step, task.tier, task.region) == ("confirm", "regional", "game-cards")
    assert task.evidence["old_price_yuan"] == "96.00" and task.evidence["new_price_yuan"] == "92.00"
    assert await price(sku) == 9_600 and await changes(sku) == []

    with pytest.raises(ProcessError) as peer:
        await harness.act(pid, await actor("normal-game-cards-2"), "confirm", {})
    assert peer.value.code == "tier_too_low"
    with pytest.raises(ProcessError) as elsewhere:
        await harness.act(pid, await actor("regional-east-china"), "confirm", {})
    assert elsewhere.value.code == "out_of_region"

    result = await final(harness, pid, await actor("regional-game-cards"), "confirm", {"reason": "与进价调整一致"})
    assert result["status"] == "applied"
    assert result["old_price"] == 9_600 and result["new_price"] == 9_200
    assert result["changed_by"] == "normal-game-cards-1" and result["confirmed_by"] == "regional-game-cards"
    assert await price(sku) == 9_200
    [row] = await changes(sku)
    assert row["admin.username"] == "normal-game-cards-1" and (row["old_price"], row["new_price"]) == (9_600, 9_200)
    closed = await Task.select().where(Task.task_id == task.task_id).first()
    assert closed["status"] == "done" and closed["decided_by"] == "regional-game-cards"
    actions = await audit_actions(pid)
    assert actions[0] == "price-change.started"
    assert actions.index("price-change.proposed") < actions.index("price-change.confirm") < actions.index("price-change.applied")
    assert actions[-1] == "price-change.applied"


async def test_the_proposer_cannot_confirm_their_own_change(harness, demo):
    sku = await new_product("east-china", "topup", 4_900)
    proposer = await _admin("normal", "east-china")
    pid = await harness.start("price-change", await actor(proposer), change(sku, 4_700))
    await harness.wait_for(pid, lambda v: v.tasks)
    # Even promoted to the confirming tier, the proposer stays a party to the change.
    await Admin.update({Admin.tier: "regional"}).where(Admin.username == proposer)
    with pytest.raises(ProcessError) as own:
        await harness.act(pid, await actor(proposer), "confirm", {})
    assert own.value.code == "conflict_of_interest"
    assert await price(sku) == 4_900
    result = await final(harness, pid, await actor("regional-east-china"), "confirm", {})
    assert result["status"] == "applied" and result["changed_by"] == proposer


async def test_regional_and_super_change_prices_at_once_and_are_audited(harness, demo):
    sku = await new_product("mobile-topup", "topup", 9_800)
    pid = await harness.start("price-change", await actor("regional-mobile-topup"), change(sku, 9_700, "运营商活动"))
    outcome = await harness.result(pid)
    assert outcome["status"] == "applied" and outcome["confirmed_by"] == "regional-mobile-topup"
    assert await price(sku) == 9_700
    assert await Task.count().where(Task.process_id == pid) == 0
    assert "price-change.applied" in await audit_actions(pid)

    pid = await harness.start("price-change", await actor("super-3"), change(sku, 9_500, "平台统一调价"))
    outcome = await harness.result(pid)
    assert outcome["status"] == "applied" and outcome["old_price"] == 9_700
    history = sorted(await changes(sku), key=lambda r: r["changed_at"])
    assert [(r["admin.username"], r["old_price"], r["new_price"]) for r in history] == [
        ("regional-mobile-topup", 9_800, 9_700), ("super-3", 9_700, 9_500),
    ]


async def test_interns_and_admins_of_other_regions_are_refused(harness, demo):
    sku = await new_product("game-cards")
    intern = await actor("intern-game-cards-1")
    assert check_price_change(change(sku, 9_000), intern)[0] == "no_permission"
    assert check_price_change(change(sku, 9_000), None)[0] == "admin_required"
    assert check_price_change(change(sku, 9_000), await actor("normal-game-cards-1")) is None
    regional = await actor("regional-game-cards")
    assert check_price_change(change(sku, 9_000), regional) is None
    assert can(regional, SPEC.start_permission, Subject(kind="price-change", owners=(regional.id,)), now=datetime.now(UTC))

    pid = await harness.start("price-change", intern, change(sku, 9_000))
    outcome = await harness.result(pid)
    assert outcome["status"] == "rejected" and outcome["code"] == "no_permission"
    pid2 = await harness.start("price-change", await actor("regional-east-china"), change(sku, 9_000))
    outcome = await harness.result(pid2)
    assert outcome["status"] == "rejected" and outcome["code"] == "out_of_region"
    pid3 = await harness.start("price-change", await actor("normal-east-china-1"), change(sku, 9_000))
    assert (await harness.result(pid3))["code"] == "out_of_region"
    assert await price(sku) == 9_600 and await changes(sku) == []
    assert await Task.count().where(Task.process_id.is_in([pid, pid2, pid3])) == 0
    denied = await AuditEvent.select(AuditEvent.actor).where((AuditEvent.process_id == pid) & (AuditEvent.action == "price-change.denied")).first()
    assert denied["actor"] == "intern-game-cards-1"

    same = await harness.start("price-change", await actor("regional-game-cards"), change(sku, 9_600))
    assert (await harness.result(same))["code"] == "no_change"
    missing = await harness.start("price-change", await actor("super-2"), change("PC-NOPE", 100))
    assert (await harness.result(missing))["code"] == "no_product"


async def test_regional_rejects_and_the_price_stays(harness, demo):
    sku = await new_product()
    pid = await harness.start("price-change", await actor("normal-game-cards-2"), change(sku, 4_000, "清仓"))
    await harness.wait_for(pid, lambda v: v.tasks)
    result = await final(harness, pid, await actor("regional-game-cards"), "reject", {"reason": "降价幅度过大"})
    assert result["status"] == "rejected" and result["decided_by"] == "regional-game-cards"
    assert await price(sku) == 9_600 and await changes(sku) == []
    assert (await audit_actions(pid))[-1] == "price-change.rejected"


async def test_unconfirmed_change_reminds_then_escalates_to_a_super(harness, demo):
    sku = await new_product("game-items", "game_item", 20_000)
    timings = {"price-change.confirm": StepTiming(due=timedelta(hours=2), remind_before=timedelta(minutes=30))}
    pid = await harness.start("price-change", await actor("normal-game-items-1"), change(sku, 18_000), timings=timings)
    view = await harness.wait_for(pid, lambda v: v.tasks)
    task_id = view.tasks[0].task_id
    assert (await harness.task_row(pid))["priority"] == 30
    await harness.skip(timedelta(hours=1, minutes=45))
    await harness.wait_for(pid, lambda v: True)
    assert (await Task.select(Task.reminded).where(Task.task_id == task_id).first())["reminded"] is True
    await harness.skip(timedelta(minutes=30))
    view = await harness.wait_for(pid, lambda v: v.tasks and v.tasks[0].escalations == 1)
    assert view.tasks[0].tier == "super"
    assert (await Task.select(Task.priority).where(Task.task_id == task_id).first())["priority"] == 50  # raised by the escalation
    with pytest.raises(ProcessError) as late:
        await harness.act(pid, await actor("regional-game-items"), "confirm", {})
    assert late.value.code == "tier_too_low"
    result = await final(harness, pid, await actor("super-2"), "confirm", {})
    assert result["status"] == "applied" and await price(sku) == 18_000
    row = await Task.select().where(Task.task_id == task_id).first()
    assert row["escalated"] is True and "regional to super" in row["escalation_reason"]


async def test_a_grant_of_confirmation_authorizes_only_while_it_lasts(harness, demo):
    now = await harness.env.get_current_time()
    holder = await _admin("normal", "game-cards", grant=("products.confirm_price_change", now - timedelta(days=1), now + timedelta(hours=1)))
    loaded = await actor(holder)
    assert [g.permission for g in loaded.grants] == ["products.confirm_price_change"]

    sku = await new_product()
    pid = await harness.start("price-change", await actor("normal-game-cards-1"), change(sku, 9_300))
    await harness.wait_for(pid, lambda v: v.tasks)
    await harness.skip(timedelta(hours=1, minutes=30))  # the grant ends; the task is still open
    await harness.wait_for(pid, lambda v: v.tasks)
    with pytest.raises(ProcessError) as expired:
        await harness.act(pid, loaded, "confirm", {})
    assert expired.value.code == "grant_expired"
    assert await price(sku) == 9_600
    result = await final(harness, pid, await actor("regional-game-cards"), "confirm", {})
    assert result["confirmed_by"] == "regional-game-cards" and await price(sku) == 9_300

    # While a grant lasts, its holder is named on the task and may confirm.
    now = await harness.env.get_current_time()
    current = await _admin("normal", "game-cards", grant=("products.confirm_price_change", now - timedelta(hours=1), now + timedelta(days=2)))
    sku2 = await new_product()
    pid2 = await harness.start("price-change", await actor("normal-game-cards-2"), change(sku2, 9_400))
    await harness.wait_for(pid2, lambda v: v.tasks)
    assert current in (await harness.task_row(pid2))["candidates"]
    result = await final(harness, pid2, await actor(current), "confirm", {"reason": "临时代为确认"})
    assert result["status"] == "applied" and result["confirmed_by"] == current


async def test_applying_a_change_twice_writes_one_row(database, demo):
    sku = await new_product()
    at = datetime.now(UTC).replace(microsecond=123000)
    apply = PriceChangeApply(sku=sku, new_price=8_800, admin="regional-game-cards", at=at)
    activities = ProductActivities()
    first = await activities.apply_price_change(apply)
    second = await activities.apply_price_change(apply)
    assert first == second and (first.old_price, first.new_price) == (9_600, 8_800)
    assert len(await changes(sku)) == 1 and await price(sku) == 8_800


async def _admin(tier: str, region: str, *, grant: tuple[str, datetime, datetime] | None = None) -> str:
    username = f"{tier}-{region}-p{uuid.uuid4().hex[:6]}"
    now = datetime.now(UTC)
    rows = await Admin.insert(
        Admin(
            username=username, display_name="改价测试管理员", tier=tier, regions=[region], station_master=False,
            status="active", password_hash="-", password_changed_at=now, created_at=now,
        )
    ).returning(Admin.id)
    if grant is not None:
        permission, starts_at, ends_at = grant
        await PermissionGrant.insert(
            PermissionGrant(
                grant_id=f"test-grant-{uuid.uuid4().hex[:8]}", admin=rows[0]["id"], permission=permission, scope="region",
                regions=[], starts_at=starts_at, ends_at=ends_at, approved_by=f"regional-{region}",
                justification="大促期间临时代为确认改价", process_id="",
            )
        )
    return username
