"""Whole-body PBPK model of a radioligand (Kletting/Begum/Glatting structure; Fele-Paranj 2024).

Compartments (amounts in nmol, time in hours): the central plasma P and, for every organ j
(kidneys, salivary glands, liver, spleen, red marrow, rest of body, and each tumour), a vascular
V_j, interstitial I_j, receptor-bound B_j and internalised N_j compartment; excreted urine U.
With concentrations C = amount / volume, plasma flow F_j, permeability–surface product PS_j,
receptor amount R_j = (receptor density)·(organ volume), and binding flux
b_j = k_on·C_Ij·(R_j − B_j):

    dP/dt   = Σ_j F_j (C_Vj − C_P)
    dV_j/dt = F_j (C_P − C_Vj) − PS_j (C_Vj − C_Ij) + λ_rel,j N_j − [kidneys] (f_exc + f_ret) GFR·C_Vk
    dI_j/dt = PS_j (C_Vj − C_Ij) − b_j + k_off B_j
    dB_j/dt = b_j − (k_off + λ_int,j) B_j
    dN_j/dt = λ_int,j B_j − λ_rel,j N_j + [kidneys] f_ret GFR·C_Vk
    dU/dt   = f_exc GFR·C_Vk

(glomerular filtration from the kidney vasculature: a fraction f_exc is excreted, the reabsorbed
rest returns to the blood — the published structure, where it transits a kidney intracellular
compartment within ~1 h — except a fraction f_ret retained in kidney cells, a *calibration* (see
``renal_retained_fraction`` in the parameter files); released internalised ligand returns to the blood).  Hot (labelled)
and cold ligand compete for the same receptors, R_j − B_hot,j − B_cold,j, and physical decay turns
hot into cold ligand (λ_phys from :mod:`theranomics.nuclides`), so the total ligand is conserved.

Because hot and cold ligand are the same molecule, the *total* ligand L follows the nonlinear
equations above, and the molecules of each injection k (a "tag") follow them *linearly* given the
free receptors R_j − B_L,j(t).  The activity of injection k is therefore A_k·h_k(t), with h_k the
tag solution per MBq injected (decay included): at a fixed ligand amount per cycle, activities,
doses and time-integrated activities scale exactly linearly with the injected activities.
:meth:`PBPKModel.solve` integrates L and all tags together, with accumulators for the TIA, and
for the Lea–Catcheside double integral of each organ and cycle (see :mod:`.dosimetry`).
:meth:`PBPKModel.solve_full` integrates the published hot/cold form directly.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .. import nuclides
from .params import NORMAL_ORGANS, Ligand, PatientSpec, TwinParameterError, is_tumour, load_ligand
from .solver import DenseSystem, SolverStats, rosenbrock

MIN_PER_H = 60.0
#: Compartments of every organ, in state order.
SUBCOMPARTMENTS = ("vascular", "interstitial", "bound", "internalised")
#: Time after the last injection to which doses are integrated (h); the rest decays physically.
DEFAULT_HORIZON_H = 90 * 24.0


def repair_half_time_h(organ: str) -> float:
    """Repair half-time for the Lea–Catcheside integral (:mod:`theranomics.dosimetry.radiobiology`).

    Kidneys, tumours and red marrow use the radiobiology defaults; other organs use the tumour's
    generic 1.5 h (their BED is only indicative: their limits are absorbed doses).
    """
    from ..dosimetry.radiobiology import tissue_parameters
    key = "kidney" if organ == "kidneys" else "tumour" if is_tumour(organ) else \
        "red_marrow" if organ == "red_marrow" else "tumour"
    return tissue_parameters(key).repair_half_time_h


@dataclass(frozen=True)
class Schedule:
    """Injections: times (h from the first), activities (MBq) and total ligand (nmol, hot + cold).

    Arrays are (K,) or (B, K) for a batch (one row per system of the model).
    """

    times_h: np.ndarray
    activity_mbq: np.ndarray
    ligand_nmol: np.ndarray

    def __post_init__(self) -> None:
        t = np.atleast_1d(np.asarray(self.times_h, dtype=float))
        if t.ndim != 1 or t.size == 0 or t[0] != 0 or np.any(np.diff(t) <= 0):
            raise TwinParameterError(f"schedule times_h must start at 0 and increase, got {self.times_h!r}")
        a = np.asarray(self.activity_mbq, dtype=float)
        n = np.asarray(self.ligand_nmol, dtype=float)
        for name, arr in (("activity_mbq", a), ("ligand_nmol", n)):
            if arr.shape[-1:] != t.shape and arr.shape != ():
                raise TwinParameterError(f"schedule {name} must have one value per injection ({t.size}), "
                                         f"got shape {arr.shape}")
            if not np.all(np.isfinite(arr)) or np.any(arr < 0):
                raise TwinParameterError(f"schedule {name} must be finite and >= 0, got {arr}")
        if np.any(np.broadcast_to(n, np.broadcast_shapes(n.shape, t.shape)) <= 0):
            raise TwinParameterError("schedule ligand_nmol must be > 0 for every injection")
        object.__setattr__(self, "times_h", t)
        object.__setattr__(self, "activity_mbq", np.broadcast_to(a, np.broadcast_shapes(a.shape, t.shape)).copy())
        object.__setattr__(self, "ligand_nmol", np.broadcast_to(n, np.broadcast_shapes(n.shape, t.shape)).copy())

    @classmethod
    def cycles(cls, activity_mbq, ligand_nmol, n_cycles: int, interval_weeks: float) -> "Schedule":
        if n_cycles < 1 or not interval_weeks > 0:
            raise TwinParameterError(f"need n_cycles >= 1 and interval_weeks > 0, got {n_cycles}, {interval_weeks}")
        times = np.arange(n_cycles) * interval_weeks * 7 * 24.0
        a = np.broadcast_to(np.asarray(activity_mbq, float), np.broadcast_shapes(np.shape(activity_mbq), (n_cycles,)))
        n = np.broadcast_to(np.asarray(ligand_nmol, float), np.broadcast_shapes(np.shape(ligand_nmol), (n_cycles,)))
        return cls(times, a, n)

    @property
    def n_injections(self) -> int:
        return int(self.times_h.size)


class PBPKModel:
    """The PBPK equations of one ligand for a batch of patients (same organ and tumour names)."""

    def __init__(self, ligand: str | Ligand, patients: PatientSpec | Sequence[PatientSpec]):
        self.ligand = ligand if isinstance(ligand, Ligand) else load_ligand(ligand)
        pats = [patients] if isinstance(patients, PatientSpec) else list(patients)
        if not pats:
            raise TwinParameterError("need at least one patient")
        organs = pats[0].organs
        for p in pats[1:]:
            if p.organs != organs:
                raise TwinParameterError(f"all patients of a batch need the same organs; {p.patient_id} has "
                                         f"{p.organs}, {pats[0].patient_id} has {organs}")
        self.patients = tuple(pats)
        self.organs = organs
        self.n_organs = len(organs)
        self.n_states = 2 + 4 * self.n_organs
        self.lambda_phys_per_h = nuclides.decay_constant_per_h(self.ligand.nuclide)
        self._build()

    # -- layout ---------------------------------------------------------------------------------
    @property
    def batch(self) -> int:
        return len(self.patients)

    def index(self, organ: str, sub: str) -> int:
        """State index of an organ's sub-compartment (``vascular``/``interstitial``/``bound``/``internalised``)."""
        if organ not in self.organs:
            raise KeyError(f"model has no organ {organ!r}; it has {list(self.organs)}")
        return 1 + 4 * self.organs.index(organ) + SUBCOMPARTMENTS.index(sub)

    @property
    def plasma_index(self) -> int:
        return 0

    @property
    def urine_index(self) -> int:
        return self.n_states - 1

    def organ_indices(self, organ: str) -> np.ndarray:
        j = self.organs.index(organ)
        return np.arange(1 + 4 * j, 5 + 4 * j)

    # -- parameters -----------------------------------------------------------------------------
    def _param(self, p: PatientSpec, organ: str, name: str) -> float | None:
        key = f"{organ}.{name}"
        if key in p.overrides:
            return p.overrides[key]
        if is_tumour(organ):
            if name == "volume_l":
                return next(t.volume_ml for t in p.tumours if t.name == organ) / 1000.0
            if name == "receptor_density_nmol_l":
                t = next(t for t in p.tumours if t.name == organ)
                if t.receptor_density_nmol_l is not None:
                    return t.receptor_density_nmol_l
        return self.ligand.organ_value(organ, name)

    def _build(self) -> None:
        lig = self.ligand
        B, m = self.batch, self.n_organs
        hct = lig.physiology_value("hematocrit")
        co_l_h = lig.physiology_value("cardiac_output_l_min") * MIN_PER_H
        self.volume_l = np.zeros((B, m))
        self.plasma_flow_l_h = np.zeros((B, m))
        self.vascular_l = np.zeros((B, m))
        self.interstitial_l = np.zeros((B, m))
        self.ps_l_h = np.zeros((B, m))
        self.receptor_nmol = np.zeros((B, m))
        self.lambda_int_per_h = np.zeros((B, m))
        self.lambda_rel_per_h = np.zeros((B, m))
        self.plasma_l = np.zeros(B)
        self.gfr_l_h = np.zeros(B)
        k_on = lig.value("k_on_l_per_nmol_min") * MIN_PER_H
        k_off = lig.value("k_off_per_min") * MIN_PER_H
        self.k_on = np.full(B, k_on)
        self.k_off = np.full(B, k_off)
        self.f_exc = lig.value("renal_excreted_fraction")
        self.f_ret = lig.value("renal_retained_fraction")
        if not (0 <= self.f_exc and 0 <= self.f_ret and self.f_exc + self.f_ret <= 1 + 1e-12):
            raise TwinParameterError(f"ligand {lig.key!r}: renal_excreted_fraction ({self.f_exc}) and "
                                     f"renal_retained_fraction ({self.f_ret}) must be >= 0 with a sum <= 1")
        rest = self.organs.index("rest")
        for b, p in enumerate(self.patients):
            blood_flow = np.zeros(m)
            for j, organ in enumerate(self.organs):
                if organ == "rest":
                    continue
                vol = self._param(p, organ, "volume_l")
                if vol is None or vol <= 0:
                    raise TwinParameterError(f"{p.patient_id}: organ {organ!r} needs a volume_l > 0")
                self.volume_l[b, j] = vol
                frac = self._param(p, organ, "flow_fraction")
                perf = self._param(p, organ, "perfusion_ml_min_ml")
                if perf is not None and not (f"{organ}.flow_fraction" in p.overrides):
                    blood_flow[j] = perf * vol * MIN_PER_H
                elif frac is not None:
                    blood_flow[j] = frac * co_l_h
                else:
                    raise TwinParameterError(f"{p.patient_id}: organ {organ!r} has neither flow_fraction nor perfusion")
            rest_vol = self._param(p, "rest", "volume_l")
            self.volume_l[b, rest] = rest_vol if rest_vol is not None else p.weight_kg * 1.0 - self.volume_l[b].sum()
            blood_flow[rest] = co_l_h - blood_flow.sum()
            if self.volume_l[b, rest] <= 0 or blood_flow[rest] <= 0:
                raise TwinParameterError(f"{p.patient_id}: organs and tumours take more volume or blood flow than "
                                         f"the body has (rest volume {self.volume_l[b, rest]:.2f} L, rest flow "
                                         f"{blood_flow[rest]:.1f} L/h)")
            self.plasma_flow_l_h[b] = blood_flow * (1 - hct)
            for j, organ in enumerate(self.organs):
                vf = self._param(p, organ, "vascular_fraction")
                isf = self._param(p, organ, "interstitial_fraction")
                kps = self._param(p, organ, "kps_per_min")
                if vf is None or isf is None or kps is None:
                    raise TwinParameterError(f"{p.patient_id}: organ {organ!r} lacks vascular/interstitial fraction "
                                             "or kps_per_min")
                self.vascular_l[b, j] = vf * self.volume_l[b, j] * (1 - hct)
                self.interstitial_l[b, j] = isf * self.volume_l[b, j]
                self.ps_l_h[b, j] = kps * MIN_PER_H * self.volume_l[b, j]
                rden = self._param(p, organ, "receptor_density_nmol_l") or 0.0
                self.receptor_nmol[b, j] = rden * self.volume_l[b, j]
                self.lambda_int_per_h[b, j] = (self._param(p, organ, "lambda_int_per_min") or 0.0) * MIN_PER_H
                self.lambda_rel_per_h[b, j] = (self._param(p, organ, "lambda_rel_per_min") or 0.0) * MIN_PER_H
            blood_l = lig.physiology_value("blood_volume_l_per_kg") * p.weight_kg
            self.plasma_l[b] = blood_l * (1 - hct) - self.vascular_l[b].sum()
            if self.plasma_l[b] <= 0:
                raise TwinParameterError(f"{p.patient_id}: organ vascular volumes exceed the plasma volume")
            gfr = p.gfr_ml_min if p.gfr_ml_min is not None else lig.physiology_value("gfr_ml_min")
            self.gfr_l_h[b] = gfr * MIN_PER_H / 1000.0
        if np.any(self.vascular_l <= 0) or np.any(self.interstitial_l <= 0):
            raise TwinParameterError("every organ needs vascular and interstitial volumes > 0")
        self._build_linear()
        self.repair_rate_per_h = np.array([math.log(2) / repair_half_time_h(o) for o in self.organs])

    def _build_linear(self) -> None:
        """A (B, n, n): the linear (binding-free) part of dL/dt = A L + E b(L), columns summing to 0."""
        B, n = self.batch, self.n_states
        A = np.zeros((B, n, n))
        for j, organ in enumerate(self.organs):
            iv, ii, ib, iN = (1 + 4 * j + s for s in range(4))
            F, Vv, VI = self.plasma_flow_l_h[:, j], self.vascular_l[:, j], self.interstitial_l[:, j]
            PS = self.ps_l_h[:, j]
            # plasma -> vascular and back
            A[:, 0, 0] -= F / self.plasma_l
            A[:, iv, 0] += F / self.plasma_l
            A[:, iv, iv] -= F / Vv
            A[:, 0, iv] += F / Vv
            # vascular <-> interstitial
            A[:, iv, iv] -= PS / Vv
            A[:, ii, iv] += PS / Vv
            A[:, ii, ii] -= PS / VI
            A[:, iv, ii] += PS / VI
            # unbinding, internalisation, release
            A[:, ii, ib] += self.k_off
            A[:, ib, ib] -= self.k_off + self.lambda_int_per_h[:, j]
            A[:, iN, ib] += self.lambda_int_per_h[:, j]
            A[:, iN, iN] -= self.lambda_rel_per_h[:, j]
            A[:, iv, iN] += self.lambda_rel_per_h[:, j]
            if organ == "kidneys":
                g = self.gfr_l_h / Vv
                A[:, iv, iv] -= (self.f_exc + self.f_ret) * g
                A[:, iN, iv] += self.f_ret * g
                A[:, n - 1, iv] += self.f_exc * g
        self.A = A
        self.A_T = np.ascontiguousarray(A.transpose(0, 2, 1))
        self._ii = 2 + 4 * np.arange(self.n_organs)
        self._ib = 3 + 4 * np.arange(self.n_organs)
        # organ membership (n_organs, n): activity of organ = P @ state
        P = np.zeros((self.n_organs, n))
        for j in range(self.n_organs):
            P[j, 1 + 4 * j:5 + 4 * j] = 1.0
        self.membership = P

    # -- total ligand ---------------------------------------------------------------------------
    def binding_flux(self, x_i: np.ndarray, bound_total: np.ndarray) -> np.ndarray:
        """b = k_on·(x_I / V_I)·(R − B_total) per organ, (B, m)."""
        return self.k_on[:, None] * x_i / self.interstitial_l * (self.receptor_nmol - bound_total)

    def total_rhs(self, L: np.ndarray) -> np.ndarray:
        d = (self.A @ L[:, :, None])[:, :, 0]
        flux = self.binding_flux(L[:, self._ii], L[:, self._ib])
        d[:, self._ii] -= flux
        d[:, self._ib] += flux
        return d

    def total_jac(self, L: np.ndarray) -> np.ndarray:
        J = self.A.copy()
        kvi = self.k_on[:, None] / self.interstitial_l
        d_di = kvi * (self.receptor_nmol - L[:, self._ib])
        d_db = -kvi * L[:, self._ii]
        bi = np.arange(self.batch)[:, None]
        J[bi, self._ii, self._ii] -= d_di
        J[bi, self._ii, self._ib] -= d_db
        J[bi, self._ib, self._ii] += d_di
        J[bi, self._ib, self._ib] += d_db
        return J

    # -- full hot/cold model (the published form) -------------------------------------------------
    def full_rhs(self, y: np.ndarray, with_accumulators: bool = True) -> np.ndarray:
        """y = [hot (n), cold (n), (q, z, g) per organ]: hot/cold nmol, accumulators in MBq·h units."""
        n, m, lam = self.n_states, self.n_organs, self.lambda_phys_per_h
        hot, cold = y[:, :n], y[:, n:2 * n]
        bound = hot[:, self._ib] + cold[:, self._ib]
        fh = self.binding_flux(hot[:, self._ii], bound)
        fc = self.binding_flux(cold[:, self._ii], bound)
        dh = np.einsum("bij,bj->bi", self.A, hot) - lam * hot
        dc = np.einsum("bij,bj->bi", self.A, cold) + lam * hot
        dh[:, self._ii] -= fh
        dh[:, self._ib] += fh
        dc[:, self._ii] -= fc
        dc[:, self._ib] += fc
        parts = [dh, dc]
        if with_accumulators:
            a = self.ligand.molar_activity_mbq_per_nmol * hot @ self.membership.T
            z = y[:, 2 * n + m:2 * n + 2 * m]
            parts += [a, a - self.repair_rate_per_h * z, a * z]
        return np.concatenate(parts, axis=1)

    def full_jac(self, y: np.ndarray, with_accumulators: bool = True) -> np.ndarray:
        n, m, lam = self.n_states, self.n_organs, self.lambda_phys_per_h
        N = y.shape[1]
        J = np.zeros((self.batch, N, N))
        J[:, :n, :n] = self.A - lam * np.eye(n)
        J[:, n:2 * n, n:2 * n] = self.A
        J[:, n:2 * n, :n] += lam * np.eye(n)
        hot, cold = y[:, :n], y[:, n:2 * n]
        kvi = self.k_on[:, None] / self.interstitial_l
        free = self.receptor_nmol - hot[:, self._ib] - cold[:, self._ib]
        bi = np.arange(self.batch)[:, None]
        ii, ib = self._ii, self._ib
        for off, x in ((0, hot), (n, cold)):
            d_dix = kvi * free                      # d flux_x / d x_I
            d_db = -kvi * x[:, ii]                  # d flux_x / d B_hot = d flux_x / d B_cold
            J[bi, off + ii, off + ii] -= d_dix
            J[bi, off + ib, off + ii] += d_dix
            for boff in (0, n):
                J[bi, off + ii, boff + ib] -= d_db
                J[bi, off + ib, boff + ib] += d_db
        if with_accumulators:
            ma = self.ligand.molar_activity_mbq_per_nmol
            a = ma * hot @ self.membership.T
            z = y[:, 2 * n + m:2 * n + 2 * m]
            q0, z0, g0 = 2 * n, 2 * n + m, 2 * n + 2 * m
            J[:, q0:q0 + m, :n] = ma * self.membership
            J[:, z0:z0 + m, :n] = ma * self.membership
            J[:, z0 + np.arange(m), z0 + np.arange(m)] = -self.repair_rate_per_h
            J[:, g0:g0 + m, :n] = ma * self.membership[None] * z[:, :, None]
            J[bi, g0 + np.arange(m), z0 + np.arange(m)] = a
        return J

    def full_system(self, with_accumulators: bool = True) -> DenseSystem:
        return DenseSystem(lambda y: self.full_rhs(y, with_accumulators), lambda y: self.full_jac(y, with_accumulators))

    def _schedule_arrays(self, schedule: Schedule) -> tuple[np.ndarray, np.ndarray]:
        a = np.broadcast_to(schedule.activity_mbq, (self.batch, schedule.n_injections))
        n = np.broadcast_to(schedule.ligand_nmol, (self.batch, schedule.n_injections))
        hot_nmol = a / self.ligand.molar_activity_mbq_per_nmol
        if np.any(hot_nmol > n * (1 + 1e-12)):
            worst = float(np.max(hot_nmol - n))
            raise TwinParameterError(f"the injected activity needs more labelled ligand than the ligand amount "
                                     f"(excess {worst:.3g} nmol): raise ligand_nmol or lower activity_mbq")
        return a, n

    def solve_full(self, schedule: Schedule, t_out_h, *, horizon_h: float = DEFAULT_HORIZON_H,
                   rtol: float = 1e-6, with_accumulators: bool = True, stats: SolverStats | None = None) -> "FullSolution":
        """The hot/cold equations with the injections of ``schedule``; states at ``t_out_h``."""
        a, ntot = self._schedule_arrays(schedule)
        n, m = self.n_states, self.n_organs
        N = 2 * n + (3 * m if with_accumulators else 0)
        t_out = np.asarray(t_out_h, float)
        t_end = schedule.times_h[-1] + horizon_h
        grid = np.unique(np.concatenate([t_out, [t_end]]))
        y = np.zeros((self.batch, N))
        atol = np.concatenate([np.full(2 * n, 1e-9), np.full(N - 2 * n, 1e-9)])
        out = np.zeros((self.batch, grid.size, N))
        system = self.full_system(with_accumulators)
        bounds = list(schedule.times_h) + [np.inf]
        for k in range(schedule.n_injections):
            hot = a[:, k] / self.ligand.molar_activity_mbq_per_nmol
            y[:, 0] += hot
            y[:, n] += ntot[:, k] - hot
            sel = (grid >= bounds[k]) & (grid < bounds[k + 1])
            seg_end = min(bounds[k + 1], t_end)
            times = np.concatenate([grid[sel], [seg_end]])
            res = rosenbrock(system, y, bounds[k], times, rtol=rtol, atol=atol, stats=stats)
            out[:, sel] = res[:, :-1]
            y = res[:, -1]
        return FullSolution(self, grid, out, t_out, with_accumulators)

    # -- tagged solve: total ligand + one linear tag per injection --------------------------------
    def solve(self, schedule: Schedule, t_out_h=(), *, horizon_h: float = DEFAULT_HORIZON_H,
              rtol: float = 1e-5, stats: SolverStats | None = None, backend: str = "auto") -> "TwinSolution":
        """Total ligand and per-injection tags (per MBq) with TIA and Lea–Catcheside accumulators.

        ``backend``: ``"compiled"`` (numba, one patient at a time, :mod:`._compiled`), ``"numpy"``
        (the batched Rosenbrock of :mod:`.solver`, all systems taking the same steps) or ``"auto"``
        (compiled where numba is installed).  Both integrate the same equations with the same
        error control.
        """
        a, ntot = self._schedule_arrays(schedule)
        K = schedule.n_injections
        t_out = np.asarray(t_out_h, float)
        t_end = schedule.times_h[-1] + horizon_h
        if t_out.size and (np.any(~np.isfinite(t_out)) or t_out.min() < 0 or t_out.max() > t_end * (1 + 1e-12)):
            raise TwinParameterError(f"output times must be within 0-{t_end:g} h (last injection + horizon_h)")
        grid = np.unique(np.concatenate([t_out, [t_end]]))
        system = TaggedSystem(self, K)
        if backend not in ("auto", "compiled", "numpy"):
            raise TwinParameterError(f"backend must be 'auto', 'compiled' or 'numpy', got {backend!r}")
        from . import _compiled
        if backend == "compiled" and not _compiled.available():
            raise TwinParameterError("backend 'compiled' needs numba (pip install numba)")
        if backend == "compiled" or (backend == "auto" and _compiled.available()):
            out = self._solve_compiled(schedule, ntot, grid, t_end, rtol, system, stats)
            return TwinSolution(self, schedule, grid, out, t_out, system, a)
        y = np.zeros((self.batch, system.size))
        out = np.zeros((self.batch, grid.size, system.size))
        bounds = list(schedule.times_h) + [np.inf]
        for k in range(K):
            y[:, 0] += ntot[:, k]
            y[:, system.tag_slice(k).start] = 1.0          # 1 MBq of tag k into plasma
            sel = (grid >= bounds[k]) & (grid < bounds[k + 1])
            seg_end = min(bounds[k + 1], t_end)
            times = np.concatenate([grid[sel], [seg_end]])
            res = rosenbrock(system, y, bounds[k], times, rtol=rtol, atol=system.atol, stats=stats)
            out[:, sel] = res[:, :-1]
            y = res[:, -1]
        return TwinSolution(self, schedule, grid, out, t_out, system, a)

    def _solve_compiled(self, schedule, ntot, grid, t_end, rtol, system, stats):
        from ._compiled import solve_tagged
        from .solver import SolverError
        out = np.zeros((self.batch, grid.size, system.size))
        kvi = self.k_on[:, None] / self.interstitial_l
        times = np.ascontiguousarray(schedule.times_h, dtype=float)
        ii, ib = self._ii.astype(np.int64), self._ib.astype(np.int64)
        mu = np.ascontiguousarray(self.repair_rate_per_h, dtype=float)
        atol = np.ascontiguousarray(system.atol)
        for b in range(self.batch):
            res, steps, rejected = solve_tagged(np.ascontiguousarray(self.A[b]), np.ascontiguousarray(self.receptor_nmol[b]),
                                                np.ascontiguousarray(kvi[b]), ii, ib, float(self.lambda_phys_per_h), mu,
                                                times, np.ascontiguousarray(ntot[b], dtype=float), grid, float(t_end),
                                                float(rtol), atol, 1e-5, 200000)
            if steps < 0:
                raise SolverError(f"{self.patients[b].patient_id}: " + ("step size underflow" if steps == -1 else
                                                                         "more than 200000 steps"))
            out[b] = res
            if stats is not None:
                stats.steps += steps
                stats.rejected += rejected
                stats.rhs_calls += 2 * (steps + rejected) + schedule.n_injections
        return out


class TaggedSystem:
    """y = [L (n) | h_1 … h_K (n each) | q (K·m) | z (K·m) | g (K·m)] with a block solve.

    L' = A L + E b(L);  h_k' = (A − λ) h_k + E k_on (h_k,I/V_I)(R − B_L);
    per organ o and tag k, with a = Σ_{c∈o} h_k,c:  q' = a,  z' = a − μ_o z,  g' = a z.
    (I − γhJ) is block lower-triangular: L first, then all tags with one shared matrix, then the
    accumulators in closed form.
    """

    def __init__(self, model: PBPKModel, n_tags: int):
        self.m = model
        self.K = n_tags
        n, mo = model.n_states, model.n_organs
        self.n, self.mo = n, mo
        self.size = n + n_tags * n + 3 * n_tags * mo
        self.atol = np.concatenate([np.full(n, 1e-8), np.full(n_tags * n, 1e-10), np.full(3 * n_tags * mo, 1e-10)])

    def tag_slice(self, k: int) -> slice:
        return slice(self.n + k * self.n, self.n + (k + 1) * self.n)

    def split(self, y):
        n, K, mo = self.n, self.K, self.mo
        B = y.shape[0]
        L = y[:, :n]
        H = y[:, n:n + K * n].reshape(B, K, n)
        acc = y[:, n + K * n:].reshape(B, 3, K, mo)
        return L, H, acc

    def rhs(self, y):
        m = self.m
        L, H, acc = self.split(y)
        out = np.empty_like(y)
        dL, dH, dacc = self.split(out)
        dL[:] = m.total_rhs(L)
        free = m.receptor_nmol - L[:, m._ib]                                    # (B, mo)
        np.matmul(H, m.A_T, out=dH)
        dH -= m.lambda_phys_per_h * H
        fh = (m.k_on[:, None] / m.interstitial_l * free)[:, None] * H[:, :, m._ii]
        dH[:, :, m._ii] -= fh
        dH[:, :, m._ib] += fh
        a = H @ m.membership.T                                                  # (B, K, mo)
        z = acc[:, 1]
        dacc[:, 0] = a
        dacc[:, 1] = a - m.repair_rate_per_h * z
        dacc[:, 2] = a * z
        return out

    def factor(self, y, gh):
        m, n = self.m, self.n
        L, H, acc = self.split(y)
        B = y.shape[0]
        eye = np.eye(n)[None]
        winv_L = np.linalg.inv(eye - gh * m.total_jac(L))
        Jh = m.A - m.lambda_phys_per_h * eye
        kvi = m.k_on[:, None] / m.interstitial_l
        bi = np.arange(B)[:, None]
        Jh = Jh.copy()
        d_di = kvi * (m.receptor_nmol - L[:, m._ib])
        Jh[bi, m._ii, m._ii] -= d_di
        Jh[bi, m._ib, m._ii] += d_di
        winv_H_T = np.linalg.inv(eye - gh * Jh).transpose(0, 2, 1)
        coupling = kvi[:, None] * H[:, :, m._ii]                               # d fh / d(-B_L), (B, K, mo)
        a = H @ m.membership.T
        z = acc[:, 1]
        mu = m.repair_rate_per_h
        K, mo = self.K, self.mo

        def solve(r):
            rL, rH, racc = self.split(r)
            k = np.empty_like(r)
            kL, kH, kacc = self.split(k)
            kL[:] = (winv_L @ rL[:, :, None])[:, :, 0]
            # J_hL kL: flux_h depends on B_L with d fh/dB_L = -coupling
            t = rH.copy()
            dB = kL[:, m._ib][:, None] * coupling                              # (B, K, mo)
            t[:, :, m._ii] += gh * dB
            t[:, :, m._ib] -= gh * dB
            np.matmul(t, winv_H_T, out=kH)
            pk = kH @ m.membership.T                                            # (B, K, mo)
            kacc[:, 0] = racc[:, 0] + gh * pk
            kacc[:, 1] = (racc[:, 1] + gh * pk) / (1 + gh * mu)
            kacc[:, 2] = racc[:, 2] + gh * (z * pk + a * kacc[:, 1])
            return k

        return solve


@dataclass
class FullSolution:
    """States of the hot/cold model: ``y`` (B, T, N) at ``t_h``."""

    model: PBPKModel
    t_h: np.ndarray
    y: np.ndarray
    t_requested: np.ndarray
    with_accumulators: bool

    def _rows(self, t_h=None):
        t = self.t_requested if t_h is None else np.asarray(t_h, float)
        idx = np.searchsorted(self.t_h, t)
        if np.any(idx >= self.t_h.size) or np.any(np.abs(self.t_h[np.minimum(idx, self.t_h.size - 1)] - t) > 1e-9):
            raise KeyError("times not in the solution grid")
        return idx

    @property
    def hot_nmol(self) -> np.ndarray:
        return self.y[:, :, :self.model.n_states]

    @property
    def cold_nmol(self) -> np.ndarray:
        n = self.model.n_states
        return self.y[:, :, n:2 * n]

    def organ_activity_mbq(self, organ: str) -> np.ndarray:
        """Activity in an organ (B, T) at the requested times."""
        idx = self._rows()
        cols = self.model.organ_indices(organ)
        return self.hot_nmol[:, idx][:, :, cols].sum(-1) * self.model.ligand.molar_activity_mbq_per_nmol

    def accumulators(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(q, z, g) per organ at the end of the horizon, each (B, m); q is the TIA in MBq·h."""
        if not self.with_accumulators:
            raise ValueError("solved without accumulators")
        n, m = self.model.n_states, self.model.n_organs
        last = self.y[:, -1]
        return last[:, 2 * n:2 * n + m], last[:, 2 * n + m:2 * n + 2 * m], last[:, 2 * n + 2 * m:]


@dataclass
class TwinSolution:
    """Tagged solution: total ligand, per-injection activity per MBq and accumulators."""

    model: PBPKModel
    schedule: Schedule
    t_h: np.ndarray
    y: np.ndarray
    t_requested: np.ndarray
    system: TaggedSystem
    activity_mbq: np.ndarray

    def _rows(self, t_h=None):
        t = self.t_requested if t_h is None else np.asarray(t_h, float)
        idx = np.searchsorted(self.t_h, t)
        if np.any(idx >= self.t_h.size) or np.any(np.abs(self.t_h[np.minimum(idx, self.t_h.size - 1)] - t) > 1e-9):
            raise KeyError("times not in the solution grid")
        return idx

    @property
    def ligand_nmol(self) -> np.ndarray:
        """Total ligand per compartment (B, T, n) at the requested times."""
        return self.y[:, self._rows(), :self.model.n_states]

    def tag_per_mbq(self) -> np.ndarray:
        """Activity per MBq injected of each injection and compartment, (B, T, K, n)."""
        L, H, _ = self.system.split(self.y[:, self._rows()].reshape(-1, self.system.size))
        B = self.y.shape[0]
        return H.reshape(B, -1, self.system.K, self.model.n_states)

    def organ_activity_per_mbq(self, organ: str) -> np.ndarray:
        """(B, T, K): activity in ``organ`` per MBq of each injection."""
        return self.tag_per_mbq()[..., self.model.organ_indices(organ)].sum(-1)

    def organ_activity_mbq(self, organ: str, activity_mbq=None) -> np.ndarray:
        """(B, T): activity in ``organ`` for the schedule's (or the given) activities."""
        a = self.activity_mbq if activity_mbq is None else np.broadcast_to(activity_mbq, self.activity_mbq.shape)
        return np.einsum("btk,bk->bt", self.organ_activity_per_mbq(organ), a)

    def _acc(self):
        _, H, acc = self.system.split(self.y[:, -1])
        return H, acc

    def tia_h_per_mbq(self) -> np.ndarray:
        """(B, K, m): time-integrated activity per MBq injected (MBq·h/MBq), physical-decay tail added."""
        H, acc = self._acc()
        tail = (H @ self.model.membership.T) / self.model.lambda_phys_per_h
        return acc[:, 0] + tail

    def lea_catcheside_g(self) -> np.ndarray:
        """(B, K, m): G = 2 g / q² of each injection's activity curve in each organ (tail neglected)."""
        _, acc = self._acc()
        q, g = acc[:, 0], acc[:, 2]
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(q > 0, 2 * g / q ** 2, 0.0)


__all__ = ["PBPKModel", "Schedule", "TaggedSystem", "TwinSolution", "FullSolution", "SUBCOMPARTMENTS",
           "repair_half_time_h", "DEFAULT_HORIZON_H"]
