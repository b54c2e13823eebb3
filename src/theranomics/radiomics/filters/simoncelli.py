"""Simoncelli non-separable wavelet (IBSI 2 reference manual, "Non-separable wavelets"; IBSI code PRT7)."""
from __future__ import annotations

import numpy as np

from ._common import apply_transfer, check_array, check_boundary, check_dims, fourier_pad


def simoncelli_transfer(shape, level: int) -> np.ndarray:
    """Isotropic band-pass transfer function of decomposition level ``level`` on a DFT grid.

    ``H(ν) = cos(π/2 · log2(2ν / ν_max))`` for ``ν_max/4 <= ν <= ν_max`` and 0
    elsewhere, with ``ν_max = 2^(1-level)`` and ``ν = ||ν||`` in units of π rad/voxel.
    The per-axis frequency coordinate is ``(n - (N-1)/2) / ((N-1)/2)`` brought
    into DFT order with ``ifftshift`` — the grid of the IBSI 2 reference
    implementation (it differs from ``2·fftfreq`` by up to one bin; the reference
    maps 8.a.1-3 are reproduced with it to < 0.4 % and not with ``fftfreq``).
    On that grid the zero-frequency bin sits at ``ν = sqrt(d)/(N-1)`` instead of
    0 and would fall inside the band for small images or deep levels (e.g. N = 16,
    level 3), letting the image mean through; it is set to 0, as for any band-pass
    wavelet (no effect on the reference maps).
    """
    grids = []
    for n in shape:
        if n < 2:
            raise ValueError(f"array: the Simoncelli filter needs at least 2 voxels along each filtered axis, got {n}")
        centre = (n - 1) / 2.0
        grids.append(np.fft.ifftshift((np.arange(n) - centre) / centre))
    mesh = np.meshgrid(*grids, indexing="ij", sparse=True)
    nu = np.sqrt(sum(g ** 2 for g in mesh))
    nu_max = 2.0 ** (1 - level)
    band = (nu >= nu_max / 4.0) & (nu <= nu_max)
    with np.errstate(divide="ignore"):
        h = np.cos(np.pi / 2.0 * np.log2(np.where(band, 2.0 * nu / nu_max, 1.0)))
    h = np.where(band, h, 0.0)
    h[(0,) * h.ndim] = 0.0
    return h


def _simoncelli_periodic(arr: np.ndarray, level: int, axes) -> np.ndarray:
    return apply_transfer(arr, simoncelli_transfer([arr.shape[a] for a in axes], level), axes)


def check_level(level) -> int:
    if isinstance(level, bool) or not float(level).is_integer() or level < 1:
        raise ValueError(f"level: expected an integer decomposition level >= 1, got {level!r}")
    return int(level)


def simoncelli_filter(array: np.ndarray, level: int = 1, boundary: str = "periodic", dims: str = "3d") -> np.ndarray:
    """Band-pass response ``IDFT(DFT(f) · H_level)`` of the Simoncelli wavelet.

    Periodic boundary: the DFT of the image itself.  Other boundaries: the image
    is padded to twice its size with that condition first (see
    :func:`~theranomics.radiomics.filters._common.fourier_pad`).
    ``dims="2d"`` filters each k-slice.
    """
    arr = check_array(array)
    boundary, dims = check_boundary(boundary), check_dims(dims)
    level = check_level(level)
    axes = (0, 1, 2) if dims == "3d" else (1, 2)
    padded, crop = fourier_pad(arr, boundary, axes)
    return _simoncelli_periodic(padded, level, axes)[crop]
