"""On-disk cache of generated tables and kernels: ``$THERANOMICS_CACHE`` or ``~/.cache/theranomics``."""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Callable

import numpy as np


def cache_dir() -> Path:
    """Root cache folder (read from the environment at each call, never stored)."""
    env = os.environ.get("THERANOMICS_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "theranomics"


def cache_key(params: dict) -> str:
    text = json.dumps(params, sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:20]


def cached_arrays(kind: str, params: dict, build: Callable[[], dict[str, np.ndarray]], use_cache: bool = True) -> dict[str, np.ndarray]:
    """Load ``{name: array}`` for ``params`` from the cache, or build and store it (atomic write)."""
    if not use_cache:
        return build()
    folder = cache_dir() / kind
    path = folder / f"{cache_key(params)}.npz"
    if path.is_file():
        try:
            with np.load(path, allow_pickle=False) as data:
                return {k: data[k] for k in data.files}
        except (OSError, ValueError):
            pass  # unreadable (e.g. interrupted write by an older version): rebuild
    arrays = build()
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{path.stem}.{os.getpid()}.tmp.npz"
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, path)
    (folder / f"{path.stem}.json").write_text(json.dumps(params, sort_keys=True, default=str, indent=1))
    return arrays
