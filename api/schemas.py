"""Request and response bodies of the HTTP API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec

Username = Annotated[str, msgspec.Meta(min_length=1, max_length=64, examples=["normal-game-cards-1"])]
Password = Annotated[str, msgspec.Meta(min_length=1, max_length=256, examples=["kameng-demo"])]


class LoginCreate(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    username: Username
    password: Password


class PasswordChange(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    current_password: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
    new_password: Annotated[str, msgspec.Meta(min_length=10, max_length=256)]


class AdminRead(msgspec.Struct, frozen=True):
    username: str
    display_name: str
    tier: str
    tier_name_zh: str
    regions: list[str]
    station_master: bool


class LoginRead(msgspec.Struct, frozen=True):
    token: str
    admin: AdminRead


class PermissionRead(msgspec.Struct, frozen=True):
    permission: str
    name_zh: str
    name_en: str
    scope: str
    ends_at: datetime | None = None
    """Set for a temporary grant: when it stops authorizing."""


class MeRead(msgspec.Struct, frozen=True):
    admin: AdminRead
    permissions: list[PermissionRead]


class TaskAction(msgspec.Struct, frozen=True):
    name: str
    label_zh: str
    label_en: str
    permission: str


class TaskRead(msgspec.Struct, frozen=True):
    id: str
    kind: str
    process_id: str
    title: str
    tier: str
    region: str | None
    status: str
    assignee: str | None
    due_at: datetime | None
    escalated: bool
    actions: list[Any]
    priority: int = 0
    created_at: datetime | None = None


class InboxRead(msgspec.Struct, frozen=True):
    items: list[TaskRead]
    next_cursor: str | None


class ComponentHealth(msgspec.Struct, frozen=True):
    ok: bool
    detail: str


class HealthRead(msgspec.Struct, frozen=True):
    status: str
    """``ok`` or ``degraded``."""
    database: ComponentHealth
    temporal: ComponentHealth


class TierUpdate(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A change to a tier's head-count cap (the console's form and ``PATCH /api/tiers/{key}``)."""

    cap: Annotated[int, msgspec.Meta(ge=1, le=10_000, examples=[2])] | None
    """The head-count cap; null for no cap (not allowed for the super tier)."""
    reason: Annotated[str, msgspec.Meta(min_length=4, max_length=2000, examples=["超级管理员编制收紧为两人"])]


class ProcessTaskRead(msgspec.Struct, frozen=True, kw_only=True):
    """A task the process waits on."""

    task_id: str
    step: str
    title: str
    tier: str
    region: str | None
    status: str
    """``open`` or ``claimed``."""
    assignee: str | None
    due_at: datetime | None
    escalated: bool


class ProcessStatusRead(msgspec.Struct, frozen=True, kw_only=True):
    """Where a process stands, from Kameng's database (no workflow query): its status, the
    step it is at, the tasks it waits on, its latest event and, once it has ended, its result."""

    kind: str
    process_id: str
    status: str
    """``running`` until the process ends, then its final status (``approved``, ``rejected``,
    ``expired``...)."""
    step: str
    """``started``, then the step of the latest task opened, then ``finished``."""
    region: str | None
    started_by: str | None
    started_at: datetime | None
    updated_at: datetime | None
    """When the latest event happened."""
    finished_at: datetime | None = None
    last_action: str | None = None
    """The latest event (``permission-grant.activated``, ``task.opened``, ``permission-grant.approve``...)."""
    last_outcome: str | None = None
    tasks: list[ProcessTaskRead] = []
    result: dict[str, Any] = {}
    """What the process ended with (set once it has ended)."""
