"""Gabor filter (IBSI 2 reference manual, "Gabor kernels"; IBSI code Q88H)."""
from __future__ import annotations

import math

import numpy as np

from ._common import (check_array, check_boundary, check_pooling, check_positive, check_spacing,
                      fft_convolve)

#: (slice axis, y axis, x axis) of the three orthogonal planes of a [k, j, i] array.
_PLANES = {"axial": (0, 1, 2), "coronal": (1, 0, 2), "sagittal": (2, 0, 1)}


def gabor_kernel(sigma_mm: float, wavelength_mm: float, gamma: float, theta_rad: float,
                 spacing_yx_mm=(1.0, 1.0), truncate: float = 4.0) -> np.ndarray:
    """Complex 2-D Gabor kernel sampled on the voxel grid, indexed ``[y, x]``.

    ``h(x, y) = exp(-(x̃² + γ² ỹ²) / (2σ²)) · exp(i 2π x̃ / λ)`` with
    ``x̃ = x cos θ + y sin θ``, ``ỹ = -x sin θ + y cos θ`` (positions in mm;
    IBSI 2 reference manual, eq. of the Gabor kernel; unnormalised, as in the
    reference maps).  Cut at ``truncate`` times the longest envelope standard
    deviation ``σ·max(1, 1/γ)``.
    """
    sy, sx = spacing_yx_mm
    reach_mm = truncate * sigma_mm * max(1.0, 1.0 / gamma)
    ry, rx = int(math.ceil(reach_mm / sy)), int(math.ceil(reach_mm / sx))
    y = np.arange(-ry, ry + 1)[:, None] * sy
    x = np.arange(-rx, rx + 1)[None, :] * sx
    xt = x * math.cos(theta_rad) + y * math.sin(theta_rad)
    yt = -x * math.sin(theta_rad) + y * math.cos(theta_rad)
    return np.exp(-(xt ** 2 + gamma ** 2 * yt ** 2) / (2.0 * sigma_mm ** 2)) * np.exp(2j * np.pi * xt / wavelength_mm)


def _orientations(theta_rad: float, rotation_invariance: bool, theta_step_rad: float | None) -> list[tuple[float, int]]:
    """Orientations to evaluate, with multiplicity: |response| is π-periodic in θ
    (the kernel at θ + π is the complex conjugate, the image is real)."""
    if not rotation_invariance:
        return [(theta_rad, 1)]
    if theta_step_rad is None:
        raise ValueError("theta_step_rad: required when rotation_invariance=True (orientation step in radians)")
    step = check_positive(theta_step_rad, "theta_step_rad")
    n = int(math.ceil(2.0 * math.pi / step - 1e-9))
    groups: dict[float, list] = {}
    for m in range(n):
        theta = theta_rad + m * step
        key = round(theta % math.pi, 9)
        key = 0.0 if math.isclose(key, math.pi, abs_tol=1e-8) else key
        groups.setdefault(key, [theta, 0])[1] += 1
    return [(theta, count) for theta, count in groups.values()]


def gabor_filter(array: np.ndarray, sigma_mm: float, wavelength_mm: float, gamma: float = 1.0,
                 theta_rad: float = 0.0, spacing_mm=(1.0, 1.0, 1.0), rotation_invariance: bool = False,
                 theta_step_rad: float | None = None, orthogonal_planes: bool = False,
                 pooling: str = "average", boundary: str = "zero", truncate: float = 4.0) -> np.ndarray:
    """Modulus of the 2-D Gabor response, ``|h * f|``, applied in every axial (j, i) slice.

    In each plane x runs along the later array axis (i, or j for sagittal planes)
    and y along the earlier.  ``rotation_invariance`` pools (``pooling``) the
    moduli over ``θ = theta_rad + n·theta_step_rad`` covering [0, 2π);
    ``orthogonal_planes`` averages the axial, coronal and sagittal responses
    (IBSI "2.5D").  ``spacing_mm`` is in (x, y, z) order.
    """
    arr = check_array(array)
    boundary = check_boundary(boundary)
    pooling = check_pooling(pooling)
    sigma_mm = check_positive(sigma_mm, "sigma_mm")
    wavelength_mm = check_positive(wavelength_mm, "wavelength_mm")
    gamma = check_positive(gamma, "gamma")
    truncate = check_positive(truncate, "truncate")
    try:
        theta_rad = float(theta_rad)
    except (TypeError, ValueError):
        raise ValueError(f"theta_rad: expected an angle in radians, got {theta_rad!r}") from None
    spacing = check_spacing(spacing_mm)
    orientations = _orientations(theta_rad, rotation_invariance, theta_step_rad)
    n_total = sum(count for _, count in orientations)

    planes = ("axial", "coronal", "sagittal") if orthogonal_planes else ("axial",)
    result = np.zeros_like(arr)
    for plane in planes:
        _, ay, ax = _PLANES[plane]
        pooled = None
        for theta, count in orientations:
            kernel = gabor_kernel(sigma_mm, wavelength_mm, gamma, theta, (spacing[ay], spacing[ax]), truncate)
            modulus = np.abs(fft_convolve(arr, kernel, boundary, (ay, ax)))
            if pooled is None:
                pooled = modulus * count if pooling == "average" else modulus
            elif pooling == "average":
                pooled += modulus * count
            elif pooling == "max":
                np.maximum(pooled, modulus, out=pooled)
            else:
                np.minimum(pooled, modulus, out=pooled)
        if pooling == "average":
            pooled /= n_total
        result += pooled
    return result / len(planes)
