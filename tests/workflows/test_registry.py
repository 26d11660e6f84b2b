"""Register once: every workflow class is in REGISTRY, and every spec is coherent."""

from __future__ import annotations

import importlib
import pkgutil

import workflows
from workflows.domain.permissions import PERMISSIONS_BY_KEY
from workflows.registry import BY_KIND, REGISTRY


def defined_workflows() -> set[type]:
    found = set()
    for module in pkgutil.iter_modules(workflows.__path__):
        if module.ispkg:
            continue
        mod = importlib.import_module(f"workflows.{module.name}")
        for value in vars(mod).values():
            if isinstance(value, type) and hasattr(value, "__temporal_workflow_definition") and value.__module__ == mod.__name__:
                found.add(value)
    return found


def test_every_workflow_is_registered():
    from infra.temporal.schedules import STANDING

    registered = {spec.workflow for spec in REGISTRY} | {s.workflow for s in STANDING}
    assert defined_workflows() - registered == set()


def test_specs_are_coherent():
    assert len(BY_KIND) == len(REGISTRY)
    for spec in REGISTRY:
        assert spec.start_permission in PERMISSIONS_BY_KEY, spec.kind
        names = [a.name for a in spec.actions]
        assert len(names) == len(set(names)), spec.kind
        for action in spec.actions:
            assert action.permission in PERMISSIONS_BY_KEY, (spec.kind, action.name)
            assert action.label_zh and action.label_en
