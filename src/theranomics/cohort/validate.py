"""Up-front manifest validation: every problem of every patient, found from headers only, before
any long work starts (missing folders, unreadable series, wrong modality, missing weight or dose)."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from ..io import layout
from .manifest import Manifest, PatientEntry, TimepointEntry, study_timepoints

#: DICOM Modality expected in each manifest path role.
EXPECTED_MODALITY = {"pet": "PT", "ct": "CT", "spect": "NM"}


@dataclass(frozen=True)
class Problem:
    """One finding.  ``severity`` 'error' keeps the patient from running; 'warning' does not."""

    patient_id: str
    severity: str
    field: str
    message: str
    path: str | None = None


@dataclass(frozen=True)
class ValidationReport:
    """All problems of a manifest; ``invalid_patients`` are those with at least one error."""

    problems: tuple[Problem, ...]
    n_patients: int

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def invalid_patients(self) -> set[str]:
        return {p.patient_id for p in self.errors}

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([asdict(p) for p in self.problems],
                            columns=["patient_id", "severity", "field", "message", "path"])

    def summary(self) -> str:
        """Human-readable lines: a count, then one line per problem."""
        lines = [f"{self.n_patients} patients: {self.n_patients - len(self.invalid_patients)} valid, "
                 f"{len(self.invalid_patients)} with errors, {len(self.warnings)} warnings"]
        lines += [f"  {p.severity.upper():7s} {p.patient_id}: {p.field}: {p.message}" for p in self.problems]
        return "\n".join(lines)


def _is_nifti(path: Path) -> bool:
    return path.name.endswith((".nii", ".nii.gz"))


def _check_nifti(pid: str, field: str, path: Path) -> list[Problem]:
    import nibabel as nib

    from ..io.nifti import check_complete

    try:
        check_complete(path)
    except ValueError as exc:
        return [Problem(pid, "error", field, str(exc).replace(f"{path}: ", ""), str(path))]
    try:
        img = nib.load(str(path))
        shape = img.header.get_data_shape()
    except Exception as exc:  # nibabel raises ImageFileError, OSError, EOFError …
        return [Problem(pid, "error", field, f"unreadable NIfTI ({type(exc).__name__}: {exc})", str(path))]
    if len([s for s in shape if s > 1]) < 2 or len(shape) > 4:
        return [Problem(pid, "error", field, f"NIfTI is not a 3-D image (shape {shape})", str(path))]
    return []


def _quick_series(path: Path):
    """Series info from the first file's header after checking every file for the DICOM marker
    (``DICM`` at byte 128) — a fraction of the cost of reading every header."""
    from ..io.dicom import DicomReadError
    from ..io.dicom.scan import SeriesInfo, read_header

    files = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith(".")) if path.is_dir() else [path]
    if not files:
        raise DicomReadError(f"{path}: no DICOM files found")
    for f in files:
        with open(f, "rb") as fh:
            head = fh.read(132)
        if len(head) < 132 or head[128:132] != b"DICM":
            raise DicomReadError(f"{f}: not a DICOM file (no DICM marker; truncated or damaged)")
    ds = read_header(files[0])
    modality = str(ds.get("Modality", "") or "")
    if not modality:
        raise DicomReadError(f"{files[0]}: missing required tag Modality (0008,0060)")
    return [SeriesInfo(str(ds.get("SeriesInstanceUID", "")), modality, str(ds.get("SeriesDescription", "") or ""),
                       len(files), tuple(files), str(ds.get("PatientID", "") or ""), str(ds.get("StudyInstanceUID", "")),
                       None, None, None)]


def _check_dicom(pid: str, field: str, path: Path, role: str, thorough: bool) -> tuple[list[Problem], object]:
    """Problems and the first header of the series of the expected modality (or None)."""
    from ..io.dicom import DicomReadError, scan_folder

    try:
        series = scan_folder(path) if thorough else _quick_series(path)
    except (DicomReadError, OSError) as exc:
        return [Problem(pid, "error", field, f"unreadable series: {exc}", str(path))], None
    expected = EXPECTED_MODALITY.get(role)
    matching = [s for s in series if s.modality == expected] if expected else series
    if expected and not matching:
        found = sorted({s.modality for s in series})
        return [Problem(pid, "error", field, f"no {expected} series (found modality {found})", str(path))], None
    problems = []
    if len(matching) > 1:
        problems.append(Problem(pid, "warning", field, f"{len(matching)} {expected} series; the largest is used",
                                str(path)))
    best = max(matching, key=lambda s: s.n_files)
    from ..io.dicom.scan import read_header
    return problems, read_header(best.files[0])


def _check_emission(pid: str, field: str, header, study_patient, study_admin, path: Path,
                    needs_weight: bool) -> list[Problem]:
    """Weight and administration for PET/NM: from the DICOM header, else from study.json."""
    from ..io.dicom import DicomReadError, read_patient_and_administration

    if header is None:       # NIfTI: study.json must supply them
        problems = []
        if study_admin is None:
            problems.append(Problem(pid, "error", field, "NIfTI input without study.json: no administered "
                                                        "activity or injection time (use DICOM or the study layout)",
                                    str(path)))
        if needs_weight and (study_patient is None or study_patient.weight_kg is None):
            problems.append(Problem(pid, "error", field, "missing patient weight (study.json patient.weight_kg) "
                                                        "needed for SUV", str(path)))
        return problems
    try:
        patient, admin = read_patient_and_administration(header, require_administration=True)
    except (DicomReadError, ValueError) as exc:
        return [Problem(pid, "error", field, f"missing or invalid dose/administration: {exc}", str(path))]
    if needs_weight and patient.weight_kg is None:
        return [Problem(pid, "error", field, "missing PatientWeight (0010,1030): needed for SUV", str(path))]
    return []


def validate_patient(entry: PatientEntry, thorough: bool = False) -> list[Problem]:
    """Every problem of one patient (no voxel data is read).

    DICOM series: every file must carry the DICOM marker and the first header must give the
    modality (and, for PET/NM, weight and dose); ``thorough=True`` parses every header instead
    (:func:`theranomics.io.dicom.scan_folder`: also finds mixed series and damaged headers).
    """
    pid = entry.patient_id
    problems: list[Problem] = []
    study = None
    if entry.study_dir is not None:
        if not Path(entry.study_dir).is_dir():
            return [Problem(pid, "error", "study_dir", "missing folder", str(entry.study_dir))]
        if (Path(entry.study_dir) / layout.STUDY_FILE).is_file():
            try:
                study = layout.read_study(entry.study_dir, load_images=False)
            except (layout.StudyLayoutError, ValueError, TypeError, KeyError) as exc:
                return [Problem(pid, "error", "study.json", f"unusable: {exc}", str(entry.study_dir))]
            if study.patient.patient_id != pid:
                problems.append(Problem(pid, "error", "study.json",
                                        f"patient_id is {study.patient.patient_id!r}, manifest says {pid!r}",
                                        str(entry.study_dir)))
        elif not entry.timepoints:
            return [Problem(pid, "error", "study_dir", f"no {layout.STUDY_FILE} (not a study folder in the layout) "
                                                       "and no time point paths in the manifest", str(entry.study_dir))]
    try:
        tps = study_timepoints(entry)
    except (layout.StudyLayoutError, ValueError, KeyError) as exc:
        return problems + [Problem(pid, "error", "study.json", str(exc), str(entry.study_dir))]
    if not tps:
        return problems + [Problem(pid, "error", "timepoints", "no time points", str(entry.study_dir))]
    if not any(t.cycle == 0 and t.pet is not None for t in tps):
        problems.append(Problem(pid, "warning", "timepoints", "no diagnostic PET (cycle 0): quantification and "
                                                              "radiomics will not apply"))
    for tp in tps:
        problems += _validate_timepoint(pid, tp, study, thorough)
    if entry.centre is None:
        problems.append(Problem(pid, "warning", "centre", "no centre given (per-centre summaries group it as 'unknown')"))
    return problems


def _validate_timepoint(pid: str, tp: TimepointEntry, study, thorough: bool) -> list[Problem]:
    problems = []
    cycle = None
    if study is not None:
        cycle = next((c for c in study.cycles if c.index == tp.cycle), None)
    for role in ("pet", "ct", "spect", "organs"):
        path = tp.path(role)
        if path is None:
            continue
        field = f"cycle{tp.cycle}/{tp.timepoint}/{role}"
        if not path.exists():
            problems.append(Problem(pid, "error", field, "missing " + ("file" if _is_nifti(path) else "folder"),
                                    str(path)))
            continue
        if _is_nifti(path):
            found = _check_nifti(pid, field, path)
            problems += found
            if role in ("pet", "spect") and not found:
                problems += _check_emission(pid, field, None, study.patient if study else None,
                                            cycle.administration if cycle else None, path, role == "pet")
            if role == "organs" and not found and not Path(str(path)[:-len(".nii.gz")] + ".json").exists() \
                    and not path.with_suffix(".json").exists():
                problems.append(Problem(pid, "warning", field, "organ mask has no JSON sidecar with label names",
                                        str(path)))
            continue
        if role == "organs":
            from ..io.dicom import DicomReadError, scan_folder
            try:
                scan_folder(path) if thorough else _quick_series(path)
            except (DicomReadError, OSError) as exc:
                problems.append(Problem(pid, "error", field, f"unreadable mask series: {exc}", str(path)))
            continue
        found, header = _check_dicom(pid, field, path, role, thorough)
        problems += found
        if header is not None and role in ("pet", "spect"):
            problems += _check_emission(pid, field, header, None, None, path, role == "pet")
    return problems


def validate_manifest(manifest: Manifest, thorough: bool = False) -> ValidationReport:
    """Check every patient of ``manifest``; the report lists every problem found."""
    problems: list[Problem] = []
    for entry in manifest.patients:
        problems += validate_patient(entry, thorough)
    return ValidationReport(tuple(problems), len(manifest.patients))
