"""Dead-time correction of SPECT count rates for early, high-activity scans.

Two classic detector models with dead time τ (s) relate the true rate n to the observed rate m
(Knoll, *Radiation Detection and Measurement*, 4th ed., ch. 4; for Lu-177 SPECT see
Uribe et al., EJNMMI Phys 5 (2018) 2 and MIRD Pamphlet 26, Ljungberg et al., J Nucl Med 57
(2016) 151):

* non-paralysable: m = n / (1 + nτ)  ⇒  n = m / (1 − mτ)            (needs mτ < 1)
* paralysable:     m = n e^{−nτ}     ⇒  n = −W₀(−mτ) / τ             (needs mτ ≤ 1/e; the
  lower branch W₀ is the physical one, n τ ≤ 1)

The correction factor applied to the counts is n/m.  τ is system specific: measure it (e.g. with a
decaying source, :func:`fit_deadtime_tau`) and record it with the calibration
(``calibration.json`` keys ``deadtime_tau_s``, ``deadtime_model`` and, per acquisition, the
whole-field observed rate ``observed_count_rate_cps``).  There is no default τ: without one no
correction is applied, and the workflow says so.
"""
from __future__ import annotations

import math

import numpy as np
from scipy.optimize import least_squares
from scipy.special import lambertw

MODELS = ("paralysable", "non_paralysable")


class DeadTimeError(ValueError):
    """Dead-time inputs that are out of the model's range."""


def _check(observed_cps, tau_s: float, model: str) -> np.ndarray:
    if model not in MODELS:
        raise DeadTimeError(f"dead-time model must be one of {MODELS}, got {model!r}")
    if not (isinstance(tau_s, (int, float, np.floating)) and math.isfinite(tau_s) and tau_s >= 0):
        raise DeadTimeError(f"deadtime_tau_s must be a finite number >= 0 s, got {tau_s!r}")
    m = np.asarray(observed_cps, dtype=float)
    if not np.all(np.isfinite(m)) or np.any(m < 0):
        raise DeadTimeError(f"observed_count_rate_cps must be finite and >= 0, got {observed_cps!r}")
    return m


def true_count_rate_cps(observed_cps, tau_s: float, model: str = "paralysable"):
    """True rate n from the observed rate m (module formulas); raises beyond the model's range."""
    m = _check(observed_cps, tau_s, model)
    x = m * tau_s
    if model == "non_paralysable":
        if np.any(x >= 1):
            raise DeadTimeError(f"non-paralysable dead time: observed rate × τ = {np.max(x):.3g} must be < 1")
        n = m / (1.0 - x)
    else:
        if np.any(x > 1 / math.e + 1e-12):
            raise DeadTimeError(f"paralysable dead time: observed rate × τ = {np.max(x):.3g} exceeds 1/e, the "
                                "largest rate a paralysable detector can show; τ or the rate is wrong")
        with np.errstate(divide="ignore", invalid="ignore"):
            n = np.where(x > 0, -lambertw(-np.minimum(x, 1 / math.e), 0).real / max(tau_s, 1e-300), m)
    return float(n) if np.ndim(n) == 0 else n


def observed_count_rate_cps(true_cps, tau_s: float, model: str = "paralysable"):
    """Forward model: observed rate m from the true rate n."""
    n = _check(true_cps, tau_s, model)
    m = n / (1.0 + n * tau_s) if model == "non_paralysable" else n * np.exp(-n * tau_s)
    return float(m) if np.ndim(m) == 0 else m


def deadtime_correction_factor(observed_cps: float, tau_s: float, model: str = "paralysable") -> float:
    """n/m ≥ 1: the factor that multiplies observed counts (1 when the observed rate is 0)."""
    m = float(_check(observed_cps, tau_s, model))
    if m == 0 or tau_s == 0:
        return 1.0
    return float(true_count_rate_cps(m, tau_s, model)) / m


def fit_deadtime_tau(true_relative_rate, observed_cps, model: str = "paralysable") -> tuple[float, float]:
    """Fit (τ s, k cps per unit) to a decaying-source measurement: m_i = model(k·r_i, τ).

    ``true_relative_rate`` r_i ∝ the true rate (e.g. the decay factor of the source at each
    acquisition); ``observed_cps`` the observed whole-field rates.  Returns (τ, k).
    """
    r = _check(true_relative_rate, 0.0, model)
    m = _check(observed_cps, 0.0, model)
    if r.shape != m.shape or r.size < 3:
        raise DeadTimeError("need at least three (true relative rate, observed rate) pairs of equal length")
    low = int(np.argmin(r))
    k0 = m[low] / r[low] if r[low] > 0 else float(m.max() / r.max())

    def resid(p):
        k, tau = p
        return (observed_count_rate_cps(k * r, max(tau, 0.0), model) - m) / max(float(m.max()), 1e-300)

    tau0 = 0.1 / max(float(m.max()), 1e-300)
    res = least_squares(resid, [k0, tau0], bounds=([0, 0], [np.inf, np.inf]), x_scale=[k0, tau0],
                        xtol=1e-14, ftol=1e-14, gtol=1e-14)
    return float(res.x[1]), float(res.x[0])


__all__ = ["MODELS", "DeadTimeError", "true_count_rate_cps", "observed_count_rate_cps",
           "deadtime_correction_factor", "fit_deadtime_tau"]
