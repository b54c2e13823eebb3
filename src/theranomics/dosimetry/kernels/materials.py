"""Materials for kernel generation: composition, electron stopping power, CSDA range, transport mean free path.

Elemental compositions (mass fractions) come from the NIST compound database shipped with
``xraylib``; the mean excitation energies I are the ICRU Report 37 / NIST ESTAR values.

Formulas (all per unit mass, cm²/g, energies in MeV):

* Collision stopping power of electrons, ICRU Report 37 (1984) eq. 5.8 (Bethe–Rohrlich):
  ``S/ρ = 2π r_e² m c² N_A (Z/A) / β² · [ln(τ²(τ+2) / (2 (I/mc²)²)) + F⁻(τ) − δ]`` with
  ``F⁻(τ) = 1 − β² + (τ²/8 − (2τ+1) ln 2) / (τ+1)²`` and the density-effect correction δ from
  the general Sternheimer & Peierls (1971) parametrisation.
* CSDA range ``r₀(E) = ∫₀ᴱ dE' / (S/ρ)`` (radiative losses neglected: < 1 % below 2.3 MeV in tissue).
* First transport cross section of the screened Rutherford (Wentzel) model with Molière's
  screening parameter, ``σ₁ = 2π Z(Z+1) r_e² (mc²)² / (pβc)² · [ln(1 + 1/η) − 1/(1 + η)]``,
  ``η = ¼ (ħ / (p a))² (1.13 + 3.76 (αZ/β)²)``, ``a = 0.885 a₀ Z^(-1/3)`` (Molière 1947/48).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

#: Physical constants (CODATA 2018).
ELECTRON_MASS_MEV = 0.51099895
CLASSICAL_ELECTRON_RADIUS_CM = 2.8179403262e-13
AVOGADRO = 6.02214076e23
FINE_STRUCTURE = 7.2973525693e-3
HBAR_C_MEV_CM = 197.3269804e-13
BOHR_RADIUS_CM = 5.29177210903e-9

#: (xraylib NIST compound name, mean excitation energy I in eV from ICRU 37 / ESTAR).
_MATERIALS = {
    "water": ("Water, Liquid", 75.0),
    "soft_tissue": ("Tissue, Soft (ICRP)", 72.3),
    "bone_compact": ("Bone, Compact (ICRU)", 91.9),
    "bone_cortical": ("Bone, Cortical (ICRP)", 106.4),
    "adipose": ("Adipose Tissue (ICRP)", 63.2),
}
MATERIALS = tuple(_MATERIALS)


class KernelInputError(ValueError):
    """Bad input to kernel or dose computation (unknown material, non-positive size, ...)."""


@dataclass(frozen=True)
class Material:
    """A material by composition; density is a separate parameter of every kernel."""

    name: str
    nist_name: str
    i_ev: float
    elements: tuple[int, ...]
    mass_fractions: tuple[float, ...]
    nominal_density_g_cm3: float

    @property
    def z_over_a(self) -> float:
        """Electrons per gram / N_A: Σ w_i Z_i / A_i (mol/g)."""
        import xraylib
        return float(sum(w * z / xraylib.AtomicWeight(z) for z, w in zip(self.elements, self.mass_fractions)))


@lru_cache(maxsize=None)
def material(name: str) -> Material:
    """Material by short name (``'soft_tissue'``, ``'water'``, ``'bone_compact'``, ...)."""
    key = str(name).lower()
    if key not in _MATERIALS:
        raise KernelInputError(f"unknown material {name!r}; expected one of {MATERIALS}")
    import xraylib
    nist, i_ev = _MATERIALS[key]
    data = xraylib.GetCompoundDataNISTByName(nist)
    return Material(key, nist, i_ev, tuple(int(z) for z in data["Elements"]),
                    tuple(float(w) for w in data["massFractions"]), float(data["density"]))


def _density_effect(mat: Material, density_g_cm3: float, beta_gamma: np.ndarray) -> np.ndarray:
    """Sternheimer & Peierls (1971) general density-effect correction δ(x = log10 βγ)."""
    plasma_ev = 28.816 * np.sqrt(density_g_cm3 * mat.z_over_a)
    c_bar = 2.0 * np.log(mat.i_ev / plasma_ev) + 1.0
    if mat.i_ev < 100.0:
        x1 = 2.0
        x0 = 0.2 if c_bar < 3.681 else 0.326 * c_bar - 1.0
    else:
        x1 = 3.0
        x0 = 0.2 if c_bar < 5.215 else 0.326 * c_bar - 1.5
    m = 3.0
    a = (c_bar - 4.606 * x0) / (x1 - x0) ** m
    x = np.log10(np.maximum(beta_gamma, 1e-12))
    delta = np.where(x >= x1, 4.606 * x - c_bar, 4.606 * x - c_bar + a * np.clip(x1 - x, 0, None) ** m)
    return np.where(x <= x0, 0.0, delta)


def collision_stopping_power(mat: Material, energy_mev, density_g_cm3: float | None = None) -> np.ndarray:
    """Mass collision stopping power of electrons (MeV cm²/g), ICRU 37 Bethe formula."""
    rho = mat.nominal_density_g_cm3 if density_g_cm3 is None else density_g_cm3
    t = np.asarray(energy_mev, dtype=float)
    tau = t / ELECTRON_MASS_MEV
    gamma = tau + 1.0
    beta2 = 1.0 - 1.0 / gamma**2
    i_rel = mat.i_ev * 1e-6 / ELECTRON_MASS_MEV
    f_minus = 1.0 - beta2 + (tau**2 / 8.0 - (2.0 * tau + 1.0) * np.log(2.0)) / (tau + 1.0) ** 2
    delta = _density_effect(mat, rho, np.sqrt(beta2) * gamma)
    k = 2.0 * np.pi * CLASSICAL_ELECTRON_RADIUS_CM**2 * ELECTRON_MASS_MEV * AVOGADRO * mat.z_over_a
    bracket = np.log(tau**2 * (tau + 2.0) / (2.0 * i_rel**2)) + f_minus - delta
    return k / beta2 * np.maximum(bracket, 1e-3)


def transport_cross_section(mat: Material, energy_mev) -> np.ndarray:
    """First transport cross section per unit mass, 1/λ₁ (cm²/g), screened Rutherford + Molière screening."""
    import xraylib
    t = np.asarray(energy_mev, dtype=float)
    pc = np.sqrt(t * (t + 2.0 * ELECTRON_MASS_MEV))
    beta = pc / (t + ELECTRON_MASS_MEV)
    total = np.zeros_like(t)
    for z, w in zip(mat.elements, mat.mass_fractions):
        a_scr = 0.885 * BOHR_RADIUS_CM * z ** (-1.0 / 3.0)
        eta = 0.25 * (HBAR_C_MEV_CM / (pc * a_scr)) ** 2 * (1.13 + 3.76 * (FINE_STRUCTURE * z / beta) ** 2)
        k = z * (z + 1.0) * CLASSICAL_ELECTRON_RADIUS_CM**2 * ELECTRON_MASS_MEV**2 / (pc * beta) ** 2
        sigma1 = 2.0 * np.pi * k * (np.log1p(1.0 / eta) - 1.0 / (1.0 + eta))
        total += w * AVOGADRO / xraylib.AtomicWeight(z) * sigma1
    return total


def energy_grid_mev(e_min: float = 1e-4, e_max: float = 20.0, per_decade: int = 200) -> np.ndarray:
    n = int(np.ceil(np.log10(e_max / e_min) * per_decade)) + 1
    return np.logspace(np.log10(e_min), np.log10(e_max), n)


@lru_cache(maxsize=64)
def _range_table(name: str, density_g_cm3: float) -> tuple[np.ndarray, np.ndarray]:
    mat = material(name)
    e = energy_grid_mev()
    s = collision_stopping_power(mat, e, density_g_cm3)
    # range below the first grid point: S ∝ 1/E approximately → r = E² / (2 E S)
    r0 = e[0] / (2.0 * s[0])
    inv = 1.0 / s
    r = r0 + np.concatenate(([0.0], np.cumsum(0.5 * (inv[1:] + inv[:-1]) * np.diff(e))))
    return e, r


def csda_range_g_cm2(mat: Material | str, energy_mev, density_g_cm3: float | None = None) -> np.ndarray:
    """CSDA range (g/cm²) by integrating 1/(S/ρ) of :func:`collision_stopping_power`."""
    mat = material(mat) if isinstance(mat, str) else mat
    rho = mat.nominal_density_g_cm3 if density_g_cm3 is None else float(density_g_cm3)
    e, r = _range_table(mat.name, round(rho, 6))
    t = np.asarray(energy_mev, dtype=float)
    return np.exp(np.interp(np.log(np.maximum(t, 1e-12)), np.log(e), np.log(r)))
