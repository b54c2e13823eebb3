"""NIfTI reading and writing through SimpleITK (which converts NIfTI's RAS to our LPS).

The unit and modality are not part of NIfTI; they are stored in a JSON sidecar
(``<name>.json`` beside ``<name>.nii.gz``) when written by Theranomics, and must
be given explicitly otherwise.
"""
from __future__ import annotations

import json
from pathlib import Path

import SimpleITK as sitk

from ..core import Image, LabelMap
from .sitk import from_sitk, labelmap_from_sitk, to_sitk


def _sidecar(path: Path) -> Path:
    name = path.name
    for suffix in (".nii.gz", ".nii"):
        if name.endswith(suffix):
            return path.with_name(name[: -len(suffix)] + ".json")
    raise ValueError(f"{path}: expected a .nii or .nii.gz file name")


def write_nifti(image: Image | LabelMap, path: str | Path) -> Path:
    """Write an image or label map, with a JSON sidecar for unit/modality or label names."""
    path = Path(path)
    sidecar = _sidecar(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sitk.WriteImage(to_sitk(image), str(path), useCompression=True)
    if isinstance(image, LabelMap):
        info = {"type": "labelmap", "labels": {str(k): v for k, v in image.names.items()}}
    else:
        info = {"type": "image", "unit": image.unit, "modality": image.modality}
    sidecar.write_text(json.dumps(info, indent=2))
    return path


def _read(path: Path) -> tuple[sitk.Image, dict]:
    if not path.exists():
        raise FileNotFoundError(f"NIfTI file not found: {path}")
    try:
        img = sitk.ReadImage(str(path))
    except RuntimeError as exc:  # SimpleITK raises RuntimeError with a long ITK message
        raise ValueError(f"{path}: not a readable NIfTI image ({str(exc).strip().splitlines()[-1]})") from None
    sidecar = _sidecar(path)
    info = json.loads(sidecar.read_text()) if sidecar.exists() else {}
    return img, info


def read_nifti(path: str | Path, unit: str | None = None, modality: str | None = None) -> Image:
    """Read a scalar image; ``unit``/``modality`` override the sidecar (required without one)."""
    path = Path(path)
    img, info = _read(path)
    unit = unit or info.get("unit")
    if unit is None:
        raise ValueError(f"{path}: no unit given and no sidecar {_sidecar(path).name} to read it from; pass unit=...")
    return from_sitk(img, unit=unit, modality=modality or info.get("modality", "OT"), meta={"source": str(path)})


def read_labelmap(path: str | Path, names: dict[int, str] | None = None) -> LabelMap:
    """Read a label map; label names come from ``names`` or the sidecar."""
    path = Path(path)
    img, info = _read(path)
    if names is None:
        names = {int(k): v for k, v in info.get("labels", {}).items()}
    return labelmap_from_sitk(sitk.Cast(img, sitk.sitkInt32) if img.GetPixelID() not in (
        sitk.sitkUInt8, sitk.sitkInt8, sitk.sitkUInt16, sitk.sitkInt16, sitk.sitkInt32, sitk.sitkUInt32) else img,
        names, {"source": str(path)})
