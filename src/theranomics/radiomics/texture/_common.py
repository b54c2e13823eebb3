"""Machinery shared by the texture families (private).

Reference: Zwanenburg et al., IBSI 1 reference manual (arXiv:1612.07003), section 3.6
(aggregation of texture matrices, neighbourhood definitions) and chapter 3 feature formulas.

All families work on one :class:`RoiGrid`: the grey levels cropped to the ROI bounding box and
padded with zeros, so that a neighbour of an ROI voxel is a fixed offset in the flattened array
and "outside the ROI" is simply grey level 0.  Matrices are built for a whole batch (slices x
directions) with one ``np.bincount`` and features are evaluated on the batch at once.
"""
from __future__ import annotations

import functools
import itertools
import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
from scipy.special import xlogy

from ._kernels import build_grid, group_nanmean

DIMS = ("2d", "2.5d", "3d")
NORMS = ("chebyshev", "manhattan", "euclidean")
_LN2 = math.log(2.0)


class TextureInputError(ValueError):
    """Grey levels, masks or settings handed to a texture family are not what it expects."""


# -- settings -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Params:
    """Validated texture settings (see ``theranomics.radiomics.settings.TextureSettings``)."""

    distance: int = 1
    dims: tuple[str, ...] = ("3d",)
    glcm_symmetric: bool = True
    ngldm_alpha: float = 0.0
    distance_norm: str = "chebyshev"


def read_settings(settings: Any) -> Params:
    """Read a ``TextureSettings`` (or any object with its attributes); ``None`` = defaults."""
    if settings is None:
        return Params()
    if isinstance(settings, Params):
        return settings
    # A full RadiomicsSettings carries the texture settings in ``.texture``.
    if not hasattr(settings, "distance") and hasattr(settings, "texture"):
        settings = settings.texture
    values = {}
    for name in ("distance", "dims", "glcm_symmetric", "ngldm_alpha", "distance_norm"):
        if not hasattr(settings, name):
            raise TextureInputError(
                f"settings has no field '{name}': expected a TextureSettings with fields distance, dims, "
                f"glcm_symmetric, ngldm_alpha, distance_norm (got {type(settings).__name__})")
        values[name] = getattr(settings, name)
    d = values["distance"]
    if isinstance(d, bool) or not isinstance(d, (int, np.integer, float)) or d != int(d) or d < 1:
        raise TextureInputError(f"settings.distance must be an integer >= 1, got {d!r}")
    dims = values["dims"]
    dims = (dims,) if isinstance(dims, str) else tuple(dims)
    dims = tuple(str(x).lower() for x in dims)
    if not dims or any(x not in DIMS for x in dims):
        raise TextureInputError(f"settings.dims must be a non-empty list of {list(DIMS)}, got {values['dims']!r}")
    alpha = values["ngldm_alpha"]
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float, np.integer, np.floating)) \
            or not math.isfinite(alpha) or alpha < 0:
        raise TextureInputError(f"settings.ngldm_alpha must be a number >= 0, got {alpha!r}")
    norm = str(values["distance_norm"]).lower()
    if norm not in NORMS:
        raise TextureInputError(f"settings.distance_norm must be one of {list(NORMS)}, got {values['distance_norm']!r}")
    if not isinstance(values["glcm_symmetric"], (bool, np.bool_)):
        raise TextureInputError(f"settings.glcm_symmetric must be true or false, got {values['glcm_symmetric']!r}")
    return Params(int(d), tuple(dict.fromkeys(dims)), bool(values["glcm_symmetric"]), float(alpha), norm)


# -- the cropped ROI -----------------------------------------------------------------------

def _as_mask(mask: Any, name: str, shape: tuple[int, ...] | None) -> np.ndarray:
    m = np.asarray(mask)
    if m.dtype != bool:
        if not np.issubdtype(m.dtype, np.number) or not np.isin(m, (0, 1)).all():
            raise TextureInputError(f"{name} must be a boolean array (or 0/1), got dtype {m.dtype}")
        m = m.astype(bool)
    if m.ndim != 3:
        raise TextureInputError(f"{name} must be a 3-D array indexed [k, j, i], got shape {m.shape}")
    if shape is not None and m.shape != shape:
        raise TextureInputError(f"{name} has shape {m.shape} but levels has shape {shape}")
    return m


class RoiGrid:
    """Grey levels of one ROI, cropped to its bounding box and zero-padded.

    ``grid`` holds the grey level (1..n_levels) inside the intensity mask and 0 elsewhere;
    ``idx`` are the flat indices of the ROI voxels in ``grid.ravel()``, ``values`` their levels
    and ``slice_id`` the compact index (0..n_slices-1) of the slice (first axis, k) of each.
    Derived arrays needed by several families are cached on the instance.
    """

    def __init__(self, levels: Any, mask: Any, n_levels: int, pad: int = 1,
                 morph_mask: Any | None = None, spacing_mm: Any = (1.0, 1.0, 1.0)) -> None:
        if isinstance(n_levels, bool) or not isinstance(n_levels, (int, np.integer)) or n_levels < 1:
            raise TextureInputError(f"n_levels must be a positive integer, got {n_levels!r}")
        lv = np.asarray(levels)
        if lv.ndim != 3:
            raise TextureInputError(f"levels must be a 3-D array indexed [k, j, i], got shape {lv.shape}")
        if not (np.issubdtype(lv.dtype, np.integer) or np.issubdtype(lv.dtype, np.floating)):
            raise TextureInputError(f"levels must be numeric grey levels, got dtype {lv.dtype}")
        m = _as_mask(mask, "mask", lv.shape)
        mm = m if morph_mask is None else _as_mask(morph_mask, "morph_mask", lv.shape)
        try:
            sp = tuple(float(s) for s in spacing_mm)
        except (TypeError, ValueError):
            raise TextureInputError(f"spacing_mm must be three positive numbers (x, y, z), got {spacing_mm!r}") from None
        if len(sp) != 3 or not all(math.isfinite(s) and s > 0 for s in sp):
            raise TextureInputError(f"spacing_mm must be three positive numbers (x, y, z), got {spacing_mm!r}")
        self.n_levels = int(n_levels)
        self.pad = int(pad)
        self.spacing_mm = sp
        if lv.dtype != np.int32:
            inside = lv[m]
            if np.issubdtype(lv.dtype, np.floating) and (not np.all(np.isfinite(inside))
                                                          or np.any(inside != np.round(inside))):
                raise TextureInputError("levels must be integer grey levels inside the mask; found "
                                        "non-integer or non-finite values (discretise first)")
            if inside.size and (inside.min() < 1 or inside.max() > n_levels):
                raise TextureInputError(f"levels inside the mask must lie in 1..n_levels={n_levels}, "
                                        f"found {inside.min():g}..{inside.max():g}")
            lv = np.where(m, lv, 0).astype(np.int32)
        # crop to the bounding box of both masks (the morphological one is needed for GLDZM
        # distances), pad, and list the ROI voxels: one compiled pass (._kernels.build_grid)
        g, mg, self.idx, self.values, k, bad, lo, hi = build_grid(
            np.ascontiguousarray(lv), np.ascontiguousarray(m), np.ascontiguousarray(mm), self.pad)
        if bad:
            raise TextureInputError(
                f"mask has {bad} voxel(s) outside morph_mask; the intensity mask "
                "must lie inside the morphological mask (re-segmentation only removes voxels)")
        self.n_voxels = int(self.idx.size)
        if self.n_voxels and (lo < 1 or hi > n_levels):
            raise TextureInputError(f"levels inside the mask must lie in 1..n_levels={n_levels}, found {lo}..{hi}")
        self.grid = g
        self.flat = g.ravel()
        self.shape = g.shape
        self.strides = (g.shape[1] * g.shape[2], g.shape[2], 1)
        self.morph = mg
        present = np.bincount(k, minlength=g.shape[0]) > 0
        #: compact slice index of each padded slice k (-1 where the slice holds no ROI voxel)
        self.slice_lut = np.where(present, np.cumsum(present) - 1, -1)
        self.slice_id = self.slice_lut[k]
        self.n_slices = int(present.sum())
        codes, vals = compact(self.values)
        #: grey levels present in the ROI (sorted) and the code 0..n-1 of each ROI voxel
        self.level_values = vals if vals.size else np.ones(1, np.intp)
        self.level_codes = codes
        self._cache: dict[str, Any] = {}

    @property
    def n_present(self) -> int:
        """Number of distinct grey levels present in the ROI (at least 1)."""
        return int(self.level_values.size)

    def code_flat(self) -> np.ndarray:
        """Level code (0..n_present-1, int32) of every grid cell, ``n_present`` outside the ROI."""
        def make() -> np.ndarray:
            lut = np.full(self.n_levels + 1, self.n_present, np.int32)
            lut[self.level_values] = np.arange(self.n_present)
            lut[0] = self.n_present
            return lut[self.flat]
        return self.cached("code_flat", make)

    def core(self, margin: int) -> tuple[slice, slice, slice]:
        """Index of the grid without a border of ``margin`` cells (margin <= pad)."""
        return tuple(slice(margin, n - margin) for n in self.shape)

    def has(self, key: str) -> bool:
        """Whether ``key`` was already computed (see :meth:`cached`)."""
        return key in self._cache

    def cached(self, key: str, make: Callable[[], Any]) -> Any:
        """The derived array ``key``, computed by ``make`` on first use."""
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    def flat_offsets(self, offsets: np.ndarray) -> np.ndarray:
        """Flat-index shifts of (dk, dj, di) offsets (rows of ``offsets``)."""
        return np.asarray(offsets, dtype=np.intp) @ np.asarray(self.strides, dtype=np.intp)

    def slice_voxel_counts(self) -> np.ndarray:
        """Number of ROI voxels in each (compact) slice."""
        return np.bincount(self.slice_id, minlength=self.n_slices)


# -- directions and neighbourhoods -----------------------------------------------------------

@functools.lru_cache(maxsize=2)
def directions(dims3: bool) -> np.ndarray:
    """Unit directions (dk, dj, di): 4 in-plane (2D) or 13 (3D), one of each opposite pair.

    IBSI 1, section 3.6.1: 2D uses 0°, 45°, 90° and 135° in the slice; 3D the 13 unique
    directions of the 26-neighbourhood.  The first four rows are always the in-plane ones.
    (Cached; the array is read-only.)
    """
    inplane = [(0, 0, 1), (0, 1, 1), (0, 1, 0), (0, 1, -1)]
    other = [(1, dj, di) for dj in (-1, 0, 1) for di in (-1, 0, 1)] if dims3 else []
    out = np.array(inplane + other, dtype=np.intp)
    out.flags.writeable = False
    return out


@functools.lru_cache(maxsize=16)
def neighbourhood(distance: int, norm: str) -> np.ndarray:
    """All offsets (dk, dj, di) != 0 whose ``norm`` length is <= ``distance`` (IBSI 3.1.4 / 3.10).
    (Cached; the array is read-only.)"""
    out = np.array(_neighbourhood(int(distance), norm), dtype=np.intp).reshape(-1, 3)
    out.flags.writeable = False
    return out


@functools.lru_cache(maxsize=16)
def _neighbourhood(distance: int, norm: str) -> tuple[tuple[int, int, int], ...]:
    r = range(-distance, distance + 1)
    out = []
    for o in itertools.product(r, r, r):
        if o == (0, 0, 0):
            continue
        a = np.abs(o)
        length = {"chebyshev": a.max(), "manhattan": a.sum(), "euclidean": math.sqrt((a ** 2).sum())}[norm]
        if length <= distance + 1e-9:
            out.append(o)
    return tuple(out)


# -- counting --------------------------------------------------------------------------------

def compact(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(codes, unique values) of non-negative integers ``x`` (fast ``np.unique`` with inverse)."""
    if x.size == 0:
        return np.zeros(0, np.intp), np.zeros(0, np.intp)
    present = np.bincount(x) > 0
    uniq = np.flatnonzero(present)
    lut = np.cumsum(present) - 1
    return lut[x], uniq


def count_matrices(batch: np.ndarray, n_batch: int, rows: np.ndarray, cols: np.ndarray,
                   weights: np.ndarray | None = None, rows_present: np.ndarray | None = None
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stack of count matrices M[b, r, c] = number (or weight sum) of items with those indices.

    ``rows`` and ``cols`` are integer values (grey level, run length, zone size, ...), compacted
    to the values present (or, for rows, to the sorted values ``rows_present``); returns
    (M (n_batch, n_r, n_c), row values, column values).
    """
    if rows_present is not None and rows_present.size:
        lut = np.zeros(int(rows_present[-1]) + 1, np.intp)
        lut[rows_present] = np.arange(rows_present.size)
        if weights is None:  # one compiled pass (._kernels.count_matrix)
            from ._kernels import count_matrix
            m, cv = count_matrix(np.asarray(batch, dtype=np.intp), int(n_batch), lut[rows], rows_present.size,
                                 np.asarray(cols, dtype=np.intp))
            return m, rows_present.astype(float), cv
        rc, rv = lut[rows], rows_present
    else:
        rc, rv = compact(rows)
    cc, cv = compact(cols)
    rv = rv if rv.size else np.ones(1, np.intp)
    cv = cv if cv.size else np.ones(1, np.intp)
    nr, nc = rv.size, cv.size
    key = (batch.astype(np.intp) * nr + rc) * nc + cc
    m = np.bincount(key, weights=weights, minlength=n_batch * nr * nc).astype(float)
    return m.reshape(n_batch, nr, nc), rv.astype(float), cv.astype(float)


# -- feature helpers -------------------------------------------------------------------------

def entropy2(p: np.ndarray, axis: Any) -> np.ndarray:
    """-sum p log2 p with 0 log 0 = 0."""
    return -xlogy(p, p).sum(axis=axis) / _LN2


@functools.lru_cache(maxsize=64)
def _row_index(names: tuple[str, ...]) -> dict[str, int]:
    return {n: i for i, n in enumerate(names)}


class FeatureRows(dict):
    """name -> per-matrix values, all rows of one (n_features, n_matrices) array ``rows``."""

    def __init__(self, names: tuple[str, ...], rows: np.ndarray) -> None:
        super().__init__(zip(names, rows))
        self.rows = rows
        self.index = _row_index(names)


@functools.lru_cache(maxsize=256)
def _aggregate_tags(keys: tuple[str, ...], suffixes: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(k + suffix for suffix in suffixes for k in keys)


def aggregate(feats: dict[str, np.ndarray], names: dict[str, str], parts: list[tuple[str, int]]
              ) -> dict[str, float]:
    """Average per-matrix feature values over consecutive groups of matrices.

    ``feats[key]`` holds one value per matrix of a stack made of consecutive groups;
    ``parts`` lists (tag suffix, number of matrices) of each group and ``names`` maps output
    base tags to keys of ``feats``.  NaN values (undefined for that matrix) are left out of the
    mean; a group whose values are all NaN gives NaN.
    """
    keys = tuple(names)
    if not keys:
        return {}
    if isinstance(feats, FeatureRows):
        x = feats.rows[[feats.index[names[k]] for k in keys]]
    else:
        x = np.stack([feats[names[k]] for k in keys]).astype(float, copy=False)
    means = group_nanmean(x, np.array([size for _, size in parts], dtype=np.int64))
    return dict(zip(_aggregate_tags(keys, tuple(suffix for suffix, _ in parts)), means.T.ravel().tolist()))


def zone_features(m: np.ndarray, gl: np.ndarray, size: np.ndarray, n_voxels: np.ndarray) -> dict[str, np.ndarray]:
    """The 17 features shared by GLRLM, GLSZM, GLDZM and NGLDM on a stack of matrices.

    ``m[b, i, j]``: count of runs/zones/voxels with grey level ``gl[i]`` and run length / zone
    size / zone distance / dependence count ``size[j]``; ``n_voxels[b]``: N_v of each matrix.
    Keys ``se, le, lge, hge, slge, shge, llge, lhge, glnu, glnu_norm, sznu, sznu_norm, perc,
    gl_var, sz_var, sz_entr, energy``; formulas (IBSI 1 sections 3.7, 3.8, 3.9, 3.11) in
    :func:`._kernels.zone_features`.  Matrices with N_s = 0 give NaN.
    """
    from ._kernels import ZONE_NAMES, zone_features as kernel
    rows = kernel(np.ascontiguousarray(m, dtype=float), np.ascontiguousarray(gl, dtype=float),
                  np.ascontiguousarray(size, dtype=float), np.ascontiguousarray(n_voxels, dtype=float))
    return FeatureRows(ZONE_NAMES, rows)


def nan_result(tags: list[str]) -> dict[str, float]:
    return {t: float("nan") for t in tags}
