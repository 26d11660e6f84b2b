"""The audit trail: append-only, each event hashing the one before it."""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime
from typing import Any

import msgspec

from infra.db.engine import serialize_writers, write_transaction
from infra.db.tables import AuditEvent
from infra.telemetry import observe_audit
from workflows.domain.messages import AuditRecord

GENESIS = "0" * 64
AUDIT_LOCK_KEY = 7_401_001


class ChainedEvent(msgspec.Struct, frozen=True, kw_only=True):
    """The canonical form that is hashed: field order is part of the format."""

    seq: int
    at: str
    actor: str
    actor_tier: str
    action: str
    target: str
    region: str | None
    scope: str | None
    source: str
    outcome: str
    reason: str
    before: Any
    after: Any
    process_id: str | None
    prev_hash: str


_encoder = msgspec.json.Encoder(order="sorted")


def _canonical_time(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event_hash(event: ChainedEvent) -> str:
    return hashlib.sha256(_encoder.encode(event)).hexdigest()


def chained_from_row(row: dict[str, Any]) -> ChainedEvent:
    return ChainedEvent(
        seq=row["seq"],
        at=_canonical_time(row["at"]),
        actor=row["actor"],
        actor_tier=row["actor_tier"],
        action=row["action"],
        target=row["target"],
        region=row["region"],
        scope=row["scope"],
        source=row["source"],
        outcome=row["outcome"],
        reason=row["reason"],
        before=row["before"],
        after=row["after"],
        process_id=row["process_id"],
        prev_hash=row["prev_hash"],
    )


async def append(record: AuditRecord) -> int:
    """Write one event at the head of the chain; returns its sequence number.

    With a ``dedup_key`` already on the trail, nothing is written and its number returns.
    Its latency and what it counts (starts, completions, escalations, denials) are metrics.
    """
    started = time.perf_counter()
    seq, written = await _append(record)
    observe_audit(record, time.perf_counter() - started, written=written)
    return seq


async def _append(record: AuditRecord) -> tuple[int, bool]:
    at = record.at or datetime.now(UTC)
    async with write_transaction():
        await serialize_writers(AUDIT_LOCK_KEY)
        if record.dedup_key is not None:
            seen = await AuditEvent.select(AuditEvent.seq).where(AuditEvent.dedup_key == record.dedup_key).first()
            if seen is not None:
                return seen["seq"], False
        head = (
            await AuditEvent.select(AuditEvent.seq, AuditEvent.hash)
            .order_by(AuditEvent.seq, ascending=False)
            .first()
        )
        seq, prev = (head["seq"] + 1, head["hash"]) if head else (1, GENESIS)
        chained = ChainedEvent(
            seq=seq,
            at=_canonical_time(at),
            actor=record.actor,
            actor_tier=record.actor_tier,
            action=record.action,
            target=record.target,
            region=record.region,
            scope=record.scope,
            source=record.source,
            outcome=record.outcome,
            reason=record.reason,
            before=_plain(record.before),
            after=_plain(record.after),
            process_id=record.process_id,
            prev_hash=prev,
        )
        await AuditEvent.insert(
            AuditEvent(
                seq=seq,
                at=at,
                actor=record.actor,
                actor_tier=record.actor_tier,
                action=record.action,
                target=record.target,
                region=record.region,
                scope=record.scope,
                source=record.source,
                outcome=record.outcome,
                reason=record.reason,
                before=chained.before,
                after=chained.after,
                process_id=record.process_id,
                prev_hash=prev,
                hash=event_hash(chained),
                dedup_key=record.dedup_key,
            )
        )
    return seq, True


def _plain(value: Any) -> Any:
    """JSON round trip, so the hashed form equals what the database gives back."""
    return None if value is None else msgspec.json.decode(msgspec.json.encode(value))


class Verification(msgspec.Struct, frozen=True):
    ok: bool
    events: int
    first_bad: int | None = None
    problem: str | None = None


async def verify(batch: int = 5000) -> Verification:
    """Recompute the chain; name the first event whose hash or link does not hold."""
    expected_prev, expected_seq, count, last_seq = GENESIS, 1, 0, 0
    while True:
        rows = (
            await AuditEvent.select()
            .where(AuditEvent.seq > last_seq)
            .order_by(AuditEvent.seq)
            .limit(batch)
        )
        if not rows:
            return Verification(True, count)
        for row in rows:
            row = {**row, "before": _json(row["before"]), "after": _json(row["after"])}
            if row["seq"] != expected_seq:
                return Verification(False, count, expected_seq, f"sequence gap: expected {expected_seq}, found {row['seq']}")
            if row["prev_hash"] != expected_prev:
                return Verification(False, count, row["seq"], "link to the previous event is broken")
            if event_hash(chained_from_row(row)) != row["hash"]:
                return Verification(False, count, row["seq"], "the event's content does not match its hash")
            expected_prev, expected_seq, last_seq = row["hash"], row["seq"] + 1, row["seq"]
            count += 1


def _json(value: Any) -> Any:
    if isinstance(value, str):
        return msgspec.json.decode(value)
    return value
