"""Read the inputs of a dosimetry run from disk: a study folder or a folder of plain DICOM series.

Two kinds of folder are accepted (:func:`read_dosimetry_inputs`):

* **study layout** (``study.json``, :mod:`theranomics.io.layout`): each therapy time point's
  ``spect`` and ``ct`` are read from ``<modality>.nii.gz`` when present, else from the
  ``<modality>/dicom/`` series; masks from ``<timepoint>/masks/`` as NIfTI label maps, DICOM
  RTSTRUCT or DICOM SEG (rasterised on that time point's CT grid).  Masks listed in
  ``study.json`` whose files are gone are skipped and reported.
* **plain DICOM** (no ``study.json``): the series are discovered from headers
  (:func:`theranomics.io.dicom.scan_folder`).  Every reconstructed NM (SPECT) series is a time
  point; its administration (nuclide, activity, injection time) comes from its
  RadiopharmaceuticalInformationSequence (:func:`~theranomics.io.dicom.read_patient_and_administration`).
  SPECT series sharing an injection time form one therapy cycle (cycles numbered 1, 2, … by
  injection time); the time point label is the whole hours after injection (``24h``).  Each SPECT
  is paired with the CT of its FrameOfReferenceUID, else with the CT acquired closest in time
  (within :data:`MAX_CT_GAP_H`).  RTSTRUCT/SEG series are masks of the time point whose CT shares
  their frame of reference.

Calibration of a counts SPECT (first found; :func:`resolve_calibration`): the
``calibration_cps_per_mbq`` argument (command line ``--calibration-cps-per-mbq``), else
``calibration.json`` beside the image (the ``spect/`` folder of the layout) or in a folder above it
up to the study folder.  The acquisition duration: the ``acquisition_duration_s`` argument, else
``calibration.json``, else the NM header's ActualFrameDuration (0018,1242) (the whole acquisition,
as :func:`theranomics.io.dicom.write_nm_series` writes it — for vendor files holding the duration of
one projection, give the duration explicitly).  The source of each value is kept in
``image.meta['calibration']``.

Extra masks (``masks=``: NIfTI, RTSTRUCT or SEG files) belong to the reference time point of the
first therapy cycle; RTSTRUCT/SEG are rasterised on its CT grid.
"""
from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Sequence

from ..core import Cycle, Image, LabelMap, Study, TimePoint

#: Largest time gap (h) between a SPECT and the CT paired with it when no FrameOfReferenceUID matches.
MAX_CT_GAP_H = 2.0
CALIBRATION_FILE = "calibration.json"
_NIFTI_SUFFIXES = (".nii.gz", ".nii")


class DosimetryInputError(ValueError):
    """A folder or file cannot be read as dosimetry input; the message names it and what was expected."""


@dataclass(eq=False)
class DosimetryInputs:
    """What :func:`read_dosimetry_inputs` found: the study, extra VOIs and notes on what was read."""

    study: Study
    vois: list[LabelMap] | None
    kind: str                                  # 'layout' | 'dicom_folder'
    notes: list[str] = field(default_factory=list)
    series: dict = field(default_factory=dict)  # (cycle, label) -> {'spect': source, 'ct': source}


# ----------------------------------------------------------------------------------------------
# calibration
# ----------------------------------------------------------------------------------------------
def _positive(value, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise DosimetryInputError(f"{name} must be a positive number, got {value!r}")
    return float(value)


def _find_calibration_file(start: Path, root: Path) -> Path | None:
    """``calibration.json`` in ``start`` or a folder above it, not above ``root``."""
    start, root = start.resolve(), root.resolve()
    folder = start
    while True:
        candidate = folder / CALIBRATION_FILE
        if candidate.is_file():
            return candidate
        if folder == root or folder.parent == folder or root not in folder.parents:
            return None
        folder = folder.parent


def resolve_calibration(spect: Image, image_dir: Path, root: Path, *, calibration_cps_per_mbq: float | None = None,
                        acquisition_duration_s: float | None = None) -> Image:
    """``spect`` with ``meta['calibration']`` set (module doc) when it is in counts; unchanged otherwise
    or when no calibration factor is known (quantification then says what is missing)."""
    if spect.unit != "counts":
        return spect
    cps = _positive(calibration_cps_per_mbq, "calibration_cps_per_mbq")
    duration = _positive(acquisition_duration_s, "acquisition_duration_s")
    cal: dict = {}
    sources: dict = {}
    path = _find_calibration_file(image_dir, root)
    if path is not None:
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise DosimetryInputError(f"{path}: not valid JSON ({exc})") from None
        if not isinstance(data, dict):
            raise DosimetryInputError(f"{path}: expected a JSON object (calibration_cps_per_mbq, "
                                      "acquisition_duration_s, optional spect_fwhm_mm)")
        cal.update(data)
        sources.update({k: str(path) for k in data})
    if cps is not None:
        cal["calibration_cps_per_mbq"], sources["calibration_cps_per_mbq"] = cps, "command line"
    if duration is not None:
        cal["acquisition_duration_s"], sources["acquisition_duration_s"] = duration, "command line"
    elif cal.get("acquisition_duration_s") is None and spect.meta.get("frame_duration_s"):
        cal["acquisition_duration_s"] = float(spect.meta["frame_duration_s"])
        sources["acquisition_duration_s"] = "DICOM ActualFrameDuration (0018,1242)"
    if cal.get("calibration_cps_per_mbq") is None:
        return spect
    keys = [k for k in ("calibration_cps_per_mbq", "acquisition_duration_s", "spect_fwhm_mm") if k in sources]
    origins = {sources[k] for k in keys}
    cal["source"] = origins.pop() if len(origins) == 1 else "; ".join(f"{k} from {sources[k]}" for k in keys)
    return spect.with_array(spect.array, calibration=cal)


# ----------------------------------------------------------------------------------------------
# images and masks
# ----------------------------------------------------------------------------------------------
def _dicom_modality_of(path: Path) -> str:
    import pydicom
    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=["Modality"])
    except Exception:  # not DICOM
        return ""
    return str(ds.get("Modality", "") or "").upper()


def load_mask(path: str | Path, reference: Image | None, *, allow_empty: bool = False) -> dict[str, LabelMap]:
    """Label map(s) from a NIfTI file, a DICOM RTSTRUCT or SEG file, or a folder of them; RTSTRUCT and
    SEG are placed on ``reference``'s grid (the CT they were drawn on).  Keys: file stems."""
    from ..io.nifti import read_labelmap
    path = Path(path)
    if not path.exists():
        raise DosimetryInputError(f"mask {path}: no such file or folder")
    files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith(".")) if path.is_dir() else [path]
    out: dict[str, LabelMap] = {}
    for f in files:
        name = f.name
        if name.endswith(_NIFTI_SUFFIXES):
            stem = name[: -len(next(s for s in _NIFTI_SUFFIXES if name.endswith(s)))]
            out[stem] = read_labelmap(f)
            continue
        if name.endswith(".json"):
            continue
        modality = _dicom_modality_of(f)
        if modality not in ("RTSTRUCT", "SEG"):
            if path.is_dir():
                continue
            raise DosimetryInputError(f"mask {f}: expected a NIfTI label map (.nii, .nii.gz), a DICOM RTSTRUCT or "
                                      f"a DICOM SEG" + (f"; found DICOM Modality {modality!r}" if modality else ""))
        if reference is None:
            raise DosimetryInputError(f"mask {f}: a DICOM {modality} needs the CT it was drawn on, and there is none")
        from ..io.dicom import read_rtstruct, read_seg
        lm = read_rtstruct(f, reference.geometry) if modality == "RTSTRUCT" else read_seg(f, reference.geometry)
        out[f.stem] = lm
    if path.is_dir() and not out and not allow_empty:
        raise DosimetryInputError(f"mask folder {path}: no NIfTI label map, RTSTRUCT or SEG in it")
    return out


def _read_dicom_image(folder: Path, modality: str) -> Image:
    from ..io.dicom import read_series
    return read_series(folder, modality=modality).image


# ----------------------------------------------------------------------------------------------
# the study layout
# ----------------------------------------------------------------------------------------------
def _read_layout(pdir: Path, notes: list[str], series: dict, cal_kw: dict) -> Study:
    from ..io import layout
    from ..io.nifti import read_nifti

    skeleton = layout.read_study(pdir, load_images=False)
    listed = json.loads((pdir / layout.STUDY_FILE).read_text())
    listed_masks = {(int(c["cycle"]), td["timepoint"]): td.get("masks", []) for c in listed["cycles"]
                    for td in c.get("timepoints", [])}
    cycles = []
    for c in skeleton.cycles:
        tps = []
        for tp in c.timepoints:
            if c.index < 1 or not layout.modality_dir(pdir, c.index, tp.label, "spect").is_dir():
                tps.append(tp)
                continue
            images: dict[str, Image] = {}
            for modality, dicom_mod in (("spect", "NM"), ("ct", "CT")):
                nii = layout.nifti_path(pdir, c.index, tp.label, modality)
                ddir = layout.dicom_dir(pdir, c.index, tp.label, modality)
                if nii.is_file():
                    images[modality] = read_nifti(nii)
                elif ddir.is_dir():
                    images[modality] = _read_dicom_image(ddir, dicom_mod)
                elif modality == "spect":
                    raise DosimetryInputError(f"{layout.modality_dir(pdir, c.index, tp.label, 'spect')}: neither "
                                              f"{nii.name} nor a dicom/ series")
                else:
                    continue
                series.setdefault((c.index, tp.label), {})[modality] = str(nii if nii.is_file() else ddir)
            images["spect"] = resolve_calibration(images["spect"], layout.modality_dir(pdir, c.index, tp.label, "spect"),
                                                  pdir, **cal_kw)
            masks: dict[str, LabelMap] = {}
            mdir = layout.timepoint_dir(pdir, c.index, tp.label) / "masks"
            if mdir.is_dir():
                masks = load_mask(mdir, images.get("ct"), allow_empty=True)
            gone = [m for m in listed_masks.get((c.index, tp.label), []) if m not in masks]
            if gone:
                notes.append(f"cycle {c.index} time point {tp.label}: masks {gone} listed in study.json are missing; "
                             "skipped")
            tps.append(replace(tp, images=images, masks=masks))
        cycles.append(replace(c, timepoints=tuple(tps)))
    return replace(skeleton, cycles=tuple(cycles))


# ----------------------------------------------------------------------------------------------
# a folder of plain DICOM series
# ----------------------------------------------------------------------------------------------
def _frame_of_reference(ds) -> str:
    uid = ds.get("FrameOfReferenceUID")
    if uid:
        return str(uid)
    refs = ds.get("ReferencedFrameOfReferenceSequence")
    if refs:
        return str(refs[0].get("FrameOfReferenceUID", "") or "")
    return ""


def _acquisition_time(ds, src: str) -> dt.datetime | None:
    from ..io.dicom._common import combine, parse_datetime
    return (parse_datetime(ds.get("AcquisitionDateTime"), "AcquisitionDateTime", src)
            or combine(ds, "AcquisitionDate", "AcquisitionTime", src) or combine(ds, "SeriesDate", "SeriesTime", src))


def _label(hours: float, taken: set) -> str:
    for fmt in ("{:.0f}h", "{:.1f}h", "{:.2f}h"):
        label = fmt.format(hours)
        if label not in taken:
            return label
    raise DosimetryInputError(f"two SPECT series at {hours:.2f} h after the same injection")


def _read_dicom_folder(root: Path, notes: list[str], series: dict, cal_kw: dict) -> Study:
    from ..io.dicom import read_patient_and_administration, scan_folder
    from ..io.dicom.scan import read_header

    infos = scan_folder(root)
    headers = {i.series_uid: read_header(i.files[0]) for i in infos}
    spects = []
    for info in infos:
        if info.modality != "NM":
            continue
        ds = headers[info.series_uid]
        image_type = [str(v).upper() for v in (ds.get("ImageType") or [])]
        if image_type and not any("RECON" in v for v in image_type):
            notes.append(f"skipped NM series (not a reconstruction, ImageType {image_type}): {info.summary()}")
            continue
        spects.append(info)
    if not spects:
        found = "; ".join(i.summary() for i in infos) or "none"
        raise DosimetryInputError(f"{root}: no reconstructed SPECT (NM) series found (series: {found})")
    cts = [i for i in infos if i.modality == "CT"]
    ct_keys = {i.series_uid: (_frame_of_reference(headers[i.series_uid]),
                              _acquisition_time(headers[i.series_uid], str(i.files[0]))) for i in cts}
    patient = None
    entries = []
    for info in spects:
        ds = headers[info.series_uid]
        src = str(info.files[0])
        pat, admin = read_patient_and_administration(ds, require_administration=True)
        if patient is None:
            patient = pat
        elif pat.patient_id != patient.patient_id:
            raise DosimetryInputError(f"{root}: SPECT series of more than one patient ({patient.patient_id!r} and "
                                      f"{pat.patient_id!r} in {src}); give one patient's folder")
        t_acq = _acquisition_time(ds, src)
        if t_acq is None:
            raise DosimetryInputError(f"{src}: missing AcquisitionDateTime (0008,002A) / AcquisitionDate+Time and "
                                      "SeriesDate+Time; cannot place the SPECT in time")
        if t_acq < admin.time:
            raise DosimetryInputError(f"{src}: acquired at {t_acq}, before the injection at {admin.time} "
                                      "(RadiopharmaceuticalStartDateTime)")
        for_uid = _frame_of_reference(ds)
        same = [u for u, (f, _) in ct_keys.items() if for_uid and f == for_uid]
        if len(same) > 1:    # several CTs in one frame: the closest in time
            same = sorted(same, key=lambda u: abs(((ct_keys[u][1] or t_acq) - t_acq).total_seconds()))[:1]
        if not same:
            timed = [(abs((t - t_acq).total_seconds()) / 3600.0, u) for u, (_, t) in ct_keys.items() if t is not None]
            timed = sorted(x for x in timed if x[0] <= MAX_CT_GAP_H)
            same = [timed[0][1]] if timed else []
            if same:
                notes.append(f"SPECT {info.series_uid}: CT paired by acquisition time ({timed[0][0]:.2f} h apart), "
                             "no CT shares its FrameOfReferenceUID")
        entries.append((admin, t_acq, info, same[0] if same else None))
    # cycles by injection time
    by_injection: dict[dt.datetime, list] = {}
    for e in entries:
        by_injection.setdefault(e[0].time, []).append(e)
    masks_by_for = _dicom_masks(infos, headers)
    ct_info = {i.series_uid: i for i in cts}
    cycles = []
    for index, t_inj in enumerate(sorted(by_injection), start=1):
        group = sorted(by_injection[t_inj], key=lambda e: e[1])
        admin = group[0][0]
        tps, taken = [], set()
        for adm, t_acq, info, ct_uid in group:
            if abs(adm.activity_mbq - admin.activity_mbq) > 1e-6 * admin.activity_mbq or adm.nuclide != admin.nuclide:
                raise DosimetryInputError(f"{info.files[0]}: injection at {t_inj} recorded with "
                                          f"{adm.activity_mbq:g} MBq {adm.nuclide} here but {admin.activity_mbq:g} MBq "
                                          f"{admin.nuclide} in another SPECT series of the same injection")
            label = _label((t_acq - t_inj).total_seconds() / 3600.0, taken)
            taken.add(label)
            spect = _read_dicom_image(Path(info.files[0]), "NM")
            spect = resolve_calibration(spect, Path(info.files[0]).parent, root, **cal_kw)
            images = {"spect": spect}
            masks: dict[str, LabelMap] = {}
            series[(index, label)] = {"spect": str(info.files[0])}
            if ct_uid is not None:
                ct = _read_dicom_image_files(ct_info[ct_uid])
                images["ct"] = ct
                series[(index, label)]["ct"] = str(Path(ct_info[ct_uid].files[0]).parent)
                for name, f in masks_by_for.get(ct_keys[ct_uid][0], []):
                    for lm in load_mask(f, ct).values():
                        key = name if name not in masks else f"{name}_{f.stem}"
                        masks[key] = lm
            else:
                notes.append(f"cycle {index} time point {label}: no CT for SPECT {info.series_uid} (no density "
                             "scaling, no registration)")
            tps.append(TimePoint(label, t_acq, images, masks))
        try:
            cycles.append(Cycle(index, admin, tuple(tps)))
        except ValueError as exc:
            raise DosimetryInputError(f"{root}: {exc}") from None
    return Study(patient, tuple(cycles))


def _read_dicom_image_files(info) -> Image:
    from ..io.dicom import read_series
    return read_series(list(info.files), modality=info.modality).image


def _dicom_masks(infos, headers) -> dict[str, list]:
    """RTSTRUCT/SEG files by frame of reference: {for_uid: [(name, path), …]}."""
    from ..io.dicom.scan import read_header
    out: dict[str, list] = {}
    for info in infos:
        if info.modality not in ("RTSTRUCT", "SEG"):
            continue
        for f in info.files:
            ds = headers[info.series_uid] if f == info.files[0] else read_header(f)
            name = (info.description or f.stem).strip().replace("/", "_") or f.stem
            out.setdefault(_frame_of_reference(ds), []).append((name, f))
    return out


# ----------------------------------------------------------------------------------------------
# public
# ----------------------------------------------------------------------------------------------
def read_dosimetry_inputs(path: str | Path, *, masks: Sequence[str | Path] = (),
                          calibration_cps_per_mbq: float | None = None, acquisition_duration_s: float | None = None,
                          reference_timepoint: int | str = 0) -> DosimetryInputs:
    """The study in ``path`` (study layout or plain DICOM, module doc) and the VOIs for its first
    therapy cycle: the reference time point's own masks plus ``masks`` (``None`` when ``masks`` is
    empty: the workflow then uses each time point's masks)."""
    from .timepoints import reference_index
    path = Path(path)
    if not path.is_dir():
        raise DosimetryInputError(f"{path}: not a folder (expected a study folder with study.json or a folder of "
                                  "DICOM series)")
    notes: list[str] = []
    series: dict = {}
    cal_kw = {"calibration_cps_per_mbq": calibration_cps_per_mbq, "acquisition_duration_s": acquisition_duration_s}
    if (path / "study.json").is_file():
        study, kind = _read_layout(path, notes, series, cal_kw), "layout"
    else:
        study, kind = _read_dicom_folder(path, notes, series, cal_kw), "dicom_folder"
    vois = None
    if masks:
        therapy = [c for c in study.cycles if c.index >= 1 and any("spect" in tp.images for tp in c.timepoints)]
        if not therapy:
            raise DosimetryInputError(f"{path}: no therapy cycle with SPECT time points")
        tps = [tp for tp in therapy[0].timepoints if "spect" in tp.images]
        ref = tps[reference_index(tps, reference_timepoint)]
        from .timepoints import is_lesion
        vois = [ref.masks[n] for n in sorted(ref.masks, key=lambda n: (is_lesion(n), n))]
        for m in masks:
            vois.extend(load_mask(m, ref.images.get("ct")).values())
        notes.append(f"extra masks {[str(m) for m in masks]} apply to cycle {therapy[0].index} time point "
                     f"{ref.label!r} (the reference)")
    return DosimetryInputs(study, vois, kind, notes, series)


__all__ = ["DosimetryInputError", "DosimetryInputs", "read_dosimetry_inputs", "resolve_calibration", "load_mask",
           "MAX_CT_GAP_H", "CALIBRATION_FILE"]
