"""Per-patient stages: pure functions of paths in → files out.

A :class:`Stage` is ``func(inputs, out_dir, settings) -> {output_name: file name in out_dir}``.
The runner gives it a fresh empty ``out_dir`` and makes the result visible atomically; the stage
never writes anywhere else and never reads another patient.  Tables it lists in ``tables`` (Parquet
files with a ``patient_id`` column) are gathered into cohort tables.  ``inputs_of`` names the input
files whose content keys the cache (upstream results are keyed through the upstream stage's key).

Built-in stages: ``quantify`` (SUV, lesions, whole-body burden — :mod:`theranomics.quant`) and
``radiomics`` (IBSI features of the quantified lesions — :mod:`theranomics.radiomics`).  A new
stage (dosimetry, twin planning) is one more :class:`Stage` in :func:`builtin_stages` or passed to
:func:`theranomics.cohort.run_cohort` directly.
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
    """One per-patient processing step (see the module docstring)."""

    name: str
    func: Callable[[StageInputs, Path, Mapping[str, Any]], Mapping[str, str]]
    requires: tuple[str, ...] = ()
    defaults: Mapping[str, Any] = field(default_factory=dict)
    version: str = "1"
    tables: tuple[str, ...] = ()
    inputs_of: Callable[[StageInputs], Mapping[str, Path]] | None = None
    applies: Callable[[StageInputs], str | None] | None = None

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


def _quant_inputs(inputs: StageInputs) -> dict[str, Path]:
    tp = inputs.diagnostic_pet()
    return {} if tp is None else {r: tp.path(r) for r in ("pet", "ct", "organs") if tp.path(r) is not None}


def _quant_applies(inputs: StageInputs) -> str | None:
    return None if inputs.diagnostic_pet() is not None else "no diagnostic PET (cycle 0)"


def suv_bw_from_study(pet, study, cycle: int, timepoint: str):
    """SUVbw image from a NIfTI PET in Bq/mL (not decay corrected: activity at acquisition time).

    ``SUVbw = C / (A_inj · exp(-λ (t_acq − t_inj)) / W)`` with ``W`` in g, ``C`` in Bq/mL and
    ``A_inj`` in Bq (QIBA FDG-PET/CT profile; Kinahan & Fletcher, Semin Ultrasound CT MRI 2010).
    Weight, activity and both times come from ``study.json``; λ from :mod:`theranomics.nuclides`.
    """
    from .. import nuclides
    from ..core import Image

    if pet.unit not in ("Bq/mL", "kBq/mL"):
        raise StageError(f"NIfTI PET must be in Bq/mL (sidecar unit), got {pet.unit!r}")
    c = study.cycle(cycle)
    tp = next((t for t in c.timepoints if t.label == timepoint), None)
    if tp is None:
        raise StageError(f"study.json cycle {cycle} has no time point {timepoint!r}")
    weight_kg = study.patient.weight_kg
    if weight_kg is None:
        raise StageError("study.json patient.weight_kg is missing: needed for SUVbw")
    admin = c.administration
    decayed_bq = admin.activity_mbq * 1e6 * nuclides.decay_factor(admin.nuclide, admin.time, tp.acquisition_time)
    scale = (1000.0 if pet.unit == "kBq/mL" else 1.0) * weight_kg * 1000.0 / decayed_bq
    meta = {"suv": {"suv_type": "bw", "weight_kg": weight_kg, "decayed_dose_bq": decayed_bq,
                    "injection_datetime": admin.time.isoformat(),
                    "reference_datetime": tp.acquisition_time.isoformat(), "nuclide": admin.nuclide,
                    "rules": {"source": "NIfTI Bq/mL + study.json"}}}
    return Image(pet.array.astype("float32") * scale, pet.geometry, "SUVbw", "PT", {**dict(pet.meta), **meta})


def quantify_stage(inputs: StageInputs, out_dir: Path, settings: Mapping[str, Any]) -> dict[str, str]:
    """:func:`theranomics.quant.workflow.quantify_folder` on the diagnostic PET (DICOM: SUV from the
    header; NIfTI: SUVbw from ``study.json``), tables tagged with ``cycle`` and ``timepoint``."""
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
        if suv_type != "bw":
            raise StageError(f"NIfTI PET supports suv_type 'bw' only (got {suv_type!r}); give DICOM for other SUVs")
        if inputs.patient.study_dir is None:
            raise StageError("NIfTI PET needs the study layout (study.json) for weight and activity")
        from ..io import layout
        from ..quant.load import load_image, load_labels
        from ..quant.outputs import write_quant_outputs
        from ..quant.pipeline import quantify
        study = layout.read_study(inputs.patient.study_dir, load_images=False)
        suv = suv_bw_from_study(load_image(tp.pet, "PT"), study, tp.cycle, tp.timepoint)
        ct = load_image(tp.ct, "CT", unit="HU") if tp.ct is not None else None
        organs = load_labels(tp.organs, ct.geometry if ct is not None else suv.geometry) if tp.organs else None
        result = quantify(suv, ct=ct, organs=organs, settings=QuantifySettings(**s))
        paths = write_quant_outputs(result, out_dir, inputs=[p for p in (tp.pet, tp.ct, tp.organs) if p],
                                    patient_id=pid, extra_parameters={"suv_type": "bw"})
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


def builtin_stages() -> dict[str, Stage]:
    """The stages :func:`~theranomics.cohort.run_cohort` knows by name, in dependency order."""
    return {
        "quantify": Stage("quantify", quantify_stage, (), _quant_defaults(), "1", ("lesions", "whole_body"),
                          _quant_inputs, _quant_applies),
        "radiomics": Stage("radiomics", radiomics_stage, ("quantify",), _radiomics_defaults(), "1", ("features",),
                           None, _quant_applies),
    }


def resolve_stages(names=None, extra: Mapping[str, Stage] | None = None) -> list[Stage]:
    """Stages by name (default: all built-ins), with their requirements added, in dependency order."""
    known = {**builtin_stages(), **dict(extra or {})}
    wanted = list(known) if names is None else [n.strip() for n in names]
    unknown = [n for n in wanted if n not in known]
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
        order.append(name)

    for n in wanted:
        visit(n, ())
    return [known[n] for n in order]


def now_iso() -> str:
    return dt.datetime.now().isoformat(timespec="seconds")
