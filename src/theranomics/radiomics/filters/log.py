"""Laplacian-of-Gaussian filter (IBSI 2 reference manual, "Laplacian of Gaussian"; IBSI code L6PA)."""
from __future__ import annotations

import numpy as np
from scipy import ndimage

from ._common import check_array, check_boundary, check_dims, check_positive, check_spacing, scipy_mode


def log_filter(array: np.ndarray, sigma_mm: float, spacing_mm=(1.0, 1.0, 1.0), truncate: float = 4.0,
               boundary: str = "zero", dims: str = "3d") -> np.ndarray:
    """Laplacian of a Gaussian-smoothed image, ``g = sum_a d²/dk_a² (G_σ * f)``.

    ``σ`` is converted to voxels per axis (``σ_a = sigma_mm / spacing_a``) and the
    derivatives are taken with respect to the voxel index, as in the IBSI 2
    reference response maps; the discrete Gaussian derivative kernels are cut at
    ``truncate`` standard deviations (support ``M = 1 + 2⌊truncate·σ_a + 0.5⌋``).
    ``spacing_mm`` is in (x, y, z) order; ``dims="2d"`` filters each k-slice.
    """
    arr = check_array(array)
    boundary, dims = check_boundary(boundary), check_dims(dims)
    sigma_mm = check_positive(sigma_mm, "sigma_mm")
    truncate = check_positive(truncate, "truncate")
    sigma_vox = sigma_mm / check_spacing(spacing_mm)
    axes = (0, 1, 2) if dims == "3d" else (1, 2)
    mode = scipy_mode(boundary)
    total = np.zeros_like(arr)
    for deriv_axis in axes:
        out = arr
        for ax in axes:
            out = ndimage.gaussian_filter1d(out, sigma_vox[ax], axis=ax, order=2 if ax == deriv_axis else 0,
                                            mode=mode, cval=0.0, truncate=truncate)
        total += out
    return total
