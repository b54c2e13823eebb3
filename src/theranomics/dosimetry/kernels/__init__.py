"""Dose kernels generated from physics for any ICRP-107 nuclide, material, density and voxel size.

* :func:`point_kernel` — radial point kernel (cumulative energy per decay within r).
* :func:`voxel_s_kernel` — voxel S-values in mGy/(MBq·s), cached on disk by parameters.

Physics: electrons from a CSDA random walk giving Berger-type scaled kernels (:mod:`._electron_mc`,
ICRU 37 stopping powers, Molière-screened transport cross sections); photons from a
Klein–Nishina random walk with xraylib cross sections (:mod:`._photon_mc`); emissions from
ICRP-107 (:mod:`theranomics.nuclides`).  Voxel integration is deterministic (:mod:`.voxel_s`).
"""
from __future__ import annotations

import numpy as np

from ... import nuclides
from . import _electron_mc, _photon_mc
from .cache import cache_dir, cached_arrays
from .materials import MATERIALS, KernelInputError, csda_range_g_cm2, material
from .point import EMISSION_GROUPS, PointKernel, check_positive, normalise_include, point_kernel
from .voxel_s import MEV_PER_G_TO_MGY_PER_MBQ_S, VoxelSKernel, integrate_voxel_s, mirror_octant

#: Largest default photon kernel radius (mm); photon energy beyond it is not deposited.
DEFAULT_PHOTON_EXTENT_MM = 100.0


def _triple(value, name: str) -> tuple[float, float, float]:
    vals = np.atleast_1d(np.asarray(value, dtype=float)) if np.ndim(value) else np.full(3, float(check_positive(value, name)))
    if vals.size == 1:
        vals = np.full(3, vals[0])
    if vals.size != 3:
        raise KernelInputError(f"{name} must be one number or three (x, y, z), got {value!r}")
    for v in vals:
        check_positive(v, name)
    return tuple(float(v) for v in vals)


def default_extent_mm(kernel: PointKernel, include: tuple[str, ...]) -> float:
    """Kernel radius: where the cumulative energy reaches 99.99 % (electrons) or 100 mm (photons)."""
    c = kernel.cumulative_mev
    r_e = float(np.interp(c[-1] * (1 - 1e-4), c, kernel.r_cm)) * 10.0 if c[-1] > 0 else 0.0
    r_e = min(r_e, kernel.electron_range_cm * 10.0) if "photons" not in include else r_e
    if "photons" in include:
        return DEFAULT_PHOTON_EXTENT_MM
    return r_e


def voxel_s_kernel(nuclide: str, voxel_mm, *, include=("beta",), density_g_cm3: float = 1.04,
                   material_name: str = "soft_tissue", half_size=None, source: str = "voxel",
                   use_cache: bool = True) -> VoxelSKernel:
    """Voxel S-value kernel ``S(i, j, k)`` in mGy/(MBq·s), generated from physics.

    ``voxel_mm`` is one size or (x, y, z); ``include`` any of ``'beta'``, ``'ce'``, ``'auger'``,
    ``'photons'`` (or ``'electrons'``, ``'all'``); ``source='voxel'`` averages over source and
    target voxels (MIRD voxel S-value), ``'point'`` puts the source at the voxel centre (DPK).
    ``half_size`` (offsets per axis) defaults to the electron range, or 100 mm with photons.
    Values are cached under :func:`cache_dir` by their parameters.
    """
    name = nuclides.normalise_name(nuclide)
    groups = normalise_include(include)
    spacing = _triple(voxel_mm, "voxel_mm")
    rho = check_positive(density_g_cm3, "density_g_cm3")
    mat = material(material_name)
    if source not in ("voxel", "point"):
        raise KernelInputError(f"source must be 'voxel' or 'point', got {source!r}")
    if half_size is not None:
        hs = np.atleast_1d(np.asarray(half_size))
        if hs.size == 1:
            hs = np.repeat(hs, 3)
        if hs.size != 3 or np.any(hs < 0) or np.any(hs != np.round(hs)):
            raise KernelInputError(f"half_size must be one or three non-negative integers, got {half_size!r}")
        half: tuple[int, ...] | None = tuple(int(h) for h in hs)
    else:
        half = None
    params = {"nuclide": name, "include": groups, "voxel_mm": [round(s, 6) for s in spacing],
              "density_g_cm3": round(rho, 6), "material": mat.name, "half_size": half, "source": source,
              "electron_model": _electron_mc.MODEL_VERSION, "photon_model": _photon_mc.MODEL_VERSION,
              "integrator": 1}

    def build():
        pk = point_kernel(name, include=groups, density_g_cm3=rho, material_name=mat.name)
        if half is None:
            extent = default_extent_mm(pk, groups)
            hs_ = tuple(max(1, int(np.ceil(extent / s))) for s in spacing)
        else:
            hs_ = half
        octant = integrate_voxel_s(pk, spacing, hs_, source) * MEV_PER_G_TO_MGY_PER_MBQ_S
        return {"values": mirror_octant(octant), "emitted_mev": np.array(pk.emitted_mev)}

    data = cached_arrays("voxel_s", params, build, use_cache=use_cache)
    meta = {**params, "emitted_mev_per_decay": float(data["emitted_mev"]), "unit": "mGy/(MBq*s)",
            "emissions_icrp107": {g: list(_icrp_types(g)) for g in groups}}
    return VoxelSKernel(np.asarray(data["values"]), spacing, name, groups, mat.name, rho, source, meta)


def _icrp_types(group: str) -> tuple[str, ...]:
    from .point import _ICRP_TYPES
    return _ICRP_TYPES[group]


__all__ = ["voxel_s_kernel", "point_kernel", "VoxelSKernel", "PointKernel", "KernelInputError", "MATERIALS",
           "EMISSION_GROUPS", "material", "csda_range_g_cm2", "cache_dir", "normalise_include",
           "MEV_PER_G_TO_MGY_PER_MBQ_S", "DEFAULT_PHOTON_EXTENT_MM"]
