"""The audit API: verification with seals, the latest seal, and the forensic queries, each
within the caller's scope."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from infra.db.audit import append, seal
from infra.db.tables import AuditEvent, AuditSeal, Buyer
from tests.api.conftest import bearer, login
from tests.audit_helpers import record, tampering
from workflows.domain.messages import AuditRecord

pytestmark = [pytest.mark.db, pytest.mark.timeout(60)]


async def as_(api, username: str) -> dict:
    return bearer(await login(api, username))


async def test_verify_names_a_tampered_event_and_reports_the_latest_seal(api):
    station = await as_(api, "station-master")
    sealed = await seal()
    latest = await api.get("/api/audit/seals/latest", headers=await as_(api, "regional-game-cards"))
    assert latest.status_code == 200 and latest.json()["id"] >= sealed.id and latest.json()["key_id"] == sealed.key_id
    body = (await api.get("/api/audit/verify", headers=station)).json()
    assert body["ok"] is True and body["seals"] >= 1 and body["latest_seal"]["id"] >= sealed.id

    seq = await append(record(1, reason="original"))
    async with tampering(seq):
        await AuditEvent.update({AuditEvent.reason: "edited"}).where(AuditEvent.seq == seq)
        body = (await api.get("/api/audit/verify", headers=station)).json()
        assert body["ok"] is False and body["first_bad"] == seq and "edited" in body["problem"]
        seals_before = await AuditSeal.count()
        refused = await api.post("/api/audit/seals", headers=station)  # no seal over a broken chain
        assert refused.status_code == 409 and refused.json()["error"]["code"] == "chain_broken", refused.text
        assert "/api/audit/verify" in refused.json()["error"]["reason"]
        assert await AuditSeal.count() == seals_before
    assert (await api.get("/api/audit/seals/latest", headers=await as_(api, "normal-game-cards-1"))).status_code == 403


async def test_who_read_a_buyers_sensitive_data(api):
    buyer = (await Buyer.select(Buyer.code, Buyer.region).where(Buyer.region == "game-items").first())
    code = buyer["code"]
    sup, regional = await as_(api, "super-2"), await as_(api, "regional-game-items")
    assert (await api.get(f"/api/buyers/{code}", headers=sup)).status_code == 200
    assert (await api.get(f"/api/buyers/{code}", headers=regional)).status_code == 200

    found = await api.get(f"/api/audit/who-read?buyer={code}&days=7", headers=sup)
    assert found.status_code == 200, found.text
    items = found.json()["items"]
    assert {"super-2", "regional-game-items"} <= {e["actor"] for e in items}
    assert all(e["action"] == "users.view_sensitive" and e["target"] == f"buyer:{code}" for e in items)
    assert [e["at"] for e in items] == sorted((e["at"] for e in items), reverse=True)
    mine = (await api.get(f"/api/audit/who-read?buyer={code}", headers=regional)).json()["items"]
    assert {"super-2", "regional-game-items"} <= {e["actor"] for e in mine}

    denied_before = await AuditEvent.count().where((AuditEvent.action == "audit.view") & (AuditEvent.outcome == "denied"))
    other = await api.get(f"/api/audit/who-read?buyer={code}", headers=await as_(api, "regional-east-china"))
    assert other.status_code == 404 and other.json()["error"]["code"] == "not_found"
    normal = await api.get(f"/api/audit/who-read?buyer={code}", headers=await as_(api, "normal-game-items-1"))
    assert normal.status_code == 403
    assert await AuditEvent.count().where((AuditEvent.action == "audit.view") & (AuditEvent.outcome == "denied")) == denied_before + 2
    assert (await api.get("/api/audit/who-read?buyer=NO-SUCH", headers=sup)).status_code == 404
    bad = await api.get(f"/api/audit/who-read?buyer={code}&days=0", headers=sup)
    assert bad.status_code == 400 and bad.json()["error"]["code"]


async def test_everything_an_admin_did_on_a_day(api):
    sup = await as_(api, "super-3")
    today = datetime.now(UTC).date().isoformat()
    await as_(api, "regional-game-items")
    found = await api.get(f"/api/audit/actors/super-3?day={today}", headers=sup)
    assert found.status_code == 200, found.text
    items = found.json()["items"]
    assert items and all(e["actor"] == "super-3" for e in items) and "auth.login" in {e["action"] for e in items}
    assert [e["seq"] for e in items] == sorted(e["seq"] for e in items)

    await append(AuditRecord(actor="regional-game-items", actor_tier="regional", action="merchants.verify", target="merchant:X", outcome="allowed", region="east-china"))
    await append(AuditRecord(actor="regional-game-items", actor_tier="regional", action="merchants.verify", target="merchant:Y", outcome="allowed", region="game-items"))
    everywhere = (await api.get(f"/api/audit/actors/regional-game-items?day={today}", headers=sup)).json()["items"]
    assert {"east-china", "game-items"} <= {e["region"] for e in everywhere}
    scoped = (await api.get(f"/api/audit/actors/regional-game-items?day={today}", headers=await as_(api, "regional-game-items"))).json()["items"]
    assert scoped and all(e["region"] == "game-items" for e in scoped)

    assert (await api.get("/api/audit/actors/super-3?day=21-11-2026", headers=sup)).status_code == 400
    assert (await api.get("/api/audit/actors/super-3", headers=sup)).status_code == 400
    assert (await api.get(f"/api/audit/actors/super-3?day={today}", headers=await as_(api, "intern-game-items-1"))).status_code == 403


async def test_a_super_seals_now_and_exports_a_case_others_cannot(api):
    import msgspec

    from infra.db.audit import chained_from_row, event_hash

    station = await as_(api, "station-master")
    sealed = await api.post("/api/audit/seals", headers=station)
    assert sealed.status_code == 201, sealed.text
    assert sealed.json()["seq"] >= 1 and sealed.json()["key_id"]
    refused = await api.post("/api/audit/seals", headers=await as_(api, "normal-game-cards-1"))
    assert refused.status_code == 403

    process_id = f"permission-grant-export-{datetime.now(UTC).timestamp():.0f}"
    for action in ("permission-grant.started", "task.opened", "permission-grant.approve"):
        await append(AuditRecord(actor="super-2", actor_tier="super", action=action, target=f"process:{process_id}",
                                 outcome="done", region="game-cards", process_id=process_id))
    export = await api.get("/api/audit/export", params={"process_id": process_id}, headers=station)
    assert export.status_code == 200 and export.headers["content-type"].startswith("application/x-ndjson")
    lines = [msgspec.json.decode(line) for line in export.content.splitlines()]
    assert [line["action"] for line in lines] == ["permission-grant.started", "task.opened", "permission-grant.approve"]
    for line in lines:  # each line re-hashes on its own
        row = {**line, "at": datetime.fromisoformat(line["at"].replace("Z", "+00:00"))}
        assert event_hash(chained_from_row(row)) == line["hash"]
    other_region = await api.get("/api/audit/export", params={"process_id": process_id}, headers=await as_(api, "regional-east-china"))
    assert other_region.status_code == 404
    assert (await api.get("/api/audit/export", params={"process_id": "nope"}, headers=station)).status_code == 404
