"""Load the inputs of the quantification commands from DICOM folders or NIfTI files."""
from __future__ import annotations

from pathlib import Path

from ..core import Geometry, Image, LabelMap
from ..io.nifti import read_labelmap, read_nifti
from .suv import SUV_TYPES, image_to_suv

#: Short names accepted on the command line.  ``lbm`` is the Janmahasatian lean body mass
#: (PERCIST's choice); the DICOM James formulas are ``lbm-james`` and ``lbm-james128``.
SUV_ALIASES = {"lbm": "lbm-janmahasatian", "sul": "sul", **{t: t for t in SUV_TYPES}}


def resolve_suv_type(name: str) -> str:
    key = name.lower()
    if key not in SUV_ALIASES:
        raise ValueError(f"unknown SUV type {name!r}; use one of {sorted(SUV_ALIASES)}")
    return SUV_ALIASES[key]


def load_pet_suv(pet: str | Path, suv_type: str = "bw"):
    """(SUV image, DicomSeries) from a PET DICOM folder; the header decides the conversion."""
    from ..io.dicom import read_series

    series = read_series(pet, modality="PT")
    return image_to_suv(series.image, series.datasets, resolve_suv_type(suv_type)), series


def load_image(path: str | Path, modality: str, unit: str | None = None) -> Image:
    """A NIfTI file (unit from its sidecar or ``unit``) or a DICOM folder/file."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{modality} input not found: {path}")
    if path.name.endswith((".nii", ".nii.gz")):
        return read_nifti(path, unit=unit)
    from ..io.dicom import read_series
    return read_series(path, modality=modality).image


def load_labels(path: str | Path, reference: Geometry) -> LabelMap:
    """Organ masks from NIfTI (label names from the sidecar), DICOM RTSTRUCT or DICOM SEG."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"mask input not found: {path}")
    if path.name.endswith((".nii", ".nii.gz")):
        labels = read_labelmap(path)
        if not labels.names:
            raise ValueError(f"{path}: label map has no label names (sidecar JSON missing); organs must be named")
        return labels
    import pydicom
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for f in files:
        try:
            ds = pydicom.dcmread(f, stop_before_pixels=True)
        except Exception:
            continue
        if ds.get("Modality") == "RTSTRUCT":
            from ..io.dicom import read_rtstruct
            return read_rtstruct(f, reference)
        if ds.get("Modality") == "SEG":
            from ..io.dicom import read_seg
            return read_seg(f, reference)
    raise ValueError(f"{path}: no NIfTI label map, RTSTRUCT or SEG found")
