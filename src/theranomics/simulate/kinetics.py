"""Per-VOI kinetics of a therapy agent: the :class:`VoiKinetics` protocol and its
sum-of-exponentials implementation.

The fraction of the injected activity in a VOI at time t (h) after injection, physical
decay included, is

    A_v(t) / A0 = Σ_i a_i exp(−(λ_i + λ_phys) t),      λ_phys = ln 2 / T½ (nuclides.decay_constant_per_h)

(an uptake phase is a pair of terms f·(exp(−λ_c t) − exp(−λ_u t)), λ_u > λ_c) and its
time integral is analytic:  ∫0^∞ A_v/A0 dt = Σ_i a_i / (λ_i + λ_phys)  (h).

:func:`build_therapy_kinetics` turns a :class:`~.tracers.TherapyAgent` preset into per-VOI
terms for one patient.  Tissue curves are given as *biological SUV* s(t) (fraction of
injected activity per mL × body weight in g, the unit of a PET SUV without decay), so a
VOI of volume V holds s(t)·V/W of the injected activity.  The whole-body retention
R(t) = Σ b_j exp(−μ_j t) of the preset fixes the remainder:
remainder(t) = R(t) − Σ organs(t), split between the imaged ``remainder`` and the
unimaged ``outside_fov`` by volume; lesions take up activity that would otherwise be
excreted (tumour sink), so the total in the body is R(t) + Σ lesions(t) ≤ 1 (checked),
and 1 − that total has been excreted.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Protocol, Sequence, runtime_checkable

import numpy as np

from .. import nuclides

LN2 = float(np.log(2.0))


@runtime_checkable
class VoiKinetics(Protocol):
    """What the simulator needs from a kinetic model (the PBPK model implements it too)."""

    @property
    def vois(self) -> tuple[str, ...]:
        """Names of the VOIs (organs, ``lesion_<id>``, ``remainder``, ``outside_fov``)."""
        ...

    def activity_fraction(self, voi: str, t_h: np.ndarray) -> np.ndarray:
        """Fraction of the injected activity in ``voi`` at ``t_h`` hours after injection (decay included)."""
        ...

    def tia_fraction_h(self, voi: str) -> float:
        """∫0^∞ activity_fraction dt in hours (time-integrated activity per injected activity)."""
        ...


@dataclass(frozen=True)
class ExponentialKinetics:
    """Per-VOI sums of exponentials ``a_i exp(−(λ_i + λ_phys) t)``; ``terms[voi] = (a, λ_bio per h)``."""

    nuclide: str
    terms: Mapping[str, tuple[np.ndarray, np.ndarray]]
    meta: Mapping[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        lam_p = nuclides.decay_constant_per_h(self.nuclide)
        clean = {}
        for voi, (a, lam) in self.terms.items():
            a = np.atleast_1d(np.asarray(a, float))
            lam = np.atleast_1d(np.asarray(lam, float))
            if a.shape != lam.shape or a.ndim != 1:
                raise ValueError(f"kinetics of VOI {voi!r}: coefficients {a.shape} and rates {lam.shape} differ in shape")
            if not (np.all(np.isfinite(a)) and np.all(np.isfinite(lam))):
                raise ValueError(f"kinetics of VOI {voi!r}: coefficients and rates must be finite")
            if np.any(lam + lam_p <= 0):
                raise ValueError(f"kinetics of VOI {voi!r}: effective rates λ_bio + λ_phys must be > 0, got {lam + lam_p}")
            clean[str(voi)] = (a, lam)
        object.__setattr__(self, "terms", clean)
        object.__setattr__(self, "_lambda_phys", lam_p)

    @property
    def vois(self) -> tuple[str, ...]:
        return tuple(self.terms)

    @property
    def lambda_phys_per_h(self) -> float:
        return self._lambda_phys

    def _terms(self, voi: str) -> tuple[np.ndarray, np.ndarray]:
        try:
            return self.terms[voi]
        except KeyError:
            raise KeyError(f"kinetics has no VOI {voi!r}; it has {list(self.terms)}") from None

    def biological_fraction(self, voi: str, t_h) -> np.ndarray:
        """Σ a_i exp(−λ_i t): the fraction without physical decay."""
        a, lam = self._terms(voi)
        t = _times(t_h)
        return np.exp(-np.multiply.outer(t, lam)) @ a

    def activity_fraction(self, voi: str, t_h) -> np.ndarray:
        a, lam = self._terms(voi)
        t = _times(t_h)
        return np.exp(-np.multiply.outer(t, lam + self._lambda_phys)) @ a

    def tia_fraction_h(self, voi: str) -> float:
        a, lam = self._terms(voi)
        return float(np.sum(a / (lam + self._lambda_phys)))

    def total_fraction(self, t_h, vois: Sequence[str] | None = None) -> np.ndarray:
        """Σ over ``vois`` (default all) of activity_fraction: the fraction left in the body."""
        return sum(self.activity_fraction(v, t_h) for v in (vois or self.vois))


def _times(t_h) -> np.ndarray:
    t = np.asarray(t_h, float)
    if np.any(~np.isfinite(t)) or np.any(t < 0):
        raise ValueError(f"times must be finite and >= 0 h after injection, got {t_h}")
    return t


# -- building blocks of preset curves -------------------------------------------------------------

Curve = tuple[tuple[float, float], ...]
"""A biological curve as ((amplitude, half-life h), …): Σ amp·exp(−ln2·t/T½)."""


def washout(amplitude: float, half_life_h: float) -> Curve:
    """amp·exp(−ln2 t / T½)."""
    return ((float(amplitude), float(half_life_h)),)


def uptake(amplitude: float, uptake_half_life_h: float, washout_half_life_h: float) -> Curve:
    """amp·(exp(−λ_c t) − exp(−(λ_c + λ_u) t)), λ_c = ln2/T_washout, λ_u = ln2/T_uptake (zero at t = 0)."""
    lam_c = LN2 / washout_half_life_h
    lam_u = LN2 / uptake_half_life_h + lam_c
    return ((float(amplitude), float(washout_half_life_h)), (-float(amplitude), float(LN2 / lam_u)))


def scaled(curve: Curve, factor: float) -> Curve:
    return tuple((a * factor, t) for a, t in curve)


def _as_arrays(curve: Curve) -> tuple[np.ndarray, np.ndarray]:
    if not curve:
        return np.zeros(0), np.zeros(0)
    a = np.array([c[0] for c in curve], float)
    lam = np.array([LN2 / c[1] for c in curve], float)
    return a, lam


def build_therapy_kinetics(agent, voi_volumes_ml: Mapping[str, float], weight_kg: float, *,
                           lesion_regions: Mapping[str, str] | None = None,
                           lesion_receptor_scale: Mapping[str, float] | None = None,
                           kidney_function_scale: float = 1.0,
                           outside_fov_ml: float = 0.0) -> ExponentialKinetics:
    """Per-VOI kinetics of ``agent`` (a :class:`~.tracers.TherapyAgent`) for one patient.

    ``voi_volumes_ml``: imaged VOIs (organs and ``remainder``) and their volumes;
    ``lesion_regions`` / ``lesion_receptor_scale``: per lesion VOI (``lesion_<id>``) its region and
    relative receptor expression (volumes also in ``voi_volumes_ml``).  ``kidney_function_scale``
    multiplies the renal (T½ < 24 h) whole-body clearance rates and the kidney washout rates
    (0.5 = half the renal clearance; kidney washout is never made slower than the slowest
    whole-body component, which would leave more in the kidneys than in the body).  ``outside_fov_ml`` is body volume outside the image (its
    share of the remainder goes to the ``outside_fov`` VOI).  Raises ValueError when organ uptake
    exceeds the whole-body retention or the lesions take up more than the injected activity.
    """
    if not (weight_kg > 0):
        raise ValueError(f"weight_kg must be positive, got {weight_kg}")
    if not (0.05 <= kidney_function_scale <= 5.0):
        raise ValueError(f"kidney_function_scale must be within 0.05–5, got {kidney_function_scale}")
    if outside_fov_ml < 0:
        raise ValueError(f"outside_fov_ml must be >= 0, got {outside_fov_ml}")
    lesion_regions = dict(lesion_regions or {})
    lesion_receptor_scale = dict(lesion_receptor_scale or {})
    weight_g = weight_kg * 1000.0
    kf = kidney_function_scale

    def renal(curve: Curve, threshold_h: float = 24.0) -> Curve:
        return tuple((a, t / kf if t < threshold_h else t) for a, t in curve)

    blood = agent.blood
    slowest_wb_h = max(t for _, t in agent.whole_body)
    terms: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for voi, vol in voi_volumes_ml.items():
        if voi == "remainder" or voi.startswith("lesion_"):
            continue
        if vol < 0:
            raise ValueError(f"VOI {voi!r}: volume must be >= 0 mL, got {vol}")
        tissue = agent.tissue(voi)
        blood_share, specific = tissue
        if voi.startswith("kidney"):   # slower washout with poorer kidney function, never slower than the body
            specific = tuple((a, min(t / kf, max(t, slowest_wb_h))) for a, t in specific)
        curve = scaled(blood, blood_share) + tuple(specific)
        terms[voi] = _as_arrays(scaled(curve, vol / weight_g))

    # lesions: receptor-scaled uptake (tumour sink)
    lesion_terms = {}
    for voi, region in lesion_regions.items():
        if voi not in voi_volumes_ml:
            raise ValueError(f"lesion VOI {voi!r} has no volume in voi_volumes_ml")
        scale = float(lesion_receptor_scale.get(voi, 1.0))
        curve = scaled(agent.lesion_curve(region), scale * voi_volumes_ml[voi] / weight_g)
        lesion_terms[voi] = _as_arrays(curve)

    # remainder = whole-body retention − organs, shared by imaged remainder and outside_fov
    wb_a, wb_l = _as_arrays(renal(agent.whole_body))
    org_a = np.concatenate([terms[v][0] for v in terms]) if terms else np.zeros(0)
    org_l = np.concatenate([terms[v][1] for v in terms]) if terms else np.zeros(0)
    rem_a = np.concatenate([wb_a, -org_a])
    rem_l = np.concatenate([wb_l, org_l])
    t_check = np.concatenate([np.linspace(0, 48, 481), np.geomspace(48, 20000, 400)])
    rem = np.exp(-np.multiply.outer(t_check, rem_l)) @ rem_a
    if np.any(rem < -1e-9):
        t_bad = float(t_check[np.argmin(rem)])
        raise ValueError(f"{agent.name}: organ uptake exceeds the whole-body retention at t = {t_bad:.1f} h "
                         f"(remainder {rem.min():.4f} of the injected activity); organ volumes or the preset are "
                         "inconsistent for this body weight")
    v_rem = float(voi_volumes_ml.get("remainder", 0.0))
    share = v_rem / (v_rem + outside_fov_ml) if (v_rem + outside_fov_ml) > 0 else 1.0
    if "remainder" in voi_volumes_ml:
        terms["remainder"] = (rem_a * share, rem_l.copy())
    if outside_fov_ml > 0:
        terms["outside_fov"] = (rem_a * (1.0 - share), rem_l.copy())
    terms.update(lesion_terms)

    # total in body R(t) + lesions(t) must not exceed the injected activity
    if lesion_terms:
        les = sum(np.exp(-np.multiply.outer(t_check, l)) @ a for a, l in lesion_terms.values())
        wb = np.exp(-np.multiply.outer(t_check, wb_l)) @ wb_a
        if np.any(wb + les > 1.0 + 1e-9):
            t_bad = float(t_check[np.argmax(wb + les)])
            raise ValueError(f"{agent.name}: the lesions take up more than the injected activity allows at "
                             f"t = {t_bad:.1f} h (body total {float((wb + les).max()):.3f}); reduce the lesion "
                             "load or the receptor expression scale")
    meta = {"agent": agent.name, "weight_kg": weight_kg, "kidney_function_scale": kf,
            "outside_fov_ml": outside_fov_ml}
    return ExponentialKinetics(agent.nuclide, terms, meta)
