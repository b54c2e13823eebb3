"""Neighbourhood grey tone difference matrix (NGTDM) features, IBSI 1 section 3.10
(Amadasun and King 1989).

For every ROI voxel with grey level i and at least one neighbour in the ROI (within distance d,
Chebyshev by default; in-slice for 2D), A = mean grey level of its ROI neighbours; then
s_i = sum |i - A| and n_i = number of such voxels, N_vc = sum n_i, p_i = n_i / N_vc and N_gp the
number of levels with p_i > 0.  Sums over (i, j) run over levels with p_i, p_j > 0:
coarseness 1 / sum p_i s_i (10^6 when that sum is 0);
contrast [sum p_i p_j (i-j)^2 / (N_gp (N_gp - 1))] [sum s_i / N_vc] (0 when N_gp = 1);
busyness sum p_i s_i / sum |i p_i - j p_j| (0 when the denominator is 0);
complexity sum |i-j| (p_i s_i + p_j s_j) / (p_i + p_j) / N_vc;
strength sum (p_i + p_j)(i-j)^2 / sum s_i (0 when sum s_i = 0).
Aggregation ``_2D`` (per slice, averaged), ``_2_5D`` (slice matrices merged: s_i and n_i
summed), ``_3D``.  No voxel with a neighbour: NaN.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ._common import FeatureRows, RoiGrid, nan_result, aggregate, read_settings
from ._kernels import NGTDM_NAMES, ngtdm_features, ngtdm_sums
from ._neighbours import neighbour_stats

__all__ = ["FEATURES", "compute_ngtdm", "ngtdm_matrix_features"]

#: base tag -> (IBSI feature name, IBSI code)
FEATURES: dict[str, tuple[str, str]] = {
    "ngt_coarseness": ("Coarseness", "QCDE"),
    "ngt_contrast": ("Contrast", "65HE"),
    "ngt_busyness": ("Busyness", "NQ30"),
    "ngt_complexity": ("Complexity", "HDEZ"),
    "ngt_strength": ("Strength", "1X9X"),
}

_IDENTITY = {k: k for k in FEATURES}

SUFFIXES = {"2d": "_2D", "2.5d": "_2_5D", "3d": "_3D"}

#: IBSI 1 section 3.10.1: coarseness when sum p_i s_i = 0.
COARSENESS_MAX = 1.0e6


def ngtdm_matrix_features(n: np.ndarray, s: np.ndarray, v: np.ndarray) -> dict[str, np.ndarray]:
    """NGTDM features of a stack of matrices: counts ``n`` (B, L), sums ``s`` (B, L), levels ``v`` (L,)
    (formulas in the module docstring; :func:`._kernels.ngtdm_features`)."""
    rows = ngtdm_features(np.ascontiguousarray(n, dtype=float), np.ascontiguousarray(s, dtype=float),
                          np.ascontiguousarray(v, dtype=float), COARSENESS_MAX)
    return FeatureRows(NGTDM_NAMES, rows)


def _ngtdm(roi: RoiGrid, prm: Any) -> dict[str, float]:
    counts, sums, parts = [], [], []
    for dim in prm.dims:
        total, cnt, _ = neighbour_stats(roi, prm.distance, prm.distance_norm, prm.ngldm_alpha, dim == "3d")
        per_slice = dim == "2d"
        group = roi.slice_id if per_slice else np.zeros(roi.values.size, np.intp)
        n_groups = roi.n_slices if per_slice else 1
        c, s = ngtdm_sums(roi.level_codes, roi.values, total, cnt, group, n_groups, roi.n_present)
        counts.append(c)
        sums.append(s)
        parts.append((SUFFIXES[dim], n_groups))
    feats = ngtdm_matrix_features(np.concatenate(counts), np.concatenate(sums), roi.level_values.astype(float))
    return aggregate(feats, _IDENTITY, parts)


def tags(settings: Any = None) -> list[str]:
    """Output tags for these settings (base tag + aggregation suffix)."""
    prm = read_settings(settings)
    return [k + SUFFIXES[d] for d in prm.dims for k in FEATURES]


def compute_ngtdm(levels: np.ndarray, mask: np.ndarray, n_levels: int, settings: Any = None,
                  spacing_mm: Any = (1.0, 1.0, 1.0), morph_mask: np.ndarray | None = None) -> dict[str, float]:
    """NGTDM features (IBSI 1 section 3.10) of grey levels ``levels`` (1..n_levels) in ``mask``.

    Neighbourhood: ``settings.distance`` in ``settings.distance_norm``.  Returns tag -> value for
    every dimension in ``settings.dims``; ``spacing_mm`` is only checked, ``morph_mask`` not used.
    Fewer than two ROI voxels: every value is NaN.
    """
    prm = read_settings(settings)
    roi = RoiGrid(levels, mask, n_levels, pad=prm.distance, morph_mask=morph_mask, spacing_mm=spacing_mm)
    return _run(roi, prm)


def _run(roi: RoiGrid, prm: Any) -> dict[str, float]:
    if roi.n_voxels < 2:
        return nan_result(tags(prm))
    return _ngtdm(roi, prm)
