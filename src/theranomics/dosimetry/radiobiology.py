"""Radiobiology for protracted (radionuclide) irradiation: BED, EQD2, multi-cycle sums, organ limits.

Linear-quadratic model with incomplete repair (Dale, Br J Radiol 58 (1985) 515;
Dale, Phys Med Biol 41 (1996) 1871):

    BED = D·(1 + G·D/(α/β)),   EQD2 = BED / (1 + 2 Gy/(α/β)),

with the Lea–Catcheside factor for a dose rate Ṙ(t) and repair rate μ = ln2/T_rep

    G = (2/D²) ∫_0^∞ Ṙ(t) ∫_0^t Ṙ(w) e^{−μ(t−w)} dw dt.

For a dose rate that is a sum of exponentials, Ṙ(t) = Σ c_i e^{−b_i t} (D = Σ c_i/b_i),
the double integral has the closed form (inner integral c_j (e^{−b_j t} − e^{−μt})/(μ − b_j),
then the outer one)

    G = (2/D²) Σ_i Σ_j c_i c_j / ((b_i + b_j)(b_i + μ)).

Mono-exponential Ṙ = Ṙ0 e^{−λt} gives G = λ/(λ + μ), i.e. Dale's
BED = D[1 + D/(α/β)·λ/(μ + λ)].  An uptake phase Ṙ0(e^{−λ1 t} − e^{−λ2 t}) is the
two-term case with c = (Ṙ0, −Ṙ0).  Cycles are assumed fully repaired between
administrations, so BEDs add (:func:`multicycle_bed_gy`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Iterable, Mapping

import numpy as np


class RadiobiologyError(ValueError):
    """Bad input to a radiobiological model."""


@dataclass(frozen=True)
class TissueParameters:
    """LQ parameters of one tissue with their source."""

    name: str
    alpha_beta_gy: float
    repair_half_time_h: float
    reference: str

    def __post_init__(self) -> None:
        for field_name in ("alpha_beta_gy", "repair_half_time_h"):
            value = getattr(self, field_name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise RadiobiologyError(f"tissue {self.name!r}: {field_name} must be a finite number > 0, "
                                        f"got {value!r}")

    @property
    def repair_rate_per_h(self) -> float:
        """μ = ln2 / T_rep (1/h)."""
        return math.log(2) / self.repair_half_time_h


#: Documented defaults (read-only); override per call or with :func:`tissue_parameters`.
TISSUES: Mapping[str, TissueParameters] = MappingProxyType({
    "kidney": TissueParameters(
        "kidney", 2.6, 2.8,
        "Thames et al., Int J Radiat Biol 54 (1988) 13-19; as used for PRRT by Barone et al., "
        "J Nucl Med 46 (2005) 99S-106S and Bodei et al., EJNMMI 35 (2008) 1847-1856"),
    "tumour": TissueParameters(
        "tumour", 10.0, 1.5,
        "generic early-responding/tumour values, e.g. Strigari et al., J Nucl Med 51 (2010) 1377-1385; "
        "Cremonesi et al., EJNMMI 35 (2008) 2017"),
    "red_marrow": TissueParameters(
        "red_marrow", 10.0, 1.5,
        "our choice: haematopoietic marrow treated as early-responding tissue (alpha/beta 10 Gy) with the "
        "generic 1.5 h repair half-time (no marrow-specific consensus; cf. MIRD Pamphlet 20, Wessels et al., "
        "J Nucl Med 49 (2008) 1884-1899) - override when a better value is known"),
})
_TISSUE_ALIASES = {"kidneys": "kidney", "tumor": "tumour", "lesion": "tumour", "marrow": "red_marrow",
                   "bone_marrow": "red_marrow", "red marrow": "red_marrow"}


def tissue_parameters(tissue: str | TissueParameters, alpha_beta_gy: float | None = None,
                      repair_half_time_h: float | None = None) -> TissueParameters:
    """Default parameters of a tissue (``TISSUES``), with optional overrides."""
    if isinstance(tissue, TissueParameters):
        base = tissue
    else:
        key = _TISSUE_ALIASES.get(str(tissue).strip().lower(), str(tissue).strip().lower())
        if key not in TISSUES:
            if alpha_beta_gy is None or repair_half_time_h is None:
                raise RadiobiologyError(f"no default LQ parameters for tissue {tissue!r}; known: {sorted(TISSUES)}; "
                                        "or give both alpha_beta_gy and repair_half_time_h")
            return TissueParameters(str(tissue), alpha_beta_gy, repair_half_time_h, "user-supplied")
        base = TISSUES[key]
    changes = {}
    if alpha_beta_gy is not None:
        changes["alpha_beta_gy"] = alpha_beta_gy
    if repair_half_time_h is not None:
        changes["repair_half_time_h"] = repair_half_time_h
    return replace(base, **changes, reference=base.reference + " (overridden)") if changes else base


def _exp_terms(amplitudes_gy_per_h, rates_per_h) -> tuple[np.ndarray, np.ndarray, float]:
    c = np.atleast_1d(np.asarray(amplitudes_gy_per_h, dtype=float))
    b = np.atleast_1d(np.asarray(rates_per_h, dtype=float))
    if c.shape != b.shape or c.ndim != 1 or c.size == 0:
        raise RadiobiologyError(f"need one rate per amplitude; got {c.size} amplitudes and {b.size} rates")
    if not (np.all(np.isfinite(c)) and np.all(np.isfinite(b))):
        raise RadiobiologyError("dose-rate amplitudes and rates must be finite")
    if np.any(b <= 0):
        raise RadiobiologyError(f"every rate must be > 0 1/h for a finite dose (got {b.tolist()})")
    dose = float(np.sum(c / b))
    if not dose > 0:
        raise RadiobiologyError(f"the dose-rate curve integrates to {dose:g} Gy; need a positive dose")
    return c, b, dose


def lea_catcheside_g(amplitudes_gy_per_h, rates_per_h, repair_half_time_h: float) -> float:
    """G = (2/D²) Σ_ij c_i c_j / ((b_i+b_j)(b_i+μ)) for Ṙ(t) = Σ c_i e^{−b_i t} (module doc)."""
    c, b, dose = _exp_terms(amplitudes_gy_per_h, rates_per_h)
    if not (math.isfinite(repair_half_time_h) and repair_half_time_h > 0):
        raise RadiobiologyError(f"repair_half_time_h must be > 0, got {repair_half_time_h}")
    mu = math.log(2) / repair_half_time_h
    total = np.sum(np.outer(c, c) / ((b[:, None] + b[None, :]) * (b[:, None] + mu)))
    return float(2.0 * total / dose ** 2)


def _bed(dose: float, g: float, alpha_beta_gy: float) -> float:
    return dose * (1.0 + g * dose / alpha_beta_gy)


def bed_from_g_gy(dose_gy, g_factor, alpha_beta_gy):
    """Dale's BED = D·(1 + G·D/(α/β)) from an absorbed dose and its Lea–Catcheside factor G.

    Elementwise over arrays (numpy broadcasting), for G computed elsewhere (e.g. an ODE accumulator
    of the activity curve, :mod:`theranomics.twin`).  D ≥ 0 Gy, 0 ≤ G ≤ 1, α/β > 0 Gy; NaN inputs
    propagate (an organ without LQ parameters gets a NaN BED).
    """
    d = np.asarray(dose_gy, dtype=float)
    g = np.asarray(g_factor, dtype=float)
    ab = np.asarray(alpha_beta_gy, dtype=float)
    if np.any(d < 0) or np.any(np.isinf(d)):
        raise RadiobiologyError("dose_gy must be finite and >= 0 Gy")
    if np.any((g < 0) | (g > 1 + 1e-9)):
        raise RadiobiologyError("the Lea-Catcheside factor g_factor must be within 0-1")
    if np.any(ab <= 0):
        raise RadiobiologyError("alpha_beta_gy must be > 0 Gy")
    out = d * (1.0 + g * d / ab)
    return float(out) if out.ndim == 0 else out


def bed_sum_of_exponentials_gy(amplitudes_gy_per_h, rates_per_h, tissue: str | TissueParameters = "tumour", *,
                               alpha_beta_gy: float | None = None, repair_half_time_h: float | None = None) -> float:
    """BED = D(1 + G·D/(α/β)) for a dose rate Σ c_i e^{−b_i t} (Gy/h, 1/h)."""
    p = tissue_parameters(tissue, alpha_beta_gy, repair_half_time_h)
    _, _, dose = _exp_terms(amplitudes_gy_per_h, rates_per_h)
    return _bed(dose, lea_catcheside_g(amplitudes_gy_per_h, rates_per_h, p.repair_half_time_h), p.alpha_beta_gy)


def _check_dose(dose_gy) -> float:
    if not (math.isfinite(dose_gy) and dose_gy >= 0):
        raise RadiobiologyError(f"dose_gy must be a finite absorbed dose >= 0 Gy, got {dose_gy}")
    return float(dose_gy)


def bed_mono_exp_gy(dose_gy: float, effective_half_life_h: float, tissue: str | TissueParameters = "tumour", *,
                    alpha_beta_gy: float | None = None, repair_half_time_h: float | None = None) -> float:
    """Dale: BED = D[1 + (D/(α/β))·λ_eff/(μ + λ_eff)] for an instantaneous uptake and mono-exp clearance."""
    dose = _check_dose(dose_gy)
    if not (math.isfinite(effective_half_life_h) and effective_half_life_h > 0):
        raise RadiobiologyError(f"effective_half_life_h must be > 0, got {effective_half_life_h}")
    p = tissue_parameters(tissue, alpha_beta_gy, repair_half_time_h)
    lam = math.log(2) / effective_half_life_h
    return _bed(dose, lam / (lam + p.repair_rate_per_h), p.alpha_beta_gy)


def bed_uptake_gy(dose_gy: float, clearance_half_life_h: float, uptake_half_life_h: float,
                  tissue: str | TissueParameters = "tumour", *, alpha_beta_gy: float | None = None,
                  repair_half_time_h: float | None = None) -> float:
    """BED for Ṙ = Ṙ0(e^{−λ1 t} − e^{−λ2 t}) (uptake phase), Ṙ0 = D/(1/λ1 − 1/λ2), via the general G."""
    dose = _check_dose(dose_gy)
    for name, value in (("clearance_half_life_h", clearance_half_life_h),
                        ("uptake_half_life_h", uptake_half_life_h)):
        if not (math.isfinite(value) and value > 0):
            raise RadiobiologyError(f"{name} must be > 0, got {value}")
    l1, l2 = math.log(2) / clearance_half_life_h, math.log(2) / uptake_half_life_h
    if not l2 > l1:
        raise RadiobiologyError(f"uptake must be faster than clearance: uptake_half_life_h ({uptake_half_life_h}) "
                                f"must be < clearance_half_life_h ({clearance_half_life_h})")
    if dose == 0:
        return 0.0
    r0 = dose / (1 / l1 - 1 / l2)
    return bed_sum_of_exponentials_gy([r0, -r0], [l1, l2], tissue, alpha_beta_gy=alpha_beta_gy,
                                      repair_half_time_h=repair_half_time_h)


def bed_from_fit_gy(fit, dose_per_tia_gy_per_mbq_h: float, tissue: str | TissueParameters = "tumour", *,
                    alpha_beta_gy: float | None = None, repair_half_time_h: float | None = None) -> float:
    """BED for a fitted TAC (``fitting.FitResult``): dose rate = S·A(t), S in Gy per MBq·h."""
    if not (math.isfinite(dose_per_tia_gy_per_mbq_h) and dose_per_tia_gy_per_mbq_h > 0):
        raise RadiobiologyError(f"dose_per_tia_gy_per_mbq_h must be > 0, got {dose_per_tia_gy_per_mbq_h}")
    c, b, _, _ = fit.model.terms(fit.params, fit.lambda_phys_per_h)
    keep = c != 0
    return bed_sum_of_exponentials_gy(c[keep] * dose_per_tia_gy_per_mbq_h, b[keep], tissue,
                                      alpha_beta_gy=alpha_beta_gy, repair_half_time_h=repair_half_time_h)


def eqd2_gy(bed_gy: float, alpha_beta_gy: float) -> float:
    """EQD2 = BED / (1 + 2 Gy/(α/β)): the dose in 2-Gy fractions with the same BED."""
    if not (math.isfinite(bed_gy) and bed_gy >= 0):
        raise RadiobiologyError(f"bed_gy must be finite and >= 0, got {bed_gy}")
    if not (math.isfinite(alpha_beta_gy) and alpha_beta_gy > 0):
        raise RadiobiologyError(f"alpha_beta_gy must be > 0, got {alpha_beta_gy}")
    return bed_gy / (1.0 + 2.0 / alpha_beta_gy)


def multicycle_bed_gy(cycle_beds_gy: Iterable[float]) -> float:
    """Total BED over cycles, Σ BED_k (full repair between cycles assumed)."""
    beds = [float(x) for x in cycle_beds_gy]
    if not beds:
        raise RadiobiologyError("need at least one cycle BED")
    for k, value in enumerate(beds):
        if not (math.isfinite(value) and value >= 0):
            raise RadiobiologyError(f"cycle #{k} BED must be finite and >= 0 Gy, got {value}")
    return float(sum(beds))


# ----------------------------------------------------------------------------------------------
# organ limits
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class OrganLimit:
    """A tolerance limit: ``quantity`` is ``"absorbed_dose_gy"`` or ``"bed_gy"``."""

    organ: str
    quantity: str
    limit_gy: float
    condition: str
    reference: str


#: Commonly used limits (cumulative over all cycles).  Most derive from external-beam data.
LIMITS: tuple[OrganLimit, ...] = (
    OrganLimit("kidney", "absorbed_dose_gy", 23.0, "",
               "Emami et al., Int J Radiat Oncol Biol Phys 21 (1991) 109-122 (TD5/5, whole kidney)"),
    OrganLimit("kidney", "bed_gy", 40.0, "without risk factors",
               "Bodei et al., EJNMMI 35 (2008) 1847-1856"),
    OrganLimit("kidney", "bed_gy", 28.0, "with risk factors",
               "Bodei et al., EJNMMI 35 (2008) 1847-1856 (hypertension, diabetes, ...)"),
    OrganLimit("red_marrow", "absorbed_dose_gy", 2.0, "",
               "Benua et al., Am J Roentgenol 87 (1962) 171-182 (2 Gy to blood); used for PRRT marrow"),
    OrganLimit("salivary_glands", "absorbed_dose_gy", 25.0, "mean dose, both parotids",
               "Deasy et al. (QUANTEC), Int J Radiat Oncol Biol Phys 76 (2010) S58-S63"),
)
_ORGAN_ALIASES = {"kidneys": "kidney", "marrow": "red_marrow", "bone_marrow": "red_marrow",
                  "parotid": "salivary_glands", "parotids": "salivary_glands", "salivary": "salivary_glands"}


@dataclass(frozen=True)
class LimitCheck:
    """One limit compared with a value; ``exceeded`` when value > limit."""

    limit: OrganLimit
    value_gy: float

    @property
    def exceeded(self) -> bool:
        return self.value_gy > self.limit.limit_gy

    @property
    def fraction_of_limit(self) -> float:
        return self.value_gy / self.limit.limit_gy


def check_limits(organ: str, *, absorbed_dose_gy: float | None = None, bed_gy: float | None = None,
                 risk_factors: bool = False) -> list[LimitCheck]:
    """Compare an organ's cumulative absorbed dose and/or BED with ``LIMITS``.

    Kidney BED is compared with 28 Gy when ``risk_factors`` else 40 Gy.
    """
    key = _ORGAN_ALIASES.get(str(organ).strip().lower(), str(organ).strip().lower())
    known = sorted({lim.organ for lim in LIMITS})
    if key not in known:
        raise RadiobiologyError(f"no limits for organ {organ!r}; known organs: {known}")
    if absorbed_dose_gy is None and bed_gy is None:
        raise RadiobiologyError("give absorbed_dose_gy and/or bed_gy to check")
    checks = []
    for quantity, value in (("absorbed_dose_gy", absorbed_dose_gy), ("bed_gy", bed_gy)):
        if value is None:
            continue
        if not (math.isfinite(value) and value >= 0):
            raise RadiobiologyError(f"{quantity} must be finite and >= 0 Gy, got {value}")
        for lim in LIMITS:
            if lim.organ != key or lim.quantity != quantity:
                continue
            if lim.condition == "with risk factors" and not risk_factors:
                continue
            if lim.condition == "without risk factors" and risk_factors:
                continue
            checks.append(LimitCheck(lim, float(value)))
    return checks


__all__ = [
    "RadiobiologyError", "TissueParameters", "TISSUES", "tissue_parameters", "lea_catcheside_g",
    "bed_sum_of_exponentials_gy", "bed_from_g_gy", "bed_mono_exp_gy", "bed_uptake_gy", "bed_from_fit_gy", "eqd2_gy",
    "multicycle_bed_gy", "OrganLimit", "LIMITS", "LimitCheck", "check_limits",
]
