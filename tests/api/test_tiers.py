"""The tier configuration over HTTP: supers change caps within the SPEC's rules, audited;
every other tier is refused (and the refusal audited). Regional appointments start as a process."""

from __future__ import annotations

import pytest

from infra.db.tables import Admin, AuditEvent, TierConfig
from tests.api.conftest import bearer, login

pytestmark = [pytest.mark.db, pytest.mark.timeout(60)]


async def as_(api, username: str) -> dict:
    return bearer(await login(api, username))


async def test_supers_change_caps_within_the_rules(api):
    sup = await as_(api, "super-2")
    listed = (await api.get("/api/tiers", headers=await as_(api, "intern-game-cards-1"))).json()
    assert [t["key"] for t in listed] == ["super", "regional", "normal", "intern"]
    supers = await Admin.count().where(Admin.tier == "super")
    assert next(t for t in listed if t["key"] == "super")["cap"] == 3

    try:
        changed = await api.patch("/api/tiers/regional", json={"cap": 12, "reason": "区域管理员编制上限十二人"}, headers=sup)
        assert changed.status_code == 200, changed.text
        assert changed.json()["cap"] == 12
        event = await (
            AuditEvent.select().where(AuditEvent.action == "tiers.configure").order_by(AuditEvent.seq, ascending=False)
            .output(load_json=True).first()
        )
        assert (event["actor"], event["target"], event["outcome"]) == ("super-2", "tier:regional", "done")
        assert (event["before"], event["after"]) == ({"cap": None}, {"cap": 12})

        for body, status, code in [
            ({"cap": 4, "reason": "超级管理员扩编"}, 422, "cap_out_of_range"),
            ({"cap": None, "reason": "取消上限"}, 422, "cap_out_of_range"),
            ({"cap": supers - 1, "reason": "收紧编制"}, 409, "cap_below_headcount"),
        ]:
            refused = await api.patch("/api/tiers/super", json=body, headers=sup)
            assert (refused.status_code, refused.json()["error"]["code"]) == (status, code), refused.text
        assert (await api.patch("/api/tiers/ghost", json={"cap": 2, "reason": "不存在的级别"}, headers=sup)).status_code == 404
        assert (await api.patch("/api/tiers/super", json={"cap": 0, "reason": "上限为零人"}, headers=sup)).status_code == 400
        assert (await TierConfig.select(TierConfig.cap).where(TierConfig.key == "super").first())["cap"] == 3

        denied_before = await AuditEvent.count().where((AuditEvent.action == "tiers.configure") & (AuditEvent.outcome == "denied"))
        for username in ("regional-game-cards", "normal-game-cards-1", "intern-game-cards-1"):
            refused = await api.patch("/api/tiers/normal", json={"cap": 50, "reason": "越权修改"}, headers=await as_(api, username))
            assert (refused.status_code, refused.json()["error"]["code"]) == (403, "no_permission")
        denied = await AuditEvent.count().where((AuditEvent.action == "tiers.configure") & (AuditEvent.outcome == "denied"))
        assert denied == denied_before + 3
    finally:
        await TierConfig.update({TierConfig.cap: None}).where(TierConfig.key == "regional")


async def test_only_supers_start_an_appointment(api):
    body = {"admin": "normal-east-china-1", "change": "appoint", "regions": ["east-china"], "reason": "授权矩阵测试"}
    for username in ("regional-game-cards", "normal-game-cards-1", "intern-game-cards-1"):
        refused = await api.post("/api/processes/admin-appointment", json=body, headers=await as_(api, username))
        assert refused.status_code == 403, refused.text
    missing = await api.post("/api/processes/admin-appointment", json={**body, "admin": "ghost"}, headers=await as_(api, "super-2"))
    assert missing.status_code == 404
    own = await api.post("/api/processes/admin-appointment", json={**body, "admin": "super-2", "change": "remove", "regions": []},
                         headers=await as_(api, "super-2"))
    assert (own.status_code, own.json()["error"]["code"]) == (403, "conflict_of_interest")
