"""Therapy stages of the cohort pipeline: ``dosimetry`` and ``plan`` (digital twin).

Both apply only to patients with therapy SPECT time points (cycle ≥ 1) and need the study layout
(``study_dir`` with ``study.json``: administrations, acquisition times, calibration).

* ``dosimetry`` — :func:`theranomics.dosimetry.workflow.dosimetry_folder` on the study folder
  (every :class:`~theranomics.dosimetry.workflow.DosimetrySettings` field is a stage setting,
  except ``recovery_curve``).  When ``quantify`` succeeded for the patient (an optional upstream
  stage), its diagnostic-PET lesions are registered onto the reference SPECT/CT of the first
  therapy cycle and dosed as lesion VOIs (``lesions_from_pet``, ``lesion_registration``;
  :func:`pet_lesions_on_spect_ct`), so each PET lesion's SUV and its absorbed dose share a
  ``lesion_id``.  Tables ``dosimetry`` (per VOI and cycle; ``lesion_id`` for lesions) and
  ``dosimetry_cumulative``; cumulative organ doses go to the cohort ``patients`` table.
* ``plan`` — the PBPK twin (:mod:`theranomics.twin`) personalised on the TACs measured by
  ``dosimetry`` (:class:`~theranomics.twin.personalise.TwinFit`: receptor density and release rate
  of every organ with a TAC, and of every planned tumour whose lesion has a TAC when
  ``fit_tumours``; Laplace 90 % intervals), with the lesions of ``quantify`` (≥ ``min_tumour_ml``,
  the ``max_tumours`` largest) as tumours (a tumour without a TAC keeps the ligand's default
  receptor density), then :func:`~theranomics.twin.planning.plan_schedules` over the activity grid
  within the organ limits.  No lesion to plan for: ``not_applicable``.  Tables ``plan`` (one row
  per patient), ``twin_parameters``, ``twin_tacs`` (measured vs fitted) and ``twin_tia`` (twin vs
  measured TIA of the fitted cycle).
"""
from __future__ import annotations

import dataclasses
import json
import math
import re
from pathlib import Path
from typing import Any, Mapping

from .stages import StageError, StageInputs, StageNotApplicable

DOSIMETRY_TABLES = ("dosimetry", "dosimetry_cumulative")
PLAN_TABLES = ("plan", "twin_parameters", "twin_tacs", "twin_tia")
#: Twin organs and the dosimetry VOI (or VOI group) whose TAC personalises each.
TWIN_VOIS = {"kidneys": "kidneys", "salivary_glands": "salivary_glands", "liver": "liver", "spleen": "spleen",
             "red_marrow": "red_marrow"}
_TEXT_COLUMNS = ("voi", "model", "flags", "kind", "recovery_method", "excluded_models", "cycles")
_STAGE_ONLY = ("cycles", "write_report", "lesions_from_pet", "lesion_registration", "lesion_min_volume_ml")
#: File (in the dosimetry stage folder) of the PET lesions brought onto the reference SPECT/CT.
PET_LESIONS_FILE = "pet_lesions_on_spect_ct.nii.gz"


def therapy_applies(inputs: StageInputs) -> str | None:
    """None when the patient has a therapy SPECT time point, else the reason it does not apply."""
    if any(t.cycle >= 1 and t.spect is not None for t in inputs.timepoints):
        return None
    return "no therapy SPECT time points (cycle >= 1)"


def _study_dir(inputs: StageInputs, stage: str) -> Path:
    if inputs.patient.study_dir is None:
        raise StageError(f"{stage} reads the study layout: patient {inputs.patient.patient_id} needs a study_dir "
                         "with study.json (administrations, acquisition times), not only time point paths")
    return Path(inputs.patient.study_dir)


# -- dosimetry ----------------------------------------------------------------------------------

def dosimetry_defaults() -> dict[str, Any]:
    """``cycles`` (None: every therapy cycle with SPECT), ``write_report`` and the
    :class:`~theranomics.dosimetry.workflow.DosimetrySettings` fields (JSON-ready)."""
    from ..dosimetry.workflow import DosimetrySettings

    base = DosimetrySettings()
    out: dict[str, Any] = {"cycles": None, "write_report": True, "lesions_from_pet": True,
                           "lesion_registration": "rigid", "lesion_min_volume_ml": 1.0}
    for f in dataclasses.fields(DosimetrySettings):
        if f.name == "recovery_curve":          # an object, not a setting a manifest run can carry
            continue
        value = getattr(base, f.name)
        if isinstance(value, tuple):
            value = list(value)
        elif isinstance(value, Mapping):
            value = {k: list(v) if isinstance(v, tuple) else v for k, v in value.items()}
        out[f.name] = value
    return out


def dosimetry_settings(settings: Mapping[str, Any]):
    """The :class:`~theranomics.dosimetry.workflow.DosimetrySettings` of the stage settings."""
    from ..dosimetry.workflow import DosimetrySettings

    kw = {k: v for k, v in settings.items() if k not in _STAGE_ONLY}
    for key in ("models", "include"):
        if kw.get(key) is not None:
            kw[key] = tuple(kw[key])
    kw["groups"] = {k: tuple(v) for k, v in dict(kw.get("groups") or {}).items()}
    kw["registration_kwargs"] = dict(kw.get("registration_kwargs") or {})
    return DosimetrySettings(**kw)


def dosimetry_inputs(inputs: StageInputs) -> dict[str, Path]:
    """study.json and every NIfTI image, mask, sidecar and SPECT calibration of the therapy cycles."""
    from ..io import layout

    if inputs.patient.study_dir is None:
        return {}
    study_dir = Path(inputs.patient.study_dir)
    files = {"study_json": study_dir / layout.STUDY_FILE}
    try:
        info = json.loads(files["study_json"].read_text())
    except (OSError, ValueError):
        return files                      # the stage reports the unreadable study.json
    for cd in info.get("cycles", []):
        c = int(cd.get("cycle", 0))
        if c < 1:
            continue
        for td in cd.get("timepoints", []):
            label = str(td.get("timepoint"))
            paths = [layout.nifti_path(study_dir, c, label, m) for m in td.get("modalities", [])]
            paths += [layout.mask_path(study_dir, c, label, name) for name in td.get("masks", [])]
            paths.append(layout.modality_dir(study_dir, c, label, "spect") / "calibration.json")
            for p in paths:
                for f in (p, _sidecar(p)):
                    if f is not None and f.is_file():
                        files[str(f.relative_to(study_dir))] = f
    return files


def _sidecar(path: Path) -> Path | None:
    from .stages import sidecar_of
    return sidecar_of(path)


def _read_table(path: Path, patient_id: str):
    import pandas as pd

    df = pd.read_csv(path, dtype={c: str for c in _TEXT_COLUMNS})
    df["patient_id"] = patient_id
    return df


def _therapy_reference(inputs: StageInputs, reference: int | str):
    """The reference SPECT/CT time point (manifest entry) of the first therapy cycle, by index or label."""
    cycle = min(t.cycle for t in inputs.timepoints if t.cycle >= 1 and t.spect is not None)
    tps = [t for t in inputs.timepoints if t.cycle == cycle and t.spect is not None]
    labels = [t.timepoint for t in tps]
    if isinstance(reference, str):
        if reference not in labels:
            raise StageError(f"dosimetry.reference_timepoint {reference!r} is not among cycle {cycle}'s SPECT time "
                             f"points {labels}")
        return tps[labels.index(reference)]
    if not -len(tps) <= int(reference) < len(tps):
        raise StageError(f"dosimetry.reference_timepoint {reference} is out of range for {len(tps)} SPECT time points")
    return tps[int(reference) % len(tps)]


def pet_lesions_on_spect_ct(inputs: StageInputs, out_dir: Path, settings: Mapping[str, Any]) -> tuple[Path | None, dict]:
    """The lesions ``quantify`` segmented on the diagnostic PET, as VOIs of the therapy dosimetry.

    The label map (PET grid, names ``lesion_<id>`` as in the ``lesions`` table) is brought onto the
    CT of the reference SPECT/CT time point of the first therapy cycle: rigid CT→CT registration
    (Mattes MI on 8 mm working voxels, :func:`theranomics.registration.register_rigid`) of the
    diagnostic CT, nearest-neighbour resampling; ``lesion_registration='none'`` when both are
    already in one frame.  Returns (file or None, a note for ``summary``).  Lesions that leave the
    SPECT/CT field of view are dropped and listed, and so are lesions whose PET volume (the
    ``lesions`` table's ``volume_ml``) is below ``lesion_min_volume_ml``
    (default 1 mL: at SPECT resolution their recovery coefficient is below ~0.15 and the corrected
    activity is mostly extrapolation; set 0 to keep all).
    """
    import numpy as np

    from ..core import LabelMap
    from ..io.nifti import read_labelmap, write_nifti
    from ..quant.load import load_image
    from ..registration import apply, identity, register_rigid

    how = settings["lesion_registration"]
    if how not in ("rigid", "none"):
        raise StageError(f"dosimetry.lesion_registration must be 'rigid' or 'none', got {how!r}")
    min_ml = float(settings["lesion_min_volume_ml"])
    if not min_ml >= 0.0:
        raise StageError(f"dosimetry.lesion_min_volume_ml must be >= 0 mL, got {settings['lesion_min_volume_ml']!r}")
    note: dict[str, Any] = {"used": False}
    qdir = inputs.upstream.get("quantify")
    if not settings["lesions_from_pet"] or qdir is None:
        note["reason"] = "lesions_from_pet is off" if not settings["lesions_from_pet"] else \
            "no quantify result for this patient (stage not run or not successful)"
        return None, note
    lesion_file = qdir / "lesions.nii.gz"
    if not lesion_file.is_file():
        note["reason"] = f"{lesion_file} not found"
        return None, note
    lesions = read_labelmap(lesion_file)
    if not lesions.names or not (lesions.array > 0).any():
        note["reason"] = "quantify found no lesion"
        return None, note
    diag = inputs.diagnostic_pet()
    ref = _therapy_reference(inputs, settings["reference_timepoint"])
    if ref.ct is None:
        note["reason"] = f"cycle {ref.cycle} time point {ref.timepoint!r} has no CT to place the PET lesions on"
        return None, note
    fixed = load_image(ref.ct, "CT", unit="HU")
    if how == "rigid":
        if diag is None or diag.ct is None:
            raise StageError("dosimetry.lesions_from_pet with lesion_registration 'rigid' needs the diagnostic CT "
                             "(cycle 0) to register onto the SPECT/CT; set lesion_registration 'none' if the "
                             "PET and SPECT/CT share one frame, or lesions_from_pet false")
        reg = register_rigid(fixed, load_image(diag.ct, "CT", unit="HU"), metric="mattes", working_voxel_mm=8.0)
        note["translation_mm"] = [round(x, 2) for x in reg.translation_mm]
    else:
        reg = identity(fixed.geometry)
    moved = apply(reg, lesions)
    present = {int(v) for v in np.unique(moved.array) if v > 0}
    pv, pc = np.unique(lesions.array, return_counts=True)
    pet_ml = {int(v): float(c) * lesions.geometry.voxel_volume_ml for v, c in zip(pv, pc) if v > 0}
    small = sorted((n for v, n in lesions.names.items() if pet_ml.get(v, 0.0) < min_ml), key=_lesion_order)
    names = {v: n for v, n in lesions.names.items() if n not in small and v in present}
    dropped = sorted((n for v, n in lesions.names.items() if n not in small and v not in names), key=_lesion_order)
    note.update(dropped=dropped, below_min_volume=small, lesion_min_volume_ml=min_ml)
    if not names:
        note["reason"] = f"no PET lesion of at least {min_ml} mL inside the SPECT/CT field of view"
        return None, note
    keep = np.isin(moved.array, list(names))
    moved = LabelMap(np.where(keep, moved.array, 0).astype(moved.array.dtype), moved.geometry, names, moved.meta)
    path = write_nifti(moved, out_dir / PET_LESIONS_FILE)
    note.update(used=True, registration=how, n_lesions=len(names), reference=f"cycle {ref.cycle} time point {ref.timepoint}")
    return path, note


def dosimetry_stage(inputs: StageInputs, out_dir: Path, settings: Mapping[str, Any]) -> dict[str, str]:
    """:func:`~theranomics.dosimetry.workflow.dosimetry_folder` on the patient's study folder, with
    the diagnostic-PET lesions of ``quantify`` as lesion VOIs when available
    (:func:`pet_lesions_on_spect_ct`)."""
    from ..dosimetry.workflow import dosimetry_folder

    study_dir = _study_dir(inputs, "dosimetry")
    cycles = settings["cycles"]
    lesion_path, note = pet_lesions_on_spect_ct(inputs, out_dir, settings)
    paths = dosimetry_folder(study_dir, out_dir, cycles=None if cycles is None else [int(c) for c in cycles],
                             settings=dosimetry_settings(settings), write_report=bool(settings["write_report"]),
                             extra_masks=[lesion_path] if lesion_path is not None else ())
    pid = inputs.patient.patient_id
    outputs = {name: Path(p).name for name, p in paths.items()}
    summary = json.loads((out_dir / "summary.json").read_text())
    summary["pet_lesions"] = note
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    if lesion_path is not None:
        outputs["pet_lesions"] = PET_LESIONS_FILE
    for table, csv in (("dosimetry", "dosimetry.csv"), ("dosimetry_cumulative", "cumulative.csv")):
        df = _read_table(out_dir / csv, pid)
        df["lesion_id"] = df["voi"].map(_lesion_id).astype("Int64")
        df.to_parquet(out_dir / f"{table}.parquet", index=False)
        outputs[table] = f"{table}.parquet"
    if "report_html" in outputs:
        outputs["report"] = outputs.pop("report_html")
    return outputs


def _lesion_order(name: str) -> tuple:
    lid = _lesion_id(name)
    return (lid is None, lid or 0, str(name))


def _lesion_id(voi: str):
    """``lesion_<id>`` → id (the ``lesion_id`` of the quantify ``lesions`` table), else None."""
    m = re.fullmatch(r"lesion_(\d+)", str(voi))
    return int(m.group(1)) if m else None


def dosimetry_summary(tables: Mapping[str, Any]):
    """Cumulative absorbed dose (Gy) per organ, one column ``dose_gy_<voi>`` each (lesions left out)."""
    from ..dosimetry.workflow import is_lesion

    cum = tables["dosimetry_cumulative"]
    organs = cum[~cum["voi"].astype(str).map(is_lesion)]
    wide = organs.pivot_table(index="patient_id", columns="voi", values="dose_gy", aggfunc="first")
    wide.columns = [f"dose_gy_{c}" for c in wide.columns]
    return wide.reset_index()


# -- plan (digital twin) --------------------------------------------------------------------------

def plan_defaults() -> dict[str, Any]:
    """Twin personalisation and planning settings (grid and limits as in :mod:`theranomics.twin.planning`)."""
    return {"ligand": None, "ligand_nmol": 100.0, "fit_organs": ["kidneys", "salivary_glands", "liver", "spleen"],
            "fit_tumours": True, "sigma_log": 0.1, "gfr_variable": "egfr_ml_min", "min_tumour_ml": 1.0,
            "max_tumours": 5,
            "n_cycles": 4, "interval_weeks": 6.0,
            "activity_grid_mbq": [3000.0 + 700.0 * i for i in range(11)],
            "risk_factors": False, "objective": "min_tumour_bed"}


def plan_inputs(inputs: StageInputs) -> dict[str, Path]:
    """study.json (weight, administrations); the TACs and lesions are keyed through the upstream stages."""
    if inputs.patient.study_dir is None:
        return {}
    return {"study_json": Path(inputs.patient.study_dir) / "study.json"}


def plan_values(inputs: StageInputs, settings: Mapping[str, Any]) -> dict[str, Any]:
    """The manifest value the plan uses: the GFR clinical variable."""
    return {"gfr_ml_min": _gfr(inputs, settings["gfr_variable"])}


def ligand_of(radiopharmaceutical: str) -> str:
    """Twin ligand key of a radiopharmaceutical name, e.g. ``[177Lu]Lu-PSMA-617`` → ``psma-617``."""
    from ..twin.params import TwinParameterError, ligand_key

    text = re.sub(r"\[[^\]]*\]", "", str(radiopharmaceutical)).strip().lower()
    for candidate in (text, re.sub(r"^(lu|177lu|lu177)[- ]?", "", text)):
        try:
            return ligand_key(candidate)
        except TwinParameterError:
            continue
    raise StageError(f"radiopharmaceutical {radiopharmaceutical!r} (study.json administration) is not a twin ligand; "
                     "set plan.ligand to one of psma-617, psma-it, dotatate")


def _gfr(inputs: StageInputs, variable: str | None) -> float | None:
    if variable is None:
        return None
    value = dict(inputs.patient.clinical).get(variable)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    try:
        gfr = float(value)
    except (TypeError, ValueError):
        raise StageError(f"manifest clinical variable {variable!r} = {value!r} is not a GFR in mL/min") from None
    if not 1.0 <= gfr <= 250.0:
        raise StageError(f"manifest clinical variable {variable!r} = {gfr} mL/min is outside 1-250 mL/min")
    return gfr


def _fitted_cycle(tacs) -> int:
    """The first therapy cycle whose TACs have at least two time points."""
    n = tacs.groupby("cycle")["time_h"].nunique()
    full = sorted(int(c) for c in n.index[n >= 2])
    if not full:
        raise StageError("dosimetry TACs have no cycle with two or more time points: the twin cannot be fitted")
    return full[0]


def plan_stage(inputs: StageInputs, out_dir: Path, settings: Mapping[str, Any]) -> dict[str, str]:
    """Personalise the twin on the measured organ TACs and plan the activity of every cycle."""
    import numpy as np
    import pandas as pd

    from ..io import layout
    from ..twin import PBPKModel, PatientSpec, PlanningConstraints, Schedule, TumourSpec, plan_schedules
    from ..twin.personalise import TwinFit

    pid = inputs.patient.patient_id
    study = layout.read_study(_study_dir(inputs, "plan"), load_images=False)
    tacs = pd.read_csv(inputs.upstream["dosimetry"] / "tacs.csv", dtype={"voi": str})
    cycle = _fitted_cycle(tacs)
    admin = study.cycle(cycle).administration
    ligand = settings["ligand"] or ligand_of(admin.radiopharmaceutical)
    if study.patient.weight_kg is None:
        raise StageError(f"{inputs.patient.study_dir}/study.json: patient.weight_kg is missing (the twin's organ "
                         "volumes and flows scale with it)")
    lesions = pd.read_parquet(inputs.upstream["quantify"] / "lesions.parquet")
    big = lesions[lesions["volume_ml"] >= float(settings["min_tumour_ml"])]
    big = big.sort_values(["volume_ml", "lesion_id"], ascending=[False, True]).head(int(settings["max_tumours"]))
    if big.empty:
        raise StageNotApplicable(f"no quantified lesion of at least {settings['min_tumour_ml']} mL: the twin "
                                 "plans for tumour dose and has no tumour to plan for")
    tumours = tuple(TumourSpec(f"lesion_{int(r.lesion_id)}", float(r.volume_ml)) for r in big.itertuples())
    patient = PatientSpec(weight_kg=float(study.patient.weight_kg), gfr_ml_min=_gfr(inputs, settings["gfr_variable"]),
                          tumours=tumours, patient_id=pid)

    unknown = sorted(set(settings["fit_organs"]) - set(TWIN_VOIS))
    if unknown:
        raise StageError(f"plan.fit_organs {unknown} are not twin organs with a measured TAC; expected any of "
                         f"{sorted(TWIN_VOIS)}")
    voi_of = {TWIN_VOIS[o]: o for o in settings["fit_organs"]}
    if settings["fit_tumours"]:
        voi_of.update({t.name: t.name for t in tumours})   # lesion TACs (PET lesions in the dosimetry VOIs)
    sel = tacs[(tacs["cycle"] == cycle) & tacs["voi"].isin(list(voi_of)) & (tacs["activity_mbq"] > 0)]
    if sel.empty:
        raise StageError(f"dosimetry TACs of cycle {cycle} have none of the VOIs {sorted(voi_of)}: nothing to "
                         "personalise the twin on")
    obs = pd.DataFrame({"organ": sel["voi"].map(voi_of).to_numpy(), "cycle": 1, "time_h": sel["time_h"].to_numpy(),
                        "activity_mbq": sel["activity_mbq"].to_numpy()})
    schedule = Schedule([0.0], [admin.activity_mbq], [float(settings["ligand_nmol"])])
    fit = TwinFit(ligand, sigma_log=float(settings["sigma_log"])).fit(patient, schedule, obs)

    # measured vs fitted TACs, twin vs measured TIA of the fitted cycle
    pred = fit.predict(sorted(obs["time_h"].unique()), sorted(obs["organ"].unique())).set_index("time_h")
    twin_tacs = obs.assign(patient_id=pid, cycle=cycle,
                           fitted_mbq=[float(pred.loc[t, o]) for o, t in zip(obs["organ"], obs["time_h"])])
    model = PBPKModel(ligand, fit.patient_)
    tia = model.solve(schedule).tia_h_per_mbq()[0, 0] * admin.activity_mbq
    measured = pd.read_parquet(inputs.upstream["dosimetry"] / "dosimetry.parquet") \
        if (inputs.upstream["dosimetry"] / "dosimetry.parquet").is_file() else None
    m_tia = {} if measured is None else dict(zip(measured.loc[measured["cycle"] == cycle, "voi"],
                                                 measured.loc[measured["cycle"] == cycle, "tia_mbq_h"]))
    twin_tia = pd.DataFrame({"patient_id": pid, "cycle": cycle, "organ": list(model.organs), "tia_mbq_h": tia,
                             "tia_measured_mbq_h": [m_tia.get(TWIN_VOIS.get(o, o), np.nan) for o in model.organs]})

    plan = plan_schedules(model, n_cycles=int(settings["n_cycles"]), interval_weeks=float(settings["interval_weeks"]),
                          activity_grid_mbq=[float(a) for a in settings["activity_grid_mbq"]],
                          ligand_grid_nmol=(float(settings["ligand_nmol"]),),
                          constraints=PlanningConstraints(risk_factors=bool(settings["risk_factors"])),
                          objective=str(settings["objective"]))
    fitted_tumours = sorted(set(obs["organ"]) & {t.name for t in tumours})
    row: dict[str, Any] = {"patient_id": pid, "ligand": ligand, "fitted_cycle": cycle, "n_observations": len(obs),
                           "n_tumours": len(tumours), "n_tumours_fitted": len(fitted_tumours), "gfr_ml_min": patient.gfr_ml_min,
                           "fit_converged": bool(fit.converged_), "fit_chi2": float(fit.chi2_),
                           "n_candidates": plan.n_candidates, "n_feasible": int(plan.candidates["feasible"].sum())}
    best = plan.best
    columns = [c for c in plan.candidates.columns if c.startswith("activity_mbq_c")] + \
        ["total_activity_mbq", "objective_gy", "kidneys_bed_gy", "red_marrow_dose_gy", "salivary_glands_dose_gy"]
    for c in columns:
        row[c] = float(best[c]) if best is not None else math.nan
    row["reasons"] = "; ".join(plan.reasons)
    pd.DataFrame([row]).to_parquet(out_dir / "plan.parquet", index=False)
    fit.intervals_.merge(fit.identifiability_[["parameter", "max_abs_correlation", "identifiable"]], on="parameter") \
        .assign(patient_id=pid).to_parquet(out_dir / "twin_parameters.parquet", index=False)
    twin_tacs.to_parquet(out_dir / "twin_tacs.parquet", index=False)
    twin_tia.to_parquet(out_dir / "twin_tia.parquet", index=False)
    plan.tradeoff_curve().assign(patient_id=pid).to_parquet(out_dir / "tradeoff.parquet", index=False)
    return {"plan": "plan.parquet", "twin_parameters": "twin_parameters.parquet", "twin_tacs": "twin_tacs.parquet",
            "twin_tia": "twin_tia.parquet", "tradeoff": "tradeoff.parquet"}


def plan_summary(tables: Mapping[str, Any]):
    """The recommended schedule, one row per patient, columns prefixed ``plan_``."""
    plan = tables["plan"].drop(columns=["centre", "reasons"], errors="ignore")
    return plan.rename(columns={c: f"plan_{c}" for c in plan.columns if c != "patient_id"})


__all__ = ["DOSIMETRY_TABLES", "PLAN_TABLES", "TWIN_VOIS", "therapy_applies", "dosimetry_defaults",
           "dosimetry_settings", "dosimetry_inputs", "dosimetry_stage", "dosimetry_summary", "plan_defaults",
           "plan_inputs", "plan_values", "plan_stage", "plan_summary", "ligand_of"]
