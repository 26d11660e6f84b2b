"""The fund ledger (资金操作): what a fund operation needs to know, who may check it, and the
one write that executes it. Executing is idempotent by the operation id: a retried or
replayed activity finds its ledger entry and changes nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from temporalio import activity

from infra.db.engine import serialize_writers, write_transaction
from infra.db.tables import LedgerEntry, Merchant, PermissionGrant, PlatformMeta

LEDGER_LOCK_KEY = 7_401_301
FEE_RATE_KEY = "fee_rate"
"""PlatformMeta key holding the platform fee rate as a decimal string ("0.0350")."""
MERCHANT_OPERATIONS = ("merchant_settlement", "refund")
"""Operations paid to or taken from a merchant: their account is a merchant code."""


def fee_rate_text(bps: int) -> str:
    return f"{bps / 10_000:.4f}"


class FundContextQuery(msgspec.Struct, frozen=True, kw_only=True):
    operation: str
    account: str


class FundContext(msgspec.Struct, frozen=True, kw_only=True):
    found: bool
    region: str | None = None
    """The merchant's region for settlements and refunds; None for platform-wide operations."""
    account_name: str = ""
    fee_rate: str | None = None
    """The current platform fee rate, for the reviewers' evidence."""
    problem: str = ""


class ApproverQuery(msgspec.Struct, frozen=True, kw_only=True):
    region: str
    at: datetime


class FundExecution(msgspec.Struct, frozen=True, kw_only=True):
    operation_id: str
    kind: str
    amount: int
    account: str
    proposed_by: str
    approved_by: str
    executed_at: datetime
    fee_rate_bps: int | None = None
    details: dict[str, Any] = {}


class FundExecuted(msgspec.Struct, frozen=True, kw_only=True):
    operation_id: str
    entry_id: int
    executed_at: datetime
    first_time: bool
    """False when an earlier attempt had already written the entry (a retry)."""


class FundActivities:
    @activity.defn(name="load_fund_context")
    async def load_fund_context(self, query: FundContextQuery) -> FundContext:
        rate = await PlatformMeta.select(PlatformMeta.value).where(PlatformMeta.key == FEE_RATE_KEY).first()
        current = rate["value"] if rate else None
        if query.operation not in MERCHANT_OPERATIONS:
            return FundContext(found=True, account_name=query.account, fee_rate=current)
        merchant = await Merchant.select(Merchant.name, Merchant.region, Merchant.status).where(Merchant.code == query.account).first()
        if merchant is None:
            return FundContext(found=False, problem=f"no merchant {query.account!r}")
        return FundContext(found=True, region=merchant["region"], account_name=merchant["name"], fee_rate=current)

    @activity.defn(name="find_fund_approvers")
    async def find_fund_approvers(self, query: ApproverQuery) -> list[str]:
        """Admins below the super tier whose temporary ``funds.approve`` grant covers the region
        now or later (SPEC §3: "none, unless temporarily granted regional fund approval").

        They are named on the task so they may act on it; the policy still checks the grant
        at the moment they act, so one that has ended by then authorizes nothing.
        """
        rows = await PermissionGrant.select(
            PermissionGrant.scope,
            PermissionGrant.regions,
            PermissionGrant.admin.username,
            PermissionGrant.admin.regions,
            PermissionGrant.admin.tier,
            PermissionGrant.admin.status,
        ).where(
            (PermissionGrant.permission == "funds.approve")
            & PermissionGrant.revoked_at.is_null()
            & (PermissionGrant.ends_at > query.at)
        )
        found = set()
        for row in rows:
            if row["admin.tier"] == "super" or row["admin.status"] != "active":
                continue
            covered = row["regions"] or row["admin.regions"] or []
            if row["scope"] == "global" or query.region in covered:
                found.add(row["admin.username"])
        return sorted(found)

    @activity.defn(name="execute_fund_operation")
    async def execute_fund_operation(self, op: FundExecution) -> FundExecuted:
        """Write the ledger entry (and, for a fee-rate change, the new rate) exactly once."""
        async with write_transaction():
            await serialize_writers(LEDGER_LOCK_KEY)
            done = await LedgerEntry.select(LedgerEntry.id, LedgerEntry.executed_at).where(
                LedgerEntry.operation_id == op.operation_id
            ).first()
            if done is not None:
                return FundExecuted(operation_id=op.operation_id, entry_id=done["id"], executed_at=done["executed_at"], first_time=False)
            details = dict(op.details)
            if op.fee_rate_bps is not None:
                previous = await PlatformMeta.select(PlatformMeta.value).where(PlatformMeta.key == FEE_RATE_KEY).first()
                details |= {"previous_fee_rate": previous["value"] if previous else None, "fee_rate": fee_rate_text(op.fee_rate_bps)}
                if previous is None:
                    await PlatformMeta.insert(PlatformMeta(key=FEE_RATE_KEY, value=fee_rate_text(op.fee_rate_bps)))
                else:
                    await PlatformMeta.update({PlatformMeta.value: fee_rate_text(op.fee_rate_bps)}).where(PlatformMeta.key == FEE_RATE_KEY)
            await LedgerEntry.insert(
                LedgerEntry(
                    operation_id=op.operation_id, kind=op.kind, amount=op.amount, account=op.account,
                    proposed_by=op.proposed_by, approved_by=op.approved_by, executed_at=op.executed_at,
                    details=details,
                )
            ).on_conflict(action="DO NOTHING")
            entry = await LedgerEntry.select(LedgerEntry.id).where(LedgerEntry.operation_id == op.operation_id).first()
        return FundExecuted(operation_id=op.operation_id, entry_id=entry["id"], executed_at=op.executed_at, first_time=True)
