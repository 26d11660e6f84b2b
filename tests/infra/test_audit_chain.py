"""The audit trail chains each event to the one before, seals its head, and verification names
the first bad event for an edit, a deletion, an insertion or a reordering."""

from __future__ import annotations

import asyncio
import os
import sys
import textwrap
from datetime import UTC, datetime

import pytest

from activities.audit import AuditActivities as SealActivities, SealAuditResult
from infra.db.audit import GENESIS, AuditChainBroken, append, chained_from_row, event_hash, seal, verify
from infra.db.tables import AuditEvent, AuditSeal
from tests.audit_helpers import head, record, tampering

pytestmark = pytest.mark.db


async def test_chain_verifies_and_concurrent_writers_never_fork_it(database):
    await asyncio.gather(*(append(record(n)) for n in range(40)))
    result = await verify()
    assert result.ok, result
    seqs = [r["seq"] for r in await AuditEvent.select(AuditEvent.seq).order_by(AuditEvent.seq)]
    assert seqs == list(range(1, len(seqs) + 1))


@pytest.mark.timeout(180)
async def test_writers_in_several_processes_never_fork_the_chain(database):
    """Three OS processes, each with twenty concurrent writers, on the same database."""
    before = await head()
    script = textwrap.dedent(
        """
        import asyncio, sys
        from infra.db.audit import append
        from infra.db.engine import bind_tables, close_pool, start_pool
        from workflows.domain.messages import AuditRecord

        async def main(worker):
            bind_tables()
            await start_pool()
            try:
                await asyncio.gather(*(
                    append(AuditRecord(actor=f"writer-{worker}", actor_tier="normal", action="test.parallel",
                                       target=f"thing:{worker}-{n}", outcome="allowed"))
                    for n in range(20)
                ))
            finally:
                await close_pool()

        asyncio.run(main(sys.argv[1]))
        """
    )
    processes = [
        await asyncio.create_subprocess_exec(sys.executable, "-c", script, str(worker), env=os.environ.copy())
        for worker in range(3)
    ]
    codes = await asyncio.gather(*(p.wait() for p in processes))
    assert codes == [0, 0, 0]
    seqs = [r["seq"] for r in await AuditEvent.select(AuditEvent.seq).order_by(AuditEvent.seq)]
    assert seqs == list(range(1, len(seqs) + 1))
    assert await AuditEvent.count().where(AuditEvent.action == "test.parallel") == 60
    assert await head() >= before + 60
    result = await verify()
    assert result.ok, result


async def test_dedup_key_records_once(database):
    first = await append(record(1, dedup_key="once-only"))
    again = await append(record(1, dedup_key="once-only"))
    assert first == again
    assert await AuditEvent.count().where(AuditEvent.dedup_key == "once-only") == 1


async def test_a_long_dedup_key_is_kept_as_its_digest_and_still_records_once(database):
    """A key longer than its column (a long process id in it) is stored as its digest: the
    write does not fail on PostgreSQL, a retry finds it, and a key differing only at its end
    is a different key."""
    from infra.db.audit import dedup_key_for

    long_key = "risk-review-" + "x" * 190 + ":finished:1"
    first = await append(record(1, dedup_key=long_key))
    assert await append(record(1, dedup_key=long_key)) == first
    other = await append(record(1, dedup_key=long_key[:-1] + "2"))
    assert other != first
    stored = await AuditEvent.select(AuditEvent.dedup_key).where(AuditEvent.seq == first).first()
    assert stored["dedup_key"] == dedup_key_for(long_key) and stored["dedup_key"].startswith("sha256:")
    assert dedup_key_for("short:key") == "short:key"
    assert (await verify()).ok


async def test_the_database_refuses_to_change_or_remove_events(database):
    seq = await append(record(7))
    with pytest.raises(Exception, match="append-only"):
        await AuditEvent.update({AuditEvent.reason: "edited"}).where(AuditEvent.seq == seq)
    with pytest.raises(Exception, match="append-only"):
        await AuditEvent.delete().where(AuditEvent.seq == seq)
    sealed = await seal()
    with pytest.raises(Exception, match="append-only"):
        await AuditSeal.update({AuditSeal.events: 0}).where(AuditSeal.id == sealed.id)
    assert (await AuditEvent.select(AuditEvent.reason).where(AuditEvent.seq == seq).first())["reason"] == ""


async def test_an_edited_event_is_named(database):
    seq = await append(record(99, reason="original"))
    await append(record(100))
    async with tampering(seq):
        await AuditEvent.update({AuditEvent.reason: "edited"}).where(AuditEvent.seq == seq)
        result = await verify()
        assert not result.ok and result.first_bad == seq and "edited" in result.problem


async def test_a_deleted_event_is_named(database):
    first = await append(record(1))
    await append(record(2))
    await append(record(3))
    async with tampering(first):
        await AuditEvent.delete().where(AuditEvent.seq == first + 1)
        result = await verify()
        assert not result.ok and result.first_bad == first + 1 and "missing" in result.problem
    async with tampering(first):
        # Deleted, and the later events renumbered to close the gap.
        await AuditEvent.delete().where(AuditEvent.seq == first + 1)
        await AuditEvent.update({AuditEvent.seq: first + 1}).where(AuditEvent.seq == first + 2)
        result = await verify()
        assert not result.ok and result.first_bad == first + 1 and "link" in result.problem


def forge(seq: int, prev_hash: str, **fields) -> AuditEvent:
    """An event a forger would write: correctly linked and hashed."""
    row = {
        "seq": seq, "at": datetime.now(UTC), "actor": "forger",
        "actor_tier": "super", "action": "funds.approve", "target": "fund:forged", "region": None, "scope": None,
        "source": "", "outcome": "allowed", "reason": "", "before": None, "after": None, "process_id": None,
        "prev_hash": prev_hash, **fields,
    }
    return AuditEvent(**row, hash=event_hash(chained_from_row(row)))


async def test_an_inserted_event_is_named(database):
    first = await append(record(1))
    await append(record(2))
    await append(record(3))
    async with tampering(first):
        # Room made after ``first`` (from the top down: seq is unique), a well-forged event put in.
        for seq in range(await head(), first, -1):
            await AuditEvent.update({AuditEvent.seq: seq + 1}).where(AuditEvent.seq == seq)
        prev = (await AuditEvent.select(AuditEvent.hash).where(AuditEvent.seq == first).first())["hash"]
        await AuditEvent.insert(forge(first + 1, prev))
        result = await verify()
        assert not result.ok and result.first_bad == first + 1 and "inserted" in result.problem
    async with tampering(first):
        await AuditEvent.insert(forge(0, GENESIS))
        result = await verify()
        assert not result.ok and result.first_bad == 0 and "inserted" in result.problem


async def test_reordered_events_are_named(database):
    first = await append(record(1))
    for n in range(2, 5):
        await append(record(n))
    async with tampering(first):
        # Swap the sequence numbers of the 2nd and 4th events (through a free number).
        a, b = first + 1, first + 3
        await AuditEvent.update({AuditEvent.seq: -1}).where(AuditEvent.seq == a)
        await AuditEvent.update({AuditEvent.seq: a}).where(AuditEvent.seq == b)
        await AuditEvent.update({AuditEvent.seq: b}).where(AuditEvent.seq == -1)
        result = await verify()
        assert not result.ok and result.first_bad == a and "order" in result.problem


async def test_seals_catch_truncation_and_a_rewritten_chain(database):
    first = await append(record(1))
    last = await append(record(2))
    sealed = await seal()
    assert sealed.seq == last and sealed.events == last
    result = await verify()
    assert result.ok and result.seals >= 1 and result.latest_seal.id == sealed.id
    async with tampering(first):
        # The last event removed: the chain alone still holds, the seal does not.
        await AuditEvent.delete().where(AuditEvent.seq == last)
        result = await verify()
        assert not result.ok and result.first_bad == last and result.bad_seal == sealed.id and "truncated" in result.problem
    async with tampering(first):
        # An event edited and every later hash recomputed, as a forger without the key would.
        rows = await AuditEvent.select().where(AuditEvent.seq >= first).order_by(AuditEvent.seq)
        prev = rows[0]["prev_hash"]
        for row in rows:
            row = {**row, "prev_hash": prev, "reason": "rewritten" if row["seq"] == first else row["reason"]}
            prev = event_hash(chained_from_row(row))
            await AuditEvent.update({AuditEvent.reason: row["reason"], AuditEvent.prev_hash: row["prev_hash"], AuditEvent.hash: prev}).where(AuditEvent.seq == row["seq"])
        result = await verify()
        assert not result.ok and result.first_bad == last and result.bad_seal == sealed.id and "rewritten" in result.problem


async def test_a_broken_chain_is_never_sealed(database):
    """A seal vouches only for a chain that holds since the previous seal."""
    await seal()
    seq = await append(record(1, reason="original"))
    async with tampering(seq):
        await AuditEvent.update({AuditEvent.reason: "edited"}).where(AuditEvent.seq == seq)
        seals = await AuditSeal.count()
        with pytest.raises(AuditChainBroken, match=f"event {seq}: the event's content does not match"):
            await seal()
        assert await AuditSeal.count() == seals
        assert await SealActivities().seal_audit() == SealAuditResult(
            seal_id=None, seq=None, refused=f"not sealing: event {seq}: the event's content does not match its hash: edited", next_in_seconds=3600
        )


async def test_a_forged_seal_is_named(database):
    await append(record(1))
    sealed = await seal()
    async with tampering(await head()):
        await AuditSeal.update({AuditSeal.events: sealed.events - 1}).where(AuditSeal.id == sealed.id)
        result = await verify()
        assert not result.ok and result.bad_seal == sealed.id and "signature" in result.problem


async def test_seals_of_a_rotated_key_verify_with_its_public_key(database, monkeypatch, tmp_root):
    from infra.audit_keys import key_id, public_text, signing_key
    from infra.settings import get_settings

    await append(record(1))
    old = signing_key()
    async with tampering(await head()):
        old_seal = await seal()
        assert old_seal.key_id == key_id(old.public_key())
        try:
            # A new key takes over; the old one is kept as a verification key only.
            monkeypatch.setenv("KAMENG_AUDIT_SEAL_KEY_FILE", str(tmp_root / "rotated-seal.key"))
            monkeypatch.setenv("KAMENG_AUDIT_VERIFY_KEYS", public_text(old.public_key()))
            get_settings.cache_clear()
            new_seal = await seal()
            assert new_seal.key_id != old_seal.key_id
            assert (await verify()).ok
            # Without the old public key its seals cannot be checked.
            monkeypatch.setenv("KAMENG_AUDIT_VERIFY_KEYS", "")
            get_settings.cache_clear()
            result = await verify()
            assert not result.ok and result.bad_seal is not None and f"unknown key {old_seal.key_id}" in result.problem
        finally:
            monkeypatch.undo()
            get_settings.cache_clear()


async def test_a_process_without_the_signing_key_does_not_trust_a_key_of_its_own(database, monkeypatch, tmp_root):
    """Verifying never makes a key: a web process on another machine, without the workers'
    key, reports their seals as signed with an unknown key."""
    from infra.settings import get_settings

    await append(record(1))
    await seal()
    missing = tmp_root / "nowhere" / "audit-seal.key"
    try:
        monkeypatch.setenv("KAMENG_AUDIT_SEAL_KEY_FILE", str(missing))
        get_settings.cache_clear()
        result = await verify()
        assert not result.ok and "unknown key" in result.problem
        assert not missing.exists()
        monkeypatch.setenv("KAMENG_AUDIT_VERIFY_KEYS", "not base64!")
        get_settings.cache_clear()
        result = await verify()
        assert not result.ok and "cannot be read" in result.problem
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    assert (await verify()).ok
