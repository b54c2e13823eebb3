"""Riesz transform of a filter response (IBSI 2 reference manual, "Riesz transform"; IBSI code AYRS)."""
from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np

from ._common import angular_frequencies, apply_transfer, check_array, check_boundary, check_dims, fourier_pad


def check_riesz_order(order, dims: str) -> tuple[int, ...]:
    n_axes = 3 if dims == "3d" else 2
    try:
        values = tuple(int(o) for o in order)
        ok = len(values) == n_axes and all(float(o) == v and v >= 0 for o, v in zip(order, values))
    except (TypeError, ValueError):
        ok = False
    if not ok or sum(values) == 0:
        raise ValueError(f"riesz_order: expected {n_axes} non-negative integers in (x, y{', z' if n_axes == 3 else ''}) "
                         f"order with a positive sum, e.g. (1, 0, 0); got {order!r}")
    return values


def riesz_transfer(shape, order_by_axis: Sequence[int]) -> np.ndarray:
    """``R^l(ω) = sqrt(L! / Π l_a!) · (-i)^L · Π ω_a^l_a / ||ω||^L`` (0 at ω = 0), ``L = Σ l_a``."""
    omegas = angular_frequencies(shape)
    norm = np.sqrt(sum(w ** 2 for w in omegas))
    total = int(sum(order_by_axis))
    coefficient = math.sqrt(math.factorial(total) / math.prod(math.factorial(o) for o in order_by_axis))
    numerator = np.ones(norm.shape)
    for w, o in zip(omegas, order_by_axis):
        numerator = numerator * w ** o
    with np.errstate(divide="ignore", invalid="ignore"):
        transfer = (-1j) ** total * coefficient * numerator / norm ** total
    return np.where(norm > 0, transfer, 0.0)


def riesz_filter(array: np.ndarray, order, base: Callable[[np.ndarray], np.ndarray] | None = None,
                 boundary: str = "periodic", dims: str = "3d") -> np.ndarray:
    """Riesz transform of order ``order`` (in (x, y, z) order) of ``base(f)``.

    The image is padded to twice its size with the boundary condition (periodic:
    no padding), ``base`` (a filter applied to the padded image, None = identity)
    and the Riesz transfer function are applied, and the result is cropped.
    The real part is returned.
    """
    arr = check_array(array)
    boundary, dims = check_boundary(boundary), check_dims(dims)
    order = check_riesz_order(order, dims)
    axes = (0, 1, 2) if dims == "3d" else (1, 2)
    order_by_axis = tuple(reversed(order))  # (x, y, z) -> array axes (k, j, i)
    padded, crop = fourier_pad(arr, boundary, axes)
    response = base(padded) if base is not None else padded
    transfer = riesz_transfer([padded.shape[a] for a in axes], order_by_axis)
    out = apply_transfer(response, transfer, axes)
    return out[crop]


def riesz_transform(array: np.ndarray, order, boundary: str = "periodic", dims: str = "3d") -> np.ndarray:
    """Riesz transform of the image itself (see :func:`riesz_filter`)."""
    return riesz_filter(array, order, None, boundary, dims)
