"""Treatment planning on the twin: activity per cycle and ligand amount within organ limits.

At a fixed ligand amount per cycle the activity of injection k in organ o is A_k·h_ko(t)
(:mod:`.model`), so with d_ko = S_o·Ã_ko (Gy per MBq) and the Lea–Catcheside factor G_ko of
each cycle's curve, any activity vector A gives, without a new solve,

    D_o = Σ_k A_k d_ko,     BED_o = Σ_k A_k d_ko (1 + G_ko A_k d_ko / (α/β)_o)

(Dale; full repair between cycles).  One batched solve per ligand amount (and per parameter
sample) therefore prices every candidate schedule of an activity grid (≥ 10⁴ in well under a
second).  :func:`verify_against_full` recomputes candidates with full hot/cold solves.

Constraints (cumulative over cycles; :data:`theranomics.dosimetry.radiobiology.LIMITS`): kidney
BED ≤ 40 Gy (28 Gy with risk factors), red-marrow absorbed dose ≤ 2 Gy, salivary-gland absorbed
dose ≤ 25 Gy, per-cycle activity within the grid.  The objective is the lowest tumour BED (every
lesion treated), or the volume-weighted mean.  With parameter samples, constraints hold at the
``constraint_quantile`` of the samples and the objective is the median.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd

from .dosimetry import SValues, alpha_beta_gy, bed_gy, s_values_of
from .model import PBPKModel, Schedule
from .params import PatientSpec, TwinParameterError, is_tumour


def _limit(organ: str, quantity: str, condition: str = "") -> float:
    from ..dosimetry.radiobiology import LIMITS
    for lim in LIMITS:
        if lim.organ == organ and lim.quantity == quantity and lim.condition == condition:
            return lim.limit_gy
    raise KeyError(f"no limit for {organ} {quantity} {condition}")


@dataclass(frozen=True)
class PlanningConstraints:
    """Cumulative organ limits (Gy); defaults from the radiobiology module's ``LIMITS``."""

    risk_factors: bool = False
    kidney_bed_gy: float | None = None
    red_marrow_dose_gy: float | None = None
    salivary_dose_gy: float | None = None
    constraint_quantile: float = 0.5

    def __post_init__(self) -> None:
        if not 0 < self.constraint_quantile < 1:
            raise TwinParameterError(f"constraint_quantile must be in (0, 1), got {self.constraint_quantile}")
        for name in ("kidney_bed_gy", "red_marrow_dose_gy", "salivary_dose_gy"):
            v = getattr(self, name)
            if v is not None and not (math.isfinite(v) and v > 0):
                raise TwinParameterError(f"{name} must be > 0 Gy, got {v}")

    def limits(self) -> dict[tuple[str, str], float]:
        """{(organ, quantity): limit}: quantity ``bed_gy`` or ``dose_gy``."""
        kid = self.kidney_bed_gy if self.kidney_bed_gy is not None else \
            _limit("kidney", "bed_gy", "with risk factors" if self.risk_factors else "without risk factors")
        marrow = self.red_marrow_dose_gy if self.red_marrow_dose_gy is not None else \
            _limit("red_marrow", "absorbed_dose_gy")
        sal = self.salivary_dose_gy if self.salivary_dose_gy is not None else \
            _limit("salivary_glands", "absorbed_dose_gy", "mean dose, both parotids")
        return {("kidneys", "bed_gy"): kid, ("red_marrow", "dose_gy"): marrow, ("salivary_glands", "dose_gy"): sal}


@dataclass
class UnitDoses:
    """Per-MBq doses of each cycle: ``d`` (S, P, K, m) Gy/MBq and ``g`` (S, P, K, m), S samples × P ligand amounts."""

    organs: tuple[str, ...]
    ligand_grid_nmol: np.ndarray
    times_h: np.ndarray
    d: np.ndarray
    g: np.ndarray
    alpha_beta: np.ndarray
    volume_l: np.ndarray

    def evaluate(self, activities_mbq: np.ndarray, p: int) -> tuple[np.ndarray, np.ndarray]:
        """Doses and BEDs (S, C, m) of candidate activity vectors (C, K) at ligand index ``p``."""
        A = np.asarray(activities_mbq, float)
        d = self.d[:, p]                                                        # (S, K, m)
        g = self.g[:, p]
        per = A[None, :, :, None] * d[:, None]                                  # (S, C, K, m)
        dose = per.sum(2)
        with np.errstate(invalid="ignore"):
            bed = bed_gy(per, g[:, None], self.alpha_beta).sum(2)
        return dose, bed


def unit_doses(model: PBPKModel, times_h: Sequence[float], ligand_grid_nmol: Sequence[float], *,
               s_values: SValues | None = None, rtol: float = 1e-3) -> UnitDoses:
    """One batched solve for every (patient/sample of ``model``) × ligand amount."""
    lig = np.atleast_1d(np.asarray(ligand_grid_nmol, float))
    if lig.size == 0 or np.any(~np.isfinite(lig)) or np.any(lig <= 0):
        raise TwinParameterError(f"ligand_grid_nmol must be positive amounts, got {ligand_grid_nmol}")
    S, P = model.batch, lig.size
    times = np.asarray(times_h, float)
    big = PBPKModel(model.ligand, [p for p in model.patients for _ in range(P)])
    sched = Schedule(times, np.zeros((S * P, times.size)), np.repeat(lig[None], S, 0).reshape(S * P, 1)
                     * np.ones(times.size))
    sol = big.solve(sched, rtol=rtol)
    s = s_values_of(big)                                                        # (S*P, m)
    d = (sol.tia_h_per_mbq() * s[:, None, :]).reshape(S, P, times.size, -1)
    g = sol.lea_catcheside_g().reshape(S, P, times.size, -1)
    ab = np.array([alpha_beta_gy(o) for o in model.organs])
    return UnitDoses(model.organs, lig, times, d, g, ab, model.volume_l.copy())


@dataclass
class PlanResult:
    """Every candidate schedule with its doses, feasibility and the recommended one."""

    candidates: pd.DataFrame
    best_index: int | None
    constraints: PlanningConstraints
    objective: str
    unit: UnitDoses
    reasons: list[str] = field(default_factory=list)

    @property
    def n_candidates(self) -> int:
        return len(self.candidates)

    @property
    def best(self) -> pd.Series | None:
        return None if self.best_index is None else self.candidates.loc[self.best_index]

    @property
    def best_activity_mbq(self) -> list[float] | None:
        if self.best is None:
            return None
        k = len(self.unit.times_h)
        return [float(self.best[f"activity_mbq_c{i + 1}"]) for i in range(k)]

    def tradeoff_curve(self) -> pd.DataFrame:
        """Pareto front: best objective for each kidney BED, among schedules within the other limits."""
        lim = self.constraints.limits()
        c = self.candidates
        ok = np.ones(len(c), bool)
        for (organ, quantity), value in lim.items():
            if organ != "kidneys":
                ok &= c[f"{organ}_{quantity}"].to_numpy() <= value
        sub = c[ok].sort_values("kidneys_bed_gy")
        best = np.maximum.accumulate(sub["objective_gy"].to_numpy()) if len(sub) else np.array([])
        front = sub.assign(best_objective_gy=best)
        keep = np.r_[True, np.diff(best) > 0] if len(best) else np.array([], bool)
        return front.loc[keep, ["kidneys_bed_gy", "best_objective_gy", "total_activity_mbq", "ligand_nmol"]]


def plan_schedules(model: PBPKModel, *, n_cycles: int = 4, interval_weeks: float = 6.0,
                   activity_grid_mbq: Sequence[float] = tuple(np.linspace(3000, 10000, 11)),
                   ligand_grid_nmol: Sequence[float] = (100.0,), constraints: PlanningConstraints | None = None,
                   objective: str = "min_tumour_bed", s_values: SValues | None = None,
                   unit: UnitDoses | None = None) -> PlanResult:
    """Price every activity-per-cycle combination of the grid (× ligand amounts) and pick the best.

    ``model`` holds one patient, or parameter samples of one patient (uncertainty).
    """
    constraints = constraints or PlanningConstraints()
    if objective not in ("min_tumour_bed", "mean_tumour_bed"):
        raise TwinParameterError(f"objective must be 'min_tumour_bed' or 'mean_tumour_bed', got {objective!r}")
    tumours = [j for j, o in enumerate(model.organs) if is_tumour(o)]
    if not tumours:
        raise TwinParameterError("planning needs at least one tumour in the patient")
    grid = np.asarray(activity_grid_mbq, float)
    if grid.ndim != 1 or grid.size == 0 or np.any(grid <= 0):
        raise TwinParameterError(f"activity_grid_mbq must be positive activities, got {activity_grid_mbq}")
    times = np.arange(n_cycles) * interval_weeks * 7 * 24.0
    if unit is None:
        unit = unit_doses(model, times, ligand_grid_nmol, s_values=s_values)
    max_hot = grid.max() / model.ligand.molar_activity_mbq_per_nmol
    if np.any(unit.ligand_grid_nmol < max_hot):
        raise TwinParameterError(f"a ligand amount of the grid is below the labelled ligand of "
                                 f"{grid.max():.0f} MBq ({max_hot:.1f} nmol)")
    acts = np.array(list(itertools.product(grid, repeat=n_cycles)))             # (C, K)
    organs = list(unit.organs)
    lim = constraints.limits()
    q = constraints.constraint_quantile
    frames = []
    vol = unit.volume_l.mean(0)
    for p, lig in enumerate(unit.ligand_grid_nmol):
        dose, bed = unit.evaluate(acts, p)                                      # (S, C, m)
        tb = bed[:, :, tumours]
        obj_s = tb.min(-1) if objective == "min_tumour_bed" else \
            (tb * vol[tumours]).sum(-1) / vol[tumours].sum()
        df = pd.DataFrame(acts, columns=[f"activity_mbq_c{i + 1}" for i in range(n_cycles)])
        df["ligand_nmol"] = lig
        df["total_activity_mbq"] = acts.sum(1)
        df["objective_gy"] = np.median(obj_s, 0)
        for j, organ in enumerate(organs):
            df[f"{organ}_dose_gy"] = np.quantile(dose[:, :, j], q, axis=0) if not is_tumour(organ) else \
                np.median(dose[:, :, j], 0)
            df[f"{organ}_bed_gy"] = np.quantile(bed[:, :, j], q, axis=0) if not is_tumour(organ) else \
                np.median(bed[:, :, j], 0)
        feasible = np.ones(len(df), bool)
        for (organ, quantity), value in lim.items():
            feasible &= df[f"{organ}_{quantity}"].to_numpy() <= value
        df["feasible"] = feasible
        frames.append(df)
    cand = pd.concat(frames, ignore_index=True)
    feas = cand[cand["feasible"]]
    best = None if feas.empty else int(feas["objective_gy"].idxmax())
    result = PlanResult(cand, best, constraints, objective, unit)
    result.reasons = _reasons(result)
    return result


def _reasons(result: PlanResult) -> list[str]:
    lim = result.constraints.limits()
    if result.best is None:
        c = result.candidates
        mins = {f"{o} {qty}": float(c[f"{o}_{qty}"].min()) for (o, qty) in lim}
        return [f"no candidate schedule satisfies every limit; smallest values over the grid: {mins}"]
    b = result.best
    out = [f"maximises the {result.objective.replace('_', ' ')} ({b['objective_gy']:.1f} Gy) among "
           f"{int(result.candidates['feasible'].sum())} of {result.n_candidates} candidates within every limit"]
    for (organ, quantity), value in lim.items():
        v = float(b[f"{organ}_{quantity}"])
        out.append(f"{organ} {quantity.replace('_gy', '')}: {v:.2f} Gy of {value:g} Gy ({100 * v / value:.0f} %)")
    binding = max(lim, key=lambda key: float(b[f"{key[0]}_{key[1]}"]) / lim[key])
    out.append(f"binding constraint: {binding[0]} {binding[1].replace('_gy', '')}")
    grid_max = float(result.candidates[[c for c in result.candidates if c.startswith('activity_mbq_c')]].max().max())
    if all(a >= grid_max for a in result.best_activity_mbq):
        out.append("every cycle is at the highest activity of the grid: the limits are not reached")
    return out


def verify_against_full(model: PBPKModel, unit: UnitDoses, activities_mbq: np.ndarray, p: int = 0, *,
                        rtol: float = 1e-6) -> pd.DataFrame:
    """Cumulative dose and BED of candidate schedules: linear prediction vs full hot/cold solves."""
    acts = np.atleast_2d(np.asarray(activities_mbq, float))
    if model.batch != 1:
        raise TwinParameterError("verify_against_full needs a model of one patient")
    pred_dose, pred_bed = unit.evaluate(acts, p)
    big = PBPKModel(model.ligand, [model.patients[0]] * len(acts))
    sched = Schedule(unit.times_h, acts, np.full(acts.shape, unit.ligand_grid_nmol[p]))
    full = big.solve_full(sched, [], rtol=rtol)
    q, _, g = full.accumulators()
    s = s_values_of(big)
    # physical-decay tail of the last horizon
    last = full.y[:, -1, :big.n_states] @ big.membership.T * big.ligand.molar_activity_mbq_per_nmol
    dose = (q + last / big.lambda_phys_per_h) * s
    bed = dose + 2 * g * s ** 2 / unit.alpha_beta
    rows = []
    for c in range(len(acts)):
        for j, organ in enumerate(model.organs):
            rows.append({"candidate": c, "organ": organ, "dose_linear_gy": pred_dose[0, c, j],
                         "dose_full_gy": dose[c, j], "bed_linear_gy": pred_bed[0, c, j], "bed_full_gy": bed[c, j]})
    return pd.DataFrame(rows)


def tumour_sink_curve(ligand, patient: PatientSpec, scales: Sequence[float] = (0.1, 0.3, 1, 3, 10), *,
                      activity_mbq: float = 7400.0, ligand_nmol: float = 100.0,
                      s_values: SValues | None = None) -> pd.DataFrame:
    """Organ doses (Gy/GBq) vs tumour load: every tumour volume × scale, one batched solve."""
    pats = [patient.scaled_tumours(f) for f in scales]
    model = PBPKModel(ligand, pats)
    sol = model.solve(Schedule([0.0], [activity_mbq], [ligand_nmol]))
    s = s_values_of(model, s_values)
    d = sol.tia_h_per_mbq()[:, 0] * s * 1000.0                                  # Gy/GBq
    tumours = [j for j, o in enumerate(model.organs) if is_tumour(o)]
    rows = []
    for i, f in enumerate(scales):
        row = {"tumour_scale": f, "tumour_volume_ml": float(model.volume_l[i, tumours].sum() * 1000)}
        for j, organ in enumerate(model.organs):
            row[f"{organ}_gy_per_gbq"] = float(d[i, j])
        rows.append(row)
    return pd.DataFrame(rows)


def ligand_amount_curve(ligand, patient: PatientSpec, ligand_grid_nmol: Sequence[float] = (10, 30, 100, 300, 1000),
                        *, activity_mbq: float = 7400.0, s_values: SValues | None = None) -> pd.DataFrame:
    """Organ doses (Gy/GBq) vs total ligand amount at a fixed activity (cold-peptide saturation)."""
    model = PBPKModel(ligand, [patient] * len(ligand_grid_nmol))
    lig = np.asarray(ligand_grid_nmol, float)
    sol = model.solve(Schedule(np.array([0.0]), np.full((len(lig), 1), activity_mbq), lig[:, None]))
    d = sol.tia_h_per_mbq()[:, 0] * s_values_of(model, s_values) * 1000.0
    return pd.DataFrame({"ligand_nmol": lig, **{f"{o}_gy_per_gbq": d[:, j] for j, o in enumerate(model.organs)}})


__all__ = ["PlanningConstraints", "UnitDoses", "unit_doses", "PlanResult", "plan_schedules", "verify_against_full",
           "tumour_sink_curve", "ligand_amount_curve"]
