"""Mean filter (IBSI 2 reference manual, "Mean filter"; IBSI code S60F)."""
from __future__ import annotations

import numpy as np
from scipy import ndimage

from ._common import check_array, check_boundary, check_dims, scipy_mode


def mean_filter(array: np.ndarray, support_voxels: int, boundary: str = "zero", dims: str = "3d") -> np.ndarray:
    """Moving average over an ``M^d`` neighbourhood (``M = support_voxels``, odd).

    ``g(k) = M^-d · sum_{|m_a| <= (M-1)/2} f(k + m)``, in 3-D or, with ``dims="2d"``,
    within each k-slice.  ``array`` is indexed ``[k, j, i]``.
    """
    arr = check_array(array)
    boundary, dims = check_boundary(boundary), check_dims(dims)
    if isinstance(support_voxels, bool) or not float(support_voxels).is_integer() or support_voxels < 1 \
            or int(support_voxels) % 2 == 0:
        raise ValueError(f"support_voxels: expected a positive odd integer (the filter is centred), got {support_voxels!r}")
    m = int(support_voxels)
    size = (m, m, m) if dims == "3d" else (1, m, m)
    return ndimage.uniform_filter(arr, size=size, mode=scipy_mode(boundary), cval=0.0)
