"""`kameng new-process` makes a process that registers, runs and passes its own tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from infra.scaffold import ScaffoldError, scaffold

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


def copy_project(dest: Path) -> None:
    for name in ("workflows", "activities", "api", "web", "infra"):
        shutil.copytree(ROOT / name, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
    (dest / "tests" / "workflows").mkdir(parents=True)
    for name in ("__init__.py", "conftest.py"):
        shutil.copy(ROOT / "tests" / name, dest / "tests" / name)
    (dest / "tests" / "workflows" / "__init__.py").write_text("")
    shutil.copy(ROOT / "pyproject.toml", dest / "pyproject.toml")


def test_scaffolded_process_passes_its_tests(tmp_path, seeded_sqlite):
    copy_project(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    for key in [k for k in env if k.startswith("KAMENG_")]:
        del env[key]
    if seeded_sqlite is not None:  # its run starts from the demo platform as seeded
        env["KAMENG_TEST_SEEDED_DB"] = str(seeded_sqlite)
    made = subprocess.run(
        [sys.executable, "-m", "infra.cli", "new-process", "coupon-approval", "--title-zh", "优惠券审批"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
    )
    assert made.returncode == 0, made.stderr
    assert "coupon_approval.SPEC," in (tmp_path / "workflows" / "registry.py").read_text()
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/workflows/test_coupon_approval.py"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=150,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "2 passed" in run.stdout


@pytest.mark.parametrize(
    ("name", "options"),
    [("Bad Name", {}), ("ok-name", {"tier": "nobody"}), ("ok-name", {"permission": "no.such"})],
)
def test_bad_scaffold_requests_are_refused(tmp_path, name, options):
    with pytest.raises(ScaffoldError):
        scaffold(tmp_path, name, **options)
