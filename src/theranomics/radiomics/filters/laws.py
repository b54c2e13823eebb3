"""Laws kernels and energy maps (IBSI 2 reference manual, "Laws kernels"; IBSI code JTXT)."""
from __future__ import annotations

import re

import numpy as np
from scipy import ndimage

from ._common import (check_array, check_boundary, check_dims, check_pooling, convolve_separable,
                      pool_over_rotations, scipy_mode)

#: Normalised 1-D Laws kernels (IBSI 2 reference manual, table of Laws kernels).
LAWS_KERNELS_1D = {
    "L3": np.array([1.0, 2.0, 1.0]) / np.sqrt(6.0),
    "E3": np.array([-1.0, 0.0, 1.0]) / np.sqrt(2.0),
    "S3": np.array([-1.0, 2.0, -1.0]) / np.sqrt(6.0),
    "L5": np.array([1.0, 4.0, 6.0, 4.0, 1.0]) / np.sqrt(70.0),
    "E5": np.array([-1.0, -2.0, 0.0, 2.0, 1.0]) / np.sqrt(10.0),
    "S5": np.array([-1.0, 0.0, 2.0, 0.0, -1.0]) / np.sqrt(6.0),
    "W5": np.array([-1.0, 2.0, 0.0, -2.0, 1.0]) / np.sqrt(10.0),
    "R5": np.array([1.0, -4.0, 6.0, -4.0, 1.0]) / np.sqrt(70.0),
}


def parse_laws_kernel(kernel: str, dims: str) -> list[np.ndarray]:
    """1-D kernels of a Laws name such as ``"E5L5S5"``, in (x, y, z) order (axes i, j, k)."""
    n_axes = 3 if dims == "3d" else 2
    name = str(kernel).strip().upper()
    parts = re.findall(r"[LESWR][35]", name)
    if "".join(parts) != name or len(parts) != n_axes or any(p not in LAWS_KERNELS_1D for p in parts):
        raise ValueError(
            f"kernel: {kernel!r} is not a {n_axes}-D Laws kernel; expected {n_axes} of "
            f"{sorted(LAWS_KERNELS_1D)} concatenated, for x, y{', z' if n_axes == 3 else ''} "
            f"(e.g. {'E5L5S5' if n_axes == 3 else 'L5S5'})"
        )
    return [LAWS_KERNELS_1D[p] for p in parts]


def laws_filter(array: np.ndarray, kernel: str = "E5L5S5", energy_distance: int | None = 7,
                rotation_invariance: bool = True, pooling: str = "max", boundary: str = "zero",
                dims: str = "3d") -> np.ndarray:
    """Laws response map, optionally rotation-invariant and as an energy map.

    Response: convolution with the outer product of the named 1-D kernels, the
    first letter pair acting along x (axis i), the second along y (j), the third
    along z (k).  Rotation invariance pools (``pooling``) the responses of the 24
    right-angle rotations of the kernel (4 in-plane rotations in 2-D).  The energy
    map is then the local mean of the absolute response over a ``(2δ+1)^d``
    neighbourhood, ``E(k) = (2δ+1)^-d sum_{|m_a|<=δ} |g(k+m)|`` with
    ``δ = energy_distance`` (None: no energy map).
    """
    arr = check_array(array)
    boundary, dims = check_boundary(boundary), check_dims(dims)
    kernels = parse_laws_kernel(kernel, dims)
    axes = (2, 1, 0) if dims == "3d" else (2, 1)
    pooling = check_pooling(pooling)
    if energy_distance is not None:
        if isinstance(energy_distance, bool) or not float(energy_distance).is_integer() or energy_distance < 0:
            raise ValueError(f"energy_distance: expected a non-negative integer (voxels) or None, got {energy_distance!r}")

    def response(a: np.ndarray) -> np.ndarray:
        return convolve_separable(a, kernels, boundary, axes)

    out = pool_over_rotations(arr, response, dims, pooling) if rotation_invariance else response(arr)
    if energy_distance is not None:
        m = 2 * int(energy_distance) + 1
        size = (m, m, m) if dims == "3d" else (1, m, m)
        out = ndimage.uniform_filter(np.abs(out), size=size, mode=scipy_mode(boundary), cval=0.0)
    return out
