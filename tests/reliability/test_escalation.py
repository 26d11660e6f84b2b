"""Privilege escalation: an intern, a normal and a regional admin try super-only actions by
every path there is. Every attempt is refused, every refusal is on the audit trail, and
nothing changes: the processes stay where they were and no money moves."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from infra.db.tables import Admin, AuditEvent, Buyer, LedgerEntry, PermissionGrant
from tests.api.conftest import api, bearer, login, temporal_env  # noqa: F401 - the API's own fixtures
from tests.conftest import audit_head
from tests.reliability.report import REPORT

pytestmark = [pytest.mark.db, pytest.mark.timeout(240)]

ATTACKERS = ("intern-game-cards-1", "normal-game-cards-1", "regional-game-cards")
DENIED = {401, 403, 404}


async def wait_task(api, token: str, kind: str, pid: str) -> dict:  # type: ignore[no-untyped-def]
    import asyncio

    for _ in range(600):
        view = (await api.get(f"/api/processes/{kind}/{pid}", headers=bearer(token))).json()
        if view.get("tasks"):
            return view["tasks"][0]
        await asyncio.sleep(0.05)
    raise AssertionError(f"no task on {pid}")


class Attempts:
    """Each attempt: its answer must be a refusal, and the trail must show it refused."""

    def __init__(self, api) -> None:  # type: ignore[no-untyped-def]
        self.api = api
        self.tried: list[str] = []

    async def expect_denied(self, what: str, attacker: str, response) -> None:  # type: ignore[no-untyped-def]
        REPORT.escalation_tried += 1
        self.tried.append(what)
        assert response.status_code in DENIED, (what, response.status_code, response.text[:300])
        assert response.json()["error"]["code"], what
        actor = "anonymous" if response.status_code == 401 else attacker
        denied = await AuditEvent.select(AuditEvent.action, AuditEvent.reason).where(
            (AuditEvent.seq > self.mark) & (AuditEvent.actor == actor) & (AuditEvent.outcome == "denied")
        )
        assert denied, f"{what}: refused ({response.status_code}) but not audited"
        REPORT.escalation_denied += 1

    async def __call__(self, what: str, attacker: str, method: str, url: str, **kwargs) -> None:  # type: ignore[no-untyped-def]
        self.mark = await audit_head()
        response = await self.api.request(method, url, **kwargs)
        await self.expect_denied(what, attacker, response)


async def test_super_only_actions_are_refused_by_every_path_and_change_nothing(api):
    supers = {name: await login(api, name) for name in ("super-2", "super-3")}
    requester = await login(api, "normal-east-china-1")

    # What the attackers go after: a fund operation waiting for a second super, a ban waiting
    # for a super, and another region's grant request.
    fund = (await api.post("/api/processes/fund-operation", headers=bearer(supers["super-2"]),
                           json={"operation": "merchant_settlement", "account": "M0003", "amount": 880_000, "reason": "越权演练：商家结算"})).json()["process_id"]
    fund_task = await wait_task(api, supers["super-3"], "fund-operation", fund)
    buyer = await Buyer.select(Buyer.code).where((Buyer.region == "game-cards") & (Buyer.status == "active")).order_by(Buyer.code, ascending=False).first()
    started = await api.post("/api/processes/account-ban", headers=bearer(await login(api, "regional-game-cards")),
                             json={"buyer": buyer["code"], "region": "game-cards", "reason": "越权演练：刷单", "evidence": {}})
    assert started.status_code == 201, started.text
    ban = started.json()["process_id"]
    ban_task = await wait_task(api, supers["super-3"], "account-ban", ban)
    grant = (await api.post("/api/processes/permission-grant", headers=bearer(requester),
                            json={"permission": "products.classify", "scope": "region", "duration": "P1D", "justification": "越权演练"})).json()["process_id"]
    grant_task = await wait_task(api, requester, "permission-grant", grant)
    before = {pid: (await api.get(f"/api/processes/{kind}/{pid}", headers=bearer(supers["super-3"]))).json()
              for kind, pid in (("fund-operation", fund), ("account-ban", ban), ("permission-grant", grant))}

    attempt = Attempts(api)
    fund_url = f"/api/processes/fund-operation/{fund}/actions"
    for attacker in ATTACKERS:
        token = await login(api, attacker)
        me = bearer(token)
        await attempt("start a fund operation", attacker, "POST", "/api/processes/fund-operation", headers=me,
                      json={"operation": "merchant_settlement", "account": "M0003", "amount": 100, "reason": "越权演练"})
        await attempt("approve a fund operation", attacker, "POST", f"{fund_url}/approve", params={"task_id": fund_task["task_id"]}, headers=me, json={"reason": "越权"})
        await attempt("veto a fund operation", attacker, "POST", f"{fund_url}/veto", headers=me, json={"reason": "越权否决"})
        await attempt("approve a ban", attacker, "POST", f"/api/processes/account-ban/{ban}/actions/approve", params={"task_id": ban_task["task_id"]}, headers=me, json={"reason": "越权"})
        await attempt("verify the audit chain", attacker, "GET", "/api/audit/verify", headers=me)
        await attempt("claim a super's task", attacker, "POST", f"/api/tasks/{fund_task['task_id']}/claim", headers=me)
        await attempt("approve another region's grant", attacker, "POST", f"/api/processes/permission-grant/{grant}/actions/approve",
                      params={"task_id": grant_task["task_id"]}, headers=me, json={"reason": "越权"})
        # A forged action: the body and headers name a super; only the session counts.
        await attempt("forge the acting super", attacker, "POST", f"{fund_url}/approve", params={"task_id": fund_task["task_id"]},
                      headers={**me, "X-Actor": "super-3", "X-Forwarded-User": "super-3"}, json={"reason": "越权", "actor": "super-3", "tier": "super"})
        # A tampered token: a super's token with one character changed.
        stolen = supers["super-3"]
        tampered = stolen[:-1] + ("A" if stolen[-1] != "A" else "B")
        await attempt("a tampered super token", attacker, "POST", f"{fund_url}/approve", params={"task_id": fund_task["task_id"]},
                      headers=bearer(tampered), json={"reason": "越权"})

    # A replayed request id: super-3 rejects the ban with an Idempotency-Key; the intern
    # sends the same key to the same action and must not be handed the super's result.
    key = uuid.uuid4().hex
    done = await api.post(f"/api/processes/account-ban/{ban}/actions/reject", params={"task_id": ban_task["task_id"]},
                          headers={**bearer(supers["super-3"]), "Idempotency-Key": key}, json={"reason": "证据不足"})
    assert done.status_code == 200, done.text
    intern = bearer(await login(api, "intern-game-cards-1"))
    await attempt("replay a super's request id", "intern-game-cards-1", "POST", f"/api/processes/account-ban/{ban}/actions/reject",
                  params={"task_id": ban_task["task_id"]}, headers={**intern, "Idempotency-Key": key}, json={"reason": "证据不足"})

    # An expired grant of exactly the permission: no longer counts.
    admin = await Admin.select(Admin.id).where(Admin.username == "normal-game-cards-1").first()
    now = datetime.now(UTC)
    expired = f"escalation-{uuid.uuid4().hex[:8]}"
    await PermissionGrant.insert(PermissionGrant(
        grant_id=expired, admin=admin["id"], permission="funds.approve", scope="global", regions=[],
        starts_at=now - timedelta(days=2), ends_at=now - timedelta(days=1), approved_by="super-2", justification="已过期",
    ))
    try:
        await attempt("approve with an expired grant", "normal-game-cards-1", "POST", f"{fund_url}/approve",
                      params={"task_id": fund_task["task_id"]}, headers=bearer(await login(api, "normal-game-cards-1")), json={"reason": "越权"})
    finally:
        await PermissionGrant.delete().where(PermissionGrant.grant_id == expired)

    # Self-approval: the super who proposed the operation cannot be its second reviewer.
    await attempt("approve one's own fund operation", "super-2", "POST", f"{fund_url}/approve",
                  params={"task_id": fund_task["task_id"]}, headers=bearer(supers["super-2"]), json={"reason": "自审"})

    # Nothing changed: the processes wait where they were, and no money moved.
    for kind, pid in (("fund-operation", fund), ("permission-grant", grant)):
        after = (await api.get(f"/api/processes/{kind}/{pid}", headers=bearer(supers["super-3"]))).json()
        assert (after["status"], after["step"], after["tasks"], after["timeline"]) == (
            before[pid]["status"], before[pid]["step"], before[pid]["tasks"], before[pid]["timeline"]), pid
    assert await LedgerEntry.count().where(LedgerEntry.operation_id == fund) == 0
    assert len(attempt.tried) == 9 * len(ATTACKERS) + 3


async def test_delegation_cross_case_and_forged_start_paths_are_refused(api, harness, demo):
    """The paths found in use: a grant beyond what its approver holds, a decider of one step
    of a case deciding another, and a process started straight on Temporal around the API."""
    from infra.temporal.processes import ProcessError
    from tests.workflows.test_dispute import actor, upheld_refund
    from workflows.account_ban import BanInput

    attempt = Attempts(api)
    # Delegation: an intern asks for users.view over the whole platform; the task is a
    # super's, and the regional who holds users.view for their own region cannot approve it.
    intern = bearer(await login(api, "intern-game-cards-1"))
    wide = await api.post("/api/processes/permission-grant", headers=intern,
                          json={"permission": "users.view", "scope": "global", "duration": "PT8H", "justification": "越权演练：全平台买家资料"})
    assert wide.status_code == 201, wide.text
    wide_pid = wide.json()["process_id"]
    super_token = await login(api, "super-3")
    wide_task = await wait_task(api, super_token, "permission-grant", wide_pid)
    assert wide_task["tier"] == "super"
    await attempt("approve a grant beyond one's own right", "regional-game-cards", "POST",
                  f"/api/processes/permission-grant/{wide_pid}/actions/approve", params={"task_id": wide_task["task_id"]},
                  headers=bearer(await login(api, "regional-game-cards")), json={"reason": "越权"})
    normal = bearer(await login(api, "normal-game-cards-1"))
    for permission in ("admins.configure_tiers", "platform.configure", "grants.approve"):
        await attempt(f"request {permission}, which nobody delegates", "normal-game-cards-1", "POST", "/api/processes/permission-grant",
                      headers=normal, json={"permission": permission, "scope": "region", "duration": "PT8H", "justification": "越权演练"})
    REPORT.lines.append("delegation: beyond the approver's right and never-delegated permissions, all refused")

    # Across a case: the super who judged a dispute's appeal checks its refund.
    _, child = await upheld_refund(harness, "super-2")
    for judge in ("super-2", "regional-east-china"):
        REPORT.escalation_tried += 1
        try:
            await harness.act(child, await actor(judge), "approve", {"reason": "越权复核"})
        except ProcessError as exc:
            assert exc.code in ("not_independent", "conflict_of_interest", "tier_too_low"), (judge, exc.code)
            REPORT.escalation_denied += 1
    REPORT.lines.append("across a case: the appeal judge and the ruler as the refund's checkers, refused")

    # Around the API: a ban started straight on Temporal by an intern is refused and audited.
    buyer = await Buyer.select(Buyer.code).where(Buyer.region == "game-cards").first()
    REPORT.escalation_tried += 1
    forged = await harness.start("account-ban", await actor("intern-game-cards-1"), BanInput(buyer=buyer["code"], region="game-cards", reason="越权演练：直接启动"))
    outcome = await harness.result(forged)
    assert (outcome["status"], outcome["code"]) == ("rejected", "no_permission")
    assert await AuditEvent.exists().where((AuditEvent.process_id == forged) & (AuditEvent.outcome == "denied"))
    REPORT.escalation_denied += 1
    REPORT.lines.append("around the API: a process started straight on Temporal by an intern, refused by the process")
