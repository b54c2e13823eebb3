"""Shared machinery of the IBSI-2 filters: input checks, boundary conditions,
convolution engines, 2-D (by slice) application and rotation pooling.

Array convention (as everywhere in Theranomics): ``array[k, j, i]``;
``spacing_mm`` is given in ``(x, y, z)`` order, i.e. for the ``i, j, k`` axes.

Boundary conditions (IBSI 2 reference manual, section "Boundary conditions"):

========== ===================================== ============== ==========
IBSI name  padding of ``a b c d``                 scipy.ndimage  numpy.pad
========== ===================================== ============== ==========
zero       ``0 0 | a b c d | 0 0``                constant       constant
nearest    ``a a | a b c d | d d``                nearest        edge
periodic   ``c d | a b c d | a b``                wrap           wrap
mirror     ``b a | a b c d | d c``                reflect        symmetric
========== ===================================== ============== ==========
"""
from __future__ import annotations

import itertools
from typing import Callable, Sequence

import numpy as np
import scipy.fft
from scipy import ndimage

BOUNDARIES = ("zero", "nearest", "periodic", "mirror")

_BOUNDARY_ALIASES = {
    "zero": "zero", "constant": "zero", "zeros": "zero",
    "nearest": "nearest", "edge": "nearest", "replicate": "nearest",
    "periodic": "periodic", "wrap": "periodic", "circular": "periodic",
    "mirror": "mirror", "symmetric": "mirror", "reflect": "mirror",
}
_SCIPY_MODE = {"zero": "constant", "nearest": "nearest", "periodic": "wrap", "mirror": "reflect"}
_NUMPY_MODE = {"zero": "constant", "nearest": "edge", "periodic": "wrap", "mirror": "symmetric"}

POOLINGS = ("max", "average", "min")
_POOLING_ALIASES = {"max": "max", "average": "average", "mean": "average", "avg": "average", "min": "min"}


def check_boundary(boundary: str) -> str:
    """Canonical IBSI boundary name ("zero", "nearest", "periodic" or "mirror")."""
    key = str(boundary).strip().lower()
    if key not in _BOUNDARY_ALIASES:
        raise ValueError(
            f"boundary: unknown boundary condition {boundary!r}; expected one of {list(BOUNDARIES)} "
            f"(aliases: {sorted(set(_BOUNDARY_ALIASES) - set(BOUNDARIES))})"
        )
    return _BOUNDARY_ALIASES[key]


def check_pooling(pooling: str) -> str:
    key = str(pooling).strip().lower()
    if key not in _POOLING_ALIASES:
        raise ValueError(f"pooling: unknown pooling {pooling!r}; expected one of {list(POOLINGS)}")
    return _POOLING_ALIASES[key]


def check_dims(dims: str) -> str:
    key = str(dims).strip().lower()
    if key not in ("2d", "3d"):
        raise ValueError(f"dims: expected '2d' (slice by slice, in the (j, i) plane) or '3d', got {dims!r}")
    return key


def check_array(array: np.ndarray) -> np.ndarray:
    """The filter input as a float64 3-D array; refuses other shapes and non-finite values."""
    arr = np.asarray(array)
    if arr.ndim != 3:
        raise ValueError(
            f"array: filters expect a 3-D array indexed [k, j, i], got {arr.ndim}-D shape {arr.shape} "
            "(give a single slice as shape (1, ny, nx))"
        )
    if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise ValueError(f"array: expected a numeric (integer or float) array, got dtype {arr.dtype}")
    if min(arr.shape) < 1:
        raise ValueError(f"array: empty array of shape {arr.shape}")
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(f"array: {bad} voxel(s) are NaN or infinite; filters need finite intensities "
                         "(fill them, e.g. with the background value, before filtering)")
    return arr


def check_spacing(spacing_mm: Sequence[float] | float) -> np.ndarray:
    """Spacing per array axis ``(k, j, i)`` from ``spacing_mm`` in (x, y, z) order (or one number)."""
    sp = np.atleast_1d(np.asarray(spacing_mm, dtype=float))
    if sp.size == 1:
        sp = np.repeat(sp, 3)
    if sp.size != 3 or not np.all(np.isfinite(sp)) or np.any(sp <= 0):
        raise ValueError(f"spacing_mm: expected three positive numbers in (x, y, z) order, got {spacing_mm!r}")
    return sp[::-1].copy()


def check_positive(value: float, name: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected a positive number, got {value!r}") from None
    if not np.isfinite(v) or v <= 0:
        raise ValueError(f"{name}: expected a positive number, got {value!r}")
    return v


def pad(array: np.ndarray, widths: Sequence[tuple[int, int]], boundary: str) -> np.ndarray:
    """Pad with an IBSI boundary condition (numpy handles widths larger than the array)."""
    return np.pad(array, widths, mode=_NUMPY_MODE[boundary])


def scipy_mode(boundary: str) -> str:
    return _SCIPY_MODE[boundary]


def fft_convolve(array: np.ndarray, kernel: np.ndarray, boundary: str, axes: Sequence[int]) -> np.ndarray:
    """Convolution ``(f * h)(x) = sum_y f(x - y) h(y)`` over ``axes`` with an odd-sized, centred kernel.

    The array is padded by the kernel half-width with the boundary condition; a
    circular convolution of the padded array is then exact on the central part.
    ``kernel`` has one dimension per entry of ``axes``; it may be complex.
    """
    order = np.argsort(axes)
    axes = tuple(int(axes[n]) for n in order)
    kernel = np.transpose(kernel, order)
    half = [s // 2 for s in kernel.shape]
    if any(s % 2 == 0 for s in kernel.shape):
        raise ValueError(f"internal: convolution kernel must have odd sizes, got {kernel.shape}")
    widths = [(0, 0)] * array.ndim
    for ax, h in zip(axes, half):
        widths[ax] = (h, h)
    padded = pad(array, widths, boundary)
    shape = [padded.shape[ax] for ax in axes]
    # Place the kernel centre at index 0 of a padded-size grid (circular layout).
    full = np.zeros(shape, dtype=kernel.dtype)
    full[tuple(slice(0, s) for s in kernel.shape)] = kernel
    full = np.roll(full, [-h for h in half], axis=tuple(range(len(axes))))
    expand = [np.newaxis] * array.ndim
    for n, ax in enumerate(axes):
        expand[ax] = slice(None)
    kf = scipy.fft.fftn(full)[tuple(expand)]
    out = scipy.fft.ifftn(scipy.fft.fftn(padded, axes=axes) * kf, axes=axes)
    crop = [slice(None)] * array.ndim
    for ax, h in zip(axes, half):
        crop[ax] = slice(h, h + array.shape[ax])
    out = out[tuple(crop)]
    return out if np.iscomplexobj(kernel) else out.real


def convolve_separable(array: np.ndarray, kernels: Sequence[np.ndarray | None], boundary: str,
                       axes: Sequence[int]) -> np.ndarray:
    """Convolve with a product of 1-D kernels, one per entry of ``axes`` (None = skip).

    ``out[x] = sum_m h[m] f[x - m + len(h) // 2]`` along each axis: the kernel
    centre is element ``len(h) // 2`` (for even lengths, the later of the two
    central elements), the convention of the IBSI 2 wavelet reference maps.
    """
    out = array
    mode = scipy_mode(boundary)
    for ax, k in zip(axes, kernels):
        if k is None:
            continue
        out = ndimage.convolve1d(out, np.asarray(k, dtype=float), axis=ax, mode=mode, cval=0.0)
    return out


# --------------------------------------------------------------------- rotations
def _rotations_3d() -> list[tuple[tuple[int, int, int], tuple[bool, bool, bool]]]:
    """The 24 proper rotations of the cube as (axis permutation, axis flips), identity first."""
    rots = []
    for perm in itertools.permutations(range(3)):
        parity = np.linalg.det(np.eye(3)[list(perm)])
        for flips in itertools.product((False, True), repeat=3):
            det = parity * (-1) ** sum(flips)
            if det > 0:
                rots.append((perm, flips))
    rots.sort(key=lambda r: (r[0] != (0, 1, 2) or any(r[1]), r))
    return rots


ROTATIONS_3D = tuple(_rotations_3d())


def _rotate(array: np.ndarray, perm, flips) -> np.ndarray:
    out = np.transpose(array, perm)
    flip_axes = tuple(ax for ax, f in enumerate(flips) if f)
    return np.flip(out, axis=flip_axes) if flip_axes else out


def _unrotate(array: np.ndarray, perm, flips) -> np.ndarray:
    flip_axes = tuple(ax for ax, f in enumerate(flips) if f)
    out = np.flip(array, axis=flip_axes) if flip_axes else array
    return np.transpose(out, np.argsort(perm))


def pool_over_rotations(array: np.ndarray, fn: Callable[[np.ndarray], np.ndarray], dims: str,
                        pooling: str) -> np.ndarray:
    """Rotation-invariant response: pool ``R⁻¹ fn(R f)`` over the right-angle rotations R.

    3-D: the 24 rotations of the cube; 2-D: the 4 in-plane rotations by multiples of 90°
    (IBSI 2 reference manual, "Rotation invariance").  Filtering a rotated image
    and rotating back is the same as filtering with the rotated kernel.
    """
    pooling = check_pooling(pooling)
    if dims == "3d":
        transforms = [(lambda a, r=r: _rotate(a, *r), lambda a, r=r: _unrotate(a, *r)) for r in ROTATIONS_3D]
    else:
        transforms = [(lambda a, n=n: np.rot90(a, n, axes=(1, 2)), lambda a, n=n: np.rot90(a, -n, axes=(1, 2)))
                      for n in range(4)]
    result = None
    for forward, backward in transforms:
        response = backward(fn(np.ascontiguousarray(forward(array))))
        if result is None:
            result = np.array(response, dtype=float, copy=True)
        elif pooling == "max":
            np.maximum(result, response, out=result)
        elif pooling == "min":
            np.minimum(result, response, out=result)
        else:
            result += response
    if pooling == "average":
        result /= len(transforms)
    return result


# ------------------------------------------------------------ Fourier-domain filters
def fourier_pad(array: np.ndarray, boundary: str, axes: Sequence[int]) -> tuple[np.ndarray, tuple[slice, ...]]:
    """Pad for a filter applied by multiplication in the Fourier domain.

    A discrete Fourier transform implies the periodic boundary condition; for the
    other conditions each axis is padded to twice its length (``n // 2`` before,
    ``n - n // 2`` after) with the boundary condition, and the result is cropped
    back with the returned slices.  Doubling the grid is what the IBSI 2 reference
    maps for Simoncelli/Riesz filters with non-periodic boundaries correspond to.
    """
    crop = [slice(None)] * array.ndim
    if boundary == "periodic":
        return array, tuple(crop)
    widths = [(0, 0)] * array.ndim
    for ax in axes:
        n = array.shape[ax]
        widths[ax] = (n // 2, n - n // 2)
        crop[ax] = slice(n // 2, n // 2 + n)
    return pad(array, widths, boundary), tuple(crop)


def angular_frequencies(shape: Sequence[int]) -> list[np.ndarray]:
    """Sparse grids of the DFT angular frequencies ω = 2π·fftfreq(n) (rad/voxel), one per axis."""
    return np.meshgrid(*[2 * np.pi * np.fft.fftfreq(n) for n in shape], indexing="ij", sparse=True)


def apply_transfer(array: np.ndarray, transfer: np.ndarray, axes: Sequence[int]) -> np.ndarray:
    """Real part of ``IDFT(DFT(f) · H)`` over ``axes``; ``transfer`` spans those axes only."""
    axes = tuple(axes)
    expand = [np.newaxis] * array.ndim
    for ax in axes:
        expand[ax] = slice(None)
    spectrum = scipy.fft.fftn(array, axes=axes) * transfer[tuple(expand)]
    return scipy.fft.ifftn(spectrum, axes=axes).real
