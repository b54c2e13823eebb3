"""Provenance records: software version, parameters and input hashes, attached to every output."""
from __future__ import annotations

import datetime as dt
import hashlib
import platform
from pathlib import Path
from typing import Any, Iterable

from . import __version__


def file_sha256(path: str | Path, chunk_bytes: int = 1 << 20) -> str:
    """SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk_bytes), b""):
            h.update(block)
    return h.hexdigest()


def tree_sha256(folder: str | Path) -> str:
    """SHA-256 over the relative paths and contents of every file under ``folder`` (sorted)."""
    folder = Path(folder)
    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(str(path.relative_to(folder)).encode())
        h.update(file_sha256(path).encode())
    return h.hexdigest()


def input_hash(path: str | Path) -> str:
    path = Path(path)
    return tree_sha256(path) if path.is_dir() else file_sha256(path)


def provenance(step: str, parameters: dict[str, Any] | None = None, inputs: Iterable[str | Path] = ()) -> dict[str, Any]:
    """A JSON-ready provenance record for one step."""
    return {
        "software": "theranomics",
        "version": __version__,
        "step": step,
        "parameters": dict(parameters or {}),
        "inputs": {str(p): input_hash(p) for p in inputs},
        "python": platform.python_version(),
        "created": dt.datetime.now().isoformat(timespec="seconds"),
    }
