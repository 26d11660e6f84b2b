"""Messages between workflows and activities: plain msgspec Structs, no I/O."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from workflows.domain.policy import Subject


class AuditRecord(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """What a caller says happened; the trail adds sequence, time and hashes."""

    actor: str
    actor_tier: str
    action: str
    target: str
    outcome: str
    reason: str = ""
    region: str | None = None
    scope: str | None = None
    source: str = ""
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    process_id: str | None = None
    at: datetime | None = None
    dedup_key: str | None = None
    """Writing the same key twice records one event (activities retry)."""
    process_status: str | None = None
    process_step: str | None = None
    """The process's status and step as it audits this event, for its row (what its live view
    says at that moment); not part of the chained event."""


class ActionView(msgspec.Struct, frozen=True):
    name: str
    label_zh: str
    label_en: str
    permission: str


class TaskRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A workflow waiting for a person: one row in the inbox read model."""

    task_id: str
    kind: str
    process_id: str
    step: str
    title: str
    tier: str
    region: str | None
    candidates: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()
    actions: tuple[ActionView, ...] = ()
    evidence: dict[str, Any] = {}
    subject: Subject = Subject()
    priority: int = 0
    due_at: datetime | None = None
    remind_at: datetime | None = None
    created_at: datetime


class TaskChange(msgspec.Struct, frozen=True, kw_only=True):
    """A change to an open task: a claim, a release, a reminder or an escalation."""

    task_id: str
    process_id: str
    change: str
    """``claimed``, ``released``, ``reminded`` or ``escalated``."""
    actor: str = "system"
    actor_tier: str = "system"
    assignee: str | None = None
    tier: str | None = None
    due_at: datetime | None = None
    remind_at: datetime | None = None
    reason: str = ""
    region: str | None = None
    priority: int | None = None
    """An escalation's raised priority."""
    at: datetime
    seq: int = 0
    """Orders changes of one task, so a retried write never rewinds a later one."""


class TaskClose(msgspec.Struct, frozen=True, kw_only=True):
    task_id: str
    process_id: str
    kind: str
    action: str
    actor: str
    actor_tier: str
    reason: str = ""
    outcome: dict[str, Any] = {}
    region: str | None = None
    status: str = "done"
    """``done`` or ``cancelled``."""
    at: datetime
