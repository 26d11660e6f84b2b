"""REGISTRY: the one list an engineer edits to add a process."""

from __future__ import annotations

from workflows import permission_grant
from workflows.spec import WorkflowSpec

REGISTRY: tuple[WorkflowSpec, ...] = (
    permission_grant.SPEC,
)

BY_KIND: dict[str, WorkflowSpec] = {spec.kind: spec for spec in REGISTRY}
