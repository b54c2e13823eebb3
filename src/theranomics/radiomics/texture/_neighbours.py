"""Neighbourhood sums of every ROI voxel, shared by NGTDM and NGLDM (IBSI 1 3.10, 3.11)."""
from __future__ import annotations

import functools
import math

import numpy as np

from ._common import RoiGrid, neighbourhood
from ._kernels import neighbour_sums


def neighbour_stats(roi: RoiGrid, distance: int, norm: str, alpha: float, dims3: bool
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per ROI voxel (in ``roi.idx`` order): (sum of neighbour levels, number of neighbours in
    the ROI, number of those whose level differs from the voxel's by at most ``alpha``).

    Neighbours are the voxels within ``distance`` in the ``norm`` metric, in 2D only those in the
    same slice.  One pass over the offsets (in-plane ones first) serves 2D and 3D
    (:func:`._kernels.neighbour_sums`); the zero padding contributes nothing.
    """
    def make() -> dict[bool, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        offs, n_inplane = _ordered(distance, norm)
        rows = neighbour_sums(roi.flat, roi.idx, roi.flat_offsets(offs), n_inplane, math.floor(alpha))
        return {False: (rows[0], rows[1], rows[2]), True: (rows[3], rows[4], rows[5])}

    return roi.cached(f"nbr_{distance}_{norm}_{alpha}", make)[dims3]


@functools.lru_cache(maxsize=16)
def _ordered(distance: int, norm: str) -> tuple[np.ndarray, int]:
    """The neighbourhood offsets with the in-plane ones first, and their number."""
    offs = neighbourhood(distance, norm)
    inplane = offs[:, 0] == 0
    out = np.concatenate([offs[inplane], offs[~inplane]])
    out.flags.writeable = False
    return out, int(inplane.sum())
