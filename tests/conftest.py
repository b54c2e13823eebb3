"""Shared test fixtures.  Reference data is read from ../shared/data (or $THERANOMICS_REFDATA)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def refdata_root() -> Path:
    env = os.environ.get("THERANOMICS_REFDATA")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def refdata() -> Path:
    root = refdata_root()
    if not root.is_dir():
        pytest.fail(f"reference data folder not found: {root} (set THERANOMICS_REFDATA)")
    return root
