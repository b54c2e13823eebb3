"""Fixtures of the dosimetry tests: expensive results computed once per test session, shared by the
pytest-xdist workers through a locked pickle in the session's common temporary folder."""
from __future__ import annotations

import os
import pickle
from contextlib import contextmanager
from pathlib import Path

import pytest

try:
    import fcntl
except ImportError:          # not POSIX: every worker computes its own copy
    fcntl = None


@contextmanager
def _locked(path: Path):
    with open(path, "a+") as fh:
        if fcntl is not None:
            fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            if fcntl is not None:
                fcntl.flock(fh, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def shared_dir(tmp_path_factory) -> Path:
    """A folder common to all xdist workers of this session (the session's own temp folder without xdist)."""
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    out = shared / "dosimetry_shared"
    out.mkdir(exist_ok=True)
    return out


@pytest.fixture(scope="session")
def once(shared_dir):
    """``once(name, fn)``: ``fn()`` computed by the first worker that asks, pickled, reused by the others;
    ``once(name, fn, files=True)``: ``fn(folder)`` writes into ``shared_dir/name`` once, returns the folder."""
    def get(name: str, fn, files: bool = False):
        with _locked(shared_dir / f"{name}.lock"):
            if files:
                folder = shared_dir / name
                done = shared_dir / f"{name}.done"
                if not done.is_file():
                    folder.mkdir(exist_ok=True)
                    fn(folder)
                    done.write_text("ok")
                return folder
            path = shared_dir / f"{name}.pkl"
            if path.is_file():
                return pickle.loads(path.read_bytes())
            value = fn()
            path.write_bytes(pickle.dumps(value))
            return value
    return get
