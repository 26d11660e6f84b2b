from __future__ import annotations

import os

import httpx
import pytest

from tests.reliability.drive import Admins, Tally
from tests.reliability.report import REPORT, SOAK
from infra.stack import Stack


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # type: ignore[no-untyped-def]
    if not REPORT.touched():
        return
    terminalreporter.section("Kameng reliability report" + (" (soak)" if SOAK else ""))
    for line in REPORT.render():
        terminalreporter.write_line(line)


@pytest.fixture(scope="session")
async def shared_stack(demo, tmp_path_factory):
    """Temporal, one worker and the web app as OS processes on this run's database, started
    once for the tests that drive the product over HTTP (starting them is most of a short
    test's time)."""
    stack = Stack(root=tmp_path_factory.mktemp("stack"), database_url=os.environ["KAMENG_DATABASE_URL"])
    try:
        await stack.start(workers=1)
        yield stack
    finally:
        stack.close()


@pytest.fixture
async def stack(shared_stack):
    """The shared stack with every part running (a test before may have killed or stopped
    one), and with no process of an earlier test still running in its Temporal."""
    await shared_stack.ensure_running()
    await end_processes(shared_stack)
    yield shared_stack
    if shared_stack.temporal is not None and shared_stack.temporal.running():
        await end_processes(shared_stack)


@pytest.fixture
async def admins(stack):
    tally = Tally()
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=60) as client:
        admins = Admins(client, tally)
        yield admins
    await leave_no_trace(admins.started)


async def end_processes(stack: Stack) -> None:
    """Terminate every process a test left running in the stack's Temporal (its standing
    workflows excepted): the next test starts, as on a fresh stack, with none of them."""
    from infra.temporal.client import connect
    from infra.temporal.schedules import STANDING

    client = await connect(address=stack.temporal_address)
    standing = {s.workflow_id for s in STANDING}
    async for execution in client.list_workflows("ExecutionStatus = 'Running'"):
        if execution.id not in standing:
            try:
                await client.get_workflow_handle(execution.id, run_id=execution.run_id).terminate("test finished")
            except Exception:  # finished meanwhile: nothing to end
                pass


async def leave_no_trace(process_ids: list[str]) -> None:
    """A test's processes end with it: close what they left open in the shared database, so
    later tests see the demo platform's own inboxes and grants."""
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
