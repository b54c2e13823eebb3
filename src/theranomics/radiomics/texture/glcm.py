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
from scipy.special import xlogy

from ._common import RoiGrid, compact, directions, entropy2, nan_result, aggregate, read_settings, _LN2

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

SUFFIXES = {"2d": ("_2D_avg", "_2D_comb"), "2.5d": ("_2_5D_avg", "_2_5D_comb"), "3d": ("_3D_avg", "_3D_comb")}


def _marginal(p2: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sum the columns of p2 (B, n*n) that share the same integer key: (B, n_keys), key values."""
    codes, vals = compact(keys)
    onehot = np.zeros((keys.size, vals.size))
    onehot[np.arange(keys.size), codes] = 1.0
    return p2 @ onehot, vals.astype(float)


def glcm_matrix_features(m: np.ndarray, v: np.ndarray, n_g: int) -> dict[str, np.ndarray]:
    """All 25 GLCM features of a stack of co-occurrence matrices ``m`` (B, n, n).

    ``v``: grey level of each row/column (the matrix may be restricted to the levels present);
    ``n_g``: number of grey levels N_g of the discretisation (normalised inverse differences).
    Formulas: IBSI 1 section 3.6, with p_{x-y}(k) = sum_{|i-j|=k} p, p_{x+y}(k) = sum_{i+j=k} p,
    mu_i = sum i p_i., sigma_i^2 = sum (i - mu_i)^2 p_i., HXY = -sum p log2 p,
    HXY1 = -sum p log2(p_i. p_.j), HXY2 = -sum p_i. p_.j log2(p_i. p_.j):
    info_corr1 = (HXY - HXY1) / max(HX, HY); info_corr2 = sqrt(1 - exp(-2 (HXY2 - HXY))).
    """
    b, n, _ = m.shape
    vi = v[:, None]
    vj = v[None, :]
    dif = np.abs(vi - vj)
    with np.errstate(invalid="ignore", divide="ignore"):
        tot = m.sum(axis=(1, 2))
        p = m / tot[:, None, None]
        pi = p.sum(axis=2)
        pj = p.sum(axis=1)
        mu_i = pi @ v
        mu_j = pj @ v
        var_i = (pi * (v[None, :] - mu_i[:, None]) ** 2).sum(axis=1)
        var_j = (pj * (v[None, :] - mu_j[:, None]) ** 2).sum(axis=1)
        p2 = p.reshape(b, n * n)
        pd, kd = _marginal(p2, dif.ravel().astype(np.intp))
        ps, ks = _marginal(p2, (vi + vj).ravel().astype(np.intp))
        d_avg = pd @ kd
        s_avg = ps @ ks
        ij = p2 @ (vi * vj).ravel()
        t = (vi + vj)[None] - (mu_i + mu_j)[:, None, None]
        pt2 = p * t ** 2
        hxy = entropy2(p, axis=(1, 2))
        hx = entropy2(pi, axis=1)
        hy = entropy2(pj, axis=1)
        pipj = pi[:, :, None] * pj[:, None, :]
        hxy1 = -xlogy(p, pipj).sum(axis=(1, 2)) / _LN2
        hxy2 = entropy2(pipj, axis=(1, 2))
        inv_var_w = np.where(dif > 0, 1.0 / np.where(dif > 0, dif, 1.0) ** 2, 0.0).ravel()
        out = {
            "cm_joint_max": p2.max(axis=1) if n * n else np.full(b, np.nan),
            "cm_joint_avg": mu_i,
            "cm_joint_var": var_i,
            "cm_joint_entr": hxy,
            "cm_diff_avg": d_avg,
            "cm_diff_var": (pd * (kd[None, :] - d_avg[:, None]) ** 2).sum(axis=1),
            "cm_diff_entr": entropy2(pd, axis=1),
            "cm_sum_avg": s_avg,
            "cm_sum_var": (ps * (ks[None, :] - s_avg[:, None]) ** 2).sum(axis=1),
            "cm_sum_entr": entropy2(ps, axis=1),
            "cm_energy": (p2 ** 2).sum(axis=1),
            "cm_contrast": p2 @ (dif ** 2).ravel(),
            "cm_dissimilarity": p2 @ dif.ravel(),
            "cm_inv_diff": p2 @ (1.0 / (1.0 + dif)).ravel(),
            "cm_inv_diff_norm": p2 @ (1.0 / (1.0 + dif / n_g)).ravel(),
            "cm_inv_diff_mom": p2 @ (1.0 / (1.0 + dif ** 2)).ravel(),
            "cm_inv_diff_mom_norm": p2 @ (1.0 / (1.0 + dif ** 2 / n_g ** 2)).ravel(),
            "cm_inv_var": p2 @ inv_var_w,
            "cm_corr": (ij - mu_i * mu_j) / np.sqrt(var_i * var_j),
            "cm_auto_corr": ij,
            "cm_clust_tend": pt2.sum(axis=(1, 2)),
            "cm_clust_shade": (pt2 * t).sum(axis=(1, 2)),
            "cm_clust_prom": (pt2 * t ** 2).sum(axis=(1, 2)),
            "cm_info_corr1": (hxy - hxy1) / np.maximum(hx, hy),
            "cm_info_corr2": np.sqrt(np.clip(1.0 - np.exp(-2.0 * (hxy2 - hxy)), 0.0, None)),
        }
    empty = ~(tot > 0)
    out["cm_corr"][~(var_i * var_j > 0)] = np.nan
    out["cm_info_corr1"][~(np.maximum(hx, hy) > 0)] = np.nan
    for val in out.values():
        val[empty] = np.nan
    return out


def _pair_counts(roi: RoiGrid, off: int, per_slice: bool) -> np.ndarray:
    """Counts of (level code at x, level code at x + off) over the grid, (n, n) or (n_slices, n, n).

    Cells outside the ROI carry code n and fall in the dropped last row/column.  Per slice, the
    offset must stay in the slice (in-plane directions); the padding keeps rows from wrapping.
    """
    n = roi.n_present
    n1 = n + 1
    c = roi.code_flat()
    if not per_slice:
        m = np.bincount(c[:-off].astype(np.intp) * n1 + c[off:], minlength=n1 * n1).reshape(n1, n1)
        return m[:n, :n]
    k = roi.shape[0]
    c2 = c.reshape(k, -1)
    key = (np.arange(k)[:, None] * n1 + c2[:, :-off].astype(np.intp)) * n1 + c2[:, off:]
    m = np.bincount(key.ravel(), minlength=k * n1 * n1).reshape(k, n1, n1)
    return m[roi.slice_lut >= 0, :n, :n]


def _counts(roi: RoiGrid, dims3: bool, distance: int, symmetric: bool) -> np.ndarray:
    """Co-occurrence matrices: (n_slices, 4, n, n) per slice and in-plane direction (2D), or
    (13, n, n) per 3D direction; symmetric ones include the transpose."""
    key = f"glcm_{'3d' if dims3 else '2d'}_{distance}_{symmetric}"

    def make() -> np.ndarray:
        offs = roi.flat_offsets(directions(dims3) * distance)
        key2d = f"glcm_2d_{distance}_{symmetric}"
        inplane = roi.cached(key2d, lambda: None) if dims3 and roi.has(key2d) else None
        if dims3:
            # in-plane directions: the per-slice matrices summed, when already computed
            todo = offs[4:] if inplane is not None else offs
            m = np.stack([_pair_counts(roi, int(o), False) for o in todo])
        else:
            m = np.stack([_pair_counts(roi, int(o), True) for o in offs], axis=1)
        m = m.astype(float)
        if symmetric:
            m = m + np.swapaxes(m, -1, -2)
        return m if inplane is None else np.concatenate([inplane.sum(axis=0), m])

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
    return aggregate(feats, {k: k for k in FEATURES}, parts)


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
