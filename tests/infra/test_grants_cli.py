"""``kameng grants check``, run as the operator runs it, against the real database."""

from __future__ import annotations

import json
import os
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from infra.db.tables import Admin, AuditEvent, PermissionGrant
from tests.infra.test_audit_cli import kameng

pytestmark = pytest.mark.db


async def _grant(username: str, permission: str, scope: str, approved_by: str, regions: list[str]) -> str:
    admin = await Admin.select(Admin.id).where(Admin.username == username).first()
    grant_id = f"permission-grant-cli-{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC)
    await PermissionGrant.insert(
        PermissionGrant(
            grant_id=grant_id, admin=admin["id"], permission=permission, scope=scope, regions=regions,
            starts_at=now - timedelta(hours=1), ends_at=now + timedelta(hours=8), approved_by=approved_by,
            justification="approved before the ceiling held",
        )
    )
    return grant_id


async def test_check_lists_then_revokes_and_audits(demo, monkeypatch):
    wide = await _grant("intern-game-cards-1", "users.view", "global", "regional-game-cards", [])
    fine = await _grant("intern-game-cards-1", "users.view", "region", "regional-game-cards", ["game-cards"])
    rules = await _grant("normal-game-cards-1", "risk.define_rules", "region", "regional-game-cards", ["game-cards"])

    ours = ["--grant", wide, "--grant", fine, "--grant", rules]  # other tests' grants are theirs to judge
    code, out, _ = await kameng("grants", "check", "--dry-run", "--json", *ours)
    assert code == 1, out
    listed = {row["grant_id"]: row for row in map(json.loads, out.splitlines())}
    assert listed[wide]["code"] == "exceeds_approver" and listed[rules]["code"] == "not_delegable"
    assert fine not in listed
    assert (await PermissionGrant.select().where(PermissionGrant.grant_id == wide).first())["revoked_at"] is None

    monkeypatch.setenv("KAMENG_TEMPORAL_ADDRESS", "127.0.0.1:1")  # Temporal out of reach: the database revocation holds
    code, out, _ = await kameng("grants", "check", *ours)
    assert code == 1 and f"revoked {wide}" in out and f"revoked {rules}" in out, out
    for grant_id in (wide, rules):
        assert (await PermissionGrant.select().where(PermissionGrant.grant_id == grant_id).first())["revoked_at"] is not None
        assert await AuditEvent.exists().where((AuditEvent.target == f"grant:{grant_id}") & (AuditEvent.outcome == "revoked"))
    assert (await PermissionGrant.select().where(PermissionGrant.grant_id == fine).first())["revoked_at"] is None

    code, out, _ = await kameng("grants", "check", "--dry-run", *ours)
    assert code == 0 and "0 grant(s)" in out
