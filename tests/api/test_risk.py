"""Risk rules over HTTP: list, backtest, propose a change (the governed process), signals."""

from __future__ import annotations

import pytest

from infra.db.tables import AuditEvent
from tests.api.conftest import bearer, login

pytestmark = [pytest.mark.db, pytest.mark.timeout(120)]


async def test_rules_are_listed_to_admins_who_act_on_risk_and_refused_to_interns(api):
    normal = await login(api, "normal-game-cards-1")
    response = await api.get("/api/risk/rules", headers=bearer(normal))
    assert response.status_code == 200, response.text
    rules = {r["key"]: r for r in response.json()}
    assert {"brushing", "duplicate_orders", "admin_off_hours_edits", "admin_bulk_reads", "unusual_refunds"} <= set(rules)
    brushing = rules["brushing"]
    assert brushing["tier"] == "regional" and brushing["title_zh"].startswith("刷单")
    assert {p["name"] for p in brushing["params"]} >= {"min_orders", "gap_minutes", "min_z"}

    intern = await login(api, "intern-game-cards-1")
    refused = await api.get("/api/risk/rules", headers=bearer(intern))
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "no_permission"
    denial = await AuditEvent.select(AuditEvent.outcome).where((AuditEvent.actor == "intern-game-cards-1") & (AuditEvent.action == "risk.flag")).first()
    assert denial == {"outcome": "denied"}


async def test_a_super_backtests_a_change_and_others_may_not(api):
    regional = await login(api, "regional-game-cards")
    denied = await api.post("/api/risk/rules/duplicate_orders/backtest", headers=bearer(regional), json={"params": {"window_seconds": 600}})
    assert denied.status_code == 403

    super_ = await login(api, "super-2")
    response = await api.post("/api/risk/rules/duplicate_orders/backtest", headers=bearer(super_), json={"params": {"window_seconds": 60}, "days": 90})
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["rule"] == "duplicate_orders" and report["days"] == 90
    assert report["signals_before"] >= 15 and report["signals_after"] < report["signals_before"]  # planted pairs up to 150 s apart
    assert report["major"] and report["dropped_examples"][0]["explanation"]

    for body, code in (
        ({"params": {"window": 60}}, "unknown_param"),
        ({"params": {"window_seconds": 1}}, "param_out_of_range"),
        ({}, "no_change"),
    ):
        bad = await api.post("/api/risk/rules/duplicate_orders/backtest", headers=bearer(super_), json=body)
        assert bad.status_code == 422 and bad.json()["error"]["code"] == code, bad.text
    missing = await api.post("/api/risk/rules/nope/backtest", headers=bearer(super_), json={"params": {"min_orders": 3}})
    assert missing.status_code == 404
    assert (await api.post("/api/risk/rules/duplicate_orders/backtest", headers=bearer(super_), json={"days": 0, "enabled": False})).status_code == 400


async def test_a_change_is_proposed_as_a_governed_process(api):
    super_ = await login(api, "super-2")
    body = {"rule": "unusual_refunds", "params": {"min_refunds": 12}, "reason": "大促期间退款增多，提高阈值"}
    started = await api.post("/api/processes/risk-rule-change", headers=bearer(super_), json=body)
    assert started.status_code == 201, started.text
    assert started.json()["process_id"].startswith("risk-rule-change-unusual-refunds-")

    regional = await login(api, "regional-game-cards")
    refused = await api.post("/api/processes/risk-rule-change", headers=bearer(regional), json=body)
    assert refused.status_code == 403
    bad = await api.post("/api/processes/risk-rule-change", headers=bearer(super_), json=body | {"params": {"min_refunds": -1}})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "param_out_of_range"


async def test_signals_are_read_within_scope(api):
    super_ = await login(api, "super-2")
    assert (await api.get("/api/risk/signals", headers=bearer(super_))).status_code == 200
    regional = await login(api, "regional-game-cards")
    response = await api.get("/api/risk/signals?limit=200", headers=bearer(regional))
    assert response.status_code == 200
    assert all(s["region"] == "game-cards" and s["signal"] != "admin_misuse" for s in response.json())
    intern = await login(api, "intern-game-cards-1")
    assert (await api.get("/api/risk/signals", headers=bearer(intern))).status_code == 403


async def test_a_reported_signal_joins_the_open_review_of_its_subject_and_signal_type(api):
    import uuid

    intake = {"Authorization": "Bearer kameng-intake-dev"}
    buyer = f"B{uuid.uuid4().hex[:6].upper()}"
    body = {
        "signal": "brushing", "subject_kind": "buyer", "subject": buyer, "region": "game-cards", "score": 0.9,
        "explanation": "40 分钟内向同一商家下单 16 笔小额点卡，远超该买家历史基线", "evidence": [{"order": "O0000123"}],
    }
    first = await api.post("/api/intake/risk-signals", headers=intake | {"Idempotency-Key": f"{buyer}-1"}, json=body)
    assert first.status_code == 201, first.text
    opened = first.json()
    assert opened["kind"] == "risk-review" and opened["joined"] is False
    again = await api.post("/api/intake/risk-signals", headers=intake | {"Idempotency-Key": f"{buyer}-1"}, json=body)
    assert again.json()["process_id"] == opened["process_id"]
    other = await api.post("/api/intake/risk-signals", headers=intake | {"Idempotency-Key": f"{buyer}-2"}, json=body | {"score": 0.95})
    assert other.status_code == 200 and other.json() == opened | {"joined": True}
    # the review's findings, the one that opened it and the one that joined it, for whoever reviews the region
    regional = await login(api, "regional-game-cards")
    found = await api.get("/api/risk/signals", params={"process_id": opened["process_id"]}, headers=bearer(regional))
    assert found.status_code == 200, found.text
    assert sorted((s["status"], round(s["score"], 2)) for s in found.json()) == [("joined", 0.95), ("opened", 0.9)]  # a REAL column
    elsewhere = await login(api, "regional-game-items")
    assert (await api.get("/api/risk/signals", params={"process_id": opened["process_id"]}, headers=bearer(elsewhere))).json() == []
    # another signal type about the same buyer opens a review of its own
    duplicate = await api.post("/api/intake/risk-signals", headers=intake, json=body | {"signal": "duplicate_order"})
    assert duplicate.status_code == 201 and duplicate.json()["process_id"] != opened["process_id"]
    bad = await api.post("/api/intake/risk-signals", headers=intake, json=body | {"region": "mars"})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "unknown_region"
    misuse = await api.post("/api/intake/risk-signals", headers=intake, json=body | {"signal": "admin_misuse", "subject_kind": "admin", "tier": "normal"})
    assert misuse.status_code == 422 and misuse.json()["error"]["code"] == "tier_not_allowed"


async def test_reviews_admins_open_join_like_reported_signals(api):
    """Found in use: two admin-opened reviews and a signal about the same buyer gave three open
    reviews (a regional's inbox held seven identical ones). An admin's report is a finding too."""
    import uuid

    from infra.db.tables import ProcessState

    buyer = f"B{uuid.uuid4().hex[:6].upper()}"
    body = {
        "signal": "brushing", "subject_kind": "buyer", "subject": buyer, "region": "game-cards", "score": 0.8,
        "explanation": "同一买家短时间内大量小额下单", "evidence": [{"order": "O0000777"}],
    }
    first_admin = await login(api, "normal-game-cards-1")
    first = await api.post("/api/processes/risk-review", headers=bearer(first_admin), json=body)
    assert first.status_code == 201, first.text
    opened = first.json()
    assert "joined" not in opened  # said only when it joined
    second_admin = await login(api, "regional-game-cards")
    second = await api.post("/api/processes/risk-review", headers=bearer(second_admin), json=body | {"score": 0.85})
    assert second.status_code == 200 and second.json() == opened | {"joined": True}
    intake = {"Authorization": "Bearer kameng-intake-dev"}
    reported = await api.post("/api/intake/risk-signals", headers=intake, json=body | {"score": 0.9})
    assert reported.status_code == 200 and reported.json()["process_id"] == opened["process_id"]
    found = await api.get("/api/risk/signals", params={"process_id": opened["process_id"]}, headers=bearer(second_admin))
    assert sorted(s["status"] for s in found.json()) == ["joined", "joined", "opened"]
    row = await ProcessState.select(ProcessState.started_by).where(ProcessState.process_id == opened["process_id"]).first()
    for _ in range(50):
        if row is not None:
            break
        import asyncio

        await asyncio.sleep(0.05)
        row = await ProcessState.select(ProcessState.started_by).where(ProcessState.process_id == opened["process_id"]).first()
    assert row["started_by"] == "normal-game-cards-1"  # the admin who reported it started the review
    outsider = await login(api, "normal-east-china-1")
    refused = await api.post("/api/processes/risk-review", headers=bearer(outsider), json=body)
    assert refused.status_code == 404  # out of region: the subject is outside their scope
