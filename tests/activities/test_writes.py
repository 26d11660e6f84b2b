"""The batch of a process step's writes: all of them in order, or none."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import msgspec
import pytest
from temporalio.exceptions import ApplicationError

from activities.grants import GrantActivation
from activities.writes import WriteActivities
from infra.db.tables import AuditEvent, PermissionGrant
from workflows.domain.messages import AuditRecord
from workflows.process import Write, WriteBatch

pytestmark = pytest.mark.db


def write(name: str, arg) -> Write:  # type: ignore[no-untyped-def]
    return Write(name=name, arg=msgspec.Raw(msgspec.json.encode(arg)))


def audit(pid: str, action: str) -> AuditRecord:
    return AuditRecord(actor="system", actor_tier="system", action=action, target=f"process:{pid}", outcome="ok",
                       process_id=pid, at=datetime.now(UTC), dedup_key=f"{pid}:{action}")


def grant(pid: str, username: str) -> GrantActivation:
    now = datetime.now(UTC)
    return GrantActivation(grant_id=pid, username=username, permission="users.view_sensitive", scope="region",
                           regions=("east-china",), starts_at=now, ends_at=now + timedelta(hours=1), approved_by="super-1",
                           justification="测试", process_id=pid)


async def test_a_batch_writes_everything_in_order_and_again_writes_nothing_twice(demo):
    pid = f"permission-grant-test-{uuid.uuid4().hex[:8]}"
    batch = WriteBatch(writes=(write("write_audit", audit(pid, "a.first")), write("activate_grant", grant(pid, "normal-east-china-1")),
                               write("write_audit", audit(pid, "a.second"))))
    await WriteActivities().apply_writes(batch)
    await WriteActivities().apply_writes(batch)  # a retry
    rows = await AuditEvent.select(AuditEvent.action).where(AuditEvent.process_id == pid).order_by(AuditEvent.seq)
    assert [r["action"] for r in rows] == ["a.first", "a.second"]
    assert await PermissionGrant.count().where(PermissionGrant.grant_id == pid) == 1


async def test_a_batch_that_fails_part_way_writes_nothing(demo):
    pid = f"permission-grant-test-{uuid.uuid4().hex[:8]}"
    batch = WriteBatch(writes=(write("write_audit", audit(pid, "a.first")), write("activate_grant", grant(pid, "no-such-admin"))))
    with pytest.raises(ValueError, match="no admin"):
        await WriteActivities().apply_writes(batch)
    assert not await AuditEvent.exists().where(AuditEvent.process_id == pid)


async def test_a_write_that_cannot_be_deferred_is_refused_for_good(demo):
    pid = f"permission-grant-test-{uuid.uuid4().hex[:8]}"
    batch = WriteBatch(writes=(write("write_audit", audit(pid, "a.first")), write("load_risk_rule", "brushing")))
    with pytest.raises(ApplicationError) as refused:
        await WriteActivities().apply_writes(batch)
    assert refused.value.non_retryable and refused.value.type == "unknown_write"
    assert not await AuditEvent.exists().where(AuditEvent.process_id == pid)


async def test_a_batch_leaves_a_process_row_as_its_events_one_by_one_would(demo):
    """A batch reads and writes each process's row once; the row ends as if every event had
    been applied in turn (latest action, parties in order of joining, the end)."""
    from activities.audit import AuditActivities
    from infra.db.tables import ProcessState

    def events(pid: str) -> list[AuditRecord]:
        at = datetime.now(UTC)
        return [
            AuditRecord(actor="normal-east-china-1", actor_tier="normal", action="permission-grant.started", target=f"process:{pid}",
                        outcome="started", process_id=pid, at=at, dedup_key=f"{pid}:permission-grant.started:run"),
            AuditRecord(actor="regional-east-china", actor_tier="regional", action="permission-grant.approve", target=f"task:{pid}:approve:1",
                        outcome="done", process_id=pid, at=at + timedelta(seconds=1), dedup_key=f"{pid}:approve"),
            AuditRecord(actor="super-2", actor_tier="super", action="permission-grant.noted", target=f"process:{pid}",
                        outcome="noted", process_id=pid, at=at + timedelta(seconds=2), dedup_key=f"{pid}:noted"),
            AuditRecord(actor="system", actor_tier="system", action="permission-grant.expired", target=f"process:{pid}",
                        outcome="expired", process_id=pid, at=at + timedelta(seconds=3), after={"status": "expired"},
                        dedup_key=f"{pid}:finished:run"),
        ]

    one_by_one, batched = (f"permission-grant-test-{uuid.uuid4().hex[:8]}" for _ in range(2))
    for record in events(one_by_one):
        await AuditActivities().write_audit(record)
    await WriteActivities().apply_writes(WriteBatch(writes=tuple(write("write_audit", r) for r in events(batched))))

    columns = (ProcessState.status, ProcessState.step, ProcessState.parties, ProcessState.last_action, ProcessState.last_outcome,
               ProcessState.result, ProcessState.started_by)
    expected = await ProcessState.select(*columns).where(ProcessState.process_id == one_by_one).first()
    got = await ProcessState.select(*columns).where(ProcessState.process_id == batched).first()
    assert expected == got
    assert got["parties"] == ["normal-east-china-1", "regional-east-china", "super-2"] and got["status"] == "expired"
    assert got["last_action"] == "permission-grant.expired" and got["step"] == "finished"
