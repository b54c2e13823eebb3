"""Read one DICOM image series into a :class:`~theranomics.core.Image`.

Geometry (DICOM PS3.3 C.7.6.2.1.1): the world (LPS mm) position of pixel
(column i, row j) of a slice is ``IPP + i·Δc·r + j·Δr·c`` where ``IPP`` is
ImagePositionPatient, ``r``/``c`` are the row/column direction cosines of
ImageOrientationPatient and ``(Δr, Δc) = PixelSpacing`` (row spacing first).
Slices are ordered by their position along the normal ``n = r × c``
(never by file name or InstanceNumber), so the image direction matrix is
``[r | c | n]`` and the slice spacing is the mean gap along ``n``.
Voxel values are ``stored × RescaleSlope + RescaleIntercept`` per slice.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.tag import Tag

from ...core import Geometry, Image
from ._common import (NON_IMAGE_MODALITIES, DicomReadError, combine, floats, is_empty, optional_float,
                      parse_datetime, require, tag_name)
from .scan import SeriesInfo, _candidate_files, group_series, read_headers

#: PET Units (0054,1001) → Theranomics unit.
PET_UNITS = {"BQML": "Bq/mL", "CNTS": "counts", "GML": "g/mL", "CM2ML": "cm2/mL", "CPS": "cps"}
#: NM: Units is not part of the NM IOD but some vendors write it for quantitative SPECT.
NM_UNITS = {"BQML": "Bq/mL", "CNTS": "counts", "CPS": "cps"}

#: Relative tolerance on slice gaps, pixel spacing and in-plane alignment.
_REL_TOL = 0.01
_ABS_TOL_MM = 0.01
_ORIENTATION_TOL = 1e-4


@dataclass(frozen=True, eq=False)
class DicomSeries:
    """A read series: the image, and the headers and files in the image's slice order."""

    image: Image
    datasets: list[Dataset] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    modality: str = ""


@dataclass
class _Frame:
    """One 2-D frame with where it came from and how to place it."""

    source: str
    position: np.ndarray
    orientation: np.ndarray
    pixel_spacing: tuple[float, float]
    pixels: np.ndarray
    slope: float
    intercept: float
    dataset: Dataset
    file: Path


# -- selection ------------------------------------------------------------------------------------

def _resolve_files(path_or_files) -> tuple[list[Path], str]:
    if isinstance(path_or_files, (str, Path)):
        path = Path(path_or_files)
        files = _candidate_files(path, recursive=True)
        if not files:
            raise DicomReadError(f"{path}: no DICOM files found (looked for *.dcm and files with the DICM marker)")
        return files, str(path)
    files = [Path(f) for f in path_or_files]
    if not files:
        raise DicomReadError("read_series: the list of files is empty")
    for f in files:
        if not f.is_file():
            raise DicomReadError(f"{f}: no such file")
    return files, f"{len(files)} given files (first {files[0]})"


def select_series(infos: Sequence[SeriesInfo], source: str, modality: str | None = None,
                  series_uid: str | None = None) -> SeriesInfo:
    """The one image series matching ``modality``/``series_uid``, or a clear error listing the choices."""
    listing = "\n  ".join(s.summary() for s in infos)
    cands = list(infos)
    if series_uid is not None:
        cands = [s for s in cands if s.series_uid == str(series_uid)]
    if modality is not None:
        cands = [s for s in cands if s.modality.upper() == modality.upper()]
    else:
        cands = [s for s in cands if s.modality.upper() not in NON_IMAGE_MODALITIES]
    if not cands:
        asked = ", ".join(f"{k}={v!r}" for k, v in (("modality", modality), ("series_uid", series_uid)) if v) or "an image series"
        raise DicomReadError(f"{source}: no series matching {asked}; found:\n  {listing}")
    if len(cands) > 1:
        choices = "\n  ".join(s.summary() for s in cands)
        raise DicomReadError(f"{source}: {len(cands)} series found where one was asked for:\n  {choices}\n"
                             f"choose one with series_uid=... or modality=...")
    chosen = cands[0]
    if chosen.modality.upper() in NON_IMAGE_MODALITIES:
        raise DicomReadError(f"{source}: series {chosen.series_uid} has modality {chosen.modality}, which holds no "
                             f"image volume (use read_rtstruct / read_seg for RTSTRUCT / SEG)")
    return chosen


# -- pixel data -----------------------------------------------------------------------------------

def _read_full(path: Path) -> Dataset:
    try:
        return pydicom.dcmread(path)
    except Exception as exc:
        raise DicomReadError(f"{path}: not a readable DICOM file ({type(exc).__name__}: {exc})") from None


def _pixels(ds: Dataset, path: Path) -> np.ndarray:
    if "PixelData" not in ds and "FloatPixelData" not in ds and "DoubleFloatPixelData" not in ds:
        raise DicomReadError(f"{path}: missing required tag {tag_name('PixelData')}")
    for keyword in ("Rows", "Columns", "BitsAllocated", "PixelRepresentation", "SamplesPerPixel"):
        require(ds, keyword, str(path))
    if int(ds.SamplesPerPixel) != 1:
        raise DicomReadError(f"{path}: SamplesPerPixel (0028,0002) is {ds.SamplesPerPixel}; only grey-scale images are supported")
    try:
        array = ds.pixel_array
    except Exception as exc:
        syntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", "unknown")
        raise DicomReadError(f"{path}: cannot decode PixelData (transfer syntax {getattr(syntax, 'name', syntax)}; "
                             f"{type(exc).__name__}: {exc}). Truncated file, or a compressed syntax that needs "
                             f"pylibjpeg / python-gdcm installed") from None
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    rows, cols = int(ds.Rows), int(ds.Columns)
    return np.asarray(array).reshape(frames, rows, cols)


def _drop_pixels(ds: Dataset) -> Dataset:
    for keyword in ("PixelData", "FloatPixelData", "DoubleFloatPixelData"):
        if keyword in ds:
            delattr(ds, keyword)
    return ds


# -- frames ---------------------------------------------------------------------------------------

def _rescale(item: Dataset, source: str) -> tuple[float, float]:
    slope = optional_float(item, "RescaleSlope", source)
    intercept = optional_float(item, "RescaleIntercept", source)
    return (1.0 if slope is None else slope), (0.0 if intercept is None else intercept)


def _single_frames(datasets: list[tuple[Path, Dataset]]) -> list[_Frame]:
    frames = []
    for path, ds in datasets:
        src = str(path)
        position = np.array(floats(ds, "ImagePositionPatient", 3, src))
        orientation = np.array(floats(ds, "ImageOrientationPatient", 6, src))
        spacing = floats(ds, "PixelSpacing", 2, src)
        pixels = _pixels(ds, path)
        if pixels.shape[0] != 1:
            raise DicomReadError(f"{path}: NumberOfFrames is {pixels.shape[0]} in a series of single-frame files")
        slope, intercept = _rescale(ds, src)
        frames.append(_Frame(src, position, orientation, (spacing[0], spacing[1]), pixels[0], slope, intercept, ds, path))
    return frames


def _functional_group(ds: Dataset, index: int, keyword: str) -> Dataset | None:
    """Item of functional group ``keyword`` for frame ``index``: per-frame first, then shared."""
    per_frame = ds.PerFrameFunctionalGroupsSequence[index]
    if keyword in per_frame and len(per_frame[keyword].value):
        return per_frame[keyword].value[0]
    shared = ds.get("SharedFunctionalGroupsSequence")
    if shared and keyword in shared[0] and len(shared[0][keyword].value):
        return shared[0][keyword].value[0]
    return None


def _enhanced_frames(datasets: list[tuple[Path, Dataset]]) -> list[_Frame]:
    """Frames of enhanced multi-frame files (PS3.3 C.7.6.16 functional groups)."""
    frames = []
    for path, ds in datasets:
        pixels = _pixels(ds, path)
        n = pixels.shape[0]
        if len(ds.PerFrameFunctionalGroupsSequence) != n:
            raise DicomReadError(f"{path}: PerFrameFunctionalGroupsSequence has {len(ds.PerFrameFunctionalGroupsSequence)} "
                                 f"items for NumberOfFrames {n}")
        top_slope, top_intercept = _rescale(ds, str(path))
        for i in range(n):
            src = f"{path} frame {i + 1}"
            groups = {}
            for keyword in ("PlanePositionSequence", "PlaneOrientationSequence", "PixelMeasuresSequence"):
                item = _functional_group(ds, i, keyword)
                if item is None:
                    raise DicomReadError(f"{src}: missing functional group {tag_name(keyword)}")
                groups[keyword] = item
            position = np.array(floats(groups["PlanePositionSequence"], "ImagePositionPatient", 3, src))
            orientation = np.array(floats(groups["PlaneOrientationSequence"], "ImageOrientationPatient", 6, src))
            spacing = floats(groups["PixelMeasuresSequence"], "PixelSpacing", 2, src)
            transform = _functional_group(ds, i, "PixelValueTransformationSequence")
            slope, intercept = _rescale(transform, src) if transform is not None else (top_slope, top_intercept)
            frames.append(_Frame(src, position, orientation, (spacing[0], spacing[1]), pixels[i], slope, intercept, ds, path))
    return frames


def _unit_vectors(orientation: np.ndarray, source: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    row, col = orientation[:3], orientation[3:]
    if not (abs(np.linalg.norm(row) - 1) < 1e-3 and abs(np.linalg.norm(col) - 1) < 1e-3 and abs(row @ col) < 1e-3):
        raise DicomReadError(f"{source}: ImageOrientationPatient (0020,0037) {orientation.tolist()} is not two "
                             f"orthogonal unit vectors")
    row = row / np.linalg.norm(row)
    col = col - (col @ row) * row
    col = col / np.linalg.norm(col)
    return row, col, np.cross(row, col)


def _stack(frames: list[_Frame], label: str, single_slice_spacing_mm: float | None) -> tuple[list[_Frame], Geometry]:
    """Check that frames form one regular stack; return them sorted along the normal, and the geometry."""
    first = frames[0]
    for f in frames[1:]:
        if np.max(np.abs(f.orientation - first.orientation)) > _ORIENTATION_TOL:
            raise DicomReadError(f"{label}: mixed ImageOrientationPatient (0020,0037): {first.orientation.tolist()} in "
                                 f"{first.source} but {f.orientation.tolist()} in {f.source}; select one orientation")
        if not np.allclose(f.pixel_spacing, first.pixel_spacing, rtol=1e-4, atol=1e-4):
            raise DicomReadError(f"{label}: mixed PixelSpacing (0028,0030): {list(first.pixel_spacing)} mm in "
                                 f"{first.source} but {list(f.pixel_spacing)} mm in {f.source}")
        if f.pixels.shape != first.pixels.shape:
            raise DicomReadError(f"{label}: mixed Rows/Columns: {first.pixels.shape} in {first.source} but "
                                 f"{f.pixels.shape} in {f.source}")
    row, col, normal = _unit_vectors(first.orientation, first.source)
    distance = np.array([f.position @ normal for f in frames])
    order = np.argsort(distance, kind="stable")
    frames = [frames[i] for i in order]
    distance = distance[order]
    row_spacing, col_spacing = first.pixel_spacing
    if len(frames) > 1:
        gaps = np.diff(distance)
        expected = float(np.median(gaps))
        for g, a, b in zip(gaps, frames[:-1], frames[1:]):
            if g < _ABS_TOL_MM:
                raise DicomReadError(f"{label}: duplicate slice position {a.position.tolist()} mm (ImagePositionPatient) "
                                     f"in {a.source} and {b.source} (a copied file, or several time frames or "
                                     f"acquisitions in one series?)")
        tol = max(_ABS_TOL_MM, _REL_TOL * expected)
        for g, a, b in zip(gaps, frames[:-1], frames[1:]):
            if abs(g - expected) > tol:
                hint = "; a slice may be missing" if g > expected else ""
                raise DicomReadError(f"{label}: irregular slice spacing: expected {expected:.4g} mm between slices, found "
                                     f"{g:.4g} mm between {a.source} (at {a.position @ normal:.4g} mm along the normal) "
                                     f"and {b.source} (at {b.position @ normal:.4g} mm){hint}")
        slice_spacing = float((distance[-1] - distance[0]) / (len(frames) - 1))
    else:
        if single_slice_spacing_mm is None or single_slice_spacing_mm <= 0:
            raise DicomReadError(f"{first.source}: a single slice needs SliceThickness (0018,0050) or "
                                 f"SpacingBetweenSlices (0018,0088) for its third spacing")
        slice_spacing = float(single_slice_spacing_mm)
    in_plane_tol = _REL_TOL * min(row_spacing, col_spacing) + 1e-6
    for f in frames[1:]:
        offset = f.position - frames[0].position
        shift = np.array([offset @ row, offset @ col])
        if np.max(np.abs(shift)) > in_plane_tol:
            raise DicomReadError(f"{label}: slices are not stacked along the slice normal: {f.source} is shifted "
                                 f"{shift.round(4).tolist()} mm in-plane from {frames[0].source} "
                                 f"(ImagePositionPatient; gantry tilt?)")
    direction = np.column_stack([row, col, normal])
    geometry = Geometry((len(frames), *first.pixels.shape), (col_spacing, row_spacing, slice_spacing),
                        tuple(frames[0].position), tuple(direction.ravel()))
    return frames, geometry


def _values(stored: list[np.ndarray], slopes: list[float], intercepts: list[float], floating: bool) -> np.ndarray:
    """stored × slope + intercept per slice; float32 when ``floating`` or when not exactly an int16."""
    volume = np.stack([s.astype(np.float64) * m + b for s, m, b in zip(stored, slopes, intercepts)])
    if not floating and all(float(m).is_integer() and float(b).is_integer() for m, b in zip(slopes, intercepts)):
        if volume.size == 0 or (volume.min() >= np.iinfo(np.int16).min and volume.max() <= np.iinfo(np.int16).max):
            return volume.astype(np.int16)
    return volume.astype(np.float32)


# -- NM multi-frame -------------------------------------------------------------------------------

_NM_NOT_VOLUME = ("STATIC", "WHOLE BODY", "DYNAMIC", "GATED", "TOMO", "GATED TOMO", "RECON GATED TOMO")


def _nm_volume(path: Path, ds: Dataset) -> tuple[list[np.ndarray], list[float], list[float], Geometry]:
    """Reconstructed tomographic NM (PS3.3 C.8.4.8-10): geometry from DetectorInformationSequence."""
    src = str(path)
    image_type = [str(v).upper() for v in (ds.get("ImageType") or [])]
    if len(image_type) >= 3 and image_type[2] in _NM_NOT_VOLUME:
        shown = "\\".join(image_type)
        raise DicomReadError(f"{src}: ImageType (0008,0008) {shown} is not a reconstructed "
                             f"tomographic image (RECON TOMO); projections and planar images are not volumes")
    pixels = _pixels(ds, path)
    n = pixels.shape[0]
    detector = ds.get("DetectorInformationSequence")
    item = detector[0] if detector else None

    def geometry_tag(keyword: str, count: int) -> np.ndarray:
        if item is not None and not is_empty(item.get(keyword)):
            return np.array(floats(item, keyword, count, f"{src} DetectorInformationSequence"))
        if not is_empty(ds.get(keyword)):
            return np.array(floats(ds, keyword, count, src))
        raise DicomReadError(f"{src}: missing required tag {tag_name(keyword)} in DetectorInformationSequence (0054,0022)")

    position = geometry_tag("ImagePositionPatient", 3)
    orientation = geometry_tag("ImageOrientationPatient", 6)
    row_spacing, col_spacing = floats(ds, "PixelSpacing", 2, src)
    spacing = optional_float(ds, "SpacingBetweenSlices", src)
    if spacing is None or spacing == 0:
        spacing = optional_float(ds, "SliceThickness", src)
    if spacing is None or spacing == 0:
        raise DicomReadError(f"{src}: missing required tag SpacingBetweenSlices (0018,0088) (or SliceThickness "
                             f"(0018,0050)) for the distance between the {n} NM frames")
    order = np.arange(n)
    vector = ds.get("SliceVector")
    if vector is not None and len(vector) > 0:
        vector = np.array([int(v) for v in vector])
        if len(vector) != n or sorted(vector.tolist()) != list(range(1, n + 1)):
            raise DicomReadError(f"{src}: SliceVector (0054,0080) does not number the {n} frames 1..{n} "
                                 f"(several energy windows, detectors or gates in one reconstruction are not supported)")
        order = np.argsort(vector, kind="stable")
    row, col, normal = _unit_vectors(orientation, src)
    if spacing < 0:  # frames run against the normal: reverse them to keep a right-handed grid
        position = position + (n - 1) * spacing * normal
        order = order[::-1]
        spacing = -spacing
    slope, intercept = _rescale(ds, src)
    direction = np.column_stack([row, col, normal])
    geometry = Geometry((n, *pixels.shape[1:]), (col_spacing, row_spacing, spacing), tuple(position), tuple(direction.ravel()))
    return [pixels[i] for i in order], [slope] * n, [intercept] * n, geometry


# -- units and meta -------------------------------------------------------------------------------

#: UCUM units of a RealWorldValueMapping (enhanced images) → PET Units code.
_UCUM_UNITS = {"Bq/ml": "BQML", "{counts}": "CNTS", "g/ml": "GML", "cm2/ml": "CM2ML", "{counts}/s": "CPS"}


def _attr(ds: Dataset, keyword: str):
    """Top-level attribute, else from the shared functional groups of an enhanced (legacy-converted) image."""
    value = ds.get(keyword)
    if not is_empty(value):
        return value
    shared = ds.get("SharedFunctionalGroupsSequence")
    if shared:
        for group in ("UnassignedSharedConvertedAttributesSequence",):
            item = shared[0].get(group)
            if item and not is_empty(item[0].get(keyword)):
                return item[0].get(keyword)
        if keyword == "Units":
            mapping = shared[0].get("RealWorldValueMappingSequence")
            if mapping and mapping[0].get("MeasurementUnitsCodeSequence"):
                return _UCUM_UNITS.get(str(mapping[0].MeasurementUnitsCodeSequence[0].get("CodeValue", "")))
    return value


def image_unit(ds: Dataset, modality: str, source: str) -> str:
    """Theranomics unit of a series from Modality and Units (0054,1001)."""
    units = str(_attr(ds, "Units") or "").upper()
    if modality == "PT":
        if not units:
            raise DicomReadError(f"{source}: missing required tag {tag_name('Units')} for a PET image")
        if units not in PET_UNITS:
            raise DicomReadError(f"{source}: PET Units (0054,1001) {units!r} not supported; expected one of {sorted(PET_UNITS)}")
        return PET_UNITS[units]
    if modality == "NM":
        if units and units not in NM_UNITS:
            raise DicomReadError(f"{source}: NM Units (0054,1001) {units!r} not supported; expected one of {sorted(NM_UNITS)}")
        return NM_UNITS.get(units, "counts")
    if modality == "CT":
        return "HU"
    return "1"


def _private_float(ds: Dataset, group: int, element: int) -> float | None:
    el = ds.get(Tag(group, element))
    if el is None:
        return None
    value = el.value
    if isinstance(value, bytes):
        value = value.decode("ascii", "ignore").strip("\x00 ")
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _meta(datasets: list[Dataset], modality: str, source: str) -> dict:
    first = datasets[0]
    acquisition = []
    for ds in datasets:
        t = parse_datetime(ds.get("AcquisitionDateTime"), "AcquisitionDateTime", source) or \
            combine(ds, "AcquisitionDate", "AcquisitionTime", source)
        if t is not None:
            acquisition.append(t)
    series_dt = combine(first, "SeriesDate", "SeriesTime", source)
    duration = _attr(first, "ActualFrameDuration")
    duration = float(duration) if not is_empty(duration) else None
    meta = {
        "source": source,
        "modality": modality,
        "series_uid": str(first.get("SeriesInstanceUID", "")),
        "study_uid": str(first.get("StudyInstanceUID", "")),
        "frame_of_reference_uid": str(first.get("FrameOfReferenceUID", "")),
        "sop_class_uid": str(first.get("SOPClassUID", "")),
        "series_description": str(first.get("SeriesDescription", "") or ""),
        "series_number": int(first.SeriesNumber) if not is_empty(first.get("SeriesNumber")) else None,
        "patient_id": str(first.get("PatientID", "") or ""),
        "manufacturer": str(first.get("Manufacturer", "") or ""),
        "units": str(_attr(first, "Units") or "") or None,
        "acquisition_datetime": min(acquisition) if acquisition else series_dt,
        "series_datetime": series_dt,
        "frame_duration_s": duration / 1000.0 if duration is not None else None,
        "decay_correction": str(_attr(first, "DecayCorrection") or "") or None,
        "corrected_image": tuple(str(v) for v in (_attr(first, "CorrectedImage") or [])),
    }
    if len(set(acquisition)) > 1:
        meta["slice_acquisition_datetimes"] = tuple(acquisition)
    for key, (group, element) in {"philips_suv_factor": (0x7053, 0x1000),
                                  "philips_activity_concentration_factor": (0x7053, 0x1009)}.items():
        value = _private_float(first, group, element)
        if value is not None:
            meta[key] = value
    ge = first.get(Tag(0x0009, 0x100D))
    if ge is not None:
        value = ge.value.decode("ascii", "ignore").strip("\x00 ") if isinstance(ge.value, bytes) else ge.value
        try:
            meta["ge_decay_reference_datetime"] = parse_datetime(value, "GE (0009,100D)", source)
        except DicomReadError:
            pass
    return meta


# -- public ---------------------------------------------------------------------------------------

def read_series(path_or_files: str | Path | Iterable[str | Path], modality: str | None = None,
                series_uid: str | None = None) -> DicomSeries:
    """Read one image series (a folder, one file, or a list of files).

    Handles one file per slice (CT, PET, MR…), reconstructed tomographic NM in one
    multi-frame file (DetectorInformationSequence geometry, SpacingBetweenSlices,
    SliceVector order) and enhanced multi-frame images (per-frame functional groups).
    Voxels are ``stored × RescaleSlope + RescaleIntercept`` with each slice's own
    slope, as float32 for PET/NM (and whenever the result is not an exact int16),
    int16 otherwise.  Raises :class:`DicomReadError` naming the file(s) and tag for
    ambiguous selections, mixed orientation/spacing, missing or duplicate slices,
    irregular spacing and missing required tags.
    """
    files, source = _resolve_files(path_or_files)
    parsed = read_headers(files, lazy_full=True)  # one parse per file; pixel data read on use
    infos = group_series(parsed)
    info = select_series(infos, source, modality, series_uid)
    by_file = dict(parsed)
    datasets = [(f, by_file[f]) for f in info.files]
    mod = info.modality.upper()
    enhanced = ["PerFrameFunctionalGroupsSequence" in ds for _, ds in datasets]
    if mod == "NM":
        if len(datasets) != 1:
            raise DicomReadError(f"{source}: NM series {info.series_uid} has {len(datasets)} files; a reconstructed NM "
                                 f"image is one multi-frame file — pass one file, e.g. {datasets[0][0]}")
        path, ds = datasets[0]
        stored, slopes, intercepts, geometry = _nm_volume(path, ds)
        ordered = [(path, ds)]
    else:
        if any(enhanced) and not all(enhanced):
            raise DicomReadError(f"{source}: series {info.series_uid} mixes enhanced multi-frame and single-frame files")
        multi = [str(f) for f, ds in datasets if int(ds.get("NumberOfFrames", 1) or 1) > 1 and
                 "PerFrameFunctionalGroupsSequence" not in ds]
        if multi:
            raise DicomReadError(f"{multi[0]}: multi-frame {mod} file without per-frame functional groups is not supported")
        frames = _enhanced_frames(datasets) if all(enhanced) else _single_frames(datasets)
        thickness = None
        first_ds = frames[0].dataset
        for keyword in ("SpacingBetweenSlices", "SliceThickness"):
            thickness = thickness or optional_float(first_ds, keyword, frames[0].source)
        frames, geometry = _stack(frames, f"{source} (series {info.series_uid})", thickness)
        stored = [f.pixels for f in frames]
        slopes = [f.slope for f in frames]
        intercepts = [f.intercept for f in frames]
        ordered = []
        for f in frames:  # one entry per file, in slice order (enhanced files appear once)
            if not any(f.file == p for p, _ in ordered):
                ordered.append((f.file, f.dataset))
    volume = _values(stored, slopes, intercepts, floating=mod in ("PT", "NM"))
    headers = [_drop_pixels(ds) for _, ds in ordered]
    unit = image_unit(headers[0], mod, str(ordered[0][0]))
    meta = _meta(headers, mod, source)
    meta["rescale_slopes"] = tuple(float(s) for s in slopes)
    image = Image(volume, geometry, unit, mod, meta)
    return DicomSeries(image, headers, [p for p, _ in ordered], mod)
