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
    """A process in REGISTRY, or a standing workflow in infra/temporal/schedules.py."""
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


def test_a_process_checks_only_the_permissions_its_spec_names():
    """An actor reaches a process carrying only the grants of ``spec.permissions``; a check
    in the process's code about any other permission would see the actor without its grants.
    So every permission the module names is one its spec lists (or an example's text)."""
    import inspect
    import re

    examples = {("permission-grant", "funds.approve")}  # the request body's example permission
    for spec in REGISTRY:
        source = inspect.getsource(inspect.getmodule(spec.workflow))
        named = set(re.findall(r'"([a-z_]+\.[a-z_]+)"', source)) & set(PERMISSIONS_BY_KEY)
        named |= {v for v in vars(inspect.getmodule(spec.workflow)).values() if isinstance(v, str) and v in PERMISSIONS_BY_KEY}
        assert {p for p in named if (spec.kind, p) not in examples} <= spec.permissions, spec.kind
        assert spec.also_checks == () or set(spec.also_checks) <= set(PERMISSIONS_BY_KEY), spec.kind


def test_every_deferred_write_is_one_a_batch_can_make():
    """``Process.write(name, ...)`` defers a write to ``apply_writes``, which makes only the
    writes of ``activities.writes.DEFERRABLE`` (a name it lacks would fail the process)."""
    import re
    from pathlib import Path

    from activities.writes import DEFERRABLE, writers

    named = {name for path in Path(workflows.__path__[0]).glob("*.py") for name in re.findall(r'\.write\(\s*"([a-z_]+)"', path.read_text())}
    assert {"record_task", "close_task", "write_audit", "activate_grant"} <= named  # the pattern finds them
    assert named <= DEFERRABLE, sorted(named - DEFERRABLE)
    assert set(writers()) == DEFERRABLE
