"""Platform users (buyers) as the account-ban process reads and changes them."""

from __future__ import annotations

from typing import Any

import msgspec
from temporalio import activity

from infra.db.tables import Buyer
from workflows.domain.policy import Actor
from workflows.process import ProcessConfig


class BuyerRef(msgspec.Struct, frozen=True, kw_only=True):
    code: str


class BuyerInfo(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    nickname: str
    region: str
    status: str


class BuyerStatusChange(msgspec.Struct, frozen=True, kw_only=True):
    """Set a buyer's status, but only from one of ``expected`` (so a retry changes nothing)."""

    code: str
    status: str
    expected: tuple[str, ...]
    process_id: str


class BuyerStatusResult(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    status: str
    """The buyer's status after the call."""
    changed: bool
    """False when it already had the status (a retried call) or was in an unexpected one."""


class BanStart(msgspec.Struct, frozen=True, kw_only=True):
    """An account ban to start as a process of its own: it outlives the review that asks for it."""

    by: Actor | None
    """The requester, or None when the ban opens as a signal."""
    body: dict[str, Any]
    """A ``workflows.account_ban.BanInput``."""
    key: str
    config: ProcessConfig = ProcessConfig()
    case: dict[str, tuple[str, ...]] = {}
    """The roles of the case so far (the review's reviewer): the ban's deciders are checked against them."""


class BuyerActivities:
    @activity.defn(name="load_buyer")
    async def load_buyer(self, ref: BuyerRef) -> BuyerInfo | None:
        row = (
            await Buyer.select(Buyer.code, Buyer.nickname, Buyer.region, Buyer.status)
            .where(Buyer.code == ref.code)
            .first()
        )
        return None if row is None else BuyerInfo(**row)

    @activity.defn(name="set_buyer_status")
    async def set_buyer_status(self, change: BuyerStatusChange) -> BuyerStatusResult:
        before = await Buyer.select(Buyer.status).where(Buyer.code == change.code).first()
        if before is None:
            raise ValueError(f"no buyer {change.code!r}")
        changed = False
        if before["status"] in change.expected:
            # Conditional: two writers (or a retry) cannot both see the old status and win.
            await Buyer.update({Buyer.status: change.status}).where(
                (Buyer.code == change.code) & Buyer.status.is_in(list(change.expected))
            )
            changed = True
        after = await Buyer.select(Buyer.status).where(Buyer.code == change.code).first()
        return BuyerStatusResult(code=change.code, status=after["status"], changed=changed and after["status"] == change.status)

    @activity.defn(name="start_account_ban")
    async def start_account_ban(self, start: BanStart) -> str:
        """Start the account-ban process (idempotent: its id comes from the business key)."""
        from infra.temporal.processes import ProcessError, start_process
        from workflows.account_ban import SPEC, BanInput
        from workflows.process import Start

        body = msgspec.convert(start.body, BanInput)
        try:
            return await start_process(
                activity.client(), SPEC, by=start.by, body=body, key=start.key,
                task_queue=activity.info().task_queue, config=start.config, case=start.case,
            )
        except ProcessError as exc:
            if exc.code != "already_started":
                raise
            return SPEC.workflow_id(Start(by=start.by, body=body, key=start.key))
