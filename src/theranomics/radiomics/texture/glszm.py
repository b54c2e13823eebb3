"""Grey level size zone matrix (GLSZM) features, IBSI 1 section 3.8 (Thibault et al. 2009).

s[i, j] counts zones — groups of connected ROI voxels with the same grey level i (8-connected
in a slice for 2D, 26-connected for 3D) — of size j voxels; N_v is the number of ROI voxels.
Aggregation: ``_2D`` features per slice, averaged over slices; ``_2_5D`` one matrix merged over
slices; ``_3D`` volumetric zones.  Feature formulas:
:func:`theranomics.radiomics.texture._common.zone_features`.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ._common import RoiGrid, count_matrices, nan_result, aggregate, read_settings, zone_features
from ._zones import zones

__all__ = ["FEATURES", "compute_glszm"]

#: base tag -> (IBSI feature name, IBSI code)
FEATURES: dict[str, tuple[str, str]] = {
    "szm_sze": ("Small zone emphasis", "5QRC"),
    "szm_lze": ("Large zone emphasis", "48P8"),
    "szm_lgze": ("Low grey level zone emphasis", "XMSY"),
    "szm_hgze": ("High grey level zone emphasis", "5GN9"),
    "szm_szlge": ("Small zone low grey level emphasis", "5RAI"),
    "szm_szhge": ("Small zone high grey level emphasis", "HW1V"),
    "szm_lzlge": ("Large zone low grey level emphasis", "YH51"),
    "szm_lzhge": ("Large zone high grey level emphasis", "J17V"),
    "szm_glnu": ("Grey level non-uniformity", "JNSA"),
    "szm_glnu_norm": ("Normalised grey level non-uniformity", "Y1RO"),
    "szm_zsnu": ("Zone size non-uniformity", "4JP3"),
    "szm_zsnu_norm": ("Normalised zone size non-uniformity", "VB3A"),
    "szm_z_perc": ("Zone percentage", "P30P"),
    "szm_gl_var": ("Grey level variance", "BYLV"),
    "szm_zs_var": ("Zone size variance", "3NSA"),
    "szm_zs_entr": ("Zone size entropy", "GU8N"),
}

_GENERIC = dict(zip(FEATURES, ("se", "le", "lge", "hge", "slge", "shge", "llge", "lhge", "glnu", "glnu_norm",
                               "sznu", "sznu_norm", "perc", "gl_var", "sz_var", "sz_entr")))

SUFFIXES = {"2d": "_2D", "2.5d": "_2_5D", "3d": "_3D"}


def zone_family(roi: RoiGrid, prm: Any, column: int, generic: dict[str, str]) -> dict[str, float]:
    """Per-slice (2D), slice-merged (2.5D) and volumetric (3D) zone matrices -> features.

    ``column`` picks what the matrix columns count: 2 = zone size (GLSZM), 3 = distance (GLDZM).
    """
    parts = []
    for dim in prm.dims:
        slc, lev, size, dist = zones(roi, dim == "3d")
        col = size if column == 2 else dist
        if dim == "2d":
            batch, nb, nv = slc, roi.n_slices, roi.slice_voxel_counts().astype(float)
        else:
            batch, nb, nv = np.zeros_like(slc), 1, np.array([float(roi.n_voxels)])
        parts.append((SUFFIXES[dim], batch, nb, lev, col, nv))
    # one matrix stack for all dimensions: batch offsets keep them apart
    first = np.cumsum([0] + [p[2] for p in parts])
    m, gl, cv = count_matrices(np.concatenate([p[1] + f for p, f in zip(parts, first)]), int(first[-1]),
                               np.concatenate([p[3] for p in parts]), np.concatenate([p[4] for p in parts]),
                               rows_present=roi.level_values)
    feats = zone_features(m, gl, cv, np.concatenate([p[5] for p in parts]))
    return aggregate(feats, generic, [(p[0], p[2]) for p in parts])


def tags(settings: Any = None) -> list[str]:
    """Output tags for these settings (base tag + aggregation suffix)."""
    prm = read_settings(settings)
    return [k + SUFFIXES[d] for d in prm.dims for k in FEATURES]


def compute_glszm(levels: np.ndarray, mask: np.ndarray, n_levels: int, settings: Any = None,
                  spacing_mm: Any = (1.0, 1.0, 1.0), morph_mask: np.ndarray | None = None) -> dict[str, float]:
    """GLSZM features (IBSI 1 section 3.8) of grey levels ``levels`` (1..n_levels) inside ``mask``.

    Returns tag -> value for every dimension in ``settings.dims``.  Zones use linkage distance 1
    (``settings.distance`` does not apply); ``spacing_mm`` is only checked, ``morph_mask`` not
    used.  Fewer than two ROI voxels: every value is NaN.
    """
    prm = read_settings(settings)
    roi = RoiGrid(levels, mask, n_levels, pad=1, morph_mask=morph_mask, spacing_mm=spacing_mm)
    return _run(roi, prm)


def _run(roi: RoiGrid, prm: Any) -> dict[str, float]:
    if roi.n_voxels < 2:
        return nan_result(tags(prm))
    return zone_family(roi, prm, 2, _GENERIC)
