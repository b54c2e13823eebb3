"""Grey level run length matrix (GLRLM) features, IBSI 1 section 3.7 (Galloway 1975).

For each direction (4 in-plane in 2D, 13 in 3D) r[i, j] counts runs — maximal sequences of
consecutive ROI voxels along the direction with the same grey level i — of length j.
N_v is the number of ROI voxels the matrix was built from; merging matrices adds their N_v
(IBSI 3.7: run percentage of a merged matrix uses the summed N_v).  Aggregation suffixes as for
the GLCM (``_2D_avg``, ``_2D_comb``, ``_2_5D_avg``, ``_2_5D_comb``, ``_3D_avg``, ``_3D_comb``).
Feature formulas: :func:`theranomics.radiomics.texture._common.zone_features`.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ._common import RoiGrid, directions, nan_result, aggregate, read_settings, zone_features
from ._kernels import run_counts

__all__ = ["FEATURES", "compute_glrlm"]

#: base tag -> (IBSI feature name, IBSI code)
FEATURES: dict[str, tuple[str, str]] = {
    "rlm_sre": ("Short runs emphasis", "22OV"),
    "rlm_lre": ("Long runs emphasis", "W4KF"),
    "rlm_lgre": ("Low grey level run emphasis", "V3SW"),
    "rlm_hgre": ("High grey level run emphasis", "G3QZ"),
    "rlm_srlge": ("Short run low grey level emphasis", "HTZT"),
    "rlm_srhge": ("Short run high grey level emphasis", "GD3A"),
    "rlm_lrlge": ("Long run low grey level emphasis", "IVPO"),
    "rlm_lrhge": ("Long run high grey level emphasis", "3KUM"),
    "rlm_glnu": ("Grey level non-uniformity", "R5YN"),
    "rlm_glnu_norm": ("Normalised grey level non-uniformity", "OVBL"),
    "rlm_rlnu": ("Run length non-uniformity", "W92Y"),
    "rlm_rlnu_norm": ("Normalised run length non-uniformity", "IC23"),
    "rlm_r_perc": ("Run percentage", "9ZK5"),
    "rlm_gl_var": ("Grey level variance", "8CE5"),
    "rlm_rl_var": ("Run length variance", "SXLW"),
    "rlm_rl_entr": ("Run entropy", "HJ9O"),
}

#: base tag -> key of the generic zone features
_GENERIC = dict(zip(FEATURES, ("se", "le", "lge", "hge", "slge", "shge", "llge", "lhge", "glnu", "glnu_norm",
                               "sznu", "sznu_norm", "perc", "gl_var", "sz_var", "sz_entr")))

SUFFIXES = {"2d": ("_2D_avg", "_2D_comb"), "2.5d": ("_2_5D_avg", "_2_5D_comb"), "3d": ("_3D_avg", "_3D_comb")}


def run_matrices(roi: RoiGrid, dims3: bool) -> np.ndarray:
    """Run length counts r[direction, level code, length − 1] (13, n, L) for 3D, or per slice and
    in-plane direction (n_slices, 4, n, L) for 2D; L is the longest grid axis.

    One pass over the ROI voxels (:func:`._kernels.run_counts`): a run starts at a voxel whose
    predecessor along the direction has another level (or is outside the ROI) and is followed
    until the level changes; the zero padding ends every line.
    """
    def make() -> np.ndarray:
        offs = roi.flat_offsets(directions(dims3))
        n_len = max(roi.shape)
        if dims3:
            return run_counts(roi.code_flat(), roi.idx, np.zeros(roi.idx.size, np.intp), 1, offs, roi.n_present,
                              n_len)[0]
        return run_counts(roi.code_flat(), roi.idx, roi.slice_id, roi.n_slices, offs, roi.n_present, n_len)

    return roi.cached(f"runs_{dims3}", make)


def _glrlm(roi: RoiGrid, prm: Any) -> dict[str, float]:
    stacks: list[np.ndarray] = []
    nvs: list[np.ndarray] = []
    parts: list[tuple[str, int]] = []
    for dim in prm.dims:
        avg, comb = SUFFIXES[dim]
        nd = 13 if dim == "3d" else 4
        if dim == "3d":
            m = run_matrices(roi, True)
            nv = np.full(nd, float(roi.n_voxels))
            groups = [(avg, m, nv), (comb, m.sum(axis=0)[None], nv.sum(keepdims=True))]
        else:
            m = run_matrices(roi, False)
            nv_slice = roi.slice_voxel_counts().astype(float)  # N_v of one (slice, direction) matrix
            if dim == "2d":
                groups = [(avg, m.reshape(-1, *m.shape[2:]), np.repeat(nv_slice, nd)),
                          (comb, m.sum(axis=1), nv_slice * nd)]
            else:
                groups = [(avg, m.sum(axis=0), np.full(nd, nv_slice.sum())),
                          (comb, m.sum(axis=(0, 1))[None], np.array([nv_slice.sum() * nd]))]
        for suffix, mats, nv in groups:
            stacks.append(mats)
            nvs.append(nv)
            parts.append((suffix, mats.shape[0]))
    m = np.concatenate(stacks)
    used = np.flatnonzero(m.sum(axis=(0, 1)))  # run lengths that occur
    feats = zone_features(m[:, :, used], roi.level_values.astype(float), used + 1.0, np.concatenate(nvs))
    return aggregate(feats, _GENERIC, parts)


def tags(settings: Any = None) -> list[str]:
    """Output tags for these settings (base tag + aggregation suffix)."""
    prm = read_settings(settings)
    return [k + s for d in prm.dims for s in SUFFIXES[d] for k in FEATURES]


def compute_glrlm(levels: np.ndarray, mask: np.ndarray, n_levels: int, settings: Any = None,
                  spacing_mm: Any = (1.0, 1.0, 1.0), morph_mask: np.ndarray | None = None) -> dict[str, float]:
    """GLRLM features (IBSI 1 section 3.7) of grey levels ``levels`` (1..n_levels) inside ``mask``.

    Returns tag -> value for every dimension in ``settings.dims``.  Runs are always between
    adjacent voxels (``settings.distance`` does not apply); ``spacing_mm`` is only checked and
    ``morph_mask`` is not used.  Fewer than two ROI voxels: every value is NaN.
    """
    prm = read_settings(settings)
    roi = RoiGrid(levels, mask, n_levels, pad=1, morph_mask=morph_mask, spacing_mm=spacing_mm)
    return _run(roi, prm)


def _run(roi: RoiGrid, prm: Any) -> dict[str, float]:
    if roi.n_voxels < 2:
        return nan_result(tags(prm))
    return _glrlm(roi, prm)
