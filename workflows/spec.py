"""How a process describes itself, so the worker, the API and the console derive from it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any


@dataclass(frozen=True)
class ActionSpec:
    """A human step: a Temporal Update the API exposes as ``POST .../actions/{name}``."""

    name: str
    input: type
    permission: str
    label_zh: str
    label_en: str
    example: Any = None
    """A realistic body the live app accepts (shown in the OpenAPI document)."""
    standing: bool = False
    """Taken on the process itself (no inbox task), e.g. revoking an active grant."""
    role: str = ""
    """The part its decider takes in the case (``ruler``, ``appeal_judge``): recorded when
    the action is taken, and handed to the processes the case opens."""
    independent_of: tuple[str, ...] = ()
    """Roles of the case (this process and the ones it was opened from) whose holders may not
    take this action: separation of duties across the whole case (the policy refuses them
    with ``not_independent``)."""


@dataclass(frozen=True)
class WorkflowSpec:
    kind: str
    """URL-safe kind: ``permission-grant``."""
    workflow: type
    input: type
    workflow_id: Callable[[Any], str]
    """Builds the workflow id from the business key in the input."""
    start_permission: str
    title_zh: str
    title_en: str
    example: Any = None
    description: str = ""
    validate_start: Callable[[Any, Any], tuple[str, str] | None] | None = None
    """(body, actor) -> (code, reason) when the request cannot be filed; checked before start."""
    extra: dict[str, Any] = field(default_factory=dict)
    opener: str = ""
    """``module:function`` that makes a start of this kind when it is not a plain start: it
    opens the process or joins the one already open for the same subject (a risk review),
    called as ``fn(body, key, by=, client=, task_queue=, config=) -> (process id, joined)``.
    Named, not imported: the function does I/O, the spec is read inside the workflow sandbox."""
    platform_start: bool = False
    """Started by the platform with no admin (intake, a risk signal): a start without one is
    refused for every other kind (``Process.admit``)."""
    also_checks: tuple[str, ...] = ()
    """Permissions the process asks the policy about for its starter or an actor beyond its
    start and action permissions (a reviewer who may also request a ban, say)."""

    def __post_init__(self) -> None:
        # The process class knows its spec: the workflow checks its own start against it.
        self.workflow.SPEC = self

    @cached_property
    def permissions(self) -> frozenset[str]:
        """Every permission the process checks: an actor in its inputs carries only their grants."""
        return frozenset({self.start_permission, *(a.permission for a in self.actions), *self.also_checks})

    @property
    def actions(self) -> tuple[ActionSpec, ...]:
        """The human actions, as the workflow class declares them (``ACTIONS``)."""
        return getattr(self.workflow, "ACTIONS", ())

    def action(self, name: str) -> ActionSpec | None:
        return next((a for a in self.actions if a.name == name), None)
