"""Active grants that exceed the delegation ceiling, found and revoked.

A grant approved before the ceiling held (``Policy.delegation_ceiling``), or whose approver has
since lost the standing right it was delegated from, authorizes more than anyone could hand
out now. ``kameng grants check`` finds them (``--dry-run`` only lists them); the worker runs
the same check once when it starts. Each one found is revoked in the database at once (the
policy reads grants from there with every request), audited, and its grant process told, so
that its status says revoked too.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import msgspec
from temporalio.client import Client
from temporalio.service import RPCError

from infra.db.audit import append
from infra.db.tables import Admin, PermissionGrant
from workflows.domain.messages import AuditRecord
from workflows.domain.permissions import Scope
from workflows.domain.policy import DEFAULT_POLICY, Actor, Policy, Subject
from workflows.permission_grant import PermissionGrantWorkflow

log = logging.getLogger("kameng.grants")


class Exceeding(msgspec.Struct, frozen=True, kw_only=True):
    grant_id: str
    grantee: str
    permission: str
    scope: str
    regions: tuple[str, ...]
    approved_by: str
    code: str
    reason: str
    process_id: str = ""


def judge(
    grant: dict, grantee: dict, approver: dict | None, policy: Policy = DEFAULT_POLICY
) -> tuple[str, str] | None:
    """(code, reason) when the grant exceeds what its approver may delegate now, else None.
    The approver is judged on their tier's standing rights alone, never on grants of theirs."""
    if approver is None:
        return ("exceeds_approver", f"the approver {grant['approved_by'] or '(none)'} is not an admin")
    standing = Actor(id=approver["username"], tier=approver["tier"], regions=tuple(approver["regions"] or ()))
    scope = Scope(grant["scope"])
    regions = tuple(grant["regions"] or ()) or tuple(grantee["regions"] or ())
    subject = Subject(
        kind="grant", id=grant["grant_id"], region=regions[0] if regions else None,
        requester=grantee["username"], subject_tier=grantee["tier"], permission=grant["permission"],
        grant_scope=scope, grant_regions=regions if scope is Scope.REGION else (),
    )
    if policy.cell(standing.tier, "grants.approve") is None:
        return ("exceeds_approver", f"a {standing.tier} admin does not approve grants")
    denial = policy.delegation_ceiling(standing, subject)
    return (denial.code, denial.reason) if denial is not None else None


async def exceeding_grants(now: datetime | None = None, *, only: frozenset[str] | None = None) -> list[Exceeding]:
    """Active grants above the ceiling (``only``: among these grant ids)."""
    now = now or datetime.now(UTC)
    live = PermissionGrant.revoked_at.is_null() & (PermissionGrant.ends_at > now)
    if only is not None:
        live = live & PermissionGrant.grant_id.is_in(sorted(only) or [""])
    grants = await PermissionGrant.select().where(live)
    if not grants:
        return []
    admins = await Admin.select(Admin.id, Admin.username, Admin.tier, Admin.regions)
    by_id = {a["id"]: a for a in admins}
    by_name = {a["username"]: a for a in admins}
    found = []
    for grant in grants:
        grantee = by_id.get(grant["admin"])
        if grantee is None:
            continue
        verdict = judge(grant, grantee, by_name.get(grant["approved_by"]))
        if verdict is not None:
            found.append(
                Exceeding(
                    grant_id=grant["grant_id"], grantee=grantee["username"], permission=grant["permission"],
                    scope=grant["scope"], regions=tuple(grant["regions"] or ()), approved_by=grant["approved_by"],
                    code=verdict[0], reason=verdict[1], process_id=grant["process_id"],
                )
            )
    return found


async def revoke_exceeding(
    client: Client | None, *, now: datetime | None = None, source: str = "kameng grants check", only: frozenset[str] | None = None,
) -> list[Exceeding]:
    """Revoke every active grant above the ceiling (``only``: among these ids); returns them.
    ``client``: tell each grant's process (None when Temporal is out of reach: the database
    revocation already holds)."""
    now = now or datetime.now(UTC)
    found = await exceeding_grants(now, only=only)
    for grant in found:
        updated = await PermissionGrant.update({PermissionGrant.revoked_at: now}).where(
            (PermissionGrant.grant_id == grant.grant_id) & PermissionGrant.revoked_at.is_null()
        ).returning(PermissionGrant.id)
        if not updated:
            continue  # revoked meanwhile by someone else
        await append(
            AuditRecord(
                actor="system", actor_tier="system", action="permission-grant.ceiling_revoked",
                target=f"grant:{grant.grant_id}", outcome="revoked", reason=f"{grant.code}: {grant.reason}",
                process_id=grant.process_id or None, source=source, at=now,
                after={"grantee": grant.grantee, "permission": grant.permission, "scope": grant.scope, "approved_by": grant.approved_by},
            )
        )
        log.warning("revoked grant %s of %s to %s: %s", grant.grant_id, grant.permission, grant.grantee, grant.reason)
        if client is not None and grant.process_id:
            try:
                await client.get_workflow_handle(grant.process_id).signal(
                    PermissionGrantWorkflow.revoke_out_of_ceiling, f"{grant.code}: {grant.reason}"
                )
            except RPCError:
                pass  # the process has ended (or is out of reach): the database revocation stands
    return found
