"""Save and load trained models: ``model.joblib`` (the fitted pipeline with its preprocessing),
``model_card.md`` / ``model_card.json``, and the package versions it was trained with."""
from __future__ import annotations

import logging
from pathlib import Path

import joblib

from .train import TrainedModel, package_versions

__all__ = ["save_model", "load_model"]

log = logging.getLogger(__name__)
_FORMAT = 1


def save_model(model: TrainedModel, folder: str | Path) -> Path:
    """Write ``model`` into ``folder`` (created); returns the path of ``model.joblib``."""
    if not isinstance(model, TrainedModel):
        raise TypeError(f"save_model expects a TrainedModel, got {type(model).__name__}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "model.joblib"
    joblib.dump({"format": _FORMAT, "model": model}, path)
    model.card.write(folder)
    return path


def load_model(path: str | Path) -> TrainedModel:
    """Load a model saved by :func:`save_model` (``path`` = the folder or its ``model.joblib``).

    Warns when the installed scikit-learn / theranomics versions differ from the training ones
    (predictions may then differ)."""
    path = Path(path)
    if path.is_dir():
        path = path / "model.joblib"
    if not path.is_file():
        raise FileNotFoundError(f"no saved model at {path} (expected a folder written by save_model)")
    try:
        obj = joblib.load(path)
    except Exception as exc:  # noqa: BLE001 - joblib/pickle raise many types; report one clear error
        raise ValueError(f"{path} is not a readable theranomics model file: {exc}") from exc
    if not isinstance(obj, dict) or obj.get("format") != _FORMAT or not isinstance(obj.get("model"), TrainedModel):
        raise ValueError(f"{path} is not a theranomics model file (format {_FORMAT})")
    model = obj["model"]
    now = package_versions()
    for pkg in ("scikit-learn", "theranomics", "scikit-survival", "xgboost-cpu"):
        if model.versions.get(pkg) != now.get(pkg):
            log.warning("model %s was trained with %s %s, now %s is installed", path, pkg, model.versions.get(pkg),
                        now.get(pkg))
    return model
