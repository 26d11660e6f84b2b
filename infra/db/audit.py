"""The audit trail: append-only, each event hashing the one before it."""

from __future__ import annotations

import hashlib
import logging
import time
from datetime import UTC, datetime
from typing import Any

import msgspec

from piccolo.querystring import QueryString

from infra.db.compiled import Param, compiled
from infra.db.engine import serialize_writers, write_transaction
from infra.db.tables import AuditEvent, AuditSeal
from infra.telemetry import observe_audit
from workflows.domain.messages import AuditRecord

log = logging.getLogger("kameng.audit")

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


def _fitted(record: AuditRecord) -> AuditRecord:
    """Each text clipped to its column, so what is hashed is what the database keeps (and a
    long value from a request cannot make the write fail on PostgreSQL). A deduplication key
    longer than its column is kept as its digest (``dedup_key_for``): clipped, two keys that
    differ only at their ends would pass for one."""
    limits = {name: column.length for name in _CLIPPED if (column := getattr(AuditEvent, name, None)) is not None}
    clipped = {name: value[:limit] for name, limit in limits.items()
               if isinstance(value := getattr(record, name), str) and len(value) > limit}
    if record.dedup_key is not None and (key := dedup_key_for(record.dedup_key)) != record.dedup_key:
        clipped["dedup_key"] = key
    return msgspec.structs.replace(record, **clipped) if clipped else record


def dedup_key_for(key: str) -> str:
    """How a deduplication key is stored: as it is when it fits its column, else
    ``sha256:<hex digest>`` (the same key always the same digest, so a retry still finds it)."""
    if len(key) <= AuditEvent.dedup_key.length:
        return key
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


_CLIPPED = ("actor", "actor_tier", "action", "target", "region", "scope", "source", "outcome", "process_id")


_HEAD = compiled(
    lambda: AuditEvent.select(
        AuditEvent.seq,
        AuditEvent.hash,
        QueryString("(SELECT seen.seq FROM audit_event seen WHERE seen.dedup_key = {})", Param("key")).as_alias("seen"),
    )
    .order_by(AuditEvent.seq, ascending=False)
    .first()
)
"""The head of the chain, and the event already written under the deduplication key (if
any), in one statement: none when the trail is empty."""


async def _append(record: AuditRecord) -> tuple[int, bool]:
    record = _fitted(record)
    at = record.at or datetime.now(UTC)
    async with write_transaction():
        await serialize_writers(AUDIT_LOCK_KEY)
        head = await _HEAD.first(key=record.dedup_key)
        if head is not None and head["seen"] is not None:
            return head["seen"], False
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


class SealRead(msgspec.Struct, frozen=True):
    id: int
    seq: int
    head_hash: str
    events: int
    sealed_at: datetime
    key_id: str


class Verification(msgspec.Struct, frozen=True):
    ok: bool
    events: int
    first_bad: int | None = None
    """The first event that does not hold: edited, missing, inserted or out of order."""
    problem: str | None = None
    seals: int = 0
    """Seals checked."""
    bad_seal: int | None = None
    """The seal (by id) that the trail or its signature contradicts."""
    latest_seal: SealRead | None = None


class SealBody(msgspec.Struct, frozen=True, kw_only=True):
    """What a seal signs, in its canonical encoding."""

    seq: int
    head_hash: str
    events: int
    sealed_at: str
    key_id: str


def seal_message(seq: int, head_hash: str, events: int, sealed_at: datetime, key_id: str) -> bytes:
    body = SealBody(seq=seq, head_hash=head_hash, events=events, sealed_at=_canonical_time(sealed_at), key_id=key_id)
    return _encoder.encode(body)


class AuditChainBroken(RuntimeError):
    """Sealing refused: the events since the previous seal do not verify."""


async def seal(now: datetime | None = None) -> SealRead:
    """Sign the chain's head (seq, hash, event count, time) with the current seal key and store it.

    A seal vouches only for a chain that holds: the previous seal must verify and still match
    the trail, and every event after it is checked (numbering, links, hashes) before the new
    head is signed; otherwise ``AuditChainBroken``. Only the events since the previous seal
    are read, and no lock is taken: the seal covers the head as the check found it.
    """
    from infra.audit_keys import key_id, signature_holds, signing_key, verification_keys

    key = signing_key()
    kid = key_id(key.public_key())
    start_seq, start_hash = 0, GENESIS
    previous = await AuditSeal.select().order_by(AuditSeal.id, ascending=False).first()
    if previous is not None:
        sealed = _seal_read(previous)
        message = seal_message(sealed.seq, sealed.head_hash, sealed.events, sealed.sealed_at, sealed.key_id)
        why = signature_holds(message, sealed.key_id, previous["signature"], verification_keys())
        if why is not None:
            raise AuditChainBroken(f"not sealing: the previous seal #{sealed.id} does not hold: {why}")
        if sealed.seq:
            row = await AuditEvent.select(AuditEvent.hash).where(AuditEvent.seq == sealed.seq).first()
            if row is None or row["hash"] != sealed.head_hash:
                raise AuditChainBroken(f"not sealing: event {sealed.seq} no longer matches seal #{sealed.id}")
        start_seq, start_hash = sealed.seq, sealed.head_hash
    walked = await _walk(start_seq, start_hash)
    if walked.broken is not None:
        raise AuditChainBroken(f"not sealing: event {walked.broken.first_bad}: {walked.broken.problem}")
    seq, head_hash = walked.last_seq, walked.last_hash
    events = await AuditEvent.count().where(AuditEvent.seq <= seq)
    sealed_at = now or datetime.now(UTC)
    signature = key.sign(seal_message(seq, head_hash, events, sealed_at, kid)).hex()
    row = AuditSeal(seq=seq, head_hash=head_hash, events=events, sealed_at=sealed_at, key_id=kid, signature=signature)
    await row.save()
    log.info("audit trail sealed at seq %d (%d events, head %s, key %s)", seq, events, head_hash, kid)
    return SealRead(id=row.id, seq=seq, head_hash=head_hash, events=events, sealed_at=sealed_at, key_id=kid)


async def latest_seal() -> SealRead | None:
    row = await AuditSeal.select().order_by(AuditSeal.id, ascending=False).first()
    return _seal_read(row) if row else None


def _seal_read(row: dict[str, Any]) -> SealRead:
    return msgspec.convert({k: row[k] for k in SealRead.__struct_fields__}, SealRead)


_WINDOW = 1024
"""How many recent hashes verification remembers, to tell inserted events from a broken link."""


class _Break(msgspec.Struct, frozen=True):
    first_bad: int
    problem: str
    bad_seal: int | None = None


class _Walked(msgspec.Struct, frozen=True):
    last_seq: int
    last_hash: str
    events: int
    broken: _Break | None = None


async def _walk(after_seq: int, after_hash: str, sealed_at_seq: dict[int, list[SealRead]] | None = None, batch: int = 5000) -> _Walked:
    """Check every event after ``after_seq`` (whose hash is ``after_hash``) in order: numbering,
    links and hashes, and the seals at their seq; stop at the first that does not hold.

    An edited event fails its hash; a deleted one leaves a gap (or, renumbered away, a broken
    link); inserted events are named by the first of them when the next genuine event still
    links past them; reordered events break the link where the order changes.
    """
    expected_prev, expected_seq, last_seq, count = after_hash, after_seq + 1, after_seq, 0
    recent: dict[str, int] = {}

    def broken(first_bad: int, problem: str, bad_seal: int | None = None) -> _Walked:
        return _Walked(last_seq, expected_prev, count, _Break(first_bad, problem, bad_seal))

    while True:
        query = AuditEvent.select().order_by(AuditEvent.seq).limit(batch)
        # From the start, the first batch has no lower bound: an event numbered below 1 is an insertion too.
        rows = await (query if after_seq == 0 and count == 0 else query.where(AuditEvent.seq > last_seq))
        if not rows:
            return _Walked(last_seq, expected_prev, count)
        for row in rows:
            row = {**row, "before": _json(row["before"]), "after": _json(row["after"])}
            seq = row["seq"]
            if seq < expected_seq:
                return broken(seq, f"event {seq} precedes the chain's first event: it was inserted")
            if seq > expected_seq:
                missing = expected_seq if seq == expected_seq + 1 else f"{expected_seq}..{seq - 1}"
                return broken(expected_seq, f"event {missing} is missing: deleted")
            if row["prev_hash"] != expected_prev:
                linked = recent.get(row["prev_hash"])
                if linked is not None:
                    return broken(linked + 1, f"events {linked + 1}..{seq - 1} were inserted: event {seq} links to event {linked}")
                return broken(seq, "link to the previous event is broken: an event before it was deleted or altered, or the order changed")
            if event_hash(chained_from_row(row)) != row["hash"]:
                return broken(seq, "the event's content does not match its hash: edited")
            for sealed in (sealed_at_seq or {}).get(seq, ()):
                if sealed.head_hash != row["hash"]:
                    return broken(seq, f"event {seq} differs from what seal #{sealed.id} sealed: the chain was rewritten", sealed.id)
            recent[row["hash"]] = seq
            if len(recent) > _WINDOW:
                del recent[next(iter(recent))]
            expected_prev, expected_seq, last_seq = row["hash"], seq + 1, seq
            count += 1


async def verify(batch: int = 5000) -> Verification:
    """Recompute the whole chain and check every seal; name the first event that does not hold.

    Truncating the tail leaves no trace in the chain itself: the seals catch it (the sealed
    seq is gone, or fewer events remain than were sealed), as they catch a chain rewritten
    with fresh hashes (a sealed event's hash changed) and forged seals (the signature).
    """
    from infra.audit_keys import SealKeyError, signature_holds, verification_keys

    seal_rows = await AuditSeal.select().order_by(AuditSeal.id)
    seals = [(_seal_read(r), r["signature"]) for r in seal_rows]
    latest = seals[-1][0] if seals else None
    sealed_at_seq: dict[int, list[SealRead]] = {}
    for found, _ in seals:
        sealed_at_seq.setdefault(found.seq, []).append(found)

    def bad(first_bad: int | None, problem: str, count: int, bad_seal: int | None = None) -> Verification:
        return Verification(False, count, first_bad, problem, seals=len(seals), bad_seal=bad_seal, latest_seal=latest)

    walked = await _walk(0, GENESIS, sealed_at_seq, batch)
    last_seq, count = walked.last_seq, walked.events
    if walked.broken is not None:
        return bad(walked.broken.first_bad, walked.broken.problem, count, walked.broken.bad_seal)
    try:
        keys = verification_keys()
    except SealKeyError as exc:
        return bad(None, f"the seal keys cannot be read: {exc}", count)
    for sealed, signature in seals:
        if sealed.seq > last_seq or sealed.events > count:
            return bad(last_seq + 1, f"the trail ends at event {last_seq} ({count} events), but seal #{sealed.id} sealed event {sealed.seq} ({sealed.events} events): truncated", count, sealed.id)
        why = signature_holds(seal_message(sealed.seq, sealed.head_hash, sealed.events, sealed.sealed_at, sealed.key_id), sealed.key_id, signature, keys)
        if why is not None:
            return bad(None, f"seal #{sealed.id}: {why}", count, sealed.id)
    return Verification(True, count, seals=len(seals), latest_seal=latest)


def _json(value: Any) -> Any:
    if isinstance(value, str):
        return msgspec.json.decode(value)
    return value
