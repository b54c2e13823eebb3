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

    return roi.cached(f"nbr_{distance}_{norm}_{alpha}", make)[dims3]
