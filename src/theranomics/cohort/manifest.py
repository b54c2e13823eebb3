"""The cohort manifest: which patients, where their studies are, centre/scanner, clinical variables
and outcomes.  Read from CSV or YAML; relative paths are relative to the manifest's folder.

CSV — one row per patient (or one row per time point, see below)::

    patient_id,study_dir,centre,scanner,age_y,outcome:response
    SIM0001,studies/SIM0001,C0,scanner-A,71,1

Reserved columns: ``patient_id`` (required), ``study_dir`` (a folder in the study layout,
``docs/study_layout.md``), ``centre``, ``scanner``.  A column named ``outcome:<name>`` is an
outcome; every other column is a clinical variable.  Rows may instead (or in addition) list time
points with the columns ``cycle``, ``timepoint`` and paths ``pet``, ``ct``, ``spect``, ``organs``
(a DICOM folder or a NIfTI file each); patient-level values must then agree between the rows.

YAML::

    patients:
      - patient_id: SIM0001
        study_dir: studies/SIM0001
        centre: C0
        scanner: scanner-A
        clinical: {age_y: 71}
        outcomes: {response: 1}
        timepoints:                       # optional; default: every time point of study.json
          - {cycle: 0, timepoint: 1h, pet: pet_dir, ct: ct.nii.gz, organs: organs.nii.gz}
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from ..io import layout

PATIENT_COLUMNS = ("patient_id", "study_dir", "centre", "scanner")
TIMEPOINT_COLUMNS = ("cycle", "timepoint")
PATH_COLUMNS = ("pet", "ct", "spect", "organs")
OUTCOME_PREFIX = "outcome:"


class ManifestError(ValueError):
    """The manifest file itself cannot be read (names the file, row and field)."""


@dataclass(frozen=True)
class TimepointEntry:
    """Input paths of one time point (``None`` = not acquired)."""

    cycle: int
    timepoint: str
    pet: Path | None = None
    ct: Path | None = None
    spect: Path | None = None
    organs: Path | None = None

    def path(self, role: str) -> Path | None:
        return getattr(self, role)


@dataclass(frozen=True)
class PatientEntry:
    """One manifest patient.  ``timepoints`` empty = take them from ``study_dir/study.json``."""

    patient_id: str
    study_dir: Path | None = None
    centre: str | None = None
    scanner: str | None = None
    timepoints: tuple[TimepointEntry, ...] = ()
    clinical: Mapping[str, Any] = field(default_factory=dict)
    outcomes: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (paths as strings) — what goes to a worker."""
        return {
            "patient_id": self.patient_id, "study_dir": _s(self.study_dir), "centre": self.centre,
            "scanner": self.scanner, "clinical": dict(self.clinical), "outcomes": dict(self.outcomes),
            "timepoints": [{"cycle": t.cycle, "timepoint": t.timepoint,
                            **{r: _s(t.path(r)) for r in PATH_COLUMNS}} for t in self.timepoints],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "PatientEntry":
        return cls(d["patient_id"], _p(d.get("study_dir")), d.get("centre"), d.get("scanner"),
                   tuple(TimepointEntry(int(t["cycle"]), str(t["timepoint"]),
                                        **{r: _p(t.get(r)) for r in PATH_COLUMNS}) for t in d.get("timepoints", ())),
                   dict(d.get("clinical", {})), dict(d.get("outcomes", {})))


@dataclass(frozen=True)
class Manifest:
    """The patients of a cohort, in manifest order."""

    patients: tuple[PatientEntry, ...]
    source: Path | None = None

    def __len__(self) -> int:
        return len(self.patients)

    def __iter__(self):
        return iter(self.patients)

    def patient(self, patient_id: str) -> PatientEntry:
        for p in self.patients:
            if p.patient_id == patient_id:
                return p
        raise KeyError(f"manifest has no patient {patient_id!r}")


def _s(p: Path | None) -> str | None:
    return None if p is None else str(p)


def _p(s) -> Path | None:
    return None if s in (None, "") else Path(s)


def _blank(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or (isinstance(v, str) and not v.strip())


def _plain(v):
    """numpy scalars → Python; NaN → None."""
    if _blank(v):
        return None
    return v.item() if hasattr(v, "item") else v


def _resolve(base: Path, value, where: str) -> Path | None:
    if _blank(value):
        return None
    if not isinstance(value, (str, Path)):
        raise ManifestError(f"{where}: expected a path, got {value!r}")
    p = Path(str(value)).expanduser()
    return p if p.is_absolute() else (base / p)


def _timepoint(base: Path, d: Mapping[str, Any], where: str) -> TimepointEntry:
    for key in TIMEPOINT_COLUMNS:
        if _blank(d.get(key)):
            raise ManifestError(f"{where}: time point needs field {key!r}")
    try:
        cycle = int(d["cycle"])
    except (TypeError, ValueError):
        raise ManifestError(f"{where}: field 'cycle' must be an integer (0 = diagnostic), got {d['cycle']!r}") from None
    label = str(d["timepoint"]).strip()
    try:
        layout.timepoint_dir(".", cycle, label)
    except layout.StudyLayoutError as exc:
        raise ManifestError(f"{where}: {exc}") from None
    unknown = sorted(set(d) - set(TIMEPOINT_COLUMNS) - set(PATH_COLUMNS))
    if unknown:
        raise ManifestError(f"{where}: unknown time point field(s) {unknown}; expected {list(PATH_COLUMNS)}")
    return TimepointEntry(cycle, label, **{r: _resolve(base, d.get(r), f"{where} field {r!r}") for r in PATH_COLUMNS})


def _entry(base: Path, d: Mapping[str, Any], where: str, clinical: dict, outcomes: dict,
           timepoints: list[TimepointEntry]) -> PatientEntry:
    pid = d.get("patient_id")
    if _blank(pid):
        raise ManifestError(f"{where}: missing field 'patient_id'")
    pid = str(pid).strip()
    if "/" in pid or pid.startswith("."):
        raise ManifestError(f"{where}: patient_id {pid!r} cannot be a folder name")
    if _blank(d.get("study_dir")) and not timepoints:
        raise ManifestError(f"{where}: patient {pid!r} needs 'study_dir' or time point paths (pet/ct/spect/organs)")
    return PatientEntry(pid, _resolve(base, d.get("study_dir"), f"{where} field 'study_dir'"),
                        None if _blank(d.get("centre")) else str(d["centre"]),
                        None if _blank(d.get("scanner")) else str(d["scanner"]),
                        tuple(timepoints), clinical, outcomes)


def _check_unique(patients: list[PatientEntry], source: Path) -> None:
    seen: set[str] = set()
    dup = sorted({p.patient_id for p in patients if p.patient_id in seen or seen.add(p.patient_id)})
    if dup:
        raise ManifestError(f"{source}: patient_id(s) listed more than once: {dup}")


def _read_csv(path: Path) -> Manifest:
    try:
        df = pd.read_csv(path, dtype={"patient_id": str, "centre": str, "scanner": str, "timepoint": str,
                                      "study_dir": str, **{c: str for c in PATH_COLUMNS}})
    except Exception as exc:  # pandas raises several types for malformed files
        raise ManifestError(f"{path}: not a readable CSV manifest ({type(exc).__name__}: {exc})") from None
    if "patient_id" not in df.columns:
        raise ManifestError(f"{path}: missing column 'patient_id' (columns: {list(df.columns)})")
    has_tp = any(c in df.columns for c in TIMEPOINT_COLUMNS + PATH_COLUMNS)
    if has_tp and not all(c in df.columns for c in TIMEPOINT_COLUMNS):
        raise ManifestError(f"{path}: time point rows need both columns 'cycle' and 'timepoint'")
    reserved = set(PATIENT_COLUMNS) | set(TIMEPOINT_COLUMNS) | set(PATH_COLUMNS)
    variables = [c for c in df.columns if c not in reserved]
    base = path.parent
    patients: list[PatientEntry] = []
    for pid, rows in df.groupby("patient_id", sort=False, dropna=False):
        first_row = int(rows.index[0]) + 2          # 1-based, after the header line
        where = f"{path} row {first_row}"
        level = [c for c in df.columns if c in PATIENT_COLUMNS or c in variables]
        for col in level:
            values = {repr(_plain(v)) for v in rows[col]}
            if len(values) > 1:
                raise ManifestError(f"{where}: patient {pid!r} has different {col!r} values on its rows: {sorted(values)}")
        d = {c: _plain(rows[c].iloc[0]) for c in level}
        clinical = {c: d[c] for c in variables if not c.startswith(OUTCOME_PREFIX)}
        outcomes = {c[len(OUTCOME_PREFIX):]: d[c] for c in variables if c.startswith(OUTCOME_PREFIX)}
        tps = []
        if has_tp:
            for i, row in rows.iterrows():
                r = {c: _plain(row[c]) for c in TIMEPOINT_COLUMNS + PATH_COLUMNS if c in df.columns}
                if all(_blank(v) for v in r.values()):
                    continue
                tps.append(_timepoint(base, r, f"{path} row {int(i) + 2}"))
        patients.append(_entry(base, d, where, clinical, outcomes, tps))
    _check_unique(patients, path)
    return Manifest(tuple(patients), path)


def _read_yaml(path: Path) -> Manifest:
    import yaml

    try:
        data = yaml.safe_load(path.read_text())
    except Exception as exc:  # yaml.YAMLError, UnicodeDecodeError
        raise ManifestError(f"{path}: not a readable YAML manifest ({type(exc).__name__}: {exc})") from None
    if not isinstance(data, Mapping) or not isinstance(data.get("patients"), list):
        raise ManifestError(f"{path}: expected a mapping with a list 'patients'")
    base = path.parent
    patients = []
    allowed = set(PATIENT_COLUMNS) | {"clinical", "outcomes", "timepoints"}
    for n, d in enumerate(data["patients"], start=1):
        where = f"{path} patients[{n}]"
        if not isinstance(d, Mapping):
            raise ManifestError(f"{where}: expected a mapping, got {d!r}")
        unknown = sorted(set(d) - allowed)
        if unknown:
            raise ManifestError(f"{where}: unknown field(s) {unknown}; expected any of {sorted(allowed)}")
        for key in ("clinical", "outcomes"):
            if d.get(key) is not None and not isinstance(d[key], Mapping):
                raise ManifestError(f"{where}: field {key!r} must be a mapping, got {d[key]!r}")
        tps_raw = d.get("timepoints") or []
        if not isinstance(tps_raw, list):
            raise ManifestError(f"{where}: field 'timepoints' must be a list")
        tps = [_timepoint(base, t, f"{where} timepoints[{k}]") if isinstance(t, Mapping) else
               _raise(f"{where} timepoints[{k}]: expected a mapping, got {t!r}") for k, t in enumerate(tps_raw, 1)]
        patients.append(_entry(base, d, where, dict(d.get("clinical") or {}), dict(d.get("outcomes") or {}), tps))
    _check_unique(patients, path)
    return Manifest(tuple(patients), path)


def _raise(msg: str):
    raise ManifestError(msg)


def read_manifest(path: str | Path) -> Manifest:
    """Read a CSV (``.csv``) or YAML (``.yaml``/``.yml``) manifest; :class:`ManifestError` if malformed.

    Only the file is checked here; whether the folders and series are usable is
    :func:`theranomics.cohort.validate_manifest`'s job.
    """
    path = Path(path)
    if not path.is_file():
        raise ManifestError(f"{path}: manifest file not found")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _read_csv(path)
    if suffix in (".yaml", ".yml"):
        return _read_yaml(path)
    raise ManifestError(f"{path}: unknown manifest format {suffix!r}; use .csv, .yaml or .yml")


def write_manifest(manifest: Manifest | list[PatientEntry], path: str | Path) -> Path:
    """Write a manifest (CSV or YAML by suffix), paths relative to its folder where possible."""
    import os
    import yaml

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    patients = list(manifest.patients if isinstance(manifest, Manifest) else manifest)
    base = path.parent.resolve()

    def rel(p: Path | None) -> str | None:
        if p is None:
            return None
        try:
            return os.path.relpath(Path(p).resolve(), base)
        except ValueError:
            return str(p)

    tmp = path.with_name(path.name + ".tmp")
    if path.suffix.lower() == ".csv":
        rows = []
        for e in patients:
            base_row = {"patient_id": e.patient_id, "study_dir": rel(e.study_dir), "centre": e.centre,
                        "scanner": e.scanner, **dict(e.clinical),
                        **{OUTCOME_PREFIX + k: v for k, v in e.outcomes.items()}}
            if e.timepoints:
                rows += [{**base_row, "cycle": t.cycle, "timepoint": t.timepoint,
                          **{r: rel(t.path(r)) for r in PATH_COLUMNS}} for t in e.timepoints]
            else:
                rows.append(base_row)
        pd.DataFrame(rows).to_csv(tmp, index=False)
    else:
        docs = []
        for e in patients:
            d = {"patient_id": e.patient_id, "study_dir": rel(e.study_dir), "centre": e.centre, "scanner": e.scanner,
                 "clinical": json.loads(json.dumps(dict(e.clinical), default=float)),
                 "outcomes": json.loads(json.dumps(dict(e.outcomes), default=float))}
            if e.timepoints:
                d["timepoints"] = [{"cycle": t.cycle, "timepoint": t.timepoint,
                                    **{r: rel(t.path(r)) for r in PATH_COLUMNS if t.path(r) is not None}}
                                   for t in e.timepoints]
            docs.append({k: v for k, v in d.items() if v is not None})
        tmp.write_text(yaml.safe_dump({"patients": docs}, sort_keys=False))
    tmp.replace(path)
    return path


def study_timepoints(entry: PatientEntry) -> tuple[TimepointEntry, ...]:
    """The entry's time points: explicit ones, or those of ``study_dir/study.json`` in the layout
    (DICOM folder when it holds files, else the NIfTI file; organ masks from ``masks/organs``).

    Raises :class:`theranomics.io.layout.StudyLayoutError` when ``study.json`` is unusable.
    """
    if entry.timepoints:
        return entry.timepoints
    if entry.study_dir is None:
        return ()
    study = layout.read_study(entry.study_dir, load_images=False)
    out = []
    info = json.loads((Path(entry.study_dir) / layout.STUDY_FILE).read_text())
    for cd, cycle in zip(sorted(info["cycles"], key=lambda c: c["cycle"]), study.cycles):
        for td, tp in zip(cd["timepoints"], cycle.timepoints):
            paths: dict[str, Path | None] = {}
            for modality in ("pet", "ct", "spect"):
                if modality not in td.get("modalities", []):
                    paths[modality] = None
                    continue
                ddir = layout.dicom_dir(entry.study_dir, cycle.index, tp.label, modality)
                nii = layout.nifti_path(entry.study_dir, cycle.index, tp.label, modality)
                has_dicom = ddir.is_dir() and any(ddir.iterdir())
                paths[modality] = ddir if has_dicom or not nii.exists() else nii
            paths["organs"] = (layout.mask_path(entry.study_dir, cycle.index, tp.label, "organs")
                               if "organs" in td.get("masks", []) else None)
            out.append(TimepointEntry(cycle.index, tp.label, **paths))
    return tuple(out)
