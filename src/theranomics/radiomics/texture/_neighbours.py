"""Neighbourhood sums of every ROI voxel, shared by NGTDM and NGLDM (IBSI 1 3.10, 3.11)."""
from __future__ import annotations

import numpy as np

from ._common import RoiGrid, neighbourhood


def neighbour_stats(roi: RoiGrid, distance: int, norm: str, alpha: float, dims3: bool
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per ROI voxel (in ``roi.idx`` order): (sum of neighbour levels, number of neighbours in
    the ROI, number of those whose level differs from the voxel's by at most ``alpha``).

    Neighbours are the voxels within ``distance`` in the ``norm`` metric, in 2D only those in the
    same slice.  One pass over the offsets (in-plane ones first) serves 2D and 3D; each offset is
    a shifted view of the zero-padded grid, so "outside the ROI" contributes nothing.
    """
    def make() -> dict[bool, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        if distance == 1 and norm == "chebyshev" and alpha == 0:
            return _chebyshev1(roi)
        return _generic(roi, distance, norm, alpha)

    return roi.cached(f"nbr_{distance}_{norm}_{alpha}", make)[dims3]


def _generic(roi: RoiGrid, distance: int, norm: str, alpha: float
             ) -> dict[bool, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Any neighbourhood: one shifted view of the padded grid per offset."""
    offs = neighbourhood(distance, norm)
    offs = np.concatenate([offs[offs[:, 0] == 0], offs[offs[:, 0] != 0]])
    p = distance
    g = roi.grid
    if roi.n_levels < np.iinfo(np.int16).max:
        g = g.astype(np.int16)  # less memory traffic; sums below are kept in int32
    core = g[roi.core(p)]
    inside = core > 0
    total = np.zeros(core.shape, np.int32)
    count = np.zeros(core.shape, np.int16)
    close = np.zeros(core.shape, np.int16)
    result = {}
    n_inplane = int((offs[:, 0] == 0).sum())
    for n, (dk, dj, di) in enumerate(offs):
        if n == n_inplane:
            result[False] = (total[inside], count[inside], close[inside])
        nb = g[tuple(slice(p + d, s - p + d) for d, s in zip((dk, dj, di), g.shape))]
        total += nb
        count += nb > 0
        if alpha == 0:
            close += nb == core  # equal to an ROI voxel's level implies inside the ROI
        else:
            close += (nb > 0) & (np.abs(nb.astype(np.int32) - core) <= alpha)
    result[True] = (total[inside], count[inside], close[inside])
    return result


def _box3(a: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """Sum over the 3-voxel window along each of ``axes`` (the output is 2 shorter along them)."""
    for ax in axes:
        n = a.shape[ax]
        lo, mid, hi = ([slice(None)] * a.ndim for _ in range(3))
        lo[ax], mid[ax], hi[ax] = slice(0, n - 2), slice(1, n - 1), slice(2, n)
        a = a[tuple(lo)] + a[tuple(mid)] + a[tuple(hi)]
    return a


def _chebyshev1(roi: RoiGrid) -> dict[bool, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The IBSI default neighbourhood (Chebyshev distance 1, α = 0) with box sums.

    Sum and count of the 8 in-plane / 26 volumetric neighbours are 3×3(×3) box sums minus the
    centre (separable, 6 additions instead of 26); equal-level neighbours are counted once per
    unordered pair: for each of the 13 half-offsets o, e = [g(x) = g(x + o) > 0] adds to x and to
    x + o.  Same results as the generic loop (tests/radiomics/test_texture_fast.py).
    """
    g = roi.grid.astype(np.int32)
    core_sl = roi.core(1)
    core = g[core_sl]
    inside = core > 0
    occ = (g > 0).astype(np.int16)
    plane_sum = _box3(g, (1, 2))  # (nk, nj - 2, ni - 2)
    plane_cnt = _box3(occ, (1, 2))
    total2 = plane_sum[1:-1] - core
    count2 = plane_cnt[1:-1] - inside
    total3 = _box3(plane_sum, (0,)) - core
    count3 = _box3(plane_cnt, (0,)) - inside
    close = np.zeros(g.shape, np.int16)
    nk, nj, ni = g.shape
    half = [(0, 0, 1), (0, 1, -1), (0, 1, 0), (0, 1, 1)] + [(1, dj, di) for dj in (-1, 0, 1) for di in (-1, 0, 1)]
    result = {}
    for n, (dk, dj, di) in enumerate(half):
        if n == 4:
            c = close[core_sl]
            result[False] = (total2[inside], count2[inside], c[inside].copy())
        # pairs (x, x + o) with x + o inside the grid; padding keeps ROI voxels off the border
        a = tuple(slice(max(0, -d), n_ - max(0, d)) for d, n_ in zip((dk, dj, di), (nk, nj, ni)))
        b = tuple(slice(max(0, d), n_ - max(0, -d)) for d, n_ in zip((dk, dj, di), (nk, nj, ni)))
        eq = (g[a] == g[b]) & (g[a] > 0)
        close[a] += eq
        close[b] += eq
    c = close[core_sl]
    result[True] = (total3[inside], count3[inside], c[inside])
    return result
