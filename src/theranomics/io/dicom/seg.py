"""DICOM Segmentation (SEG) objects via highdicom: one segment per label.

Segment numbers must run 1..n, so label values are kept in each segment's
TrackingID (``"label <value>"``) and restored on reading; names are the
SegmentLabels.  Frames are placed by their PlanePositionSequence
(ImagePositionPatient) along the normal of the shared PlaneOrientationSequence.
"""
from __future__ import annotations

import copy
import re
import warnings
from pathlib import Path
from typing import Sequence

import highdicom as hd
import numpy as np
from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code

from ...core import Geometry, GeometryError, LabelMap
from ._common import DicomReadError, DicomWriteError, floats, make_uid, optional_float, tag_name
from .series import _functional_group, _unit_vectors, read_series

_TRACKING = re.compile(r"^label (\d+)$")


def write_seg(labels: LabelMap, source_files: Sequence[str | Path] | str | Path, out_path: str | Path,
              algorithm: str = "Theranomics", series_description: str = "Lesions", *,
              series_number: int = 100, uid_seed: str | None = None,
              property_category: Code = codes.SCT.MorphologicallyAbnormalStructure,
              property_type: Code = codes.SCT.Lesion,
              algorithm_family: Code = codes.cid7162.ArtificialIntelligence) -> Path:
    """Write ``labels`` (on the grid of the source series) as a BINARY SEG; returns ``out_path``.

    ``source_files`` is the image series the labels were drawn on (a folder or files,
    one file per slice, or an already read :class:`DicomSeries`).  Every label in the array or in ``labels.names`` becomes a
    segment named after ``labels.names`` (``label_<v>`` when unnamed).  An all-zero
    label map raises :class:`DicomWriteError` (a SEG needs at least one segmented voxel).
    """
    if not isinstance(labels, LabelMap):
        raise DicomWriteError(f"write_seg: expected a theranomics LabelMap, got {type(labels).__name__}")
    from .series import DicomSeries
    source = source_files if isinstance(source_files, DicomSeries) else read_series(source_files)
    try:
        labels.geometry.require_same_grid(source.image.geometry, "label map and SEG source series")
    except GeometryError as exc:
        raise DicomWriteError(f"write_seg: {exc}") from None
    if len(source.datasets) != labels.shape[0]:
        raise DicomWriteError(f"write_seg: the source series must have one file per slice "
                              f"({len(source.datasets)} files for {labels.shape[0]} slices)")
    values = sorted(set(labels.labels) | {int(v) for v in labels.names if int(v) != 0})
    if not labels.labels:
        raise DicomWriteError("write_seg: the label map is empty (no voxel > 0); there is nothing to segment")
    lookup = np.zeros(max(values) + 1, dtype=np.uint16)
    descriptions = []
    algorithm_id = hd.AlgorithmIdentificationSequence(name=algorithm, family=algorithm_family,
                                                      version=_version())
    series_uid = make_uid(uid_seed, "seg-series", series_number, series_description)
    for number, value in enumerate(values, start=1):
        lookup[value] = number
        descriptions.append(hd.seg.SegmentDescription(
            segment_number=number,
            segment_label=labels.names.get(value, f"label_{value}"),
            segmented_property_category=property_category,
            segmented_property_type=property_type,
            algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
            algorithm_identification=algorithm_id,
            tracking_uid=make_uid(uid_seed, series_uid, "tracking", value),
            tracking_id=f"label {value}",
        ))
    pixel_array = lookup[labels.array]
    with warnings.catch_warnings():  # highdicom warns about single-component patient names (e.g. an ID)
        warnings.filterwarnings("ignore", message=".*unlikely to represent the intended person name.*")
        seg = _segmentation(source, pixel_array, descriptions, series_uid, series_number, uid_seed)
    seg.SeriesDescription = series_description
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    seg.save_as(out_path)
    return out_path


def _segmentation(source, pixel_array, descriptions, series_uid, series_number, uid_seed) -> hd.seg.Segmentation:
    return hd.seg.Segmentation(
        source_images=[_with_type2(ds) for ds in source.datasets],
        pixel_array=pixel_array,
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descriptions,
        series_instance_uid=series_uid,
        series_number=int(series_number),
        sop_instance_uid=make_uid(uid_seed, series_uid, "instance"),
        instance_number=1,
        manufacturer="Theranomics",
        manufacturer_model_name="theranomics",
        software_versions=_version(),
        device_serial_number="0",
        omit_empty_frames=True,  # only frames that hold a segment: ~100x smaller and faster for lesions
    )


#: Type-2 patient/study attributes highdicom copies from the source; some files omit them.
_TYPE2 = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyID", "StudyDate", "StudyTime",
          "AccessionNumber", "ReferringPhysicianName")


def _with_type2(ds):
    """The source header, or a copy of it with absent type-2 attributes present and empty."""
    if all(keyword in ds for keyword in _TYPE2):
        return ds
    ds = copy.deepcopy(ds)
    for keyword in _TYPE2:
        if keyword not in ds:
            setattr(ds, keyword, "")
    return ds


def _version() -> str:
    from ... import __version__
    return __version__


def _grid_from_frames(positions: np.ndarray, orientation: np.ndarray, pixel_spacing, slice_spacing, rows, cols,
                      src: str) -> Geometry:
    """Smallest regular grid holding all frame positions (frames may be missing inside)."""
    row, col, normal = _unit_vectors(orientation, src)
    distance = positions @ normal
    unique = np.unique(np.round(distance, 4))
    if slice_spacing is None or slice_spacing <= 0:
        slice_spacing = float(np.min(np.diff(unique))) if len(unique) > 1 else 1.0
    steps = (unique - unique[0]) / slice_spacing
    if np.max(np.abs(steps - np.round(steps))) > 0.01:
        raise DicomReadError(f"{src}: frame positions are not on a regular grid with SpacingBetweenSlices "
                             f"{slice_spacing} mm; pass reference=<the source image geometry>")
    first = positions[np.argmin(distance)]
    direction = np.column_stack([row, col, normal])
    nz = int(np.round(steps[-1])) + 1
    return Geometry((nz, rows, cols), (pixel_spacing[1], pixel_spacing[0], slice_spacing), tuple(first),
                    tuple(direction.ravel()))


def read_seg(path: str | Path, reference: Geometry | None = None) -> LabelMap:
    """Label map of a SEG file: value from each segment's TrackingID ``label <v>`` (else its segment number).

    With ``reference`` the frames are placed on that grid (each frame must lie on one
    of its slices); without, the grid spans the frames in the file.  BINARY and
    FRACTIONAL (≥ 50 %) segmentations are read; overlapping segments: the later wins.
    """
    path = Path(path)
    try:
        seg = hd.seg.segread(path)
    except Exception as exc:
        raise DicomReadError(f"{path}: not a readable DICOM SEG ({type(exc).__name__}: {exc})") from None
    src = str(path)
    segments = {}
    for item in seg.SegmentSequence:
        number = int(item.SegmentNumber)
        match = _TRACKING.match(str(item.get("TrackingID", "") or ""))
        segments[number] = (int(match.group(1)) if match else number, str(item.get("SegmentLabel", "") or f"segment {number}"))
    frames = np.asarray(seg.pixel_array)
    n = int(seg.get("NumberOfFrames", 1) or 1)
    frames = frames.reshape(n, int(seg.Rows), int(seg.Columns))
    if str(seg.SegmentationType).upper() == "FRACTIONAL":
        frames = frames >= 0.5 * float(seg.get("MaximumFractionalValue", 255))
    positions, numbers = [], []
    orientation = pixel_spacing = None
    slice_spacing = None
    for i in range(n):
        fsrc = f"{src} frame {i + 1}"
        ident = _functional_group(seg, i, "SegmentIdentificationSequence")
        plane = _functional_group(seg, i, "PlanePositionSequence")
        orient = _functional_group(seg, i, "PlaneOrientationSequence")
        measures = _functional_group(seg, i, "PixelMeasuresSequence")
        for keyword, group in (("SegmentIdentificationSequence", ident), ("PlanePositionSequence", plane),
                               ("PlaneOrientationSequence", orient), ("PixelMeasuresSequence", measures)):
            if group is None:
                raise DicomReadError(f"{fsrc}: missing functional group {tag_name(keyword)}")
        numbers.append(int(ident.ReferencedSegmentNumber))
        positions.append(floats(plane, "ImagePositionPatient", 3, fsrc))
        this_orientation = np.array(floats(orient, "ImageOrientationPatient", 6, fsrc))
        if orientation is None:
            orientation = this_orientation
            pixel_spacing = floats(measures, "PixelSpacing", 2, fsrc)
            slice_spacing = optional_float(measures, "SpacingBetweenSlices", fsrc)
        elif np.max(np.abs(this_orientation - orientation)) > 1e-4:
            raise DicomReadError(f"{fsrc}: ImageOrientationPatient differs from frame 1; mixed orientations")
    positions = np.array(positions)
    if reference is None:
        reference = _grid_from_frames(positions, orientation, pixel_spacing, slice_spacing, int(seg.Rows),
                                      int(seg.Columns), src)
    nz, ny, nx = reference.shape
    if (ny, nx) != (int(seg.Rows), int(seg.Columns)):
        raise DicomReadError(f"{src}: SEG frames are {seg.Rows}x{seg.Columns}, the reference grid is {ny}x{nx}")
    row, col, _ = _unit_vectors(orientation, src)
    if not (np.allclose(row, reference.direction_matrix[:, 0], atol=1e-4)
            and np.allclose(col, reference.direction_matrix[:, 1], atol=1e-4)):
        raise DicomReadError(f"{src}: SEG ImageOrientationPatient {orientation.tolist()} differs from the reference grid")
    ijk = reference.world_to_index(positions)
    array = np.zeros(reference.shape, dtype=np.int32)
    names = {value: name for value, name in segments.values()}
    for i in range(n):
        k = int(np.round(ijk[i, 2]))
        if np.max(np.abs(ijk[i, :2])) > 0.01 or abs(ijk[i, 2] - k) > 0.01 or not 0 <= k < nz:
            raise DicomReadError(f"{src} frame {i + 1}: position {positions[i].tolist()} mm is not on a slice of the "
                                 f"reference grid (continuous index {ijk[i].round(3).tolist()})")
        if numbers[i] not in segments:
            raise DicomReadError(f"{src} frame {i + 1}: ReferencedSegmentNumber {numbers[i]} is not in SegmentSequence")
        array[k][frames[i] > 0] = segments[numbers[i]][0]
    return LabelMap(array, reference, names, {"source": src, "series_uid": str(seg.SeriesInstanceUID)})
