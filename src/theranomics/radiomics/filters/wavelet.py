"""Separable wavelets, undecimated (IBSI 2 reference manual, "Separable wavelets"; IBSI code 25BO).

Filter coefficients come from PyWavelets (``pywt.Wavelet(name).dec_lo/dec_hi``),
imported only when a wavelet filter is used.
"""
from __future__ import annotations

import numpy as np

from ._common import (check_array, check_boundary, check_dims, check_pooling, convolve_separable,
                      pool_over_rotations)


def wavelet_coefficients(wavelet: str) -> tuple[np.ndarray, np.ndarray]:
    """Decomposition low-pass and high-pass filters of a PyWavelets wavelet (e.g. "haar", "db2", "coif1")."""
    try:
        import pywt
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError("wavelet filters need PyWavelets: pip install PyWavelets") from None
    name = str(wavelet).strip().lower()
    if name not in pywt.wavelist(kind="discrete"):
        raise ValueError(f"wavelet: {wavelet!r} is not a discrete wavelet known to PyWavelets "
                         "(e.g. 'haar', 'db2', 'db3', 'coif1', 'sym4'; see pywt.wavelist(kind='discrete'))")
    w = pywt.Wavelet(name)
    return np.asarray(w.dec_lo, dtype=float), np.asarray(w.dec_hi, dtype=float)


def _upsample(h: np.ndarray, level: int) -> np.ndarray:
    """À trous filter of decomposition level ``level``: ``2^(level-1) - 1`` zeros after each coefficient."""
    factor = 2 ** (level - 1)
    if factor == 1:
        return h
    out = np.zeros(len(h) * factor)
    out[::factor] = h
    return out


def wavelet_filter(array: np.ndarray, wavelet: str = "db2", response: str = "LHL", level: int = 1,
                   rotation_invariance: bool = False, pooling: str = "average", boundary: str = "zero",
                   dims: str = "3d") -> np.ndarray:
    """Undecimated separable wavelet response map (stationary / à trous transform).

    At decomposition level 1, ``response`` names the filter per axis in (x, y, z)
    order (axes i, j, k): ``L`` = low-pass ``dec_lo``, ``H`` = high-pass ``dec_hi``
    (e.g. "LHL"; two letters in 2-D).  At level ``n > 1`` the image is first
    low-passed along every axis at levels 1 … n-1 and the named filters are then
    applied at level n, all filters of level j being upsampled by ``2^(j-1)``
    (zeros appended after each coefficient).  Convolution centre: element
    ``len // 2``.  ``rotation_invariance`` pools the 24 (2-D: 4) right-angle
    rotations.
    """
    arr = check_array(array)
    boundary, dims = check_boundary(boundary), check_dims(dims)
    pooling = check_pooling(pooling)
    n_axes = 3 if dims == "3d" else 2
    resp = str(response).strip().upper()
    if len(resp) != n_axes or set(resp) - {"L", "H"}:
        raise ValueError(f"response: expected {n_axes} letters L/H (x, y{', z' if n_axes == 3 else ''} order), "
                         f"e.g. {'LHL' if n_axes == 3 else 'LH'}, got {response!r}")
    if isinstance(level, bool) or not float(level).is_integer() or level < 1:
        raise ValueError(f"level: expected an integer decomposition level >= 1, got {level!r}")
    level = int(level)
    lo, hi = wavelet_coefficients(wavelet)
    axes = (2, 1, 0) if dims == "3d" else (2, 1)

    def transform(a: np.ndarray) -> np.ndarray:
        for j in range(1, level):
            lo_j = _upsample(lo, j)
            a = convolve_separable(a, [lo_j] * n_axes, boundary, axes)
        filters = {"L": _upsample(lo, level), "H": _upsample(hi, level)}
        return convolve_separable(a, [filters[c] for c in resp], boundary, axes)

    return pool_over_rotations(arr, transform, dims, pooling) if rotation_invariance else transform(arr)
