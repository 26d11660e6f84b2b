"""``kameng audit``: verify, seal, key, who-read, actor and export, run as the operator runs them."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from infra.audit_keys import key_id, signing_key
from infra.db.audit import append, chained_from_row, event_hash
from infra.db.tables import AuditEvent
from tests.audit_helpers import tampering
from workflows.domain.messages import AuditRecord

pytestmark = pytest.mark.db


async def kameng(*args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "infra.cli", *args, env=os.environ.copy(),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    return process.returncode, out.decode(), err.decode()


def event(actor: str, action: str, target: str, *, at: datetime | None = None, process_id: str | None = None) -> AuditRecord:
    return AuditRecord(actor=actor, actor_tier="regional", action=action, target=target, outcome="allowed", region="north", at=at, process_id=process_id)


async def test_verify_seal_and_key(database):
    await append(event("cli-tester", "test.event", "thing:cli"))
    code, out, _ = await kameng("audit", "seal")
    assert code == 0 and out.startswith("sealed: seal #"), out
    code, out, _ = await kameng("audit", "verify")
    assert code == 0 and "ok=True" in out and "latest seal #" in out, out
    code, out, _ = await kameng("audit", "key")
    assert code == 0 and f"key_id={key_id(signing_key().public_key())}" in out


async def test_verify_names_a_tampered_event_and_seal_refuses_it(database):
    seq = await append(event("cli-tester", "test.event", "thing:tampered"))
    async with tampering(seq):
        await AuditEvent.update({AuditEvent.reason: "edited"}).where(AuditEvent.seq == seq)
        code, out, _ = await kameng("audit", "verify")
        assert code == 1 and "ok=False" in out and f"first_bad={seq} " in out and "edited" in out
        code, _, err = await kameng("audit", "seal")
        assert code == 1 and f"not sealing: event {seq}" in err


async def test_who_read_a_buyer_in_the_last_days(database):
    buyer = f"BX{uuid.uuid4().hex[:6]}"
    now = datetime.now(UTC)
    await append(event("recent-reader", "users.view_sensitive", f"buyer:{buyer}"))
    await append(event("old-reader", "users.view_sensitive", f"buyer:{buyer}", at=now - timedelta(days=10)))
    await append(event("basic-reader", "users.view", f"buyer:{buyer}"))
    code, out, _ = await kameng("audit", "who-read", "--buyer", buyer, "--days", "7", "--json")
    assert code == 0, out
    assert [json.loads(line)["actor"] for line in out.splitlines()] == ["recent-reader"]
    code, out, _ = await kameng("audit", "who-read", "--buyer", buyer, "--days", "30")
    assert code == 0 and "recent-reader" in out and "old-reader" in out and "basic-reader" not in out


async def test_everything_an_admin_did_on_a_day(database):
    admin = f"admin-{uuid.uuid4().hex[:6]}"
    yesterday = (datetime.now(UTC) - timedelta(days=1)).replace(hour=10, minute=0, second=0, microsecond=0)
    await append(event(admin, "merchants.verify", "merchant:M1", at=yesterday))
    await append(event(admin, "funds.approve", "fund:F1", at=yesterday + timedelta(hours=3)))
    await append(event(admin, "products.classify", "product:P1"))
    code, out, _ = await kameng("audit", "actor", admin, "--day", f"{yesterday:%Y-%m-%d}", "--json")
    assert code == 0, out
    assert [json.loads(line)["action"] for line in out.splitlines()] == ["merchants.verify", "funds.approve"]
    code, _, err = await kameng("audit", "actor", admin, "--day", "21/11/2026")
    assert code == 2 and "--day" in err


async def test_export_a_case_timeline_as_json_lines(database, tmp_root):
    process_id = f"risk-review-cli-{uuid.uuid4().hex[:6]}"
    for action in ("process.started", "task.opened", "process.completed"):
        await append(event("reviewer", action, f"process:{process_id}", process_id=process_id))
    await append(event("someone", "test.event", "thing:unrelated"))
    out_file = tmp_root / "timeline.jsonl"
    code, _, err = await kameng("audit", "export", "--process", process_id, "--out", str(out_file))
    assert code == 0 and "wrote 3 event(s)" in err
    lines = [json.loads(line) for line in out_file.read_text().splitlines()]
    assert [line["action"] for line in lines] == ["process.started", "task.opened", "process.completed"]
    for line in lines:  # each exported event re-hashes to the hash the chain holds
        row = {**line, "at": datetime.fromisoformat(line["at"])}
        assert event_hash(chained_from_row(row)) == line["hash"]
    code, out, _ = await kameng("audit", "export", "--process", process_id)
    assert code == 0 and len(out.splitlines()) == 3
    code, _, err = await kameng("audit", "export", "--process", "no-such-process")
    assert code == 1 and "no audit events" in err
