"""The seam where a learned organ or lesion segmentation model (nnU-Net, TotalSegmentator,
MONAI…) plugs in.  Models are registered by name and load their weights from a folder the
user gives (no download at run time); the rest of the pipeline only sees a LabelMap."""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Protocol

from ..core import Image, LabelMap


class SegmentationModel(Protocol):
    """Anything that turns a PET (and optionally its CT) into a label map on the PET grid."""

    name: str

    def predict(self, pet: Image, ct: Image | None = None) -> LabelMap: ...


_FACTORIES: dict[str, Callable[[Path], SegmentationModel]] = {}


def register_model(name: str, factory: Callable[[Path], SegmentationModel]) -> None:
    """Register a factory that builds a model from a weights folder."""
    if name in _FACTORIES:
        raise ValueError(f"a segmentation model named {name!r} is already registered")
    _FACTORIES[name] = factory


def load_model(name: str, weights_dir: str | Path) -> SegmentationModel:
    """Build a registered model from ``weights_dir`` (which must exist)."""
    if name not in _FACTORIES:
        raise KeyError(f"no segmentation model named {name!r}; registered: {sorted(_FACTORIES)}")
    weights_dir = Path(weights_dir)
    if not weights_dir.is_dir():
        raise FileNotFoundError(f"weights folder for model {name!r} not found: {weights_dir}")
    return _FACTORIES[name](weights_dir)
