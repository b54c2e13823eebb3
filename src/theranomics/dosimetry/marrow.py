"""Red-marrow absorbed dose: the EANM blood-based method and an image-based marrow-VOI method.

EANM Dosimetry Committee guideline (Hindorf et al., EJNMMI 37 (2010) 1238–1250)::

    D_RM = Ã_RM · S(RM←RM)  +  Ã_RB · S(RM←RB)  +  Σ_L Ã_L · S(RM←L)
    Ã_RM = [Ã_blood] · RMBLR · m_RM

* [Ã_blood] — time-integrated activity concentration in blood (MBq·h/mL, from blood samples
  or a blood-pool VOI; per mL taken as per g, as in the guideline);
* RMBLR — red-marrow-to-blood activity concentration ratio; **default 1** for small molecules
  and peptides that do not bind to marrow cells (the guideline's recommendation, after
  Sgouros, J Nucl Med 34 (1993) 689 and Forrer et al., EJNMMI 36 (2009) 1138 for
  [177Lu]Lu-DOTATATE); pass a measured value otherwise;
* m_RM — the patient's red-marrow mass: ICRP Publication 89 reference mass (adult male 1170 g,
  female 900 g; reference body mass 73 / 60 kg) scaled by body mass (``scale='weight'``), or
  given directly;
* the remainder of body (RB) and bone lesions (L) contribute cross-dose; their S(RM←·) come
  from patient-specific S-values on a marrow VOI (:func:`theranomics.dosimetry.mird.patient_s_values`)
  or a phantom table.

Self-dose S(RM←RM) (:func:`marrow_self_s_value`)::

    S(RM←RM) = (E_e · φ_e + E_γ · φ_γ) / m_RM

* electrons (β, conversion, Auger; ICRP-107 E_e) deposited locally, φ_e = 1 by default —
  conservative; trabecular-bone models give 0.7–0.9 for Lu-177 β (MIRD Pamphlet 22);
* photons (ICRP-107 E_γ, x and γ): φ_γ is the self absorbed fraction of a **unit-density-scaled
  sphere of the red-marrow mass** (ICRP 89 red-marrow density 1.03 g/cm³) from the project's
  photon point kernel (:func:`theranomics.dosimetry.spheres.sphere_absorbed_fraction`; Lu-177:
  φ_γ ≈ 0.18 for 1170 g, so photons add ≈ 4 % to the self-dose).  Red marrow is spread over the
  skeleton, where photons escape more easily than from one compact sphere of the same mass, so
  the sphere value is an upper bound (as φ_e = 1 is); pass ``photon_absorbed_fraction`` to use
  a phantom value (e.g. from OLINDA/IDAC) or 0 to leave photons out.  Photons from activity
  *outside* the marrow (remainder, lesions) enter through the cross terms.

The image-based method scales a marrow VOI (e.g. L2–L4 vertebral bodies, or the whole marrow
label of a phantom) to the whole marrow: Ã_RM = Ã_VOI · m_RM / m_VOI (Ferrer et al., Cancer
Biother Radiopharm 27 (2012) 1; uniform marrow uptake assumed).

Planning constraint: D_RM ≤ 2 Gy (:mod:`theranomics.dosimetry.radiobiology` ``LIMITS``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping

from .. import nuclides

#: ICRP Publication 89 (2002), Table 9.4 / 2.8: reference red-marrow masses and body masses.
REFERENCE_RED_MARROW_G = {"M": 1170.0, "F": 900.0}
REFERENCE_BODY_MASS_KG = {"M": 73.0, "F": 60.0}
#: Default red-marrow-to-blood ratio (Hindorf et al. 2010, for non-marrow-binding agents).
DEFAULT_RMBLR = 1.0
#: ICRP Publication 89 (2002), Table 2.1: density of red (active) marrow, g/cm³.
RED_MARROW_DENSITY_G_CM3 = 1.03
DECAYS_PER_MBQ_H = 3.6e9
MEV_J = 1.602176634e-13


class MarrowError(ValueError):
    """Bad input to a red-marrow dose calculation."""


def _finite(value, name: str, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or \
            value < 0 or (positive and value == 0):
        raise MarrowError(f"{name} must be a finite number {'> 0' if positive else '>= 0'}, got {value!r}")
    return float(value)


def red_marrow_mass_g(sex: str | None, weight_kg: float | None = None, scale: str = "weight") -> float:
    """Patient red-marrow mass: ICRP 89 reference × (weight / reference weight) or the reference itself.

    ``scale``: ``'weight'`` (needs ``weight_kg``) or ``'none'``.  ``sex`` ``'M'`` or ``'F'``.
    """
    if sex not in REFERENCE_RED_MARROW_G:
        raise MarrowError(f"sex must be 'M' or 'F' for the ICRP 89 reference marrow mass, got {sex!r}; "
                          "or give the red-marrow mass directly")
    ref = REFERENCE_RED_MARROW_G[sex]
    if scale == "none":
        return ref
    if scale != "weight":
        raise MarrowError(f"scale must be 'weight' or 'none', got {scale!r}")
    if weight_kg is None:
        raise MarrowError("scaling the red-marrow mass by weight needs the patient's weight_kg")
    return ref * _finite(weight_kg, "weight_kg", True) / REFERENCE_BODY_MASS_KG[sex]


def marrow_photon_absorbed_fraction(nuclide: str, marrow_mass_g: float) -> float:
    """φ_γ of a sphere of mass ``marrow_mass_g`` at the red-marrow density (module doc: an upper bound)."""
    from .spheres import sphere_absorbed_fraction
    m = _finite(marrow_mass_g, "marrow_mass_g", True)
    if nuclides.photon_energy_per_decay_mev(nuclide) == 0:
        return 0.0
    return float(sphere_absorbed_fraction(nuclide, m / RED_MARROW_DENSITY_G_CM3, include=("photons",),
                                          density_g_cm3=RED_MARROW_DENSITY_G_CM3)[0])


def marrow_self_s_value(nuclide: str, marrow_mass_g: float, electron_absorbed_fraction: float = 1.0,
                        photon_absorbed_fraction: float | None = None) -> float:
    """S(RM←RM) in Gy/(MBq·h) = (E_e·φ_e + E_γ·φ_γ) / m_RM (module doc); ``photon_absorbed_fraction``
    ``None``: :func:`marrow_photon_absorbed_fraction`."""
    m = _finite(marrow_mass_g, "marrow_mass_g", True)
    phi = _finite(electron_absorbed_fraction, "electron_absorbed_fraction", True)
    if phi > 1:
        raise MarrowError(f"electron_absorbed_fraction must be <= 1, got {phi}")
    phi_g = marrow_photon_absorbed_fraction(nuclide, m) if photon_absorbed_fraction is None else \
        _finite(photon_absorbed_fraction, "photon_absorbed_fraction")
    if phi_g > 1:
        raise MarrowError(f"photon_absorbed_fraction must be <= 1, got {phi_g}")
    e = nuclides.electron_energy_per_decay_mev(nuclide) * phi + nuclides.photon_energy_per_decay_mev(nuclide) * phi_g
    return e * MEV_J * DECAYS_PER_MBQ_H / (m * 1e-3)


def blood_based_marrow_tia_mbq_h(blood_tia_mbq_h_per_ml: float, marrow_mass_g: float,
                                 rmblr: float = DEFAULT_RMBLR) -> float:
    """Ã_RM = [Ã_blood] · RMBLR · m_RM (Hindorf 2010)."""
    return (_finite(blood_tia_mbq_h_per_ml, "blood_tia_mbq_h_per_ml") * _finite(rmblr, "rmblr", True)
            * _finite(marrow_mass_g, "marrow_mass_g", True))


def image_based_marrow_tia_mbq_h(voi_tia_mbq_h: float, voi_mass_g: float, marrow_mass_g: float) -> float:
    """Ã_RM = Ã_VOI · m_RM / m_VOI (uniform marrow uptake)."""
    return (_finite(voi_tia_mbq_h, "voi_tia_mbq_h") * _finite(marrow_mass_g, "marrow_mass_g", True)
            / _finite(voi_mass_g, "voi_mass_g", True))


@dataclass(frozen=True)
class MarrowDose:
    """Red-marrow absorbed dose and its components (Gy)."""

    method: str
    marrow_mass_g: float
    tia_mbq_h: float
    self_dose_gy: float
    cross_dose_gy: Mapping[str, float] = field(default_factory=dict)
    flags: tuple[str, ...] = ()
    parameters: Mapping[str, float] = field(default_factory=dict)

    @property
    def dose_gy(self) -> float:
        return self.self_dose_gy + sum(self.cross_dose_gy.values())


def marrow_dose(method: str, tia_mbq_h: float, marrow_mass_g: float, nuclide: str, *,
                cross: Mapping[str, tuple[float, float]] | None = None, electron_absorbed_fraction: float = 1.0,
                photon_absorbed_fraction: float | None = None, parameters: Mapping[str, float] | None = None,
                flags=()) -> MarrowDose:
    """D_RM = Ã_RM·S(RM←RM) + Σ Ã_s·S(RM←s); ``cross`` maps a source name to (Ã_s MBq·h, S Gy/(MBq·h))."""
    phi_g = marrow_photon_absorbed_fraction(nuclide, marrow_mass_g) if photon_absorbed_fraction is None else \
        photon_absorbed_fraction
    s_self = marrow_self_s_value(nuclide, marrow_mass_g, electron_absorbed_fraction, phi_g)
    cross_dose = {}
    for name, (tia, s) in dict(cross or {}).items():
        cross_dose[str(name)] = _finite(tia, f"TIA of {name}") * _finite(s, f"S(RM←{name})")
    flags = tuple(flags) + (() if cross else ("no_cross_dose",))
    return MarrowDose(method, float(marrow_mass_g), _finite(tia_mbq_h, "tia_mbq_h"), tia_mbq_h * s_self, cross_dose,
                      flags, {"s_self_gy_per_mbq_h": s_self, "electron_absorbed_fraction": electron_absorbed_fraction,
                              "photon_absorbed_fraction": float(phi_g), **dict(parameters or {})})


__all__ = ["REFERENCE_RED_MARROW_G", "REFERENCE_BODY_MASS_KG", "DEFAULT_RMBLR", "RED_MARROW_DENSITY_G_CM3",
           "MarrowError", "red_marrow_mass_g", "marrow_photon_absorbed_fraction", "marrow_self_s_value", "blood_based_marrow_tia_mbq_h", "image_based_marrow_tia_mbq_h", "MarrowDose",
           "marrow_dose"]
