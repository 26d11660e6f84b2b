"""Processes through HTTP: start, act, claim, read, with the policy and idempotency."""

from __future__ import annotations

import asyncio

import pytest

from infra.accounts import load_actor
from infra.db.tables import AuditEvent, PermissionGrant, Task
from workflows.domain.permissions import Scope
from workflows.domain.policy import DEFAULT_POLICY
from tests.api.conftest import bearer, login

pytestmark = [pytest.mark.db, pytest.mark.timeout(60)]

GRANT = {"permission": "funds.approve", "scope": "region", "duration": "P3D", "justification": "双十一大促期间需要区域资金审批权"}


async def open_task_id(process_id: str) -> str:
    for _ in range(100):
        row = await Task.select(Task.task_id).where((Task.process_id == process_id) & (Task.status == "open")).first()
        if row:
            return row["task_id"]
        await asyncio.sleep(0.05)
    raise AssertionError("no task appeared")


async def test_grant_round_trip_over_http(api):
    regional = await login(api, "regional-game-cards")
    started = await api.post("/api/processes/permission-grant", json=GRANT, headers=bearer(regional))
    assert started.status_code == 201, started.text
    pid = started.json()["process_id"]
    assert pid.startswith("permission-grant-regional-game-cards-funds.approve-")
    task_id = await open_task_id(pid)

    sup = await login(api, "super-2")
    claimed = await api.post(f"/api/tasks/{task_id}/claim", headers=bearer(sup))
    assert claimed.status_code == 200 and claimed.json()["assignee"] == "super-2"
    other = await login(api, "super-3")
    taken = await api.post(f"/api/tasks/{task_id}/claim", headers=bearer(other))
    assert taken.status_code == 409 and taken.json()["error"]["code"] == "claimed_by_other"

    approved = await api.post(f"/api/processes/permission-grant/{pid}/actions/approve", json={"reason": "同意"}, headers=bearer(sup))
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "active"

    # (Times come from the test server's clock, which runs ahead once other tests skip time:
    # the grant is judged at its own start, not at the wall clock.)
    grant = await PermissionGrant.select().where(PermissionGrant.grant_id == pid).first()
    assert grant["permission"] == "funds.approve" and grant["revoked_at"] is None
    holder = await load_actor("regional-game-cards", grant["starts_at"])
    assert ("funds.approve", Scope.REGION, grant["ends_at"]) in DEFAULT_POLICY.effective(holder, grant["starts_at"])

    process = await api.get(f"/api/processes/permission-grant/{pid}", headers=bearer(regional))
    assert process.status_code == 200
    body = process.json()
    assert body["status"] == "active"
    assert [e["action"] for e in body["timeline"]][-2:] == ["approve", "permission-grant.activated"]

    # The grantee hands it back early (a standing action, no task).
    revoked = await api.post(f"/api/processes/permission-grant/{pid}/actions/revoke", json={"reason": "大促结束"}, headers=bearer(regional))
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    assert (await PermissionGrant.select().where(PermissionGrant.grant_id == pid).first())["revoked_at"] is not None


async def test_policy_denials_are_403_or_404_and_audited(api):
    intern = await login(api, "intern-game-cards-1")
    refused = await api.post("/api/processes/permission-grant", json={**GRANT, "regions": ["east-china"]}, headers=bearer(intern))
    assert refused.status_code == 404  # another region's subject does not reveal itself

    regional = await login(api, "regional-east-china")
    pid = (await api.post("/api/processes/permission-grant", json=GRANT, headers=bearer(regional))).json()["process_id"]
    await open_task_id(pid)
    normal = await login(api, "normal-east-china-1")
    before = await AuditEvent.count().where(AuditEvent.outcome == "denied")
    denied = await api.post(f"/api/processes/permission-grant/{pid}/actions/approve", json={}, headers=bearer(normal))
    assert denied.status_code == 403 and denied.json()["error"]["code"] in {"tier_too_low", "no_permission"}
    self_approval = await api.post(f"/api/processes/permission-grant/{pid}/actions/approve", json={}, headers=bearer(regional))
    assert self_approval.status_code == 403 and self_approval.json()["error"]["code"] == "conflict_of_interest"
    assert await AuditEvent.count().where(AuditEvent.outcome == "denied") == before + 2
    hidden = await api.get(f"/api/processes/permission-grant/{pid}", headers=bearer(normal))
    assert hidden.status_code == 404


async def test_idempotency_key_repeats_return_the_first_result(api):
    regional = await login(api, "regional-game-items")
    headers = {**bearer(regional), "Idempotency-Key": "grant-2026-11-double-eleven"}
    first = await api.post("/api/processes/permission-grant", json=GRANT, headers=headers)
    again = await api.post("/api/processes/permission-grant", json=GRANT, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    pid = first.json()["process_id"]
    await open_task_id(pid)

    sup = await login(api, "super-3")
    action_headers = {**bearer(sup), "Idempotency-Key": "approve-once"}
    one = await api.post(f"/api/processes/permission-grant/{pid}/actions/reject", json={"reason": "预算不足"}, headers=action_headers)
    two = await api.post(f"/api/processes/permission-grant/{pid}/actions/reject", json={"reason": "预算不足"}, headers=action_headers)
    assert one.status_code == two.status_code == 200
    assert one.json() == two.json() and one.json()["status"] == "rejected"
    assert await AuditEvent.count().where((AuditEvent.process_id == pid) & (AuditEvent.action == "permission-grant.reject")) == 1


async def test_two_supers_claiming_at_once_exactly_one_wins(api):
    regional = await login(api, "regional-mobile-topup")
    pid = (await api.post("/api/processes/permission-grant", json=GRANT, headers=bearer(regional))).json()["process_id"]
    task_id = await open_task_id(pid)
    tokens = [await login(api, "super-2"), await login(api, "station-master")]
    results = await asyncio.gather(*(api.post(f"/api/tasks/{task_id}/claim", headers=bearer(t)) for t in tokens))
    assert sorted(r.status_code for r in results) == [200, 409]


async def test_claiming_a_task_whose_process_ended_meanwhile_is_a_lost_race(api):
    """An admin's inbox page still shows a task that another admin has since decided, ending
    its process: the claim is a 409 (decided meanwhile), not a 404 for a missing process."""
    regional = await login(api, "regional-east-china")
    pid = (await api.post("/api/processes/permission-grant", json=GRANT, headers=bearer(regional))).json()["process_id"]
    task_id = await open_task_id(pid)
    sup = await login(api, "super-2")
    rejected = await api.post(f"/api/processes/permission-grant/{pid}/actions/reject", params={"task_id": task_id},
                              json={"reason": "理由不充分"}, headers=bearer(sup))
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected", rejected.text
    late = await api.post(f"/api/tasks/{task_id}/claim", headers=bearer(await login(api, "super-3")))
    assert late.status_code == 409, late.text
    assert late.json()["error"]["code"] == "already_decided"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/processes/permission-grant", {"permission": "funds.approve"}),
        ("/api/processes/permission-grant", {**GRANT, "duration": "forever"}),
        ("/api/processes/permission-grant", {**GRANT, "permission": "no.such"}),
        ("/api/processes/permission-grant", {**GRANT, "duration": "P365D"}),
        ("/api/processes/permission-grant/permission-grant-nope/actions/approve", {}),
        ("/api/processes/permission-grant/other-kind-1/actions/approve", {}),
        ("/api/tasks/nope:task:1/claim", None),
    ],
)
async def test_bad_requests_are_4xx(api, path, body):
    token = await login(api, "regional-game-cards")
    response = await api.post(path, json=body, headers=bearer(token))
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["error"]["code"]


async def test_two_supers_approving_one_fund_operation_at_once_give_one_outcome(api):
    from infra.db.tables import LedgerEntry

    maker = await login(api, "super-2")
    body = {"operation": "merchant_settlement", "account": "M0007", "amount": 880000, "reason": "并发复核测试"}
    pid = (await api.post("/api/processes/fund-operation", json=body, headers=bearer(maker))).json()["process_id"]
    await open_task_id(pid)
    checkers = [await login(api, "super-3"), await login(api, "station-master")]
    results = await asyncio.gather(
        *(api.post(f"/api/processes/fund-operation/{pid}/actions/approve", json={"reason": "同意"}, headers=bearer(t)) for t in checkers)
    )
    assert sorted(r.status_code for r in results) == [200, 409], [r.text for r in results]
    assert await LedgerEntry.count().where(LedgerEntry.operation_id == pid) == 1


async def test_acting_on_an_ended_process_is_409_process_ended_and_stays_404_outside_its_scope(api):
    """Found in use: an action on a finished process answered 404 "no such process"."""
    regional = await login(api, "regional-game-cards")
    started = await api.post("/api/processes/permission-grant", json=GRANT, headers=bearer(regional))
    pid = started.json()["process_id"]
    await open_task_id(pid)
    sup = await login(api, "super-2")
    rejected = await api.post(f"/api/processes/permission-grant/{pid}/actions/reject", json={"reason": "不需要"}, headers=bearer(sup))
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    for _ in range(100):
        status = await api.get(f"/api/processes/permission-grant/{pid}/status", headers=bearer(sup))
        if status.json()["status"] == "rejected":
            break
        await asyncio.sleep(0.05)

    again = await api.post(f"/api/processes/permission-grant/{pid}/actions/approve", json={"reason": "改主意"}, headers=bearer(sup))
    assert again.status_code == 409, again.text
    assert again.json()["error"]["code"] == "process_ended" and "rejected" in again.json()["error"]["reason"] or "completed" in again.json()["error"]["reason"]
    outsider = await login(api, "normal-east-china-1")
    hidden = await api.post(f"/api/processes/permission-grant/{pid}/actions/approve", json={"reason": "试试"}, headers=bearer(outsider))
    assert hidden.status_code == 404 and hidden.json()["error"]["code"] == "not_found"
    missing = await api.post("/api/processes/permission-grant/permission-grant-nobody-x/actions/approve", json={}, headers=bearer(sup))
    assert missing.status_code == 404


async def test_a_nomination_into_a_full_tier_is_refused_at_the_start(api):
    sup = await login(api, "super-2")
    body = {"nominee": "regional-game-cards", "target_tier": "super", "reasons": "区域业绩突出", "reviewers": ["super-3", "regional-game-items", "regional-east-china"]}
    refused = await api.post("/api/processes/promotion", json=body, headers=bearer(sup))
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"]["code"] == "tier_full" and "3" in refused.json()["error"]["reason"]
    denial = await AuditEvent.select().where((AuditEvent.action == "promotion.start") & (AuditEvent.actor == "super-2")).order_by(AuditEvent.seq, ascending=False).first()
    assert denial is not None and denial["reason"].startswith("tier_full")
