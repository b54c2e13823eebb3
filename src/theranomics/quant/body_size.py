"""Body-size measures used to normalise SUVs: lean body mass, body-surface area, ideal body weight.

All functions take weight in kg and height in m (DICOM PatientWeight / PatientSize) and return
kg (masses) or m² (area).  ``sex`` is ``"M"``, ``"F"`` or ``"O"`` (other/unknown as DICOM
PatientSex): for ``"O"`` the mean of the male and female values is returned, as in the OncoRay
SUV manual (Vácha et al., "Standardizing SUV computation").

References

* James WPT. Research on obesity. HMSO, London, 1976 — LBM with coefficient 120 (DICOM SUV Type
  ``LBM``) and the 128 variant (``LBMJAMES128``); DICOM PS3.3 C.8.9.1.1.3.
* Janmahasatian S et al. Clin Pharmacokinet 44 (2005) 1051 — LBM (DICOM ``LBMJANMA``), used for
  PERCIST SUL (Wahl RL et al., J Nucl Med 50 (2009) 122S).
* Du Bois D, Du Bois EF. Arch Intern Med 17 (1916) 863 — BSA (DICOM ``BSA``).
* Ideal body weight as given in DICOM PS3.3 C.8.9.1.1.3 (``IBW``): 48.0 + 1.06 (H − 152) male,
  45.5 + 0.91 (H − 152) female, H in cm.
"""
from __future__ import annotations

import math
from types import MappingProxyType

SEXES = ("M", "F", "O")


def _check(weight_kg: float | None, height_m: float | None, sex: str | None, need_sex: bool) -> None:
    if weight_kg is not None and not (math.isfinite(weight_kg) and weight_kg > 0):
        raise ValueError(f"weight_kg must be a positive number, got {weight_kg!r}")
    if height_m is not None and not (math.isfinite(height_m) and height_m > 0):
        raise ValueError(f"height_m must be a positive number, got {height_m!r}")
    if need_sex and sex not in SEXES:
        raise ValueError(f"sex must be one of {SEXES} (DICOM PatientSex), got {sex!r}")


def _by_sex(sex: str, male: float, female: float) -> float:
    if sex == "M":
        return male
    if sex == "F":
        return female
    return 0.5 * (male + female)


def _positive(value: float, what: str, weight_kg: float, height_m: float | None) -> float:
    if not value > 0:
        raise ValueError(f"{what} is not positive ({value:.3g} kg) for weight {weight_kg} kg, height {height_m} m; "
                         "the formula is outside its range of validity")
    return float(value)


def bmi_kg_m2(weight_kg: float, height_m: float) -> float:
    """Body-mass index BMI = W / H² (kg/m²)."""
    _check(weight_kg, height_m, None, False)
    return weight_kg / height_m ** 2


def lbm_james_kg(weight_kg: float, height_m: float, sex: str) -> float:
    """James LBM with the DICOM ``LBM`` coefficients: male 1.10 W − 120 (W/H)², female 1.07 W − 148 (W/H)², H in cm."""
    _check(weight_kg, height_m, sex, True)
    ratio2 = (weight_kg / (100.0 * height_m)) ** 2
    value = _by_sex(sex, 1.10 * weight_kg - 120.0 * ratio2, 1.07 * weight_kg - 148.0 * ratio2)
    return _positive(value, "James lean body mass", weight_kg, height_m)


def lbm_james128_kg(weight_kg: float, height_m: float, sex: str) -> float:
    """James LBM, DICOM ``LBMJAMES128``: male 1.10 W − 128 (W/H)², female 1.07 W − 148 (W/H)², H in cm."""
    _check(weight_kg, height_m, sex, True)
    ratio2 = (weight_kg / (100.0 * height_m)) ** 2
    value = _by_sex(sex, 1.10 * weight_kg - 128.0 * ratio2, 1.07 * weight_kg - 148.0 * ratio2)
    return _positive(value, "James-128 lean body mass", weight_kg, height_m)


def lbm_janmahasatian_kg(weight_kg: float, height_m: float, sex: str) -> float:
    """Janmahasatian LBM: male 9270 W / (6680 + 216 BMI), female 9270 W / (8780 + 244 BMI)."""
    _check(weight_kg, height_m, sex, True)
    bmi = bmi_kg_m2(weight_kg, height_m)
    value = _by_sex(sex, 9270.0 * weight_kg / (6680.0 + 216.0 * bmi), 9270.0 * weight_kg / (8780.0 + 244.0 * bmi))
    return _positive(value, "Janmahasatian lean body mass", weight_kg, height_m)


def bsa_dubois_m2(weight_kg: float, height_m: float) -> float:
    """Du Bois body-surface area BSA = 0.007184 W^0.425 H^0.725 (m², W in kg, H in cm)."""
    _check(weight_kg, height_m, None, False)
    return 0.007184 * weight_kg ** 0.425 * (100.0 * height_m) ** 0.725


def ibw_kg(height_m: float, sex: str) -> float:
    """Ideal body weight (DICOM PS3.3 C.8.9.1.1.3), H in cm.

    Male 48.0 + 1.06 (H − 152), female 45.5 + 0.91 (H − 152).
    """
    _check(None, height_m, sex, True)
    height_cm = 100.0 * height_m
    value = _by_sex(sex, 48.0 + 1.06 * (height_cm - 152.0), 45.5 + 0.91 * (height_cm - 152.0))
    if not value > 0:
        raise ValueError(f"ideal body weight is not positive ({value:.3g} kg) for height {height_m} m")
    return float(value)


#: Lean-body-mass formulas by name (``lbm_formula`` of :func:`theranomics.quant.suv.suv_factors`).
LBM_FORMULAS = MappingProxyType({
    "james": lbm_james_kg,
    "james128": lbm_james128_kg,
    "janmahasatian": lbm_janmahasatian_kg,
})

__all__ = ["SEXES", "LBM_FORMULAS", "bmi_kg_m2", "lbm_james_kg", "lbm_james128_kg", "lbm_janmahasatian_kg",
           "bsa_dubois_m2", "ibw_kg"]
