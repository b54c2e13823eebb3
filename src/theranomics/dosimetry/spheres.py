"""Lesion sphere model: self-dose S-values of uniformly filled spheres from the same point kernels.

For a uniform source in a sphere of radius R the distance between emission and absorption points
has the density ``g(r) = (3r²/R³)(1 − 3r/4R + r³/16R³)`` (0 ≤ r ≤ 2R), so with C(r) the cumulative
point kernel (MeV per decay within r) the self absorbed fraction is (Berger 1970, MIRD Pamphlet 7)

    φ = (1/E) ∫₀^{2R} (1 − 3r/(4R) + r³/(16R³)) dC(r)

and the self-dose S-value is ``S = E · φ / m`` with m = ρ V.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .kernels import KernelInputError, MEV_PER_G_TO_MGY_PER_MBQ_S, point_kernel
from .kernels.point import check_positive

#: Default tabulation volumes (mL): 0.01 mL to 6 L.
DEFAULT_VOLUMES_ML = tuple(float(v) for v in np.geomspace(0.01, 6000.0, 30))


def _volumes(volume_ml) -> np.ndarray:
    v = np.atleast_1d(np.asarray(volume_ml, dtype=float))
    if v.size == 0 or not np.all(np.isfinite(v)) or np.any(v <= 0):
        raise KernelInputError(f"sphere volumes must be positive finite mL, got {volume_ml!r}")
    return v


def sphere_absorbed_fraction(nuclide: str, volume_ml, *, include=("beta",), density_g_cm3: float = 1.0,
                             material_name: str = "soft_tissue") -> np.ndarray:
    """Self absorbed fraction φ of uniformly filled spheres (one per volume)."""
    vols = _volumes(volume_ml)
    rho = check_positive(density_g_cm3, "density_g_cm3")
    pk = point_kernel(nuclide, include=include, density_g_cm3=rho, material_name=material_name)
    radii = np.cbrt(3.0 * vols / (4.0 * np.pi))
    out = np.empty(vols.size)
    for n, radius in enumerate(radii):
        edges = np.unique(np.concatenate([pk.r_cm[pk.r_cm < 2 * radius], np.linspace(0.0, 2 * radius, 2001)]))
        dc = np.diff(pk.cumulative(edges))
        r = 0.5 * (edges[1:] + edges[:-1]) / radius
        out[n] = float(np.dot(1.0 - 0.75 * r + r**3 / 16.0, dc)) / pk.emitted_mev
    return out


def sphere_s_value(nuclide: str, volume_ml, *, include=("beta",), density_g_cm3: float = 1.0,
                   material_name: str = "soft_tissue") -> np.ndarray:
    """Self-dose S-value (mGy/(MBq·s)) of uniformly filled spheres: ``S = E φ / (ρ V)``."""
    vols = _volumes(volume_ml)
    phi = sphere_absorbed_fraction(nuclide, vols, include=include, density_g_cm3=density_g_cm3,
                                   material_name=material_name)
    pk_e = point_kernel(nuclide, include=include, density_g_cm3=density_g_cm3, material_name=material_name).emitted_mev
    return pk_e * phi / (vols * density_g_cm3) * MEV_PER_G_TO_MGY_PER_MBQ_S


def sphere_s_table(nuclide: str, volumes_ml=DEFAULT_VOLUMES_ML, *, include=("beta",), density_g_cm3: float = 1.0,
                   material_name: str = "soft_tissue") -> pd.DataFrame:
    """Table over volume: volume_ml, mass_g, absorbed_fraction, s_mgy_per_mbq_s, s_gy_per_mbq_h."""
    vols = _volumes(volumes_ml)
    phi = sphere_absorbed_fraction(nuclide, vols, include=include, density_g_cm3=density_g_cm3,
                                   material_name=material_name)
    s = sphere_s_value(nuclide, vols, include=include, density_g_cm3=density_g_cm3, material_name=material_name)
    return pd.DataFrame({"volume_ml": vols, "mass_g": vols * density_g_cm3, "absorbed_fraction": phi,
                         "s_mgy_per_mbq_s": s, "s_gy_per_mbq_h": s * 3.6})


__all__ = ["sphere_absorbed_fraction", "sphere_s_value", "sphere_s_table", "DEFAULT_VOLUMES_ML"]
