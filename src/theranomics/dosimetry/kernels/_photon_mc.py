"""Energy-deposition point kernels of monoenergetic photons (analog photon random walk).

Interactions: photoelectric absorption and incoherent (Compton) scattering with cross sections
from ``xraylib`` (``CS_Photo_CP``, ``CS_Compt_CP``: Scofield photoabsorption and incoherent
scattering with the Hubbell incoherent scattering function); scattering angles and energies from
the Klein–Nishina law (Kahn's sampling).  Secondary electrons and fluorescence deposit locally;
Rayleigh scattering is neglected (it changes direction, almost never energy); pair production
(< 1 % of interactions below 2 MeV in tissue) is treated as local absorption.  The kernel is thus
the primary term ``E μ_en/μ e^{−μr}`` times the build-up of scattered photons, computed instead of
taken from a build-up-factor fit.

Output: ``Φ(x, E₀)`` = fraction of E₀ deposited within ``x = μ(E₀) r`` mean free paths (density
independent for a fixed composition).
"""
from __future__ import annotations

import numpy as np

from .materials import ELECTRON_MASS_MEV, Material

MODEL_VERSION = 1
X_EDGES = np.concatenate([np.linspace(0.0, 0.5, 101), np.linspace(0.5, 4.0, 141)[1:], np.linspace(4.0, 40.0, 181)[1:]])
ENERGIES_MEV = np.logspace(np.log10(0.005), np.log10(3.0), 26)
X_MAX = 40.0
PHOTON_CUTOFF_MEV = 1e-3


XRAYLIB_MAX_MEV = 0.7


def klein_nishina_cm2_per_electron(energy_mev) -> np.ndarray:
    """Total Klein–Nishina cross section per free electron (cm²)."""
    from .materials import CLASSICAL_ELECTRON_RADIUS_CM as re_cm
    k = np.asarray(energy_mev, dtype=float) / ELECTRON_MASS_MEV
    l2k = np.log1p(2.0 * k)
    return 2.0 * np.pi * re_cm**2 * ((1.0 + k) / k**2 * (2.0 * (1.0 + k) / (1.0 + 2.0 * k) - l2k / k)
                                     + l2k / (2.0 * k) - (1.0 + 3.0 * k) / (1.0 + 2.0 * k) ** 2)


def cross_sections_cm2_g(mat: Material, energy_mev) -> tuple[np.ndarray, np.ndarray]:
    """(photoelectric, incoherent) mass cross sections (cm²/g) for energies in MeV.

    xraylib up to 0.7 MeV (its tables stop near 0.8 MeV); above, free-electron Klein–Nishina
    for Compton scattering (binding effects < 0.1 %) and a ``E^-2`` extrapolation of the (then
    negligible) photoelectric term.
    """
    import xraylib
    from .materials import AVOGADRO
    e = np.atleast_1d(np.asarray(energy_mev, dtype=float))
    e_kev = np.clip(e, 1e-3, XRAYLIB_MAX_MEV) * 1e3
    photo = np.array([xraylib.CS_Photo_CP(mat.nist_name, float(v)) for v in e_kev])
    compt = np.array([xraylib.CS_Compt_CP(mat.nist_name, float(v)) for v in e_kev])
    high = e > XRAYLIB_MAX_MEV
    if high.any():
        photo = np.where(high, photo * (XRAYLIB_MAX_MEV / e) ** 2, photo)
        compt = np.where(high, klein_nishina_cm2_per_electron(e) * AVOGADRO * mat.z_over_a, compt)
    return photo, compt


def mu_en_cm2_g(mat: Material, energy_mev) -> np.ndarray:
    """Mass energy-absorption coefficient μ_en/ρ (xraylib ``CS_Energy_CP``, Hubbell & Seltzer)."""
    import xraylib
    e_kev = np.atleast_1d(np.asarray(energy_mev, dtype=float)) * 1e3
    return np.array([xraylib.CS_Energy_CP(mat.nist_name, float(e)) for e in e_kev])


def _kahn(k: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Sample Klein–Nishina (E'/E, cos θ) for photon energies k = E/mc² (Kahn 1956)."""
    n = k.size
    ratio = np.empty(n)
    todo = np.arange(n)
    while todo.size:
        kk = k[todo]
        r1, r2, r3 = rng.random((3, todo.size))
        branch = r1 <= (1.0 + 2.0 * kk) / (9.0 + 2.0 * kk)
        eta_a = 1.0 + 2.0 * kk * r2
        ok_a = r3 <= 4.0 * (1.0 / eta_a - 1.0 / eta_a**2)
        eta_b = (1.0 + 2.0 * kk) / (1.0 + 2.0 * kk * r2)
        cos_b = 1.0 - (eta_b - 1.0) / kk
        ok_b = r3 <= 0.5 * (cos_b**2 + 1.0 / eta_b)
        eta = np.where(branch, eta_a, eta_b)
        ok = np.where(branch, ok_a, ok_b)
        ratio[todo[ok]] = 1.0 / eta[ok]
        todo = todo[~ok]
    cos_t = np.clip(1.0 - (1.0 / ratio - 1.0) / k, -1.0, 1.0)
    return ratio, cos_t


def kernel_one_energy(mat: Material, e0_mev: float, n_photons: int, rng: np.random.Generator) -> np.ndarray:
    """Fraction of E₀ deposited per x-bin (``X_EDGES``, x in mean free paths at E₀)."""
    from ._electron_mc import _rotate
    grid = np.logspace(np.log10(PHOTON_CUTOFF_MEV * 0.9), np.log10(max(e0_mev, 2 * PHOTON_CUTOFF_MEV) * 1.01), 120)
    photo_tab, compt_tab = cross_sections_cm2_g(mat, grid)
    lg = np.log(grid)
    mu0 = float(np.interp(np.log(e0_mev), lg, photo_tab + compt_tab))
    nb = len(X_EDGES) - 1
    hist = np.zeros(nb)

    def deposit(points: np.ndarray, amount: np.ndarray) -> None:
        x = np.linalg.norm(points, axis=1) * mu0
        idx = np.clip(np.searchsorted(X_EDGES, x, side="right") - 1, 0, nb - 1)
        inside = x < X_MAX
        hist[:] += np.bincount(idx[inside], weights=amount[inside], minlength=nb)

    energy = np.full(n_photons, e0_mev)
    pos = np.zeros((n_photons, 3))
    v = rng.normal(size=(n_photons, 3))
    u = v / np.linalg.norm(v, axis=1, keepdims=True)
    while energy.size:
        le = np.log(energy)
        mu_pe = np.interp(le, lg, photo_tab)
        mu_c = np.interp(le, lg, compt_tab)
        step = -np.log(rng.random(energy.size)) / (mu_pe + mu_c)
        pos = pos + u * step[:, None]
        escaped = np.linalg.norm(pos, axis=1) * mu0 >= X_MAX
        absorbed = rng.random(energy.size) * (mu_pe + mu_c) < mu_pe
        ratio, cos_t = _kahn(energy / ELECTRON_MASS_MEV, rng)
        new_e = np.where(absorbed, 0.0, energy * ratio)
        new_e = np.where(new_e < PHOTON_CUTOFF_MEV, 0.0, new_e)
        deposit(pos[~escaped], (energy - new_e)[~escaped])
        alive = (~escaped) & (new_e > 0.0)
        u = _rotate(u[alive], cos_t[alive], 2.0 * np.pi * rng.random(int(alive.sum())))
        pos, energy = pos[alive], new_e[alive]
    return hist / (e0_mev * n_photons)


def kernel_table(mat: Material, n_photons: int = 20000, seed: int = 20120518) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.stack([kernel_one_energy(mat, float(e), n_photons, rng) for e in ENERGIES_MEV])
