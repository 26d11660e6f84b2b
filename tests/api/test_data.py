"""Audit search, chain verification, reports and buyer data, each within the caller's scope."""

from __future__ import annotations

import pytest

from infra.db.tables import AuditEvent, Buyer
from tests.api.conftest import bearer, login

pytestmark = [pytest.mark.db, pytest.mark.timeout(60)]


async def as_(api, username: str) -> dict:
    return bearer(await login(api, username))


async def test_audit_search_by_tier(api):
    await as_(api, "super-3")
    sup = await as_(api, "super-2")
    everything = (await api.get("/api/audit?limit=200", headers=sup)).json()["items"]
    assert len(everything) >= 2 and everything[0]["seq"] > everything[-1]["seq"]
    mine = (await api.get("/api/audit?actor=super-2&action=auth.login", headers=sup)).json()["items"]
    assert mine and all(e["actor"] == "super-2" and e["action"] == "auth.login" for e in mine)

    regional = await as_(api, "regional-game-cards")
    scoped = (await api.get("/api/audit?limit=200", headers=regional)).json()["items"]
    assert all(e["region"] == "game-cards" for e in scoped)

    normal = await as_(api, "normal-game-cards-1")
    before = await AuditEvent.count().where((AuditEvent.action == "audit.view") & (AuditEvent.outcome == "denied"))
    refused = await api.get("/api/audit", headers=normal)
    assert refused.status_code == 403
    assert await AuditEvent.count().where((AuditEvent.action == "audit.view") & (AuditEvent.outcome == "denied")) == before + 1
    bad = await api.get("/api/audit?since=2026-01-01T00:00:00", headers=sup)
    assert bad.status_code == 400


async def test_audit_verify_for_supers_only(api):
    result = await api.get("/api/audit/verify", headers=await as_(api, "station-master"))
    assert result.status_code == 200
    body = result.json()
    assert body["ok"] is True and body["events"] > 0 and body["first_bad"] is None
    assert (await api.get("/api/audit/verify", headers=await as_(api, "regional-east-china"))).status_code == 403


async def test_reports_by_tier(api):
    response = await api.get("/api/reports/overview", headers=await as_(api, "super-3"))
    assert response.status_code == 200, response.text
    sup = response.json()
    assert sup["scope"] == "global" and len(sup["regions"]) == 4
    assert all(r["gmv"] > 0 and r["orders"] > 0 for r in sup["regions"])
    regional_response = await api.get("/api/reports/overview", headers=await as_(api, "regional-mobile-topup"))
    assert regional_response.status_code == 200, regional_response.text
    regional = regional_response.json()
    assert regional["scope"] == "region" and [r["region"] for r in regional["regions"]] == ["mobile-topup"]
    assert "fund_flows" not in regional or regional["fund_flows"] == {}
    normal = (await api.get("/api/reports/overview", headers=await as_(api, "normal-mobile-topup-1"))).json()
    assert normal["scope"] == "own" and normal["personal"] is not None and normal["regions"] == []
    assert (await api.get("/api/reports/overview", headers=await as_(api, "intern-mobile-topup-1"))).status_code == 403


async def test_buyer_fields_follow_scope_and_sensitive_reads_are_audited(api):
    buyer = await Buyer.select().where(Buyer.region == "game-items").first()
    handled = [b for b in await Buyer.select(Buyer.code, Buyer.handled_by, Buyer.region).where(Buyer.region == "game-items") if len(b["handled_by"] or []) == 1]
    served = handled[0]
    handler = served["handled_by"][0]

    full = (await api.get(f"/api/buyers/{buyer['code']}", headers=await as_(api, "super-2"))).json()
    assert full["login_ip"] and full["spending_profile"] is not None
    assert await AuditEvent.exists().where(
        (AuditEvent.actor == "super-2") & (AuditEvent.action == "users.view_sensitive") & (AuditEvent.target == f"buyer:{buyer['code']}")
    )
    regional = await api.get(f"/api/buyers/{buyer['code']}", headers=await as_(api, "regional-game-items"))
    assert regional.status_code == 200 and regional.json()["login_ip"]
    other_region = await api.get(f"/api/buyers/{buyer['code']}", headers=await as_(api, "regional-east-china"))
    assert other_region.status_code == 404

    basic = await api.get(f"/api/buyers/{served['code']}", headers=await as_(api, handler))
    assert basic.status_code == 200
    assert "login_ip" not in basic.json() and basic.json()["contact_phone"]
    stranger = next(n for n in ("normal-game-items-1", "normal-game-items-2") if n not in served["handled_by"])
    assert (await api.get(f"/api/buyers/{served['code']}", headers=await as_(api, stranger))).status_code == 404
    assert (await api.get(f"/api/buyers/{served['code']}", headers=await as_(api, "intern-game-items-1"))).status_code == 403
    assert (await api.get("/api/buyers/NO-SUCH", headers=await as_(api, "super-2"))).status_code == 404
