"""Audit test helpers: events to append, the head, and tampering with the trail on purpose
(and putting it back) for the tests that show verification catching it."""

from __future__ import annotations

import importlib
from contextlib import asynccontextmanager

from infra.db.audit import verify
from infra.db.tables import AuditEvent, AuditSeal
from workflows.domain.messages import AuditRecord

GUARD = importlib.import_module("infra.db.migrations.kameng_2026_11_22t04_12_13_000000")


def record(n: int, **extra) -> AuditRecord:
    return AuditRecord(actor=f"tester-{n}", actor_tier="normal", action="test.event", target=f"thing:{n}", outcome="allowed", **extra)


async def head() -> int:
    row = await AuditEvent.select(AuditEvent.seq).order_by(AuditEvent.seq, ascending=False).first()
    return row["seq"] if row else 0


async def run_sql(statements: list[str]) -> None:
    engine = AuditEvent._meta.db
    for statement in statements:
        await engine.run_ddl(statement)


@asynccontextmanager
async def tampering(mark: int):
    """Lift the database's append-only guard; afterwards put back every event from ``mark`` on
    and every seal exactly as they were, and the guard with them."""
    engine_type = AuditEvent._meta.db.engine_type
    events = await AuditEvent.select().where(AuditEvent.seq >= mark)
    seals = await AuditSeal.select()
    await run_sql(GUARD.drop_append_only_sql(engine_type))
    try:
        yield
    finally:
        await AuditEvent.delete().where((AuditEvent.seq >= mark) | (AuditEvent.seq < 1))
        if events:
            await AuditEvent.insert(*(AuditEvent(**row) for row in events))
        await AuditSeal.delete(force=True)
        if seals:
            await AuditSeal.insert(*(AuditSeal(**row) for row in seals))
        await run_sql(GUARD.append_only_sql(engine_type))
    assert (await verify()).ok
