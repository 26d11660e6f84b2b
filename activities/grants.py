"""Temporary permission grants in the database (the policy reads them with every request)."""

from __future__ import annotations

from datetime import datetime

import msgspec
from temporalio import activity

from infra.db.tables import Admin, PermissionGrant


class GrantActivation(msgspec.Struct, frozen=True, kw_only=True):
    grant_id: str
    username: str
    permission: str
    scope: str
    regions: tuple[str, ...]
    starts_at: datetime
    ends_at: datetime
    approved_by: str
    justification: str
    process_id: str


class GrantResume(msgspec.Struct, frozen=True, kw_only=True):
    """What an active grant carries across continue-as-new. (Defined outside the workflow
    sandbox, where msgspec sees the real ``datetime``.)"""

    grant_id: str
    starts_at: datetime
    ends_at: datetime
    approved_by: str


class GrantEnd(msgspec.Struct, frozen=True, kw_only=True):
    grant_id: str
    at: datetime


class GrantExtension(msgspec.Struct, frozen=True, kw_only=True):
    grant_id: str
    ends_at: datetime
    approved_by: str


class GrantActivities:
    @activity.defn(name="activate_grant")
    async def activate_grant(self, grant: GrantActivation) -> None:
        admin = await Admin.select(Admin.id).where(Admin.username == grant.username).first()
        if admin is None:
            raise ValueError(f"no admin {grant.username!r}")
        await PermissionGrant.insert(
            PermissionGrant(
                grant_id=grant.grant_id, admin=admin["id"], permission=grant.permission, scope=grant.scope,
                regions=list(grant.regions), starts_at=grant.starts_at, ends_at=grant.ends_at,
                approved_by=grant.approved_by, justification=grant.justification, process_id=grant.process_id,
            )
        ).on_conflict(action="DO NOTHING")

    @activity.defn(name="revoke_grant")
    async def revoke_grant(self, end: GrantEnd) -> None:
        await PermissionGrant.update({PermissionGrant.revoked_at: end.at}).where(
            (PermissionGrant.grant_id == end.grant_id) & PermissionGrant.revoked_at.is_null()
        )

    @activity.defn(name="extend_grant")
    async def extend_grant(self, extension: GrantExtension) -> None:
        await PermissionGrant.update(
            {PermissionGrant.ends_at: extension.ends_at, PermissionGrant.approved_by: extension.approved_by}
        ).where(PermissionGrant.grant_id == extension.grant_id)
