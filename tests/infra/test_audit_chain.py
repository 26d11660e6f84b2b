"""The audit trail chains each event to the one before; verification names the first bad one."""

from __future__ import annotations

import asyncio

import pytest

from infra.db.audit import append, verify
from infra.db.tables import AuditEvent
from workflows.domain.messages import AuditRecord

pytestmark = pytest.mark.db


def record(n: int, **extra) -> AuditRecord:
    return AuditRecord(actor=f"tester-{n}", actor_tier="normal", action="test.event", target=f"thing:{n}", outcome="allowed", **extra)


async def test_chain_verifies_and_concurrent_writers_never_fork_it(database):
    await asyncio.gather(*(append(record(n)) for n in range(40)))
    result = await verify()
    assert result.ok, result
    seqs = [r["seq"] for r in await AuditEvent.select(AuditEvent.seq).order_by(AuditEvent.seq)]
    assert seqs == list(range(1, len(seqs) + 1))


async def test_dedup_key_records_once(database):
    first = await append(record(1, dedup_key="once-only"))
    again = await append(record(1, dedup_key="once-only"))
    assert first == again
    assert await AuditEvent.count().where(AuditEvent.dedup_key == "once-only") == 1


async def test_an_edited_event_is_named(database):
    seq = await append(record(99, reason="original"))
    await append(record(100))
    await AuditEvent.update({AuditEvent.reason: "edited"}).where(AuditEvent.seq == seq)
    try:
        result = await verify()
        assert not result.ok and result.first_bad == seq
    finally:
        await AuditEvent.update({AuditEvent.reason: "original"}).where(AuditEvent.seq == seq)
    assert (await verify()).ok
