"""The personal report's satisfaction: settled disputes the admin decided that neither party appealed."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from infra.db.reports import personal_figures
from infra.db.tables import Dispute, Order, Task

pytestmark = [pytest.mark.db, pytest.mark.timeout(120)]


async def decided_dispute(admin: str, order_id: int, *, step: str = "mediate", settled: bool = True, appeal: dict | None = None) -> None:
    pid = f"dispute-test-{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC)
    await Task.insert(
        Task(task_id=f"{pid}:{step}:1", kind="dispute", process_id=pid, step=step, title="纠纷调解", tier="normal",
             region="game-cards", candidates=[], excluded=[], status="done", actions=[], evidence={},
             decided_by=admin, created_at=now - timedelta(days=2), closed_at=now - timedelta(days=1))
    )
    resolution = {"outcome": "resolved", "decided_by": admin, "appeal": appeal, "refund": {"status": "none", "amount": 0} if settled else None}
    await Dispute.insert(
        Dispute(code=f"DT{uuid.uuid4().hex[:8]}", order=order_id, region="game-cards", status="resolved", reason="未到账",
                opened_at=now - timedelta(days=3), process_id=pid, resolution=resolution)
    )


async def test_satisfaction_counts_settled_disputes_without_an_appeal(demo):
    admin = f"normal-satisfaction-{uuid.uuid4().hex[:6]}"
    empty = await personal_figures(admin, "normal", ("game-cards",), datetime.now(UTC) - timedelta(days=30))
    assert (empty.disputes_settled, empty.satisfaction) == (0, None)

    order = (await Order.select(Order.id).where(Order.region == "game-cards").first())["id"]
    await decided_dispute(admin, order)
    await decided_dispute(admin, order, step="rule")
    await decided_dispute(admin, order)
    await decided_dispute(admin, order, appeal={"appellant": "buyer", "reason": "退款太少"})
    await decided_dispute(admin, order, settled=False)  # still in its appeal window: not counted yet
    figures = await personal_figures(admin, "normal", ("game-cards",), datetime.now(UTC) - timedelta(days=30))
    assert (figures.disputes_settled, figures.disputes_unappealed, figures.satisfaction) == (4, 3, 0.75)
    assert figures.tasks_decided == 5
