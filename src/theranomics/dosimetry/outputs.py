"""Dosimetry outputs: dose maps as NIfTI and DICOM RT Dose, and the per-VOI table.

RT Dose (DICOM PS3.3 C.8.8.3, RT Dose IOD, SOP class 1.2.840.10008.5.1.4.1.1.481.2): one
multi-frame instance, 32-bit unsigned pixels, DoseGridScaling = max dose / (2³² − 1) so that
stored × scaling reproduces the dose to within scaling/2; DoseUnits GY, DoseType PHYSICAL,
DoseSummationType PLAN; GridFrameOffsetVector relative to the first frame's position; the
FrameOfReferenceUID (and StudyInstanceUID) of the CT it was computed on, so that treatment
planning systems overlay it on that CT.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd

from ..core.image import Geometry, Image

RTDOSE_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.481.2"
UINT32_MAX = 2**32 - 1
#: Columns of the per-VOI table, in order (extra columns follow).
TABLE_COLUMNS = ("patient_id", "cycle", "voi", "mass_g", "tia_mbq_h", "tia_sigma_mbq_h", "model", "dose_gy",
                 "dose_gy_per_gbq", "bed_gy", "flags")


class RTDoseError(ValueError):
    """A dose map that cannot be written as, or a file that is not, a usable RT Dose."""


def _ds(value: float) -> str:
    text = f"{value:.10g}"
    return text if len(text) <= 16 else f"{value:.8e}"


def write_rtdose(dose: Image, path: str | Path, *, patient_id: str, frame_of_reference_uid: str,
                 study_instance_uid: str | None = None, patient_name: str | None = None,
                 content_time: dt.datetime | None = None, description: str = "Theranomics absorbed dose",
                 referenced_ct_series_uid: str | None = None) -> Path:
    """Write a dose map (unit Gy) as a DICOM RT Dose file (module doc)."""
    import pydicom
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, PYDICOM_IMPLEMENTATION_UID, generate_uid

    if not isinstance(dose, Image) or dose.unit != "Gy":
        raise RTDoseError(f"RT Dose needs a dose Image in 'Gy', got {getattr(dose, 'unit', type(dose).__name__)!r}")
    values = np.asarray(dose.array, dtype=np.float64)
    if not np.all(np.isfinite(values)) or np.any(values < 0):
        raise RTDoseError("dose map must be finite and >= 0 Gy to be written as RT Dose")
    if not frame_of_reference_uid:
        raise RTDoseError("RT Dose needs the FrameOfReferenceUID of the CT the dose was computed on")
    m = dose.geometry.direction_matrix
    if not np.allclose(np.cross(m[:, 0], m[:, 1]), m[:, 2], atol=1e-5):
        raise RTDoseError("RT Dose frames must stack along row × column (right-handed direction matrix)")
    peak = float(values.max())
    scaling = float(f"{peak / UINT32_MAX:.10e}") if peak > 0 else 1.0    # the value as written (DS)
    if peak / scaling > UINT32_MAX:
        scaling = float(f"{scaling * (1 + 1e-9):.10e}")
    stored = np.clip(np.round(values / scaling), 0, UINT32_MAX).astype("<u4")
    when = content_time or dt.datetime.now()
    ds = Dataset()
    ds.SOPClassUID = RTDOSE_SOP_CLASS
    ds.SOPInstanceUID = generate_uid()
    ds.Modality = "RTDOSE"
    ds.StudyInstanceUID = study_instance_uid or generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.FrameOfReferenceUID = frame_of_reference_uid
    ds.PositionReferenceIndicator = ""
    ds.PatientID = patient_id
    ds.PatientName = patient_name or patient_id
    ds.PatientBirthDate = ""
    ds.PatientSex = ""
    ds.StudyDate = ds.ContentDate = when.strftime("%Y%m%d")
    ds.StudyTime = ds.ContentTime = when.strftime("%H%M%S")
    ds.StudyID = "1"
    ds.AccessionNumber = ""
    ds.ReferringPhysicianName = ""
    ds.SeriesNumber = 1
    ds.InstanceNumber = 1
    ds.Manufacturer = "Theranomics"
    ds.SeriesDescription = description
    nz, ny, nx = values.shape
    sx, sy, sz = dose.geometry.spacing_mm
    origin = dose.geometry.index_to_world(np.zeros(3))
    ds.ImagePositionPatient = [_ds(v) for v in origin]
    ds.ImageOrientationPatient = [_ds(v) for v in (*m[:, 0], *m[:, 1])]
    ds.PixelSpacing = [_ds(sy), _ds(sx)]
    ds.SliceThickness = _ds(sz)
    ds.NumberOfFrames = nz
    ds.FrameIncrementPointer = pydicom.tag.Tag("GridFrameOffsetVector")
    ds.GridFrameOffsetVector = [_ds(k * sz) for k in range(nz)]
    ds.Rows, ds.Columns = ny, nx
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 32
    ds.HighBit = 31
    ds.PixelRepresentation = 0
    ds.DoseUnits = "GY"
    ds.DoseType = "PHYSICAL"
    ds.DoseSummationType = "PLAN"
    ds.DoseGridScaling = f"{scaling:.10e}" if peak > 0 else "1"
    if referenced_ct_series_uid:
        item = Dataset()
        item.SeriesInstanceUID = referenced_ct_series_uid
        ds.ReferencedSeriesSequence = pydicom.Sequence([item])
    ds.PixelData = stored.tobytes()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds.file_meta = meta
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


def read_rtdose(path: str | Path) -> Image:
    """Read an RT Dose file back into a dose Image (Gy) on its grid."""
    import pydicom
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"RT Dose file not found: {path}")
    try:
        ds = pydicom.dcmread(path)
    except pydicom.errors.InvalidDicomError as exc:
        raise RTDoseError(f"{path}: not a DICOM file ({exc})") from None
    if getattr(ds, "Modality", None) != "RTDOSE":
        raise RTDoseError(f"{path}: Modality is {getattr(ds, 'Modality', None)!r}, expected 'RTDOSE'")
    for key in ("DoseGridScaling", "GridFrameOffsetVector", "ImagePositionPatient", "ImageOrientationPatient",
                "PixelSpacing"):
        if key not in ds:
            raise RTDoseError(f"{path}: RT Dose lacks {key}")
    units = str(getattr(ds, "DoseUnits", "")).upper()
    if units != "GY":
        raise RTDoseError(f"{path}: DoseUnits is {units!r}; only GY is supported")
    arr = ds.pixel_array.astype(np.float64) * float(ds.DoseGridScaling)
    if arr.ndim == 2:
        arr = arr[None]
    offsets = np.asarray([float(v) for v in np.atleast_1d(ds.GridFrameOffsetVector)])
    if offsets.size != arr.shape[0]:
        raise RTDoseError(f"{path}: GridFrameOffsetVector has {offsets.size} entries for {arr.shape[0]} frames")
    steps = np.diff(offsets)
    if steps.size and (np.any(steps <= 0) or not np.allclose(steps, steps[0], rtol=1e-4)):
        raise RTDoseError(f"{path}: frames are not evenly spaced in increasing order")
    sz = float(steps[0]) if steps.size else float(getattr(ds, "SliceThickness", 1.0) or 1.0)
    row, col = np.asarray([float(v) for v in ds.ImageOrientationPatient]).reshape(2, 3)
    direction = np.column_stack([row, col, np.cross(row, col)])
    origin = np.asarray([float(v) for v in ds.ImagePositionPatient]) + direction[:, 2] * offsets[0]
    sy, sx = (float(v) for v in ds.PixelSpacing)
    geom = Geometry(arr.shape, (sx, sy, sz), tuple(origin), tuple(direction.ravel()))
    return Image(arr, geom, "Gy", "RTDOSE", {"source": str(path), "dose_grid_scaling": float(ds.DoseGridScaling),
                                             "frame_of_reference_uid": str(ds.FrameOfReferenceUID)})


def voi_table(rows: list[Mapping]) -> pd.DataFrame:
    """The per-VOI dose table with the documented columns first (:data:`TABLE_COLUMNS`)."""
    df = pd.DataFrame(list(rows))
    for col in TABLE_COLUMNS:
        if col not in df.columns:
            df[col] = np.nan
    extra = [c for c in df.columns if c not in TABLE_COLUMNS]
    return df[list(TABLE_COLUMNS) + extra]


__all__ = ["RTDOSE_SOP_CLASS", "TABLE_COLUMNS", "RTDoseError", "write_rtdose", "read_rtdose", "voi_table"]
