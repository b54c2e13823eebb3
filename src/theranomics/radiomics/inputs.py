"""Read an image and its mask for feature extraction: NIfTI files or DICOM (series, RTSTRUCT, SEG)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..core import Image, LabelMap

__all__ = ["load_image", "load_mask", "load_image_and_mask"]

_NIFTI_SUFFIXES = (".nii", ".nii.gz", ".nrrd", ".mha", ".mhd")


def _is_nifti(path: Path) -> bool:
    return path.is_file() and any(path.name.lower().endswith(s) for s in _NIFTI_SUFFIXES)


def _dicom_modality(path: Path) -> str:
    """Modality of a DICOM file, or of the first DICOM file in a folder ("" if none is found)."""
    import pydicom

    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for f in files:
        try:
            ds = pydicom.dcmread(f, stop_before_pixels=True, specific_tags=["Modality"])
        except Exception:  # not DICOM: keep looking
            continue
        if "Modality" in ds:
            return str(ds.Modality).upper()
    return ""


def load_image(path: str | Path, unit: str | None = None) -> Image:
    """A NIfTI image (unit from ``unit`` or its JSON sidecar) or a DICOM series folder/file.

    DICOM units: HU for CT, Bq/mL for PET (BQML; convert to SUV with ``theranomics suv`` first for
    SUV features), else ``unit`` or "1".
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"image not found: {path}")
    if _is_nifti(path):
        from ..io.nifti import read_nifti
        return read_nifti(path, unit=unit)
    if path.is_dir() or path.suffix.lower() in (".dcm", ""):
        from ..io.dicom import read_series
        image = read_series(path).image
        if unit is not None and unit != image.unit:
            image = image.with_array(image.array, unit=unit)
        return image
    raise ValueError(f"{path}: not a NIfTI file (.nii, .nii.gz) or a DICOM file/folder")


def load_mask(path: str | Path, image: Image) -> LabelMap:
    """Label map on ``image``'s grid from a NIfTI label map, a DICOM RTSTRUCT or a DICOM SEG.

    A NIfTI mask must share the image's grid (a clear error otherwise); RTSTRUCT contours are
    rasterised on the image grid (one label per ROI); SEG frames are placed on it.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"mask not found: {path}")
    if _is_nifti(path):
        from ..io.nifti import read_labelmap
        labels = read_labelmap(path)
        image.geometry.require_same_grid(labels.geometry, f"image and mask {path.name}")
        return labels
    modality = _dicom_modality(path)
    if modality == "RTSTRUCT":
        from ..io.dicom import read_rtstruct
        return read_rtstruct(path, image.geometry)
    if modality == "SEG":
        from ..io.dicom import read_seg
        seg_file = path if path.is_file() else next(p for p in sorted(path.rglob("*")) if p.is_file()
                                                    and _dicom_modality(p) == "SEG")
        return read_seg(seg_file, reference=image.geometry)
    raise ValueError(f"{path}: mask must be a NIfTI label map, a DICOM RTSTRUCT or a DICOM SEG "
                     f"(found DICOM Modality {modality!r})" if modality else
                     f"{path}: mask must be a NIfTI label map (.nii, .nii.gz), a DICOM RTSTRUCT or a DICOM SEG")


def load_image_and_mask(image_path: str | Path, mask_path: str | Path, unit: str | None = None
                        ) -> tuple[Image, LabelMap]:
    """:func:`load_image` and :func:`load_mask`; refuses an empty mask."""
    image = load_image(image_path, unit=unit)
    labels = load_mask(mask_path, image)
    if not np.any(labels.array):
        raise ValueError(f"{mask_path}: the mask has no labelled voxel on the image grid")
    return image, labels
