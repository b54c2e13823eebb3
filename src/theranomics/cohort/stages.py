"""Per-patient stages: pure functions of paths in → files out.

A :class:`Stage` is ``func(inputs, out_dir, settings) -> {output_name: file name in out_dir}``.
The runner gives it a fresh empty ``out_dir`` and makes the result visible atomically; the stage
never writes anywhere else and never reads another patient.  Tables it lists in ``tables`` (Parquet
files with a ``patient_id`` column) are gathered into cohort tables.  ``inputs_of`` names the input
files whose content keys the cache (upstream results are keyed through the upstream stage's key).

Built-in stages: ``quantify`` (SUV, lesions, whole-body burden — :mod:`theranomics.quant`),
``radiomics`` (IBSI features of the quantified lesions — :mod:`theranomics.radiomics`),
``dosimetry`` (serial SPECT/CT dosimetry of the therapy cycles — :mod:`theranomics.dosimetry`) and
``plan`` (digital-twin personalisation and treatment planning — :mod:`theranomics.twin`); the last
two apply only to patients with therapy SPECT time points (:mod:`.therapy`).  A new stage is one
more :class:`Stage` in :func:`builtin_stages` or passed to :func:`theranomics.cohort.run_cohort`.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from .manifest import PatientEntry, TimepointEntry


class StageError(ValueError):
    """A stage cannot run on this patient's data (message says what is missing)."""


class StageNotApplicable(StageError):
    """The stage does not apply to this patient, as found from its data or an upstream result
    (e.g. no lesion large enough to plan for): status ``not_applicable``, not a failure.  The
    verdict is cached under the stage key like a result."""


@dataclass(frozen=True)
class StageInputs:
    """What a stage sees: the patient, its resolved time points, and upstream stage folders."""

    patient: PatientEntry
    timepoints: tuple[TimepointEntry, ...]
    upstream: Mapping[str, Path] = field(default_factory=dict)

    def diagnostic_pet(self) -> TimepointEntry | None:
        """First cycle-0 time point with a PET, or None."""
        return next((t for t in self.timepoints if t.cycle == 0 and t.pet is not None), None)


@dataclass(frozen=True)
class Stage:
    """One per-patient processing step (see the module docstring).

    ``applies(inputs)``: a reason when the stage does not apply to this patient (status
    ``not_applicable``), else None.  ``inputs_of(inputs)``: the files whose content keys the cache;
    ``values_of(inputs, settings)``: manifest values (e.g. a clinical variable) that key it too.
    ``patient_summary(tables)``: from this stage's gathered tables (name → DataFrame), one row per
    patient (``patient_id`` column) merged into the cohort ``patients`` table.  ``imports``: modules
    the stage loads lazily; workers import them while the manifest is validated.
    ``requires``: upstream stages that must succeed (else this stage is skipped); ``uses``: optional
    upstream stages, run first when they are in the run and handed to the stage (in
    ``inputs.upstream``, keying its cache) only when they succeeded for the patient.
    """

    name: str
    func: Callable[[StageInputs, Path, Mapping[str, Any]], Mapping[str, str]]
    requires: tuple[str, ...] = ()
    defaults: Mapping[str, Any] = field(default_factory=dict)
    version: str = "1"
    tables: tuple[str, ...] = ()
    inputs_of: Callable[[StageInputs], Mapping[str, Path]] | None = None
    applies: Callable[[StageInputs], str | None] | None = None
    values_of: Callable[[StageInputs, Mapping[str, Any]], Mapping[str, Any]] | None = None
    patient_summary: Callable[[Mapping[str, Any]], Any] | None = None
    imports: tuple[str, ...] = ()
    uses: tuple[str, ...] = ()

    def resolve_settings(self, overrides: Mapping[str, Any] | None) -> dict[str, Any]:
        """Defaults updated by ``overrides``; an unknown key is an error naming the stage."""
        overrides = dict(overrides or {})
        unknown = sorted(set(overrides) - set(self.defaults))
        if unknown:
            raise ValueError(f"stage {self.name!r}: unknown setting(s) {unknown}; expected any of "
                             f"{sorted(self.defaults)}")
        return {**self.defaults, **overrides}


# -- quantify -----------------------------------------------------------------------------------

def _is_nifti(path: Path) -> bool:
    return path.name.endswith((".nii", ".nii.gz"))


def sidecar_of(path: Path) -> Path | None:
    """The JSON sidecar of a NIfTI file (unit, label names), or None for DICOM."""
    for suffix in (".nii.gz", ".nii"):
        if path.name.endswith(suffix):
            return path.with_name(path.name[: -len(suffix)] + ".json")
    return None


def _quant_inputs(inputs: StageInputs) -> dict[str, Path]:
    """PET, CT, organ masks, their NIfTI sidecars, and study.json for a NIfTI PET (weight, activity)."""
    tp = inputs.diagnostic_pet()
    if tp is None:
        return {}
    files = {}
    for role in ("pet", "ct", "organs"):
        path = tp.path(role)
        if path is None:
            continue
        files[role] = path
        side = sidecar_of(path)
        if side is not None and side.is_file():
            files[f"{role}_sidecar"] = side
    if _is_nifti(tp.pet) and inputs.patient.study_dir is not None:
        files["study_json"] = Path(inputs.patient.study_dir) / "study.json"
    return files


def _quant_applies(inputs: StageInputs) -> str | None:
    return None if inputs.diagnostic_pet() is not None else "no diagnostic PET (cycle 0)"


def quantify_stage(inputs: StageInputs, out_dir: Path, settings: Mapping[str, Any]) -> dict[str, str]:
    """:func:`theranomics.quant.workflow.quantify_folder` on the diagnostic PET, with the time point's
    organ masks when it has them (DICOM: SUV from the header; NIfTI in Bq/mL: SUV from ``study.json``
    by :func:`theranomics.quant.suv_nifti.suv_from_activity_concentration`), tables tagged with
    ``cycle`` and ``timepoint``."""
    import pandas as pd

    from ..quant.pipeline import QuantifySettings
    from ..quant.workflow import quantify_folder

    tp = inputs.diagnostic_pet()
    pid = inputs.patient.patient_id
    s = dict(settings)
    suv_type, write_seg, write_report = s.pop("suv_type"), s.pop("write_seg"), s.pop("write_report")
    if not _is_nifti(tp.pet):
        quantify_folder(tp.pet, out_dir, ct=tp.ct, organs=tp.organs, suv_type=suv_type, patient_id=pid,
                        write_report=write_report, write_seg=write_seg, **s)
    else:
        if inputs.patient.study_dir is None:
            raise StageError(f"{tp.pet}: a NIfTI PET needs the study layout (study_dir with study.json) for "
                             "weight and administered activity")
        from ..io import layout
        from ..quant.load import load_image, load_labels, resolve_suv_type
        from ..quant.outputs import write_quant_outputs
        from ..quant.pipeline import quantify
        from ..quant.suv_nifti import suv_from_activity_concentration
        study = layout.read_study(inputs.patient.study_dir, load_images=False)
        cycle = next((c for c in study.cycles if c.index == tp.cycle), None)
        acquired = None if cycle is None else next((t for t in cycle.timepoints if t.label == tp.timepoint), None)
        if acquired is None:
            raise StageError(f"{inputs.patient.study_dir}/study.json has no cycle {tp.cycle} time point "
                             f"{tp.timepoint!r} (the NIfTI PET's acquisition time and administration)")
        suv = suv_from_activity_concentration(load_image(tp.pet, "PT"), study.patient, cycle.administration,
                                              acquired.acquisition_time, resolve_suv_type(suv_type))
        ct = load_image(tp.ct, "CT", unit="HU") if tp.ct is not None else None
        organs = load_labels(tp.organs, ct.geometry if ct is not None else suv.geometry) if tp.organs else None
        result = quantify(suv, ct=ct, organs=organs, settings=QuantifySettings(**s))
        write_quant_outputs(result, out_dir, inputs=[p for p in (tp.pet, tp.ct, tp.organs) if p],
                            patient_id=pid, extra_parameters={"suv_type": suv_type})
        if write_report:
            from ..report.quant_report import quant_report
            quant_report(result, out_dir / "report.html", title=f"PET quantification — {pid}")
    lesions = pd.read_parquet(out_dir / "lesions.parquet")
    whole = pd.read_csv(out_dir / "whole_body.csv")
    for table in (lesions, whole):
        table["patient_id"] = pid
        table.insert(1, "cycle", tp.cycle)
        table.insert(2, "timepoint", tp.timepoint)
    lesions.to_parquet(out_dir / "lesions.parquet", index=False)
    whole.to_parquet(out_dir / "whole_body.parquet", index=False)
    out = {"lesions": "lesions.parquet", "whole_body": "whole_body.parquet", "suv": "suv.nii.gz",
           "lesion_labels": "lesions.nii.gz", "summary": "summary.json"}
    if write_report:
        out["report"] = "report.html"
    return out


def _quant_defaults() -> dict[str, Any]:
    from ..quant.pipeline import QuantifySettings
    return {"suv_type": "bw", "write_seg": False, "write_report": True,
            **dataclasses.asdict(QuantifySettings())}


# -- radiomics ----------------------------------------------------------------------------------

def radiomics_stage(inputs: StageInputs, out_dir: Path, settings: Mapping[str, Any]) -> dict[str, str]:
    """IBSI features (:func:`theranomics.radiomics.extract_features`, one thread) of every quantified
    lesion of at least ``min_volume_ml`` on the SUV image written by ``quantify``."""
    import numpy as np
    import pandas as pd

    from ..io.nifti import read_labelmap, read_nifti
    from ..radiomics import RadiomicsSettings, extract_features, modality_defaults

    quant = inputs.upstream["quantify"]
    suv = read_nifti(quant / "suv.nii.gz")
    labels = read_labelmap(quant / "lesions.nii.gz")
    rs = (modality_defaults(settings["preset"]) if settings["radiomics"] is None
          else RadiomicsSettings.from_dict(settings["radiomics"], source="cohort radiomics settings"))
    counts = np.bincount(labels.array.ravel())
    vv = labels.geometry.voxel_volume_ml
    ids = [i for i in range(1, len(counts)) if counts[i] * vv >= settings["min_volume_ml"]]
    tp = inputs.diagnostic_pet()
    keys = {"patient_id": inputs.patient.patient_id, "cycle": tp.cycle, "timepoint": tp.timepoint}
    if ids:
        df = extract_features(suv, labels, rs, label_ids=ids, n_jobs=1)
        df = df.reset_index().rename(columns={"label": "lesion_id"})
    else:
        df = pd.DataFrame({"lesion_id": pd.Series([], dtype="int64")})
    for i, (k, v) in enumerate(keys.items()):
        df.insert(i, k, v)
    df.to_parquet(out_dir / "features.parquet", index=False)
    return {"features": "features.parquet"}


def _radiomics_defaults() -> dict[str, Any]:
    return {"preset": "PET", "radiomics": None, "min_volume_ml": 1.0}


def _quant_summary(tables: Mapping[str, Any]):
    """Whole-body biomarkers of the first quantified time point, one row per patient."""
    wb = tables["whole_body"]
    return wb.drop(columns=["centre", "cycle", "timepoint"], errors="ignore").drop_duplicates("patient_id")


def builtin_stages() -> dict[str, Stage]:
    """The stages :func:`~theranomics.cohort.run_cohort` knows by name, in dependency order."""
    from . import therapy

    return {
        "quantify": Stage("quantify", quantify_stage, (), _quant_defaults(), "2", ("lesions", "whole_body"),
                          _quant_inputs, _quant_applies, patient_summary=_quant_summary,
                          imports=("theranomics.quant.workflow", "theranomics.quant.suv_nifti",
                                   "theranomics.report.quant_report", "pyarrow.parquet")),
        "radiomics": Stage("radiomics", radiomics_stage, ("quantify",), _radiomics_defaults(), "1", ("features",),
                           None, _quant_applies, imports=("theranomics.radiomics",)),
        "dosimetry": Stage("dosimetry", therapy.dosimetry_stage, (), therapy.dosimetry_defaults(), "2",
                           therapy.DOSIMETRY_TABLES, therapy.dosimetry_inputs, therapy.therapy_applies,
                           patient_summary=therapy.dosimetry_summary,
                           imports=("theranomics.dosimetry.workflow", "theranomics.report.dosimetry_report",
                                    "theranomics.registration"),
                           uses=("quantify",)),
        "plan": Stage("plan", therapy.plan_stage, ("quantify", "dosimetry"), therapy.plan_defaults(), "1",
                      therapy.PLAN_TABLES, therapy.plan_inputs, therapy.therapy_applies,
                      values_of=therapy.plan_values, patient_summary=therapy.plan_summary,
                      imports=("theranomics.twin", "theranomics.twin.personalise")),
    }


def resolve_stages(names=None, extra: Mapping[str, Stage] | None = None) -> list[Stage]:
    """Stages by name (default: all built-ins), with their requirements added, in dependency order."""
    known = {**builtin_stages(), **dict(extra or {})}
    wanted = list(known) if names is None else [n.strip() for n in names]
    unknown = [n for n in wanted if n not in known]
    wanted_set = set(wanted)
    if unknown:
        raise ValueError(f"unknown stage(s) {unknown}; available: {list(known)}")
    order: list[str] = []

    def visit(name: str, chain: tuple[str, ...]) -> None:
        if name in chain:
            raise ValueError(f"stage dependency cycle: {' -> '.join(chain + (name,))}")
        if name in order:
            return
        if name not in known:
            raise ValueError(f"stage {chain[-1]!r} requires unknown stage {name!r}")
        for req in known[name].requires:
            visit(req, chain + (name,))
        for opt in known[name].uses:
            if opt in wanted_set:
                visit(opt, chain + (name,))
        order.append(name)

    for n in wanted:
        visit(n, ())
    return [known[n] for n in order]


def stage_modules(stages) -> tuple[str, ...]:
    """Modules the workers import up front for ``stages`` (the worker machinery first)."""
    mods = ["theranomics.cohort._worker", "theranomics.provenance"]
    for stage in stages:
        mods += [m for m in stage.imports if m not in mods]
    return tuple(mods)


def now_iso() -> str:
    return dt.datetime.now().isoformat(timespec="seconds")
