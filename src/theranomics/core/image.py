"""Images with their geometry and unit, and label maps with named labels.

Conventions (the same as SimpleITK / ITK and DICOM):

* ``array`` is indexed ``[k, j, i]`` (slice, row, column), exactly what
  ``SimpleITK.GetArrayFromImage`` returns.
* ``spacing_mm``, ``origin_mm`` and the columns of ``direction`` are given in
  ``(x, y, z)`` order, i.e. for the ``i, j, k`` axes respectively.
* World coordinates are patient LPS in mm: x to the patient's left, y
  posterior, z superior.  The world position of voxel ``(i, j, k)`` is
  ``origin + direction @ (spacing * (i, j, k))``.

The core types know no file format; readers and writers live in
:mod:`theranomics.io`.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Mapping

import numpy as np

#: Units an :class:`Image` may carry.  Free text is refused so that a typo
#: cannot silently turn Bq/mL into something else.
KNOWN_UNITS = frozenset({
    "Bq/mL", "kBq/mL", "MBq", "Bq", "counts", "cps", "HU", "1",
    "SUVbw", "SUVlbm", "SUVbsa", "SUVibw", "SUL", "g/mL", "cm2/mL",
    "Gy", "mGy", "Gy/h", "mGy/h", "MBq*h", "Bq*s", "MBq*h/mL", "mu/cm",
})


class GeometryError(ValueError):
    """Two images, or an image and a mask, do not share a voxel grid."""


@dataclass(frozen=True)
class Geometry:
    """A voxel grid: ``shape`` is ``(nz, ny, nx)``; the rest is in ``(x, y, z)`` order."""

    shape: tuple[int, int, int]
    spacing_mm: tuple[float, float, float] = (1.0, 1.0, 1.0)
    origin_mm: tuple[float, float, float] = (0.0, 0.0, 0.0)
    direction: tuple[float, ...] = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)

    def __post_init__(self) -> None:
        shape = tuple(int(s) for s in self.shape)
        if len(shape) != 3 or min(shape) < 1:
            raise GeometryError(f"shape must be three positive integers (nz, ny, nx), got {self.shape}")
        spacing = tuple(float(s) for s in self.spacing_mm)
        if len(spacing) != 3 or not all(np.isfinite(spacing)) or min(spacing) <= 0:
            raise GeometryError(f"spacing_mm must be three positive numbers, got {self.spacing_mm}")
        origin = tuple(float(s) for s in self.origin_mm)
        if len(origin) != 3 or not all(np.isfinite(origin)):
            raise GeometryError(f"origin_mm must be three finite numbers, got {self.origin_mm}")
        direction = tuple(float(d) for d in np.asarray(self.direction, dtype=float).ravel())
        if len(direction) != 9:
            raise GeometryError(f"direction must be a 3x3 matrix (9 numbers), got {len(direction)}")
        m = np.asarray(direction).reshape(3, 3)
        if not np.allclose(m.T @ m, np.eye(3), atol=1e-4):
            raise GeometryError(f"direction must be orthonormal, got {m.tolist()}")
        object.__setattr__(self, "shape", shape)
        object.__setattr__(self, "spacing_mm", spacing)
        object.__setattr__(self, "origin_mm", origin)
        object.__setattr__(self, "direction", direction)

    # -- derived quantities -------------------------------------------------
    @property
    def direction_matrix(self) -> np.ndarray:
        """3x3 matrix whose columns are the world directions of the i, j, k axes."""
        return np.asarray(self.direction, dtype=float).reshape(3, 3)

    @property
    def voxel_volume_ml(self) -> float:
        """Volume of one voxel in mL (1 mL = 1000 mm³)."""
        sx, sy, sz = self.spacing_mm
        return sx * sy * sz / 1000.0

    @property
    def size_xyz(self) -> tuple[int, int, int]:
        """Number of voxels along (x, y, z), the SimpleITK ``GetSize()`` order."""
        nz, ny, nx = self.shape
        return (nx, ny, nz)

    def index_to_world(self, ijk: np.ndarray) -> np.ndarray:
        """World LPS mm of continuous index ``(i, j, k)`` (shape ``(..., 3)``)."""
        ijk = np.asarray(ijk, dtype=float)
        scaled = ijk * np.asarray(self.spacing_mm)
        return scaled @ self.direction_matrix.T + np.asarray(self.origin_mm)

    def world_to_index(self, xyz: np.ndarray) -> np.ndarray:
        """Continuous index ``(i, j, k)`` of world LPS mm points (shape ``(..., 3)``)."""
        xyz = np.asarray(xyz, dtype=float) - np.asarray(self.origin_mm)
        return (xyz @ self.direction_matrix) / np.asarray(self.spacing_mm)

    def same_grid(self, other: "Geometry", atol_mm: float = 1e-3) -> bool:
        """True when both grids have identical shape and (within ``atol_mm``) spacing, origin, direction."""
        return (
            self.shape == other.shape
            and np.allclose(self.spacing_mm, other.spacing_mm, atol=atol_mm)
            and np.allclose(self.origin_mm, other.origin_mm, atol=atol_mm)
            and np.allclose(self.direction, other.direction, atol=1e-5)
        )

    def require_same_grid(self, other: "Geometry", what: str = "images") -> None:
        """Raise :class:`GeometryError` describing the difference when the grids differ."""
        if self.same_grid(other):
            return
        raise GeometryError(
            f"{what} are on different voxel grids: "
            f"shape {self.shape} vs {other.shape}, spacing_mm {self.spacing_mm} vs {other.spacing_mm}, "
            f"origin_mm {self.origin_mm} vs {other.origin_mm}; resample one onto the other first"
        )


def _check_array(array: np.ndarray, geometry: Geometry, name: str) -> np.ndarray:
    array = np.asarray(array)
    if array.ndim != 3:
        raise GeometryError(f"{name} array must be 3-D (nz, ny, nx), got {array.ndim}-D shape {array.shape}")
    if tuple(array.shape) != geometry.shape:
        raise GeometryError(f"{name} array shape {array.shape} does not match geometry shape {geometry.shape}")
    return array


@dataclass(frozen=True, eq=False)
class Image:
    """A 3-D scalar image with geometry, unit and modality.

    ``meta`` holds free-form provenance (series UID, acquisition time, …); it is
    never used for computation.
    """

    array: np.ndarray
    geometry: Geometry
    unit: str = "1"
    modality: str = "OT"
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "array", _check_array(self.array, self.geometry, "image"))
        if self.unit not in KNOWN_UNITS:
            raise ValueError(f"unknown image unit {self.unit!r}; expected one of {sorted(KNOWN_UNITS)}")

    @classmethod
    def from_array(cls, array: np.ndarray, spacing_mm=(1.0, 1.0, 1.0), origin_mm=(0.0, 0.0, 0.0),
                   direction=None, unit: str = "1", modality: str = "OT", meta=None) -> "Image":
        geometry = Geometry(np.asarray(array).shape, spacing_mm, origin_mm,
                            direction if direction is not None else Geometry.__dataclass_fields__["direction"].default)
        return cls(np.asarray(array), geometry, unit, modality, dict(meta or {}))

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.geometry.shape

    @property
    def spacing_mm(self) -> tuple[float, float, float]:
        return self.geometry.spacing_mm

    def with_array(self, array: np.ndarray, unit: str | None = None, **meta: Any) -> "Image":
        """Same geometry and modality, new voxel values (and optionally unit)."""
        return replace(self, array=np.asarray(array), unit=unit or self.unit, meta={**self.meta, **meta})


@dataclass(frozen=True, eq=False)
class LabelMap:
    """Integer label image (0 = background) with a name per label.

    A separate type from :class:`Image` so that it is always resampled with
    nearest-neighbour interpolation and never averaged.
    """

    array: np.ndarray
    geometry: Geometry
    names: Mapping[int, str] = field(default_factory=dict)
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        array = _check_array(self.array, self.geometry, "label map")
        if not np.issubdtype(array.dtype, np.integer) and array.dtype != bool:
            if not np.all(np.equal(np.mod(array, 1), 0)):
                raise ValueError("label map values must be integers")
        if array.dtype == bool or not np.issubdtype(array.dtype, np.integer):
            array = array.astype(np.int32)
        if array.size and array.min() < 0:
            raise ValueError("label map values must be >= 0 (0 is background)")
        object.__setattr__(self, "array", array)
        object.__setattr__(self, "names", {int(k): str(v) for k, v in dict(self.names).items()})

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.geometry.shape

    @property
    def labels(self) -> list[int]:
        """Labels present in the array (excluding background 0), sorted."""
        values = np.unique(self.array)
        return [int(v) for v in values if v != 0]

    def label_of(self, name: str) -> int:
        for value, label_name in self.names.items():
            if label_name == name:
                return value
        raise KeyError(f"label map has no label named {name!r}; it has {sorted(self.names.values())}")

    def mask(self, label: int | str) -> np.ndarray:
        """Boolean mask of one label, by value or by name."""
        value = self.label_of(label) if isinstance(label, str) else int(label)
        return self.array == value

    def volume_ml(self, label: int | str) -> float:
        return float(self.mask(label).sum()) * self.geometry.voxel_volume_ml

    @classmethod
    def from_masks(cls, masks: Mapping[str, np.ndarray], geometry: Geometry, meta=None) -> "LabelMap":
        """Build a label map from named boolean masks; later masks overwrite earlier ones."""
        array = np.zeros(geometry.shape, dtype=np.int32)
        names = {}
        for value, (name, mask) in enumerate(masks.items(), start=1):
            mask = _check_array(mask, geometry, f"mask {name!r}").astype(bool)
            array[mask] = value
            names[value] = name
        return cls(array, geometry, names, dict(meta or {}))
