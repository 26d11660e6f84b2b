"""``kameng new-process NAME``: a new process file, its test, and its registry line."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from workflows.domain.permissions import PERMISSIONS_BY_KEY
from workflows.domain.tiers import DEFAULT_LADDER

TEMPLATES = Path(__file__).parent / "templates"
_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


class ScaffoldError(ValueError):
    pass


@dataclass(frozen=True)
class Scaffolded:
    process: Path
    test: Path
    registry: Path


def scaffold(root: Path, kind: str, *, tier: str = "regional", permission: str = "admins.review_request",
             start_permission: str = "grants.request", title_zh: str = "新流程", title_en: str | None = None) -> Scaffolded:
    if not _NAME.match(kind):
        raise ScaffoldError(f"{kind!r}: use lowercase words joined by dashes, e.g. coupon-approval")
    if tier not in DEFAULT_LADDER:
        raise ScaffoldError(f"unknown tier {tier!r}")
    for key in (permission, start_permission):
        if key not in PERMISSIONS_BY_KEY:
            raise ScaffoldError(f"unknown permission {key!r}")
    module = kind.replace("-", "_")
    values = {
        "kind": kind,
        "module": module,
        "func": module,
        "cls": "".join(part.title() for part in kind.split("-")),
        "tier": tier,
        "permission": permission,
        "start_permission": start_permission,
        "title_zh": title_zh,
        "title_en": title_en or kind.replace("-", " ").capitalize(),
        "decider": "super-2" if tier == "super" else f"{tier}-game-cards" if tier == "regional" else f"{tier}-game-cards-2",
    }
    process = root / "workflows" / f"{module}.py"
    test = root / "tests" / "workflows" / f"test_{module}.py"
    registry = root / "workflows" / "registry.py"
    for path in (process, test):
        if path.exists():
            raise ScaffoldError(f"{path} exists already")
    text = registry.read_text()
    if "REGISTRY: tuple[WorkflowSpec, ...] = (\n" not in text:
        raise ScaffoldError("workflows/registry.py no longer has the expected REGISTRY tuple")
    process.write_text((TEMPLATES / "process.py.tmpl").read_text().format(**values))
    test.write_text((TEMPLATES / "test_process.py.tmpl").read_text().format(**values))
    text = text.replace("from workflows.spec import WorkflowSpec", f"from workflows import {module}\nfrom workflows.spec import WorkflowSpec", 1)
    text = text.replace("REGISTRY: tuple[WorkflowSpec, ...] = (\n", f"REGISTRY: tuple[WorkflowSpec, ...] = (\n    {module}.SPEC,\n", 1)
    registry.write_text(text)
    return Scaffolded(process, test, registry)
