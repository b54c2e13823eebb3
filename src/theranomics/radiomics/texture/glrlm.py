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


def run_matrix(roi: RoiGrid, off: int, per_slice: bool) -> np.ndarray:
    """Run length counts along the direction with flat offset ``off`` > 0.

    Returns r[level code, length - 1], shape (n, L) with L the longest grid axis, or
    (n_slices, n, L) per slice for in-plane directions.  Walking the flattened grid in steps of
    ``off`` from each residue r (r, r + off, ...) visits every line of that direction; because an
    ROI voxel is at least one padding cell away from the grid border, each step from an ROI voxel
    lands on its true neighbour, and a line leaves the grid only through zero padding.  The runs
    are thus the run-length encoding of that residue-major sequence of level codes, less the runs
    of the "outside" code.
    """
    def make() -> np.ndarray:
        codes = roi.code_flat()
        n = roi.n_present
        n_len = max(roi.shape)
        n_rows = -(-codes.size // off)
        buf = np.full(n_rows * off, n, codes.dtype)
        buf[:codes.size] = codes
        seq = buf.reshape(n_rows, off).T.ravel()
        # seq[0] is padding, so every run of an ROI level starts after a change of code
        start = np.flatnonzero(seq[1:] != seq[:-1]) + 1
        # runs of the "outside" code n (clipped in length) land in row n, which is dropped;
        # a run of an ROI level is never longer than the longest grid axis
        length = np.minimum(np.diff(np.append(start, seq.size)), n_len)
        key = seq[start].astype(np.intp) * n_len + (length - 1)
        if not per_slice:
            return np.bincount(key, minlength=(n + 1) * n_len).reshape(n + 1, n_len)[:n]
        cell = (start % n_rows) * off + start // n_rows
        sl = np.maximum(roi.slice_lut, 0)[cell // roi.strides[0]]
        m = np.bincount(sl * ((n + 1) * n_len) + key, minlength=roi.n_slices * (n + 1) * n_len)
        return m.reshape(roi.n_slices, n + 1, n_len)[:, :n]

    return roi.cached(f"runs_{off}_{per_slice}", make)


def _glrlm(roi: RoiGrid, prm: Any) -> dict[str, float]:
    stacks: list[np.ndarray] = []
    nvs: list[np.ndarray] = []
    parts: list[tuple[str, int]] = []
    for dim in prm.dims:
        avg, comb = SUFFIXES[dim]
        dirs = directions(dim == "3d")
        nd = dirs.shape[0]
        offs = [int(o) for o in roi.flat_offsets(dirs)]
        if dim == "3d":
            have2d = [roi.has(f"runs_{o}_True") for o in offs[:4]]
            m = np.stack([run_matrix(roi, o, True).sum(axis=0) if i < 4 and have2d[i] else run_matrix(roi, o, False)
                          for i, o in enumerate(offs)]).astype(float)
            nv = np.full(nd, float(roi.n_voxels))
            groups = [(avg, m, nv), (comb, m.sum(axis=0)[None], nv.sum(keepdims=True))]
        else:
            m = np.stack([run_matrix(roi, o, True) for o in offs], axis=1).astype(float)
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
