"""Time-activity curve fitting, model selection and time-integrated activity (TIA).

Every model is a sum of exponentials ``f(t) = Σ c_i e^{−b_i t}`` whose
amplitudes ``c`` and rates ``b`` are simple functions of the fitted parameters,
so evaluation, Jacobians, closed-form integrals and their gradients are shared:

* ∫_{t0}^{t1} c e^{−bt} dt = c (e^{−b t0} − e^{−b t1}) / b, and ∫_0^∞ = c / b.

Models (``MODELS``; λ_phys from :mod:`theranomics.nuclides`):

==========================  ==============================================  ===
name                        f(t)                                            K
==========================  ==============================================  ===
``physical_decay``          A e^{−λ_phys t}                                 1
``mono_exp``                A e^{−λ t}                                      2
``uptake_physical_decay``   A (e^{−λ_phys t} − e^{−(λ_phys+λ_u) t})         2
``bi_exp_uptake``           A (e^{−λ1 t} − e^{−λ2 t})                       3
``bi_exp``                  A1 e^{−λ1 t} + A2 e^{−λ2 t}  (λ1 ≥ λ2)          4
``tri_exp``                 A1 e^{−λ1 t} + A2 e^{−λ2 t} − (A1+A2) e^{−λ3 t}  5
==========================  ==============================================  ===

All models describe *measured* activity (not decay-corrected); a decay-corrected
TAC is converted first (:meth:`TimeActivityCurve.as_measured`).  Fits are
weighted least squares (``scipy.optimize.least_squares``, residuals (f − A)/σ,
i.e. weights 1/σ²) with amplitudes and rates bounded at ≥ 0
(``constrain_rates=True``), started from several rate guesses whose amplitudes
are solved linearly (variable projection).

Model selection by the corrected Akaike criterion (Glatting et al., Med Phys 34
(2007) 4068; Kletting et al., Med Phys 40 (2013) 102504):
AICc = N ln(WRSS/N) + 2K + 2K(K+1)/(N − K − 1), defined only when N > K + 1.
:func:`select_model` records every excluded model with its reason (N ≤ K + 1, no
nuclide, not converged, infinite integral).

The rule the dosimetry workflow applies on top (:mod:`theranomics.dosimetry.workflow`,
reported per VOI in ``excluded_models`` and in ``summary.json``):

* **Few time points.**  With N = 4 only 1- and 2-parameter models have N > K + 1; with
  N = 3 only 1-parameter models.  ``physical_decay`` (K = 1) is *not* a candidate by
  default: its small-sample penalty is so much lower that it beats ``mono_exp`` unless its
  residuals are ~20× larger, which over-estimated the TIA of cleared VOIs by up to 40 % on
  simulated patients.  Candidates are therefore ``mono_exp``, ``uptake_physical_decay``,
  ``bi_exp_uptake``, ``bi_exp``, ``tri_exp`` (as many as N allows).
* **Per-point uncertainty.**  Each activity carries σ² = σ²_Poisson + (0.05·A)² (5 %
  reconstruction/VOI noise, ``activity_rel_sigma``): Poisson σ alone is far too small for
  WRSS to weigh model misfit.
* **N = 3** (no candidate with N > K + 1): ``mono_exp`` is fitted alone, without AICc
  (flag ``mono_exp_without_aicc``); **N = 2** or a failed fit: trapezoid with a
  physical-decay tail (flag ``trapezoid_fallback``).

TIA uncertainty follows the EANM guidance (Gear et al., EJNMMI 45 (2018)
2456–2474): σ²_fit = ∇TIA · Cov(p) · ∇TIAᵀ with the analytic gradient of the
closed-form integral, plus the relative calibration and VOI uncertainties,
which scale every time point alike, added in quadrature:
σ²_TIA = σ²_fit + (u_cal·TIA)² + (u_VOI·TIA)².
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

import numpy as np
from scipy.optimize import least_squares

from .. import nuclides
from .tac import TACError, TimeActivityCurve, VoxelTACStack


class FitError(ValueError):
    """A model that cannot be fitted to a TAC (too few points, missing nuclide, nothing eligible)."""


# ----------------------------------------------------------------------------------------------
# models
# ----------------------------------------------------------------------------------------------
Terms = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # c, b, dc/dp, db/dp


def _t_physical(p, lp):
    return (np.array([p[0]]), np.array([lp]), np.array([[1.0]]), np.array([[0.0]]))


def _t_mono(p, lp):
    return (np.array([p[0]]), np.array([p[1]]), np.array([[1.0, 0.0]]), np.array([[0.0, 1.0]]))


def _t_uptake_physical(p, lp):
    a, lu = p
    return (np.array([a, -a]), np.array([lp, lp + lu]),
            np.array([[1.0, 0.0], [-1.0, 0.0]]), np.array([[0.0, 0.0], [0.0, 1.0]]))


def _t_bi_uptake(p, lp):
    a, l1, l2 = p
    return (np.array([a, -a]), np.array([l1, l2]),
            np.array([[1.0, 0, 0], [-1.0, 0, 0]]), np.array([[0.0, 1, 0], [0.0, 0, 1]]))


def _t_bi(p, lp):
    a1, l1, a2, l2 = p
    return (np.array([a1, a2]), np.array([l1, l2]),
            np.array([[1.0, 0, 0, 0], [0.0, 0, 1, 0]]), np.array([[0.0, 1, 0, 0], [0.0, 0, 0, 1]]))


def _t_tri(p, lp):
    a1, l1, a2, l2, l3 = p
    return (np.array([a1, a2, -(a1 + a2)]), np.array([l1, l2, l3]),
            np.array([[1.0, 0, 0, 0, 0], [0.0, 0, 1, 0, 0], [-1.0, 0, -1, 0, 0]]),
            np.array([[0.0, 1, 0, 0, 0], [0.0, 0, 0, 1, 0], [0.0, 0, 0, 0, 1]]))


@dataclass(frozen=True)
class ExponentialModel:
    """A TAC model written as a sum of exponentials (see the module table)."""

    name: str
    param_names: tuple[str, ...]
    formula: str
    amplitude_index: tuple[int, ...]
    rate_index: tuple[int, ...]
    uses_physical_decay: bool
    _terms: Callable = field(repr=False, compare=False)

    @property
    def n_params(self) -> int:
        return len(self.param_names)

    def terms(self, params, lambda_phys_per_h: float | None = None) -> Terms:
        """(amplitudes c, rates b, ∂c/∂p, ∂b/∂p) of f(t) = Σ c_i e^{−b_i t}."""
        params = np.asarray(params, dtype=float)
        if params.shape != (self.n_params,):
            raise FitError(f"model {self.name!r} takes {self.n_params} parameters {self.param_names}, "
                           f"got {params.shape}")
        if self.uses_physical_decay and lambda_phys_per_h is None:
            raise FitError(f"model {self.name!r} needs the physical decay constant (set the TAC's nuclide)")
        return self._terms(params, lambda_phys_per_h)

    def evaluate(self, time_h, params, lambda_phys_per_h: float | None = None) -> np.ndarray:
        """f(t) in MBq."""
        c, b, _, _ = self.terms(params, lambda_phys_per_h)
        t = np.asarray(time_h, dtype=float)
        return np.exp(-np.multiply.outer(t, b)) @ c

    def jacobian(self, time_h, params, lambda_phys_per_h: float | None = None) -> np.ndarray:
        """∂f(t)/∂p, shape (n_times, K): Σ_i e^{−b_i t} ∂c_i/∂p − c_i t e^{−b_i t} ∂b_i/∂p."""
        c, b, dc, db = self.terms(params, lambda_phys_per_h)
        t = np.asarray(time_h, dtype=float)
        e = np.exp(-np.multiply.outer(t, b))
        return e @ dc - (e * c * t[:, None]) @ db

    def integral(self, params, lambda_phys_per_h: float | None = None, t_start_h: float = 0.0,
                 t_end_h: float = math.inf) -> tuple[float, np.ndarray]:
        """Closed-form ∫_{t_start}^{t_end} f dt (MBq·h) and its gradient with respect to the parameters."""
        c, b, dc, db = self.terms(params, lambda_phys_per_h)
        phi, dphi = _exp_integral(b, float(t_start_h), float(t_end_h))
        value = float(c @ phi)
        if not np.isfinite(value):
            return value, np.full(self.n_params, np.nan)
        grad = phi @ dc + (c * dphi) @ db
        return value, grad


def _exp_integral(b: np.ndarray, t0: float, t1: float) -> tuple[np.ndarray, np.ndarray]:
    """φ(b) = ∫_{t0}^{t1} e^{−bt} dt and dφ/db, elementwise (b = 0 handled; t1 may be ∞)."""
    phi = np.empty_like(b)
    dphi = np.empty_like(b)
    for i, bi in enumerate(b):
        if math.isinf(t1):
            if bi <= 0:
                phi[i], dphi[i] = math.inf, -math.inf
            else:
                e0 = math.exp(-bi * t0)
                phi[i] = e0 / bi
                dphi[i] = -e0 * (t0 / bi + 1.0 / bi ** 2)
        elif abs(bi) * max(t1, 1e-300) < 1e-8:  # series: φ = Δt − b(t1² − t0²)/2
            phi[i] = (t1 - t0) - bi * (t1 ** 2 - t0 ** 2) / 2
            dphi[i] = -(t1 ** 2 - t0 ** 2) / 2
        else:
            e0, e1 = math.exp(-bi * t0), math.exp(-bi * t1)
            phi[i] = (e0 - e1) / bi
            dphi[i] = (t1 * e1 - t0 * e0) / bi - (e0 - e1) / bi ** 2
    return phi, dphi


MODELS: tuple[ExponentialModel, ...] = (
    ExponentialModel("physical_decay", ("A_mbq",), "A·exp(-λ_phys·t)", (0,), (), True, _t_physical),
    ExponentialModel("mono_exp", ("A_mbq", "lambda_per_h"), "A·exp(-λ·t)", (0,), (1,), False, _t_mono),
    ExponentialModel("uptake_physical_decay", ("A_mbq", "lambda_uptake_per_h"),
                     "A·(exp(-λ_phys·t) - exp(-(λ_phys+λu)·t))", (0,), (1,), True, _t_uptake_physical),
    ExponentialModel("bi_exp_uptake", ("A_mbq", "lambda1_per_h", "lambda2_per_h"),
                     "A·(exp(-λ1·t) - exp(-λ2·t))", (0,), (1, 2), False, _t_bi_uptake),
    ExponentialModel("bi_exp", ("A1_mbq", "lambda1_per_h", "A2_mbq", "lambda2_per_h"),
                     "A1·exp(-λ1·t) + A2·exp(-λ2·t)", (0, 2), (1, 3), False, _t_bi),
    ExponentialModel("tri_exp", ("A1_mbq", "lambda1_per_h", "A2_mbq", "lambda2_per_h", "lambda3_per_h"),
                     "A1·exp(-λ1·t) + A2·exp(-λ2·t) - (A1+A2)·exp(-λ3·t)", (0, 2), (1, 3, 4), False, _t_tri),
)
_BY_NAME = {m.name: m for m in MODELS}


def get_model(model: str | ExponentialModel) -> ExponentialModel:
    """A model by name (see ``MODELS``)."""
    if isinstance(model, ExponentialModel):
        return model
    try:
        return _BY_NAME[model]
    except KeyError:
        raise FitError(f"unknown TAC model {model!r}; expected one of {list(_BY_NAME)}") from None


# ----------------------------------------------------------------------------------------------
# results
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TIAResult:
    """A time-integrated activity with its uncertainty budget (all in MBq·h)."""

    tia_mbq_h: float
    sigma_mbq_h: float
    sigma_fit_mbq_h: float
    sigma_calibration_mbq_h: float
    sigma_voi_mbq_h: float
    method: str
    t_start_h: float = 0.0
    t_end_h: float = math.inf
    flags: tuple[str, ...] = ()

    @property
    def relative_sigma(self) -> float:
        return self.sigma_mbq_h / self.tia_mbq_h if self.tia_mbq_h else math.nan


def _combine_uncertainty(tia: float, sigma_fit: float, calibration_rel_sigma: float, voi_rel_sigma: float,
                         method: str, t0: float, t1: float, flags) -> TIAResult:
    for name, value in (("calibration_rel_sigma", calibration_rel_sigma), ("voi_rel_sigma", voi_rel_sigma)):
        if not (np.isfinite(value) and value >= 0):
            raise FitError(f"{name} must be a finite relative uncertainty >= 0 (e.g. 0.05 for 5 %), got {value}")
    s_cal = abs(tia) * calibration_rel_sigma
    s_voi = abs(tia) * voi_rel_sigma
    total = math.sqrt(sigma_fit ** 2 + s_cal ** 2 + s_voi ** 2) if np.isfinite(sigma_fit) else math.nan
    return TIAResult(tia, total, sigma_fit, s_cal, s_voi, method, t0, t1, tuple(flags))


@dataclass(frozen=True, eq=False)
class FitResult:
    """A fitted TAC model.  ``flags`` name anything non-physical or doubtful; nothing is hidden.

    Flags: ``not_converged``; ``negative_rate``; ``rate_at_zero_bound`` (λ·t_max < 1e-9, no decay
    seen); ``negative_terminal_amplitude``; ``slower_than_physical_decay`` (terminal λ < λ_phys:
    effective half-life longer than physical, impossible without re-uptake); ``infinite_tia``;
    ``covariance_singular``; ``covariance_undefined`` (N = K with unknown σ); ``parameter_at_bound``.
    """

    model: ExponentialModel
    params: np.ndarray
    covariance: np.ndarray
    tac: TimeActivityCurve
    wrss: float
    converged: bool
    flags: tuple[str, ...]
    message: str = ""

    @property
    def n_points(self) -> int:
        return self.tac.n_points

    @property
    def n_params(self) -> int:
        return self.model.n_params

    @property
    def lambda_phys_per_h(self) -> float | None:
        return self.tac.physical_decay_constant_per_h

    @property
    def params_dict(self) -> dict[str, float]:
        return dict(zip(self.model.param_names, map(float, self.params)))

    @property
    def param_sigma(self) -> np.ndarray:
        return np.sqrt(np.clip(np.diag(self.covariance), 0, None))

    @property
    def aicc(self) -> float | None:
        """AICc, or ``None`` when N ≤ K + 1 (not defined)."""
        if self.n_points <= self.n_params + 1:
            return None
        return aicc(_floored_wrss(self.wrss, self.tac), self.n_points, self.n_params)

    @property
    def terminal_rate_per_h(self) -> float:
        """Slowest rate with a non-zero amplitude: the effective (terminal) decay constant."""
        c, b, _, _ = self.model.terms(self.params, self.lambda_phys_per_h)
        nz = np.abs(c) > 0
        return float(b[nz].min()) if nz.any() else math.nan

    @property
    def effective_half_life_h(self) -> float:
        lam = self.terminal_rate_per_h
        return math.log(2) / lam if lam > 0 else math.inf

    def evaluate(self, time_h) -> np.ndarray:
        """Fitted activity (MBq) at ``time_h``."""
        return self.model.evaluate(time_h, self.params, self.lambda_phys_per_h)

    def tia(self, t_end_h: float = math.inf, t_start_h: float = 0.0, calibration_rel_sigma: float = 0.0,
            voi_rel_sigma: float = 0.0) -> TIAResult:
        """TIA = ∫_{t_start}^{t_end} f dt (closed form) with the EANM uncertainty budget (module doc)."""
        if not (0 <= t_start_h < t_end_h):
            raise FitError(f"need 0 <= t_start_h < t_end_h, got {t_start_h} and {t_end_h}")
        value, grad = self.model.integral(self.params, self.lambda_phys_per_h, t_start_h, t_end_h)
        flags = list(self.flags)
        if not np.isfinite(value):
            sigma_fit = math.nan
            if "infinite_tia" not in flags:
                flags.append("infinite_tia")
        else:
            sigma_fit = float(math.sqrt(max(grad @ self.covariance @ grad, 0.0))) \
                if np.all(np.isfinite(self.covariance)) else math.nan
        return _combine_uncertainty(value, sigma_fit, calibration_rel_sigma, voi_rel_sigma, self.model.name,
                                    t_start_h, t_end_h, flags)

    def tia_mbq_h(self, t_end_h: float = math.inf, t_start_h: float = 0.0) -> float:
        return self.tia(t_end_h, t_start_h).tia_mbq_h


def aicc(wrss: float, n_points: int, n_params: int) -> float:
    """AICc = N ln(WRSS/N) + 2K + 2K(K+1)/(N−K−1) (Glatting 2007); needs N > K + 1."""
    if n_points <= n_params + 1:
        raise FitError(f"AICc needs N > K + 1 time points; got N={n_points}, K={n_params}")
    if not (wrss > 0 and np.isfinite(wrss)):
        raise FitError(f"AICc needs a positive finite weighted residual sum of squares, got {wrss}")
    n, k = n_points, n_params
    return n * math.log(wrss / n) + 2 * k + 2 * k * (k + 1) / (n - k - 1)


def _floored_wrss(wrss: float, tac: TimeActivityCurve) -> float:
    """WRSS floored at N·(1e-9·max|A/σ|)² so that exact (noiseless) fits give a finite AICc."""
    sigma = tac.sigma_mbq if tac.sigma_mbq is not None else np.ones(tac.n_points)
    scale = float(np.max(np.abs(tac.activity_mbq / sigma))) or 1.0
    return max(wrss, tac.n_points * (1e-9 * scale) ** 2)


# ----------------------------------------------------------------------------------------------
# fitting
# ----------------------------------------------------------------------------------------------
def _rate_grid(t: np.ndarray, lp: float | None, terminal: float) -> np.ndarray:
    tpos = t[t > 0]
    t_lo = tpos.min() if tpos.size else 1.0
    t_hi = t.max() if t.max() > 0 else 1.0
    grid = list(np.geomspace(0.3 / t_hi, 3.0 / t_lo, 8))
    grid.append(terminal)
    if lp is not None:
        grid.append(lp)
    return np.unique(np.round(np.asarray(grid, dtype=float), 15))


def _terminal_rate(t: np.ndarray, a: np.ndarray, lp: float | None) -> float:
    pos = a > 0
    tt, aa = t[pos][-3:], a[pos][-3:]
    if tt.size >= 2:
        slope = np.polyfit(tt, np.log(aa), 1)[0]
        if slope < 0:
            return float(-slope)
    return lp if lp is not None else math.log(2) / max(float(t.max()), 1e-6)


def _rate_starts(model: ExponentialModel, grid: np.ndarray) -> list[np.ndarray]:
    """Candidate rate vectors for the model's rate parameters."""
    r = len(model.rate_index)
    if r == 0:
        return [np.empty(0)]
    if model.name == "uptake_physical_decay":
        return [np.array([g]) for g in grid]
    if r == 1:
        return [np.array([g]) for g in grid]
    if model.name == "bi_exp_uptake":
        return [np.array([lo, hi]) for lo, hi in itertools.combinations(grid, 2)]
    if model.name == "bi_exp":
        return [np.array([hi, lo]) for lo, hi in itertools.combinations(grid, 2)]
    if model.name == "tri_exp":
        return [np.array([mid, lo, hi]) for lo, mid, hi in itertools.combinations(grid, 3)]
    return [np.array(x) for x in itertools.combinations(grid, r)]


def _project_amplitudes(model, rates, t, a, w, lp, bounded):
    """Weighted linear LSQ of the amplitudes for fixed rates; returns (params, cost)."""
    k = model.n_params
    p = np.zeros(k)
    p[list(model.rate_index)] = rates
    cols = []
    for idx in model.amplitude_index:
        q = p.copy()
        q[idx] = 1.0
        for other in model.amplitude_index:
            if other != idx:
                q[other] = 0.0
        cols.append(model.evaluate(t, q, lp))
    X = np.column_stack(cols) * w[:, None]
    amp, *_ = np.linalg.lstsq(X, a * w, rcond=None)
    if bounded:
        amp = np.clip(amp, 0.0, None)
    p[list(model.amplitude_index)] = amp
    cost = float(np.sum(((model.evaluate(t, p, lp) - a) * w) ** 2))
    return p, cost


def _canonical_order(model: ExponentialModel, p: np.ndarray, cov: np.ndarray):
    """bi_exp: λ1 ≥ λ2 (fast component first); tri_exp: the same for the two clearance terms."""
    if model.name in ("bi_exp", "tri_exp") and p[1] < p[3]:
        perm = np.arange(model.n_params)
        perm[[0, 1, 2, 3]] = [2, 3, 0, 1]
        return p[perm], cov[np.ix_(perm, perm)]
    return p, cov


def fit_model(tac: TimeActivityCurve, model: str | ExponentialModel, *, constrain_rates: bool = True,
              absolute_sigma: bool | None = None, n_starts: int = 3) -> FitResult:
    """Weighted least-squares fit of one model to a TAC.

    Residuals are (f(t_i) − A_i)/σ_i (weights 1/σ²); σ = 1 when the TAC has no
    ``sigma_mbq``.  ``absolute_sigma`` (default: True when σ is given) takes σ
    as known, Cov = (JᵀJ)⁻¹; otherwise Cov is scaled by WRSS/(N − K).
    ``constrain_rates`` bounds amplitudes and rates at ≥ 0; without it,
    negative rates can occur and are flagged.
    """
    if not isinstance(tac, TimeActivityCurve):
        raise FitError(f"fit_model needs a TimeActivityCurve, got {type(tac).__name__}")
    model = get_model(model)
    tac = tac.as_measured()
    n, k = tac.n_points, model.n_params
    if n < k:
        raise FitError(f"model {model.name!r} has K={k} parameters but TAC {tac.voi!r} has only N={n} time points")
    lp = tac.physical_decay_constant_per_h
    if model.uses_physical_decay and lp is None:
        raise FitError(f"model {model.name!r} needs the physical decay constant; TAC {tac.voi!r} has no nuclide")
    t, a = tac.time_h, tac.activity_mbq
    sigma = tac.sigma_mbq if tac.sigma_mbq is not None else np.ones(n)
    absolute = (tac.sigma_mbq is not None) if absolute_sigma is None else bool(absolute_sigma)
    w = 1.0 / sigma

    grid = _rate_grid(t, lp, _terminal_rate(t, a, lp))
    starts = sorted((_project_amplitudes(model, r, t, a, w, lp, True) for r in _rate_starts(model, grid)),
                    key=lambda pc: pc[1])[:max(1, n_starts)]

    def fun(p):
        return (model.evaluate(t, p, lp) - a) * w

    def jac(p):
        return model.jacobian(t, p, lp) * w[:, None]

    lower = np.zeros(k) if constrain_rates else np.full(k, -np.inf)
    best = None
    for p0, _ in starts:
        p0 = np.maximum(p0, 0.0) if constrain_rates else p0
        res = least_squares(fun, p0, jac=jac, bounds=(lower, np.full(k, np.inf)), method="trf",
                            x_scale="jac", xtol=1e-13, ftol=1e-13, gtol=1e-13, max_nfev=500 * k)
        if best is None or res.cost < best.cost or (not best.success and res.success):
            best = res
    p = best.x
    converged = bool(best.success and best.status > 0)
    flags: list[str] = [] if converged else ["not_converged"]

    J = jac(p)
    wrss = float(np.sum(fun(p) ** 2))
    jtj = J.T @ J
    if np.linalg.matrix_rank(jtj) < k:
        cov = np.full((k, k), np.inf)
        flags.append("covariance_singular")
    else:
        cov = np.linalg.inv(jtj)
        if not absolute:
            if n > k:
                cov = cov * wrss / (n - k)
            else:
                cov = np.full((k, k), np.nan)
                flags.append("covariance_undefined")
    p, cov = _canonical_order(model, p, cov)

    rates = p[list(model.rate_index)]
    if np.any(rates < 0):
        flags.append("negative_rate")
    if constrain_rates and np.any(rates * t.max() < 1e-9):  # trf stays interior: "zero" is e^{-λ t_max} ≈ 1
        flags.append("rate_at_zero_bound")
    amps = p[list(model.amplitude_index)]
    if constrain_rates and np.any(amps <= 1e-9 * max(float(np.max(a)), 1e-300)):
        flags.append("parameter_at_bound")
    c, b, _, _ = model.terms(p, lp)
    nz = np.abs(c) > 0
    if nz.any():
        slowest = int(np.flatnonzero(nz)[np.argmin(b[nz])])
        if c[slowest] < 0:
            flags.append("negative_terminal_amplitude")
        if lp is not None and b[slowest] < lp * (1 - 1e-9):
            flags.append("slower_than_physical_decay")
    value, _ = model.integral(p, lp)
    if not np.isfinite(value):
        flags.append("infinite_tia")
    return FitResult(model, p, cov, tac, wrss, converged, tuple(dict.fromkeys(flags)), str(best.message))


# ----------------------------------------------------------------------------------------------
# model selection
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class ModelSelection:
    """AICc model selection: the chosen fit, every fitted candidate, and why others were excluded."""

    best: FitResult
    fits: Mapping[str, FitResult]
    aicc: Mapping[str, float]
    excluded: Mapping[str, str]
    delta_aicc: float

    @property
    def akaike_weights(self) -> dict[str, float]:
        """w_i = exp(−Δ_i/2) / Σ exp(−Δ_j/2) over the models that competed."""
        values = np.array(list(self.aicc.values()))
        rel = np.exp(-(values - values.min()) / 2)
        return dict(zip(self.aicc, rel / rel.sum()))


def choose_by_aicc(aicc_values: Mapping[str, float], n_params: Mapping[str, int], delta_aicc: float = 2.0) -> str:
    """Lowest AICc, but the model with fewest parameters among those within ``delta_aicc`` of it wins."""
    if not aicc_values:
        raise FitError("no model to choose from")
    best = min(aicc_values.values())
    close = [m for m, v in aicc_values.items() if v - best <= delta_aicc]
    return min(close, key=lambda m: (n_params[m], aicc_values[m]))


def select_model(tac: TimeActivityCurve, models: Sequence[str] | None = None, *, delta_aicc: float = 2.0,
                 constrain_rates: bool = True, absolute_sigma: bool | None = None) -> ModelSelection:
    """Fit every eligible model and choose by AICc (prefer the simpler within ``delta_aicc``).

    A model is excluded (with the reason recorded) when N ≤ K + 1 (AICc
    undefined: with 3 points only 1-parameter models, with 4 points 1- and
    2-parameter models compete), when it needs a nuclide the TAC lacks, when the
    fit does not converge, or when its integral to infinity is infinite.
    """
    tac = tac.as_measured()
    names = [m.name for m in MODELS] if models is None else [get_model(m).name for m in models]
    n = tac.n_points
    fits: dict[str, FitResult] = {}
    values: dict[str, float] = {}
    excluded: dict[str, str] = {}
    for name in names:
        model = get_model(name)
        k = model.n_params
        if model.uses_physical_decay and tac.nuclide is None:
            excluded[name] = "needs the nuclide's physical decay constant; the TAC has no nuclide"
            continue
        if n <= k + 1:
            excluded[name] = f"AICc needs N > K + 1: N={n} time points, K={k} parameters"
            continue
        fit = fit_model(tac, model, constrain_rates=constrain_rates, absolute_sigma=absolute_sigma)
        fits[name] = fit
        if not fit.converged:
            excluded[name] = f"fit did not converge ({fit.message})"
        elif "infinite_tia" in fit.flags:
            excluded[name] = "integral to infinity is infinite (a clearance rate of zero)"
        else:
            values[name] = fit.aicc
    if not values:
        reasons = "; ".join(f"{m}: {r}" for m, r in excluded.items())
        raise FitError(f"no model could be selected for TAC {tac.voi!r} with N={n} points ({reasons}); "
                       "fit a fixed model with fit_model or use trapezoid_tia")
    chosen = choose_by_aicc(values, {m: get_model(m).n_params for m in values}, delta_aicc)
    return ModelSelection(fits[chosen], fits, values, excluded, delta_aicc)


# ----------------------------------------------------------------------------------------------
# trapezoid with tail
# ----------------------------------------------------------------------------------------------
def _trapezoid_value(t, a, head, tail, tail_points, lp):
    """TIA (MBq·h) and flags for the trapezoid rule with a head and a tail (see trapezoid_tia)."""
    flags = []
    head_part = a[0] * t[0] / 2 if head == "ramp" else a[0] * t[0]
    body = float(np.sum((a[1:] + a[:-1]) * np.diff(t) / 2))
    lam, a_last = lp, a[-1]
    if tail == "fit":
        tt, aa = t[-tail_points:], a[-tail_points:]
        coef = np.polyfit(tt, np.log(aa), 1) if np.all(aa > 0) else None
        lam_fit = -coef[0] if coef is not None else -math.inf
        if lp is not None and lam_fit < lp:
            flags.append("tail_rate_below_physical_used_physical")
        elif lp is None and not lam_fit > 0:
            raise FitError(f"the fitted tail over the last {tail_points} points does not decrease "
                           f"(λ = {lam_fit:g}/h) and the TAC has no nuclide to fall back on physical decay")
        else:  # the tail starts from the fitted line at the last time point
            lam, a_last = lam_fit, float(np.exp(np.polyval(coef, tt[-1])))
    tail_part = a_last / lam
    return head_part + body + tail_part, flags


def trapezoid_tia(tac: TimeActivityCurve, *, head: str = "ramp", tail: str = "physical", tail_points: int = 3,
                  calibration_rel_sigma: float = 0.0, voi_rel_sigma: float = 0.0) -> TIAResult:
    """TIA by the trapezoid rule between the time points, with a head and a tail.

    head ``"ramp"``: linear rise from A(0) = 0 to the first point, A_1·t_1/2;
    ``"constant"``: constant back-extrapolation, A_1·t_1.
    tail ``"physical"``: A_N/λ_phys from the last point; ``"fit"``: mono-exponential
    (log-linear) through the last ``tail_points`` (2 or 3) points, A_fit(t_N)/λ_fit;
    a fitted λ below λ_phys is replaced by λ_phys and flagged.
    σ_fit from the activities' σ by a numerical gradient (independent points).
    """
    if head not in ("ramp", "constant"):
        raise FitError(f"head must be 'ramp' or 'constant', got {head!r}")
    if tail not in ("physical", "fit"):
        raise FitError(f"tail must be 'physical' or 'fit', got {tail!r}")
    if tail_points not in (2, 3):
        raise FitError(f"tail_points must be 2 or 3, got {tail_points}")
    tac = tac.as_measured()
    lp = tac.physical_decay_constant_per_h
    if tail == "physical" and lp is None:
        raise FitError(f"a physical-decay tail needs the nuclide; TAC {tac.voi!r} has none")
    if tail == "fit" and tac.n_points < tail_points:
        raise FitError(f"a fitted tail over {tail_points} points needs at least {tail_points} time points, "
                       f"TAC {tac.voi!r} has {tac.n_points}")
    t, a = tac.time_h, tac.activity_mbq
    value, flags = _trapezoid_value(t, a, head, tail, tail_points, lp)
    if tac.sigma_mbq is None:
        sigma_fit = 0.0
        flags.append("no_activity_uncertainty")
    else:
        grad = np.empty(a.size)
        for i in range(a.size):
            h = 1e-6 * max(a[i], tac.sigma_mbq[i])
            up, dn = a.copy(), a.copy()
            up[i] += h
            dn[i] = max(dn[i] - h, 0.0)
            grad[i] = (_trapezoid_value(t, up, head, tail, tail_points, lp)[0]
                       - _trapezoid_value(t, dn, head, tail, tail_points, lp)[0]) / (up[i] - dn[i])
        sigma_fit = float(math.sqrt(np.sum((grad * tac.sigma_mbq) ** 2)))
    return _combine_uncertainty(value, sigma_fit, calibration_rel_sigma, voi_rel_sigma,
                                f"trapezoid_{head}_{tail}_tail", 0.0, math.inf, flags)


# ----------------------------------------------------------------------------------------------
# voxel-wise mono-exponential fitting
# ----------------------------------------------------------------------------------------------
VOXEL_METHODS = ("mono_exp", "trapezoid_physical_tail", "no_positive_activity", "unfittable")


@dataclass(frozen=True, eq=False)
class VoxelFitResult:
    """Per-voxel results of :func:`fit_voxels_mono_exp`; ``method`` indexes ``VOXEL_METHODS``."""

    a0_mbq: np.ndarray
    lambda_per_h: np.ndarray
    tia_mbq_h: np.ndarray
    method: np.ndarray
    stack: VoxelTACStack = field(repr=False)

    @property
    def counts(self) -> dict[str, int]:
        return {name: int(np.count_nonzero(self.method == i)) for i, name in enumerate(VOXEL_METHODS)}

    def tia_image(self):
        """TIA per voxel (MBq·h) on the stack's grid."""
        return self.stack.to_image(self.tia_mbq_h, unit="MBq*h")


def fit_voxels_mono_exp(stack: VoxelTACStack, *, weighting: str = "activity", min_points: int = 2) -> VoxelFitResult:
    """Vectorised mono-exponential fit of every voxel: weighted linear LSQ of ln A = ln A0 − λt.

    Weights w = A² (``"activity"``: constant absolute noise σ, since
    var(ln A) ≈ σ²/A²) or 1 (``"uniform"``); points with A ≤ 0 get w = 0.
    TIA = A0/λ.  Fallback rules, per voxel:

    * no point with A > 0 → TIA 0 (``no_positive_activity``);
    * fewer than ``min_points`` positive points, or λ < λ_phys (non-decreasing
      or too-slow data) → trapezoid with a linear ramp from 0 and a physical
      tail A_N/λ_phys (``trapezoid_physical_tail``; raw activities are used);
      without a nuclide such voxels get NaN (``unfittable``).
    """
    if not isinstance(stack, VoxelTACStack):
        raise FitError(f"fit_voxels_mono_exp needs a VoxelTACStack, got {type(stack).__name__}")
    if weighting not in ("activity", "uniform"):
        raise FitError(f"weighting must be 'activity' or 'uniform', got {weighting!r}")
    if min_points < 2:
        raise FitError(f"min_points must be >= 2 (a line needs two points), got {min_points}")
    t = stack.time_h
    a = stack.activity_mbq
    pos = a > 0
    y = np.log(np.where(pos, a, 1.0))
    w = np.where(pos, a * a if weighting == "activity" else 1.0, 0.0)
    tc = t[:, None]
    s0 = w.sum(axis=0)
    s1 = (w * tc).sum(axis=0)
    s2 = (w * tc * tc).sum(axis=0)
    sy = (w * y).sum(axis=0)
    sty = (w * tc * y).sum(axis=0)
    det = s0 * s2 - s1 * s1
    n_pos = pos.sum(axis=0)
    ok = (n_pos >= min_points) & (det > 1e-12 * np.maximum(s0 * s2, 1e-300))
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = np.where(ok, (s0 * sty - s1 * sy) / np.where(ok, det, 1.0), np.nan)
        intercept = np.where(ok, (sy - slope * s1) / np.where(s0 > 0, s0, 1.0), np.nan)
    lam = -slope
    a0 = np.exp(intercept)
    lp = None if stack.nuclide is None else nuclides.decay_constant_per_h(stack.nuclide)
    good = ok & (lam > (lp if lp is not None else 0.0))
    method = np.full(stack.n_voxels, 1, dtype=np.int8)
    method[good] = 0
    method[n_pos == 0] = 2
    tia = np.zeros(stack.n_voxels)
    with np.errstate(divide="ignore", invalid="ignore"):
        tia[good] = a0[good] / lam[good]
    fb = method == 1
    if fb.any():
        if lp is None:
            method[fb] = 3
            tia[fb] = np.nan
        else:
            af = a[:, fb]
            tia[fb] = af[0] * t[0] / 2 + np.trapezoid(af, t, axis=0) + af[-1] / lp
    a0 = np.where(good, a0, np.nan)
    lam = np.where(good, lam, np.nan)
    return VoxelFitResult(a0, lam, tia, method, stack)


__all__ = [
    "FitError", "ExponentialModel", "MODELS", "get_model", "TIAResult", "FitResult", "aicc", "fit_model",
    "ModelSelection", "choose_by_aicc", "select_model", "trapezoid_tia", "VOXEL_METHODS", "VoxelFitResult",
    "fit_voxels_mono_exp", "TACError",
]
