"""The on-disk layout of a patient study — a contract between the simulator, every
analysis command and the cohort runner.  Documented in ``docs/study_layout.md``::

    <patient_id>/
      study.json                         patient, administrations, time points (no ground truth)
      cycle<C>/<timepoint>/<modality>/dicom/*.dcm
      cycle<C>/<timepoint>/<modality>/<modality>.nii.gz (+ .json sidecar with unit/modality)
      cycle<C>/<timepoint>/masks/<name>.nii.gz          user-supplied masks (e.g. organs from CT)
      truth/                             simulator ground truth; analysis commands never read it

``cycle0`` holds the diagnostic (pre-therapy) PET/CT; ``cycle1`` … the therapy
cycles with their post-therapy SPECT/CT time points.  Time point labels are
free text such as ``1h``, ``4h``, ``24h``, ``96h``.  Modality folder names are
lower case: ``pet``, ``ct``, ``spect``.

Join keys used by every table of the project: ``patient_id``, ``cycle``,
``timepoint``, ``lesion_id``, ``organ``.
"""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from ..core import Administration, Cycle, Image, LabelMap, Patient, Study, TimePoint
from .nifti import read_labelmap, read_nifti, write_nifti

LAYOUT_VERSION = 1
STUDY_FILE = "study.json"
TRUTH_DIR = "truth"
JOIN_KEYS = ("patient_id", "cycle", "timepoint", "lesion_id", "organ")
MODALITIES = ("pet", "ct", "spect")


class StudyLayoutError(ValueError):
    """A folder does not follow the study layout."""


def cycle_dir(patient_dir: Path | str, cycle: int) -> Path:
    return Path(patient_dir) / f"cycle{int(cycle)}"


def timepoint_dir(patient_dir: Path | str, cycle: int, timepoint: str) -> Path:
    if not timepoint or "/" in timepoint or timepoint.startswith("."):
        raise StudyLayoutError(f"invalid time point label {timepoint!r}")
    return cycle_dir(patient_dir, cycle) / timepoint


def modality_dir(patient_dir: Path | str, cycle: int, timepoint: str, modality: str) -> Path:
    modality = modality.lower()
    if modality not in MODALITIES:
        raise StudyLayoutError(f"unknown modality folder {modality!r}; expected one of {MODALITIES}")
    return timepoint_dir(patient_dir, cycle, timepoint) / modality


def dicom_dir(patient_dir: Path | str, cycle: int, timepoint: str, modality: str) -> Path:
    return modality_dir(patient_dir, cycle, timepoint, modality) / "dicom"


def nifti_path(patient_dir: Path | str, cycle: int, timepoint: str, modality: str) -> Path:
    return modality_dir(patient_dir, cycle, timepoint, modality) / f"{modality.lower()}.nii.gz"


def mask_path(patient_dir: Path | str, cycle: int, timepoint: str, name: str) -> Path:
    return timepoint_dir(patient_dir, cycle, timepoint) / "masks" / f"{name}.nii.gz"


def truth_dir(patient_dir: Path | str) -> Path:
    return Path(patient_dir) / TRUTH_DIR


# -- study.json ---------------------------------------------------------------

def _iso(t: dt.datetime) -> str:
    return t.isoformat()


def study_to_dict(study: Study) -> dict[str, Any]:
    """JSON-ready description of a study (no voxel data)."""
    p = study.patient
    return {
        "layout_version": LAYOUT_VERSION,
        "patient": {"patient_id": p.patient_id, "weight_kg": p.weight_kg, "height_cm": p.height_cm, "sex": p.sex},
        "cycles": [
            {
                "cycle": c.index,
                "administration": {
                    "radiopharmaceutical": c.administration.radiopharmaceutical,
                    "nuclide": c.administration.nuclide,
                    "activity_mbq": c.administration.activity_mbq,
                    "residual_mbq": c.administration.residual_mbq,
                    "time": _iso(c.administration.time),
                },
                "timepoints": [
                    {"timepoint": tp.label, "acquisition_time": _iso(tp.acquisition_time),
                     "modalities": sorted(m.lower() for m in tp.images), "masks": sorted(tp.masks)}
                    for tp in c.timepoints
                ],
            }
            for c in study.cycles
        ],
    }


def write_study_json(study: Study, patient_dir: Path | str) -> Path:
    path = Path(patient_dir) / STUDY_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(study_to_dict(study), indent=2))
    tmp.replace(path)
    return path


def _field(d: dict, key: str, where: str):
    if key not in d:
        raise StudyLayoutError(f"{where}: missing field {key!r}")
    return d[key]


def read_study(patient_dir: Path | str, load_images: bool = True) -> Study:
    """Read ``study.json`` and (optionally) the NIfTI images and masks it lists."""
    patient_dir = Path(patient_dir)
    path = patient_dir / STUDY_FILE
    if not path.is_file():
        raise StudyLayoutError(f"{patient_dir}: not a study folder (no {STUDY_FILE})")
    try:
        info = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise StudyLayoutError(f"{path}: not valid JSON ({exc})") from None
    where = str(path)
    pd = _field(info, "patient", where)
    patient = Patient(str(_field(pd, "patient_id", where)), pd.get("weight_kg"), pd.get("height_cm"), pd.get("sex"))
    cycles = []
    for cd in _field(info, "cycles", where):
        ad = _field(cd, "administration", where)
        admin = Administration(_field(ad, "radiopharmaceutical", where), _field(ad, "nuclide", where),
                               float(_field(ad, "activity_mbq", where)), dt.datetime.fromisoformat(_field(ad, "time", where)),
                               float(ad.get("residual_mbq", 0.0)))
        tps = []
        for td in _field(cd, "timepoints", where):
            label = _field(td, "timepoint", where)
            images: dict[str, Image] = {}
            masks: dict[str, LabelMap] = {}
            if load_images:
                for modality in td.get("modalities", []):
                    images[modality] = read_nifti(nifti_path(patient_dir, cd["cycle"], label, modality))
                for name in td.get("masks", []):
                    masks[name] = read_labelmap(mask_path(patient_dir, cd["cycle"], label, name))
            tps.append(TimePoint(label, dt.datetime.fromisoformat(_field(td, "acquisition_time", where)), images, masks))
        cycles.append(Cycle(int(_field(cd, "cycle", where)), admin, tuple(tps)))
    return Study(patient, tuple(cycles))


def write_study_images(study: Study, patient_dir: Path | str) -> None:
    """Write every image and mask of ``study`` as NIfTI in the layout, then ``study.json``."""
    for c in study.cycles:
        for tp in c.timepoints:
            for modality, image in tp.images.items():
                write_nifti(image, nifti_path(patient_dir, c.index, tp.label, modality))
            for name, labels in tp.masks.items():
                write_nifti(labels, mask_path(patient_dir, c.index, tp.label, name))
    write_study_json(study, patient_dir)


def find_studies(root: Path | str) -> list[Path]:
    """Patient folders (those holding ``study.json``) directly under ``root`` or ``root`` itself."""
    root = Path(root)
    if (root / STUDY_FILE).is_file():
        return [root]
    return sorted(p for p in root.iterdir() if (p / STUDY_FILE).is_file()) if root.is_dir() else []
