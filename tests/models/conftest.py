"""Fixtures for the model tests: one BLAS thread (the CI machine has 2 cores shared by workers)."""
from __future__ import annotations

import pytest


@pytest.fixture(autouse=True, scope="session")
def _single_thread_blas():
    from threadpoolctl import threadpool_limits
    with threadpool_limits(1):
        yield
