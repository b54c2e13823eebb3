"""Grey level co-occurrence matrix (GLCM) features, IBSI 1 section 3.6 (Haralick et al. 1973).

For each direction δ (4 in-plane directions in 2D, 13 in 3D) and distance d, M[i, j] counts ROI
voxel pairs (x, x + d·δ) with grey levels (i, j); the symmetric matrix adds the transpose.
p = M / sum M.  Aggregation (IBSI 3.6.1 / figure 3.3): ``_2D_avg`` features per slice and
direction, averaged; ``_2D_comb`` per slice with the directions merged, averaged over slices;
``_2_5D_avg`` per direction with the slices merged, averaged over directions; ``_2_5D_comb`` one
matrix merged over slices and directions; ``_3D_avg`` per 3D direction, averaged; ``_3D_comb``
all 13 directions merged.  Matrices without any pair (e.g. a slice with a single voxel) are left
out of the averages; an aggregate with no pair at all, or a feature that is 0/0 (correlation
and information correlation 1 with a single grey level), is NaN.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ._common import FeatureRows, RoiGrid, directions, nan_result, aggregate, read_settings
from ._kernels import GLCM_NAMES, glcm_features, pair_counts

__all__ = ["FEATURES", "compute_glcm", "glcm_matrix_features"]

#: base tag -> (IBSI feature name, IBSI code)
FEATURES: dict[str, tuple[str, str]] = {
    "cm_joint_max": ("Joint maximum", "GYBY"),
    "cm_joint_avg": ("Joint average", "60VM"),
    "cm_joint_var": ("Joint variance", "UR99"),
    "cm_joint_entr": ("Joint entropy", "TU9B"),
    "cm_diff_avg": ("Difference average", "TF7R"),
    "cm_diff_var": ("Difference variance", "D3YU"),
    "cm_diff_entr": ("Difference entropy", "NTRS"),
    "cm_sum_avg": ("Sum average", "ZGXS"),
    "cm_sum_var": ("Sum variance", "OEEB"),
    "cm_sum_entr": ("Sum entropy", "P6QZ"),
    "cm_energy": ("Angular second moment", "8ZQL"),
    "cm_contrast": ("Contrast", "ACUI"),
    "cm_dissimilarity": ("Dissimilarity", "8S9J"),
    "cm_inv_diff": ("Inverse difference", "IB1Z"),
    "cm_inv_diff_norm": ("Normalised inverse difference", "NDRX"),
    "cm_inv_diff_mom": ("Inverse difference moment", "WF0Z"),
    "cm_inv_diff_mom_norm": ("Normalised inverse difference moment", "1QCO"),
    "cm_inv_var": ("Inverse variance", "E8JP"),
    "cm_corr": ("Correlation", "NI2N"),
    "cm_auto_corr": ("Autocorrelation", "QWB0"),
    "cm_clust_tend": ("Cluster tendency", "DG8W"),
    "cm_clust_shade": ("Cluster shade", "7NFM"),
    "cm_clust_prom": ("Cluster prominence", "AE86"),
    "cm_info_corr1": ("Information correlation 1", "R8DG"),
    "cm_info_corr2": ("Information correlation 2", "JN9H"),
}

_IDENTITY = {k: k for k in FEATURES}

SUFFIXES = {"2d": ("_2D_avg", "_2D_comb"), "2.5d": ("_2_5D_avg", "_2_5D_comb"), "3d": ("_3D_avg", "_3D_comb")}


def glcm_matrix_features(m: np.ndarray, v: np.ndarray, n_g: int) -> dict[str, np.ndarray]:
    """All 25 GLCM features of a stack of co-occurrence matrices ``m`` (B, n, n).

    ``v``: grey level of each row/column (the matrix may be restricted to the levels present);
    ``n_g``: number of grey levels N_g of the discretisation (normalised inverse differences).
    Formulas (IBSI 1 section 3.6) in :func:`._kernels.glcm_features`.
    """
    rows = glcm_features(np.ascontiguousarray(m, dtype=float), np.ascontiguousarray(v, dtype=float), float(n_g))
    return FeatureRows(GLCM_NAMES, rows)


def _counts(roi: RoiGrid, dims3: bool, distance: int, symmetric: bool) -> np.ndarray:
    """Co-occurrence matrices: (n_slices, 4, n, n) per slice and in-plane direction (2D), or
    (13, n, n) per 3D direction; symmetric ones include the transpose.

    Pairs (x, x + d·δ) of ROI voxels, one pass over the ROI (:func:`._kernels.pair_counts`).
    """
    key = f"glcm_{'3d' if dims3 else '2d'}_{distance}_{symmetric}"

    def make() -> np.ndarray:
        offs = roi.flat_offsets(directions(dims3) * distance)
        if dims3:
            m = pair_counts(roi.code_flat(), roi.idx, np.zeros(roi.idx.size, np.intp), 1, offs, roi.n_present)[0]
        else:
            m = pair_counts(roi.code_flat(), roi.idx, roi.slice_id, roi.n_slices, offs, roi.n_present)
        if symmetric:
            m = m + np.swapaxes(m, -1, -2)
        return m

    return roi.cached(key, make)


def _glcm(roi: RoiGrid, prm: Any) -> dict[str, float]:
    v = roi.level_values.astype(float)
    stacks: list[np.ndarray] = []
    parts: list[tuple[str, int]] = []
    for dim in prm.dims:
        avg, comb = SUFFIXES[dim]
        if dim == "3d":
            m = _counts(roi, True, prm.distance, prm.glcm_symmetric)
            groups = [(avg, m), (comb, m.sum(axis=0)[None])]
        else:
            m = _counts(roi, False, prm.distance, prm.glcm_symmetric)
            s, d, n, _ = m.shape
            if dim == "2d":
                groups = [(avg, m.reshape(s * d, n, n)), (comb, m.sum(axis=1))]
            else:
                merged = m.sum(axis=0)
                groups = [(avg, merged), (comb, merged.sum(axis=0)[None])]
        for suffix, mats in groups:
            stacks.append(mats)
            parts.append((suffix, mats.shape[0]))
    feats = glcm_matrix_features(np.concatenate(stacks), v, roi.n_levels)
    return aggregate(feats, _IDENTITY, parts)


def tags(settings: Any = None) -> list[str]:
    """Output tags for these settings (base tag + aggregation suffix)."""
    prm = read_settings(settings)
    return [k + s for d in prm.dims for s in SUFFIXES[d] for k in FEATURES]


def compute_glcm(levels: np.ndarray, mask: np.ndarray, n_levels: int, settings: Any = None,
                 spacing_mm: Any = (1.0, 1.0, 1.0), morph_mask: np.ndarray | None = None) -> dict[str, float]:
    """GLCM features (IBSI 1 section 3.6) of grey levels ``levels`` (1..n_levels) inside ``mask``.

    Returns tag -> value for every dimension in ``settings.dims`` (see the module docstring);
    ``settings.distance`` is the offset d along each direction, ``settings.glcm_symmetric`` adds
    the transposed matrix.  Texture is defined in voxel steps, so ``spacing_mm`` is only checked;
    ``morph_mask`` is not used.  Fewer than two ROI voxels: every value is NaN.
    """
    prm = read_settings(settings)
    roi = RoiGrid(levels, mask, n_levels, pad=prm.distance, morph_mask=morph_mask, spacing_mm=spacing_mm)
    return _run(roi, prm)


def _run(roi: RoiGrid, prm: Any) -> dict[str, float]:
    if roi.n_voxels < 2:
        return nan_result(tags(prm))
    return _glcm(roi, prm)
