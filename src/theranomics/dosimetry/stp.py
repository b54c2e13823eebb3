"""Single-time-point (STP) estimates of the time-integrated activity.

* Hänscheid et al., J Nucl Med 59 (2018) 75–81: TIA ≈ A(t)·2t/ln 2.
  For a mono-exponential A(t) = A0 e^{−λt} the true TIA is A0/λ, so the ratio
  estimate/true is R(x) = 2x e^{−x}/ln 2 with x = λt = ln2·t/T_eff.
  R = 1 exactly where x e^{−x} = ln2/2, i.e. at x = ln 2 and x = 2 ln 2:
  **the method is exact at t = T_eff and at t = 2·T_eff**, overestimates in
  between (at most 2/(e·ln 2) − 1 = +6.1 % at t = T_eff/ln 2 ≈ 1.44 T_eff) and
  underestimates outside.  :func:`haenscheid_validity_range` gives the
  interval of t/T_eff where the underestimate stays within a tolerance
  (10 %: 0.764–2.437 T_eff), from the Lambert-W roots of x e^{−x} = (1−tol)·ln2/2.
* Madsen et al., Med Phys 45 (2018) 2318–2324: TIA = A(t)·e^{λ_eff t}/λ_eff with a
  population effective half-life; exact for mono-exponential kinetics with that T_eff.
* Multi-cycle: a later cycle's single measurement scaled by the cycle-1 fitted
  curve, TIA_k = A_k(t)·TIA_1/f_1(t) (the kinetics' shape assumed unchanged;
  for a mono-exponential cycle-1 fit this is Madsen with the cycle-1 T_eff).
"""
from __future__ import annotations

import math
import warnings

import numpy as np
from scipy.special import lambertw

from .fitting import FitResult


class STPError(ValueError):
    """Bad input to a single-time-point method."""


class STPValidityWarning(UserWarning):
    """A single-time-point estimate used outside the range where its error is bounded."""


def _activity(activity_mbq, name="activity_mbq") -> np.ndarray:
    a = np.asarray(activity_mbq, dtype=float)
    if not np.all(np.isfinite(a)):
        raise STPError(f"{name} must be finite MBq values; got non-finite values")
    if np.any(a < 0):
        raise STPError(f"{name} must be >= 0 MBq; got a negative value ({a.min():g})")
    return a


def _positive(value, name: str) -> np.ndarray:
    v = np.asarray(value, dtype=float)
    if not np.all(np.isfinite(v)) or np.any(v <= 0):
        raise STPError(f"{name} must be finite and > 0, got {value}")
    return v


def _out(x):
    return float(x) if np.ndim(x) == 0 else x


def haenscheid_validity_range(max_rel_error: float = 0.10) -> tuple[float, float]:
    """(lo, hi) of t/T_eff where Hänscheid's TIA is within ``max_rel_error`` of the mono-exp truth.

    Roots of 2x e^{−x}/ln2 = 1 − tol via Lambert W: x = −W_0(−c), −W_{−1}(−c), c = (1−tol)·ln2/2.
    """
    if not (0 < max_rel_error < 1):
        raise STPError(f"max_rel_error must be in (0, 1), got {max_rel_error}")
    c = (1.0 - max_rel_error) * math.log(2) / 2
    x_lo = -lambertw(-c, 0).real
    x_hi = -lambertw(-c, -1).real
    return float(x_lo / math.log(2)), float(x_hi / math.log(2))


def haenscheid_tia_mbq_h(activity_mbq, time_h, t_eff_h=None, max_rel_error: float = 0.10):
    """TIA ≈ A(t)·2t/ln 2 (Hänscheid 2018); warns when t/T_eff is outside the validity range.

    ``t_eff_h`` (expected effective half-life, scalar or per value) is only used for the check.
    """
    a = _activity(activity_mbq)
    t = _positive(time_h, "time_h")
    if t_eff_h is not None:
        ratio = t / _positive(t_eff_h, "t_eff_h")
        lo, hi = haenscheid_validity_range(max_rel_error)
        outside = (ratio < lo) | (ratio > hi)
        if np.any(outside):
            warnings.warn(f"Hänscheid single-time-point TIA: t/T_eff = {np.min(ratio):.3g}–{np.max(ratio):.3g} "
                          f"is outside {lo:.3f}–{hi:.3f} where the error is within {max_rel_error:.0%} "
                          "(exact at t = T_eff and 2·T_eff)", STPValidityWarning, stacklevel=2)
    return _out(a * 2.0 * t / math.log(2))


def madsen_tia_mbq_h(activity_mbq, time_h, t_eff_h):
    """TIA = A(t)·e^{λ_eff t}/λ_eff, λ_eff = ln2/T_eff (Madsen 2018, population T_eff)."""
    a = _activity(activity_mbq)
    t = _positive(time_h, "time_h")
    lam = math.log(2) / _positive(t_eff_h, "t_eff_h")
    return _out(a * np.exp(lam * t) / lam)


def madsen_tia_sigma_mbq_h(activity_mbq, time_h, t_eff_h, activity_sigma_mbq=0.0, t_eff_sigma_h=0.0):
    """Standard uncertainty of the Madsen TIA from σ_A and the population σ_T_eff (first order).

    ∂TIA/∂A = e^{λt}/λ; ∂TIA/∂λ = A e^{λt}(t/λ − 1/λ²); σ_λ = λ·σ_T/T.
    """
    a = _activity(activity_mbq)
    t = _positive(time_h, "time_h")
    te = _positive(t_eff_h, "t_eff_h")
    sa = np.asarray(activity_sigma_mbq, dtype=float)
    st = np.asarray(t_eff_sigma_h, dtype=float)
    if np.any(~np.isfinite(sa)) or np.any(sa < 0) or np.any(~np.isfinite(st)) or np.any(st < 0):
        raise STPError("activity_sigma_mbq and t_eff_sigma_h must be finite and >= 0")
    lam = math.log(2) / te
    e = np.exp(lam * t)
    d_a = e / lam
    d_lam = a * e * (t / lam - 1.0 / lam ** 2)
    return _out(np.sqrt((d_a * sa) ** 2 + (d_lam * lam * st / te) ** 2))


def multicycle_stp_tia_mbq_h(cycle1_fit: FitResult, activity_mbq, time_h):
    """TIA of a later cycle from one measurement and the cycle-1 fit: A_k(t)·TIA_1/f_1(t)."""
    if not isinstance(cycle1_fit, FitResult):
        raise STPError(f"cycle1_fit must be a FitResult from theranomics.dosimetry.fitting, "
                       f"got {type(cycle1_fit).__name__}")
    a = _activity(activity_mbq)
    t = _positive(time_h, "time_h")
    tia1 = cycle1_fit.tia_mbq_h()
    if not np.isfinite(tia1):
        raise STPError(f"the cycle-1 fit ({cycle1_fit.model.name}) has an infinite TIA; flags {cycle1_fit.flags}")
    f1 = cycle1_fit.evaluate(t)
    if np.any(f1 <= 0):
        raise STPError(f"the cycle-1 fitted curve is <= 0 at t = {np.atleast_1d(t)[np.atleast_1d(f1) <= 0]} h; "
                       "cannot scale a measurement there")
    return _out(a * tia1 / f1)


__all__ = ["STPError", "STPValidityWarning", "haenscheid_validity_range", "haenscheid_tia_mbq_h",
           "madsen_tia_mbq_h", "madsen_tia_sigma_mbq_h", "multicycle_stp_tia_mbq_h"]
