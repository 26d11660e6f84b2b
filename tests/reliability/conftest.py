from __future__ import annotations

import os

import httpx
import pytest

from tests.reliability.drive import Admins, Tally
from tests.reliability.report import REPORT, SOAK
from tests.reliability.stack import Stack


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # type: ignore[no-untyped-def]
    if not REPORT.touched():
        return
    terminalreporter.section("Kameng reliability report" + (" (soak)" if SOAK else ""))
    for line in REPORT.render():
        terminalreporter.write_line(line)


@pytest.fixture
async def stack(demo, tmp_path):
    """Temporal, one worker and the web app as OS processes on this run's database."""
    stack = Stack(root=tmp_path, database_url=os.environ["KAMENG_DATABASE_URL"])
    try:
        await stack.start(workers=1)
        yield stack
    finally:
        stack.close()


@pytest.fixture
async def admins(stack):
    tally = Tally()
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=60) as client:
        admins = Admins(client, tally)
        yield admins
    await leave_no_trace(admins.started)


async def leave_no_trace(process_ids: list[str]) -> None:
    """The stack's Temporal goes with the test: close what its processes left open in the
    shared database, so later tests see the demo platform's own inboxes and grants."""
    from datetime import UTC, datetime

    from infra.db.tables import PermissionGrant, Task

    if not process_ids:
        return
    await Task.update({Task.status: "cancelled"}).where(Task.process_id.is_in(process_ids) & Task.status.is_in(["open", "claimed"]))
    await PermissionGrant.update({PermissionGrant.revoked_at: datetime.now(UTC)}).where(
        PermissionGrant.grant_id.is_in(process_ids) & PermissionGrant.revoked_at.is_null()
    )


@pytest.fixture
async def subjects(demo):
    """Live merchants, products, buyers and undisputed orders, by region."""
    from infra.db.tables import Buyer, Merchant, Order, Product

    merchants = await Merchant.select(Merchant.code, Merchant.region).where(Merchant.status == "active").order_by(Merchant.code)
    products = await Product.select(Product.sku, Product.region, Product.price).where(Product.status == "listed").order_by(Product.sku).limit(400)
    buyers = await Buyer.select(Buyer.code, Buyer.region).order_by(Buyer.code).limit(400)
    # Completed orders worth more than the example's partial refund.
    orders = await Order.select(Order.code, Order.region, Order.amount).where((Order.status == "completed") & (Order.amount >= 5_000)).order_by(Order.code, ascending=False).limit(3000)
    return {
        "merchant": [(m["code"], m["region"]) for m in merchants],
        "product": [(p["sku"], p["region"], p["price"]) for p in products],
        "buyer": [(b["code"], b["region"]) for b in buyers],
        "order": [(o["code"], o["region"], o["amount"]) for o in orders],
    }
