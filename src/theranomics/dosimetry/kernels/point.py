"""Radial point kernels of a nuclide: cumulative energy deposited within radius r, per decay.

Electrons (β spectrum, internal-conversion and Auger lines) use the universal scaled kernels of
:mod:`._electron_mc` scaled by the CSDA range: for an electron of energy E in a medium of density
ρ, the fraction of E absorbed within r is ``Φ_e(r ρ / r₀(E), E)``.  The continuous β spectrum is
the ICRP-107 spectrum (``nuclides.beta_spectrum``), rescaled so that its energy equals the
ICRP-107 mean β energy per decay.  Photons (γ, X, annihilation lines, ICRP-107) use
:mod:`._photon_mc`: ``Φ_γ(μ(E) r, E)`` with μ = ρ (μ_pe + μ_inc)/ρ.

Point-source dose at r: ``D(r) = dC/dr / (4π r² ρ)`` with C the cumulative energy.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from ... import nuclides
from . import _electron_mc, _photon_mc
from .cache import cached_arrays
from .materials import KernelInputError, Material, csda_range_g_cm2, material

#: Emission groups a kernel can include.
EMISSION_GROUPS = ("beta", "ce", "auger", "photons")
_ALIASES = {"beta": ("beta",), "ce": ("ce",), "ie": ("ce",), "auger": ("auger",), "photons": ("photons",),
            "gamma": ("photons",), "electrons": ("beta", "ce", "auger"), "all": EMISSION_GROUPS}
_ICRP_TYPES = {"beta": ("beta-", "beta+"), "ce": ("IE",), "auger": ("auger",), "photons": ("gamma", "X", "annihilation")}
MIN_ELECTRON_TABLE_MEV = 0.01


def normalise_include(include) -> tuple[str, ...]:
    """Canonical, ordered tuple of emission groups; accepts a string or an iterable of aliases."""
    items = (include,) if isinstance(include, str) else tuple(include)
    if not items:
        raise KernelInputError("include must name at least one emission group, e.g. ('beta',) or 'all'")
    out: set[str] = set()
    for item in items:
        key = str(item).lower()
        if key not in _ALIASES:
            raise KernelInputError(f"unknown emission group {item!r} in include; expected some of {sorted(_ALIASES)}")
        out.update(_ALIASES[key])
    return tuple(g for g in EMISSION_GROUPS if g in out)


def check_positive(value, name: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise KernelInputError(f"{name} must be a number, got {value!r}") from None
    if not np.isfinite(v) or v <= 0:
        raise KernelInputError(f"{name} must be a positive finite number, got {value!r}")
    return v


# -- universal tables (cached) ---------------------------------------------------------------
@lru_cache(maxsize=8)
def electron_table(material_name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(energies MeV, x edges, cumulative Φ_e table) for monoenergetic electrons in a material."""
    mat = material(material_name)
    energies = _electron_mc.ENERGIES_MEV[_electron_mc.ENERGIES_MEV >= MIN_ELECTRON_TABLE_MEV * 0.999]
    params = {"model": "electron_csda_random_walk", "version": _electron_mc.MODEL_VERSION,
              "material": mat.name, "energies": energies.round(8).tolist(), "n": 8000}

    def build():
        rng = np.random.default_rng(20120517)
        table = np.stack([_electron_mc.scaled_kernel_one_energy(mat, float(e), 8000, rng) for e in energies])
        return {"energies": energies, "table": table}

    data = cached_arrays("tables", params, build)
    cum = np.concatenate([np.zeros((len(data["energies"]), 1)), np.cumsum(data["table"], axis=1)], axis=1)
    return data["energies"], _electron_mc.X_EDGES, cum


@lru_cache(maxsize=8)
def photon_table(material_name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(energies MeV, x edges in mfp, cumulative Φ_γ table) for monoenergetic photons."""
    mat = material(material_name)
    params = {"model": "photon_analog_kn", "version": _photon_mc.MODEL_VERSION, "material": mat.name,
              "energies": _photon_mc.ENERGIES_MEV.round(8).tolist(), "n": 20000}

    def build():
        return {"energies": _photon_mc.ENERGIES_MEV, "table": _photon_mc.kernel_table(mat, 20000)}

    data = cached_arrays("tables", params, build)
    cum = np.concatenate([np.zeros((len(data["energies"]), 1)), np.cumsum(data["table"], axis=1)], axis=1)
    return data["energies"], _photon_mc.X_EDGES, cum


def _interp_table(energies, x_edges, cum, energy: float, x: np.ndarray) -> np.ndarray:
    """Φ(x, E) by linear interpolation in x and in log E between tabulated energies."""
    le = np.log(np.clip(energy, energies[0], energies[-1]))
    lgrid = np.log(energies)
    hi = int(np.clip(np.searchsorted(lgrid, le), 1, len(energies) - 1))
    t = (le - lgrid[hi - 1]) / (lgrid[hi] - lgrid[hi - 1])
    a = np.interp(x, x_edges, cum[hi - 1], right=cum[hi - 1][-1])
    b = np.interp(x, x_edges, cum[hi], right=cum[hi][-1])
    return (1.0 - t) * a + t * b


# -- emissions --------------------------------------------------------------------------------
def emission_lines(nuclide: str, group: str) -> tuple[np.ndarray, np.ndarray]:
    """(energies MeV, yields per decay) of one group; β as a discretised continuous spectrum."""
    if group == "beta":
        e_mean = nuclides.mean_energy_per_decay_mev(nuclide, _ICRP_TYPES["beta"])
        if e_mean <= 0:
            return np.zeros(0), np.zeros(0)
        energy, density = nuclides.beta_spectrum(nuclide)
        widths = np.gradient(energy)
        weights = density * widths
        keep = (weights > 0) & (energy > 0)
        energy, weights = energy[keep], weights[keep]
        weights *= e_mean / float(np.sum(weights * energy))   # exact ICRP-107 mean β energy
        return energy, weights
    energies, yields = [], []
    for rtype in _ICRP_TYPES[group]:
        e, y = nuclides.emissions(nuclide, rtype)
        energies.append(e)
        yields.append(y)
    e, y = np.concatenate(energies), np.concatenate(yields)
    keep = (e > 0) & (y > 0)
    return e[keep], y[keep]


@dataclass(frozen=True, eq=False)
class PointKernel:
    """Cumulative energy (MeV per decay) deposited within radius ``r_cm`` of a point source.

    ``emitted_mev`` is the energy per decay of the included emissions; the absorbed fraction in
    an infinite medium is ``cumulative_mev[-1] / emitted_mev`` (photons beyond 40 mean free paths
    are lost).
    """

    nuclide: str
    include: tuple[str, ...]
    material: str
    density_g_cm3: float
    r_cm: np.ndarray
    cumulative_mev: np.ndarray
    emitted_mev: float
    electron_range_cm: float
    meta: dict = field(default_factory=dict)

    def cumulative(self, r_cm) -> np.ndarray:
        """Energy per decay within radius r (MeV), piecewise-linear in r."""
        return np.interp(r_cm, self.r_cm, self.cumulative_mev, right=self.cumulative_mev[-1])

    def dose_mev_g(self, r_cm) -> np.ndarray:
        """Point-source dose per decay at r (MeV/g): ``dC/dr / (4π r² ρ)``."""
        r = np.asarray(r_cm, dtype=float)
        slope = np.gradient(self.cumulative_mev, self.r_cm)
        dcdr = np.interp(r, self.r_cm, slope, right=0.0)
        return dcdr / (4.0 * np.pi * np.maximum(r, 1e-12) ** 2 * self.density_g_cm3)


def point_kernel(nuclide: str, *, include=("beta",), density_g_cm3: float = 1.04, material_name: str = "soft_tissue",
                 r_max_cm: float | None = None, n_r: int = 4000) -> PointKernel:
    """Radial point kernel of ``nuclide`` in ``material_name`` at ``density_g_cm3``.

    The radius grid is uniform in r up to ``r_max_cm`` (default: the largest electron CSDA
    range, or 40 photon mean free paths capped at 100 cm when photons are included) with a
    geometric refinement near the source.
    """
    name = nuclides.normalise_name(nuclide)
    groups = normalise_include(include)
    rho = check_positive(density_g_cm3, "density_g_cm3")
    mat: Material = material(material_name)
    lines = {g: emission_lines(name, g) for g in groups}
    emitted = float(sum(np.sum(e * y) for e, y in lines.values()))
    if emitted <= 0:
        raise KernelInputError(f"{name} emits nothing in the groups {groups} (ICRP-107)")
    e_elec = np.concatenate([lines[g][0] for g in groups if g != "photons"] or [np.zeros(0)])
    w_elec = np.concatenate([lines[g][1] for g in groups if g != "photons"] or [np.zeros(0)])
    elec_range = float(csda_range_g_cm2(mat, e_elec.max(), rho) / rho) * _electron_mc.X_EDGES[-1] if e_elec.size else 0.0
    if "photons" in groups and lines["photons"][0].size:
        e_ph, y_ph = lines["photons"]
        p, c = _photon_mc.cross_sections_cm2_g(mat, e_ph)
        mu = (p + c) * rho
        default_max = min(max(_photon_mc.X_MAX / float(mu.min()), elec_range), 100.0)
    else:
        e_ph = y_ph = mu = np.zeros(0)
        default_max = elec_range
    r_max = float(r_max_cm) if r_max_cm is not None else max(default_max, 1e-4)
    r = np.unique(np.concatenate([[0.0], np.geomspace(1e-7, r_max, n_r // 2), np.linspace(0, r_max, n_r // 2)]))
    cum = np.zeros_like(r)
    if e_elec.size:
        energies, x_edges, table = electron_table(mat.name)
        for e, w in zip(e_elec, w_elec):
            r0 = float(csda_range_g_cm2(mat, e, rho)) / rho
            cum += w * e * _interp_table(energies, x_edges, table, float(e), r / r0)
    if e_ph.size:
        energies, x_edges, table = photon_table(mat.name)
        for e, y, m in zip(e_ph, y_ph, mu):
            cum += y * e * _interp_table(energies, x_edges, table, float(e), r * m)
    return PointKernel(name, groups, mat.name, rho, r, cum, emitted, elec_range,
                       meta={"electron_model": f"csda_random_walk_v{_electron_mc.MODEL_VERSION}",
                             "photon_model": f"analog_klein_nishina_v{_photon_mc.MODEL_VERSION}"})
