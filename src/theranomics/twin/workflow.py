"""Plan a patient's therapy on the twin, from a study folder or from analysis outputs.

:func:`plan_folder` is what ``theranomics plan`` runs:

1. **Tumours** — lesion volumes (and PET SUVs, reported) from ``theranomics quantify`` outputs
   (``lesions.csv`` + ``lesions.nii.gz``) when given, else by quantifying the diagnostic
   (cycle-0) PET of the study folder (:func:`theranomics.quant.pipeline.quantify`).
2. **Cycle-1 TACs** — from the dosimetry workflow's ``tacs.csv`` (``theranomics dosimetry``)
   when given, else measured on the cycle-1 SPECT time points with the organ masks and the
   lesion map (:func:`theranomics.dosimetry.timepoints.quantify_cycle` and
   :func:`~theranomics.dosimetry.timepoints.measure_vois`; optional VOI-shape recovery
   correction with the SPECT resolution).
3. **Personalisation** — :class:`.personalise.TwinFit` of the receptor density and release rate of
   every organ and lesion with a TAC (Laplace 90 % intervals), then posterior samples.
4. **Planning** — :func:`.planning.plan_schedules` over the samples (constraints at the
   ``constraint_quantile`` of the samples, objective the median lowest-tumour BED); dose and BED
   per organ and cycle with their 5–95 % band; trade-off and tumour-sink curves.
5. **Outputs** — ``plan.json``, CSV tables and ``report.html``
   (:func:`theranomics.report.twin_report.twin_report`).

Twin organ names: ``kidneys`` (``kidney*`` VOIs summed), ``salivary_glands`` (``parotid*``,
``submandibular*``), ``liver``, ``spleen``, ``red_marrow`` and ``lesion_<id>``.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from .model import PBPKModel, Schedule
from .params import PatientSpec, TumourSpec, TwinParameterError, load_ligand
from .personalise import TwinFit
from .planning import PlanningConstraints, PlanResult, plan_schedules, tumour_sink_curve

#: Which VOI names feed which twin organ (prefix match, lower case).
ORGAN_PREFIXES = {"kidneys": ("kidney",), "salivary_glands": ("parotid", "submandibular", "salivary"),
                  "liver": ("liver",), "spleen": ("spleen",)}
#: Organs whose receptor density and release rate are personalised when they have a TAC.
FITTED_ORGANS = ("kidneys", "salivary_glands")
TAC_COLUMNS = ("voi", "cycle", "time_h", "activity_mbq")


class PlanError(ValueError):
    """Inputs of a plan are missing or inconsistent (names the file and what was expected)."""


@dataclass
class PlanInputs:
    """What the twin needs of one patient (one row per observation in ``observations``)."""

    patient_id: str
    weight_kg: float
    activity_mbq: float
    lesions: pd.DataFrame                  # lesion_id, volume_ml (+ suv_mean, suv_max when known)
    observations: pd.DataFrame             # organ, cycle, time_h, activity_mbq (twin organ names)
    sources: dict = field(default_factory=dict)


def twin_organ_of(voi: str) -> str | None:
    """Twin organ of a VOI name (``kidney_left`` → ``kidneys``, ``lesion_3`` → ``lesion_3``), or None."""
    name = str(voi).strip().lower()
    if name.startswith("lesion_") and name[7:].isdigit():
        return name
    for organ, prefixes in ORGAN_PREFIXES.items():
        if name == organ or any(name.startswith(p) for p in prefixes):
            return organ
    return None


def observations_from_tacs(tacs: pd.DataFrame, where: str = "tacs.csv") -> pd.DataFrame:
    """Cycle-1 twin observations from a per-VOI TAC table (the dosimetry workflow's ``tacs.csv``).

    VOIs of one twin organ are summed per time point (``kidney_left`` + ``kidney_right``); a group
    VOI named like the organ (``kidneys``) is used instead of its members when present.
    """
    missing = [c for c in TAC_COLUMNS if c not in tacs.columns]
    if missing:
        raise PlanError(f"{where}: missing columns {missing}; expected {list(TAC_COLUMNS)}")
    df = tacs[list(TAC_COLUMNS)].copy()
    for col in ("cycle", "time_h", "activity_mbq"):
        df[col] = pd.to_numeric(df[col], errors="coerce")
        if df[col].isna().any():
            raise PlanError(f"{where}: column {col!r} has non-numeric values")
    df = df[df["cycle"] == 1]
    if df.empty:
        raise PlanError(f"{where}: no cycle-1 rows (the twin is personalised on the first therapy cycle)")
    df["organ"] = df["voi"].map(twin_organ_of)
    df = df[df["organ"].notna()]
    groups = set(df.loc[df["voi"].str.lower() == df["organ"], "organ"])
    df = df[~df["organ"].isin(groups) | (df["voi"].str.lower() == df["organ"])]
    obs = df.groupby(["organ", "cycle", "time_h"], as_index=False)["activity_mbq"].sum()
    obs = obs[obs["activity_mbq"] > 0]
    if obs.empty:
        raise PlanError(f"{where}: no VOI maps to a twin organ ({sorted(ORGAN_PREFIXES)} or lesion_<id>)")
    return obs.astype({"cycle": int})


def _read_lesions_csv(path: Path) -> pd.DataFrame:
    df = pd.read_csv(path)
    for col in ("lesion_id", "volume_ml"):
        if col not in df.columns:
            raise PlanError(f"{path}: missing column {col!r} (a `theranomics quantify` lesions.csv is expected)")
    if (pd.to_numeric(df["volume_ml"], errors="coerce") <= 0).any():
        raise PlanError(f"{path}: volume_ml must be > 0 mL")
    return df


def _quantify_study_pet(study, patient_dir: Path):
    """Lesion table and label map from the cycle-0 PET of a study folder (SUVbw from study.json)."""
    from ..quant.pipeline import quantify
    from ..quant.suv_nifti import suv_from_activity_concentration
    try:
        c0 = study.cycle(0)
    except Exception:  # noqa: BLE001 - a study without cycle 0
        raise PlanError(f"{patient_dir}/study.json: no cycle 0 (diagnostic PET); give --quant with "
                        "`theranomics quantify` outputs") from None
    tp = next((t for t in c0.timepoints if "pet" in t.images), None)
    if tp is None:
        raise PlanError(f"{patient_dir}: cycle 0 has no PET time point")
    suv = suv_from_activity_concentration(tp.images["pet"], study.patient, c0.administration, tp.acquisition_time, "bw")
    organs = tp.masks.get("organs")
    res = quantify(suv, ct=tp.images.get("ct"), organs=organs)
    return res.table, res.lesions


def _spect_observations(study, patient_dir: Path, lesion_map, *, registration: str,
                        spect_fwhm_mm: float | None) -> pd.DataFrame:
    """Cycle-1 activities per twin organ measured on the SPECT time points (MBq)."""
    from ..core.image import LabelMap
    from ..dosimetry.recovery import mask_recovery_coefficient
    from ..dosimetry.timepoints import measure_vois, merge_labelmaps, quantify_cycle
    try:
        cyc = study.cycle(1)
    except Exception:  # noqa: BLE001
        raise PlanError(f"{patient_dir}/study.json: no cycle 1 (first therapy cycle with SPECT time points)") from None
    qtps = quantify_cycle(cyc, registration=registration)
    if len(qtps) < 2:
        raise PlanError(f"{patient_dir}: cycle 1 has {len(qtps)} SPECT time point(s); personalisation needs >= 2")
    grid = qtps[0].activity.geometry
    ref_tp = next(t for t in cyc.timepoints if "spect" in t.images)
    if "organs" not in ref_tp.masks:
        raise PlanError(f"{patient_dir}: cycle 1 time point {ref_tp.label} has no organs mask (masks/organs.nii.gz)")
    organs = ref_tp.masks["organs"]
    keep = {v: n for v, n in organs.names.items() if twin_organ_of(n) in ORGAN_PREFIXES}
    organ_map = LabelMap(np.where(np.isin(organs.array, list(keep)), organs.array, 0).astype(np.int32),
                         organs.geometry, keep)
    maps = [organ_map] + ([lesion_map] if lesion_map is not None else [])
    labels = merge_labelmaps(maps, grid)
    groups: dict[str, list[str]] = {}
    for name in labels.names.values():
        groups.setdefault(twin_organ_of(name), []).append(name)
    rc = {}
    if spect_fwhm_mm is not None:
        for organ, members in groups.items():
            values = [v for v, n in labels.names.items() if n in members]
            rc[organ] = mask_recovery_coefficient(np.isin(labels.array, values), grid.spacing_mm, spect_fwhm_mm)
    rows = []
    for q in qtps:
        meas = measure_vois(q.activity, labels, q.calibration, groups={o: m for o, m in groups.items()})
        for organ in groups:
            a = meas[organ].activity_mbq / rc.get(organ, 1.0)
            if a > 0:
                rows.append({"organ": organ, "cycle": 1, "time_h": float(q.time_h), "activity_mbq": float(a)})
    return pd.DataFrame(rows)


def load_plan_inputs(patient_dir, *, quant_dir=None, dosimetry_dir=None, registration: str = "rigid",
                     spect_fwhm_mm: float | None = None, min_lesion_ml: float = 1.0, step: Callable[[str], None] = lambda s: None) -> PlanInputs:
    """Gather tumours and cycle-1 TACs of a patient (module doc: which source wins)."""
    from ..io.layout import read_study
    patient_dir = Path(patient_dir)
    if not patient_dir.is_dir():
        raise PlanError(f"patient folder {patient_dir} does not exist")
    quant_dir = Path(quant_dir) if quant_dir else (patient_dir if (patient_dir / "lesions.csv").is_file() else None)
    dosi_dir = Path(dosimetry_dir) if dosimetry_dir else (patient_dir if (patient_dir / "tacs.csv").is_file() else None)
    has_study = (patient_dir / "study.json").is_file()
    if not has_study and (quant_dir is None or dosi_dir is None):
        raise PlanError(f"{patient_dir}: neither a study folder (study.json) nor analysis outputs "
                        "(lesions.csv from `theranomics quantify` and tacs.csv from `theranomics dosimetry`)")
    study = read_study(patient_dir) if has_study else None
    sources: dict = {}
    lesion_map = None
    step("tumours")
    if quant_dir is not None:
        lesions = _read_lesions_csv(quant_dir / "lesions.csv")
        sources["lesions"] = str(quant_dir / "lesions.csv")
        if (quant_dir / "lesions.nii.gz").is_file():
            from ..io.nifti import read_labelmap
            lesion_map = read_labelmap(quant_dir / "lesions.nii.gz")
    else:
        lesions, lesion_map = _quantify_study_pet(study, patient_dir)
        sources["lesions"] = "quantified from the cycle-0 PET of the study folder"
    if lesion_map is not None:
        from ..core.image import LabelMap
        lesion_map = LabelMap(lesion_map.array, lesion_map.geometry,
                              {v: f"lesion_{v}" for v in lesion_map.names})
    step("time-activity curves")
    if dosi_dir is not None:
        path = dosi_dir / "tacs.csv"
        if not path.is_file():
            raise PlanError(f"{path} not found (the dosimetry workflow writes it)")
        obs = observations_from_tacs(pd.read_csv(path), str(path))
        sources["tacs"] = str(path)
    else:
        obs = _spect_observations(study, patient_dir, lesion_map, registration=registration,
                                  spect_fwhm_mm=spect_fwhm_mm)
        sources["tacs"] = "measured on the cycle-1 SPECT time points with the organ masks and the lesion map" + (
            f" (VOI recovery correction, FWHM {spect_fwhm_mm:g} mm)" if spect_fwhm_mm else " (no recovery correction)")
    if study is not None:
        pid, weight = study.patient.patient_id, study.patient.weight_kg
        try:
            activity = float(study.cycle(1).administration.activity_mbq)
        except Exception:  # noqa: BLE001
            activity = float("nan")
    else:
        summary = json.loads((quant_dir / "summary.json").read_text()) if (quant_dir / "summary.json").is_file() else {}
        dsum = json.loads((dosi_dir / "summary.json").read_text()) if (dosi_dir / "summary.json").is_file() else {}
        pid = str(dsum.get("patient_id") or summary.get("patient_id") or patient_dir.name)
        weight, activity = None, float("nan")
        table = dosi_dir / "dosimetry.csv"
        if table.is_file():
            d = pd.read_csv(table)
            if "administered_activity_mbq" in d.columns:
                activity = float(d.loc[d.get("cycle", 1) == 1, "administered_activity_mbq"].iloc[0])
    if weight is None or not (isinstance(weight, (int, float)) and math.isfinite(weight)):
        weight = 80.0
        sources["weight_kg"] = "not given: 80 kg reference assumed"
    if not math.isfinite(activity) or activity <= 0:
        raise PlanError(f"{patient_dir}: the cycle-1 administered activity is unknown (study.json cycle 1 "
                        "administration.activity_mbq, or dosimetry.csv administered_activity_mbq)")
    small = lesions[pd.to_numeric(lesions["volume_ml"]) < min_lesion_ml]
    if len(small):
        lesions = lesions[pd.to_numeric(lesions["volume_ml"]) >= min_lesion_ml].reset_index(drop=True)
        sources["lesions_left_out"] = (f"lesions {sorted(int(i) for i in small['lesion_id'])} below {min_lesion_ml:g} mL "
                                       "(too small for SPECT TACs; their tumour sink is negligible)")
    known = {f"lesion_{int(i)}" for i in lesions["lesion_id"]}
    obs = obs[obs["organ"].isin(set(ORGAN_PREFIXES) | known)].reset_index(drop=True)
    return PlanInputs(pid, float(weight), activity, lesions, obs, sources)


def _progress(progress):
    if not progress:
        return (lambda msg: None), (lambda: None)
    if callable(progress):
        return progress, (lambda: None)
    from tqdm.auto import tqdm
    bar = tqdm(total=6, desc="plan", unit="step")

    def step(msg):
        bar.set_postfix_str(msg)
        bar.update()
    return step, bar.close


@dataclass
class PatientPlan:
    """Everything :func:`plan_patient` computed (written by :func:`write_plan`)."""

    inputs: PlanInputs
    ligand: str
    fit: TwinFit
    plan: PlanResult
    doses: pd.DataFrame                  # per cycle and organ: dose/BED median and 5-95 % band
    tacs: pd.DataFrame                   # measured vs predicted
    sink: pd.DataFrame
    n_cycles: int
    interval_weeks: float
    ligand_nmol: float
    timings_s: dict = field(default_factory=dict)


def plan_patient(inputs: PlanInputs, *, ligand: str = "psma-617", n_cycles: int = 4, interval_weeks: float = 6.0,
                 risk_factors: bool = False, activity_grid_mbq: Sequence[float] = tuple(np.linspace(3000, 10000, 11)),
                 ligand_nmol: float | None = None, n_samples: int = 32, constraint_quantile: float = 0.9,
                 seed: int = 0, step: Callable[[str], None] = lambda s: None) -> PatientPlan:
    """Personalise the twin on ``inputs`` and plan ``n_cycles`` cycles (module doc)."""
    lig = load_ligand(ligand)
    nmol = float(ligand_nmol if ligand_nmol is not None else lig.value("default_ligand_nmol"))
    timings = {}
    tumours = tuple(TumourSpec(f"lesion_{int(r.lesion_id)}", float(r.volume_ml)) for r in inputs.lesions.itertuples())
    if not tumours:
        raise PlanError("no lesion in the quantification: the twin plans on tumour dose and needs at least one")
    patient = PatientSpec(weight_kg=inputs.weight_kg, tumours=tumours, patient_id=inputs.patient_id)
    obs = inputs.observations
    fitted = [o for o in sorted(set(obs["organ"])) if o in FITTED_ORGANS or o.startswith("lesion_")]
    if not fitted:
        raise PlanError("no TAC of kidneys, salivary glands or a lesion: nothing to personalise")
    names = tuple(f"{o}.{p}" for o in fitted for p in ("receptor_density_nmol_l", "lambda_rel_per_min"))
    fit_obs = obs[obs["organ"].isin(fitted)]
    if len(fit_obs) <= len(names):
        names = tuple(f"{o}.receptor_density_nmol_l" for o in fitted)
    step("personalise")
    t0 = time.perf_counter()
    sched1 = Schedule([0.0], [inputs.activity_mbq], [max(nmol, inputs.activity_mbq / lig.molar_activity_mbq_per_nmol)])
    fit = TwinFit(ligand, names).fit(patient, sched1, fit_obs)
    timings["personalise"] = time.perf_counter() - t0
    step("plan")
    t0 = time.perf_counter()
    samples = fit.sample_patients(n_samples, seed=seed)
    model = PBPKModel(ligand, samples)
    constraints = PlanningConstraints(risk_factors=risk_factors, constraint_quantile=constraint_quantile)
    plan = plan_schedules(model, n_cycles=n_cycles, interval_weeks=interval_weeks,
                          activity_grid_mbq=activity_grid_mbq, ligand_grid_nmol=(nmol,), constraints=constraints)
    timings["plan"] = time.perf_counter() - t0
    step("doses and curves")
    t0 = time.perf_counter()
    doses = _dose_band(plan, fit.patient_)
    grid = np.unique(np.concatenate([np.geomspace(0.5, 400.0, 60), obs["time_h"].to_numpy()]))
    pred = fit.predict(grid, sorted(set(obs["organ"])))
    tac_rows = []
    for organ in sorted(set(obs["organ"])):
        sel = obs[obs["organ"] == organ]
        at = pred.set_index("time_h")[organ]
        for r in sel.itertuples():
            tac_rows.append({"organ": organ, "time_h": r.time_h, "measured_mbq": r.activity_mbq,
                             "predicted_mbq": float(at.loc[r.time_h])})
    tacs = pd.DataFrame(tac_rows)
    tacs_curve = pred.melt(id_vars="time_h", var_name="organ", value_name="predicted_mbq")
    tacs = pd.concat([tacs.assign(kind="measured"), tacs_curve.assign(kind="curve")], ignore_index=True)
    sink = tumour_sink_curve(ligand, fit.patient_, scales=(0.1, 0.3, 1.0, 3.0, 10.0), ligand_nmol=nmol)
    timings["curves"] = time.perf_counter() - t0
    return PatientPlan(inputs, ligand, fit, plan, doses, tacs, sink, n_cycles, interval_weeks, nmol, timings)


def _dose_band(plan: PlanResult, patient: PatientSpec) -> pd.DataFrame:
    """Per cycle and organ of the recommended schedule: median and 5-95 % of the posterior samples."""
    if plan.best is None:
        return pd.DataFrame()
    acts = np.array(plan.best_activity_mbq)
    u = plan.unit
    p = 0
    per = acts[None, :, None] * u.d[:, p]                                     # (S, K, m)
    from .dosimetry import bed_gy
    with np.errstate(invalid="ignore"):
        bed = bed_gy(per, u.g[:, p], u.alpha_beta)
    rows = []
    for k in range(len(acts)):
        for j, organ in enumerate(u.organs):
            d, b = per[:, k, j], bed[:, k, j]
            rows.append({"cycle": k + 1, "organ": organ, "activity_mbq": float(acts[k]),
                         "dose_gy": float(np.median(d)), "dose_gy_p05": float(np.quantile(d, 0.05)),
                         "dose_gy_p95": float(np.quantile(d, 0.95)),
                         "bed_gy": float(np.median(b)) if np.all(np.isfinite(b)) else math.nan,
                         "bed_gy_p05": float(np.quantile(b, 0.05)) if np.all(np.isfinite(b)) else math.nan,
                         "bed_gy_p95": float(np.quantile(b, 0.95)) if np.all(np.isfinite(b)) else math.nan})
    return pd.DataFrame(rows)


def plan_summary(result: PatientPlan) -> dict:
    """The content of ``plan.json``."""
    plan, fit = result.plan, result.fit
    lim = plan.constraints.limits()
    best = plan.best
    cumulative = {}
    if not result.doses.empty:
        cum = result.doses.groupby("organ")[["dose_gy", "bed_gy"]].sum(min_count=1)
        cumulative = {o: {"dose_gy": float(r.dose_gy), "bed_gy": None if pd.isna(r.bed_gy) else float(r.bed_gy)}
                      for o, r in cum.iterrows()}
    binding = None
    if best is not None:
        key = max(lim, key=lambda k: float(best[f"{k[0]}_{k[1]}"]) / lim[k])
        binding = {"organ": key[0], "quantity": key[1], "limit_gy": lim[key],
                   "value_gy": float(best[f"{key[0]}_{key[1]}"]),
                   "fraction_of_limit": float(best[f"{key[0]}_{key[1]}"]) / lim[key]}
    per_cycle = []
    if not result.doses.empty:
        for k, grp in result.doses.groupby("cycle"):
            per_cycle.append({"cycle": int(k), "activity_mbq": float(grp["activity_mbq"].iloc[0]),
                              "organs": {r.organ: {"dose_gy": r.dose_gy, "dose_gy_band": [r.dose_gy_p05, r.dose_gy_p95],
                                                   "bed_gy": None if pd.isna(r.bed_gy) else r.bed_gy,
                                                   "bed_gy_band": None if pd.isna(r.bed_gy) else
                                                   [r.bed_gy_p05, r.bed_gy_p95]}
                                         for r in grp.itertuples()}})
    return {
        "patient_id": result.inputs.patient_id, "ligand": result.ligand, "n_cycles": result.n_cycles,
        "interval_weeks": result.interval_weeks, "ligand_nmol_per_cycle": result.ligand_nmol,
        "recommended_activity_mbq": plan.best_activity_mbq,
        "feasible": best is not None,
        "objective": plan.objective, "objective_gy": None if best is None else float(best["objective_gy"]),
        "constraints": {f"{o} {q}": v for (o, q), v in lim.items()},
        "constraint_quantile": plan.constraints.constraint_quantile,
        "risk_factors": plan.constraints.risk_factors,
        "binding_constraint": binding, "reasons": plan.reasons,
        "predicted_per_cycle": per_cycle, "predicted_cumulative": cumulative,
        "uncertainty": f"5-95 % of {plan.unit.d.shape[0]} posterior samples of the personalised parameters",
        "n_candidates": plan.n_candidates, "n_feasible": int(plan.candidates["feasible"].sum()),
        "personalised_parameters": fit.intervals_.to_dict("records"),
        "identifiability": fit.identifiability_.to_dict("records"),
        "fit": {"chi2": fit.chi2_, "n_observations": int(len(fit.observations_)), "converged": fit.converged_},
        "inputs": {"weight_kg": result.inputs.weight_kg, "cycle1_activity_mbq": result.inputs.activity_mbq,
                   "lesions": result.inputs.lesions.to_dict("records"), "sources": result.inputs.sources},
        "calibrations": "kidney dose relies on renal_retained_fraction, a calibration to clinical dosimetry "
                        "(see the parameter table)",
        "timings_s": result.timings_s,
    }


def write_plan(result: PatientPlan, out_dir, *, write_report: bool = True) -> dict[str, Path]:
    """plan.json, doses.csv, parameters.csv, tacs.csv, tradeoff.csv, tumour_sink.csv, candidates.csv.gz
    (every candidate schedule, best first) and report.html."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    summary = plan_summary(result)
    paths["plan_json"] = out / "plan.json"
    paths["plan_json"].write_text(json.dumps(summary, indent=2, default=_json_default), encoding="utf-8")
    tables = {"doses": result.doses, "parameters": result.fit.intervals_, "tacs": result.tacs,
              "tradeoff": result.plan.tradeoff_curve(), "tumour_sink": result.sink}
    for name, df in tables.items():
        paths[f"{name}_csv"] = out / f"{name}.csv"
        df.to_csv(paths[f"{name}_csv"], index=False)
    paths["candidates_csv"] = out / "candidates.csv.gz"
    result.plan.candidates.sort_values(["feasible", "objective_gy"], ascending=False).to_csv(
        paths["candidates_csv"], index=False)
    if write_report:
        from ..report.twin_report import twin_report
        paths["report_html"] = twin_report(result, out / "report.html", summary=summary)
    return paths


def _json_default(o):
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, np.bool_):
        return bool(o)
    return str(o)


def plan_folder(patient_dir, out_dir, *, ligand: str = "psma-617", n_cycles: int = 4, interval_weeks: float = 6.0,
                risk_factors: bool = False, quant_dir=None, dosimetry_dir=None, registration: str = "rigid",
                spect_fwhm_mm: float | None = None, activity_grid_mbq: Sequence[float] = tuple(np.linspace(3000, 10000, 11)),
                n_samples: int = 32, constraint_quantile: float = 0.9, write_report: bool = True,
                progress=None) -> dict[str, Path]:
    """Gather the inputs, personalise, plan and write every output (module doc)."""
    if n_cycles < 1 or not interval_weeks > 0:
        raise PlanError(f"need cycles >= 1 and interval_weeks > 0, got {n_cycles} and {interval_weeks}")
    step, done = _progress(progress)
    t0 = time.perf_counter()
    try:
        inputs = load_plan_inputs(patient_dir, quant_dir=quant_dir, dosimetry_dir=dosimetry_dir,
                                  registration=registration, spect_fwhm_mm=spect_fwhm_mm, step=step)
        t_in = time.perf_counter() - t0
        result = plan_patient(inputs, ligand=ligand, n_cycles=n_cycles, interval_weeks=interval_weeks,
                              risk_factors=risk_factors, activity_grid_mbq=activity_grid_mbq, n_samples=n_samples,
                              constraint_quantile=constraint_quantile, step=step)
        result.timings_s = {"inputs": t_in, **result.timings_s}
        step("write")
        paths = write_plan(result, out_dir, write_report=write_report)
    finally:
        done()
    return paths


__all__ = ["PlanError", "PlanInputs", "PatientPlan", "twin_organ_of", "observations_from_tacs", "load_plan_inputs",
           "plan_patient", "plan_summary", "write_plan", "plan_folder", "TwinParameterError"]
