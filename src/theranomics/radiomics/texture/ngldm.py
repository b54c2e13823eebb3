"""Neighbouring grey level dependence matrix (NGLDM) features, IBSI 1 section 3.11
(Sun and Wee 1983).

For every ROI voxel with grey level i, its dependence k = 1 + the number of ROI neighbours
(within distance d, Chebyshev by default; in-slice for 2D) whose grey level j satisfies
|i - j| <= alpha (coarseness parameter, ``settings.ngldm_alpha``).  s[i, k] counts the voxels;
N_s = number of voxels, N_v = number of ROI voxels.  Aggregation ``_2D`` (per slice, averaged),
``_2_5D`` (merged over slices), ``_3D``.  Feature formulas:
:func:`theranomics.radiomics.texture._common.zone_features` (dependence count energy = sum p^2).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ._common import RoiGrid, count_matrices, nan_result, aggregate, read_settings, zone_features
from ._neighbours import neighbour_stats

__all__ = ["FEATURES", "compute_ngldm"]

#: base tag -> (IBSI feature name, IBSI code)
FEATURES: dict[str, tuple[str, str]] = {
    "ngl_lde": ("Low dependence emphasis", "SODN"),
    "ngl_hde": ("High dependence emphasis", "IMOQ"),
    "ngl_lgce": ("Low grey level count emphasis", "TL9H"),
    "ngl_hgce": ("High grey level count emphasis", "OAE7"),
    "ngl_ldlge": ("Low dependence low grey level emphasis", "EQ3F"),
    "ngl_ldhge": ("Low dependence high grey level emphasis", "JA6D"),
    "ngl_hdlge": ("High dependence low grey level emphasis", "NBZI"),
    "ngl_hdhge": ("High dependence high grey level emphasis", "9QMG"),
    "ngl_glnu": ("Grey level non-uniformity", "FP8K"),
    "ngl_glnu_norm": ("Normalised grey level non-uniformity", "5SPA"),
    "ngl_dcnu": ("Dependence count non-uniformity", "Z87G"),
    "ngl_dcnu_norm": ("Normalised dependence count non-uniformity", "OKJI"),
    "ngl_dc_perc": ("Dependence count percentage", "6XV8"),
    "ngl_gl_var": ("Grey level variance", "1PFV"),
    "ngl_dc_var": ("Dependence count variance", "DNX2"),
    "ngl_dc_entr": ("Dependence count entropy", "FCBV"),
    "ngl_dc_energy": ("Dependence count energy", "CAS9"),
}

_GENERIC = dict(zip(FEATURES, ("se", "le", "lge", "hge", "slge", "shge", "llge", "lhge", "glnu", "glnu_norm",
                               "sznu", "sznu_norm", "perc", "gl_var", "sz_var", "sz_entr", "energy")))

SUFFIXES = {"2d": "_2D", "2.5d": "_2_5D", "3d": "_3D"}


def _ngldm(roi: RoiGrid, prm: Any) -> dict[str, float]:
    parts = []
    for dim in prm.dims:
        _, _, close = neighbour_stats(roi, prm.distance, prm.distance_norm, prm.ngldm_alpha, dim == "3d")
        if dim == "2d":
            parts.append((SUFFIXES[dim], roi.slice_id, roi.n_slices, close, roi.slice_voxel_counts().astype(float)))
        else:
            parts.append((SUFFIXES[dim], np.zeros_like(close), 1, close, np.array([float(roi.n_voxels)])))
    first = np.cumsum([0] + [p[2] for p in parts])
    m, gl, kv = count_matrices(np.concatenate([p[1] + f for p, f in zip(parts, first)]), int(first[-1]),
                               np.tile(roi.values, len(parts)), 1 + np.concatenate([p[3] for p in parts]),
                               rows_present=roi.level_values)
    feats = zone_features(m, gl, kv, np.concatenate([p[4] for p in parts]))
    return aggregate(feats, _GENERIC, [(p[0], p[2]) for p in parts])


def tags(settings: Any = None) -> list[str]:
    """Output tags for these settings (base tag + aggregation suffix)."""
    prm = read_settings(settings)
    return [k + SUFFIXES[d] for d in prm.dims for k in FEATURES]


def compute_ngldm(levels: np.ndarray, mask: np.ndarray, n_levels: int, settings: Any = None,
                  spacing_mm: Any = (1.0, 1.0, 1.0), morph_mask: np.ndarray | None = None) -> dict[str, float]:
    """NGLDM features (IBSI 1 section 3.11) of grey levels ``levels`` (1..n_levels) in ``mask``.

    Neighbourhood: ``settings.distance`` in ``settings.distance_norm``; coarseness
    ``settings.ngldm_alpha``.  Returns tag -> value for every dimension in ``settings.dims``;
    ``spacing_mm`` is only checked, ``morph_mask`` not used.  Fewer than two ROI voxels: NaN.
    """
    prm = read_settings(settings)
    roi = RoiGrid(levels, mask, n_levels, pad=prm.distance, morph_mask=morph_mask, spacing_mm=spacing_mm)
    return _run(roi, prm)


def _run(roi: RoiGrid, prm: Any) -> dict[str, float]:
    if roi.n_voxels < 2:
        return nan_result(tags(prm))
    return _ngldm(roi, prm)
