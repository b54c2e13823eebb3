"""Time-activity curves (TACs) of one VOI, and stacks of per-voxel TACs.

Times are hours after the administration (``time_h``); activities are in MBq.
A TAC is *measured* (``decay_corrected=False``, the activity actually present,
which is what is integrated for dosimetry) or *decay-corrected to the
administration time* (``decay_corrected=True``); :meth:`TimeActivityCurve.as_measured`
undoes the correction with the nuclide's physical decay,
A_meas(t) = A_dc(t)·exp(−λ_phys t) (λ_phys from :mod:`theranomics.nuclides`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from .. import nuclides
from ..core.image import Geometry, Image, LabelMap


class TACError(ValueError):
    """A time-activity curve whose times, activities or uncertainties are unusable."""


def _validate_times(time_h, where: str) -> np.ndarray:
    t = np.asarray(time_h, dtype=float)
    if t.ndim != 1:
        raise TACError(f"{where}: time_h must be a 1-D sequence of hours, got shape {t.shape}")
    if t.size < 1:
        raise TACError(f"{where}: at least one time point is needed, got none")
    bad = np.flatnonzero(~np.isfinite(t))
    if bad.size:
        raise TACError(f"{where}: time_h must be finite; time point(s) {bad.tolist()} are {t[bad].tolist()}")
    neg = np.flatnonzero(t < 0)
    if neg.size:
        raise TACError(f"{where}: time_h must be >= 0 h after administration; time point(s) {neg.tolist()} "
                       f"are at {t[neg].tolist()} h")
    steps = np.flatnonzero(np.diff(t) <= 0)
    if steps.size:
        pairs = ", ".join(f"#{i} ({t[i]:g} h) -> #{i + 1} ({t[i + 1]:g} h)" for i in steps)
        raise TACError(f"{where}: time_h must be strictly increasing; not increasing at {pairs}")
    return t


def _normalise_nuclide(nuclide, where: str) -> str | None:
    if nuclide is None:
        return None
    try:
        return nuclides.normalise_name(nuclide)
    except nuclides.UnknownNuclideError as exc:
        raise TACError(f"{where}: {exc}") from None


@dataclass(frozen=True, eq=False)
class TimeActivityCurve:
    """Activity of one VOI at ``n`` times after administration.

    ``sigma_mbq`` is the standard uncertainty of each activity (random
    components: counting noise, reconstruction; *not* the calibration, which is
    systematic and is added to the TIA separately).  ``None`` means unknown.
    """

    time_h: np.ndarray
    activity_mbq: np.ndarray
    sigma_mbq: np.ndarray | None = None
    voi: str = ""
    nuclide: str | None = None
    decay_corrected: bool = False

    def __post_init__(self) -> None:
        where = f"TAC {self.voi!r}" if self.voi else "TAC"
        t = _validate_times(self.time_h, where)
        a = np.asarray(self.activity_mbq, dtype=float)
        if a.shape != t.shape:
            raise TACError(f"{where}: activity_mbq has shape {a.shape} but time_h has {t.shape}; need one activity "
                           "per time point")
        for i in range(a.size):
            if not np.isfinite(a[i]):
                raise TACError(f"{where}: activity_mbq at time point #{i} ({t[i]:g} h) is {a[i]}; expected a finite "
                               "number of MBq")
            if a[i] < 0:
                raise TACError(f"{where}: activity_mbq at time point #{i} ({t[i]:g} h) is negative ({a[i]:g} MBq); "
                               "activities must be >= 0")
        s = None
        if self.sigma_mbq is not None:
            s = np.asarray(self.sigma_mbq, dtype=float)
            if s.ndim == 0:
                s = np.full_like(a, float(s))
            if s.shape != t.shape:
                raise TACError(f"{where}: sigma_mbq has shape {s.shape} but time_h has {t.shape}")
            for i in range(s.size):
                if not (np.isfinite(s[i]) and s[i] > 0):
                    raise TACError(f"{where}: sigma_mbq at time point #{i} ({t[i]:g} h) is {s[i]}; expected a "
                                   "finite positive uncertainty in MBq")
        nuc = _normalise_nuclide(self.nuclide, where)
        if self.decay_corrected and nuc is None:
            raise TACError(f"{where}: decay_corrected=True needs the nuclide to undo the decay correction")
        object.__setattr__(self, "time_h", t)
        object.__setattr__(self, "activity_mbq", a)
        object.__setattr__(self, "sigma_mbq", s)
        object.__setattr__(self, "nuclide", nuc)

    @property
    def n_points(self) -> int:
        return int(self.time_h.size)

    @property
    def physical_decay_constant_per_h(self) -> float | None:
        """λ_phys = ln2 / T½ (1/h) of the nuclide, or ``None`` when no nuclide is set."""
        return None if self.nuclide is None else nuclides.decay_constant_per_h(self.nuclide)

    def as_measured(self) -> "TimeActivityCurve":
        """The TAC without decay correction: A(t) = A_dc(t)·e^{−λ_phys t} (σ scaled alike)."""
        if not self.decay_corrected:
            return self
        f = np.exp(-self.physical_decay_constant_per_h * self.time_h)
        return TimeActivityCurve(self.time_h, self.activity_mbq * f,
                                 None if self.sigma_mbq is None else self.sigma_mbq * f,
                                 self.voi, self.nuclide, decay_corrected=False)


_ACTIVITY_UNITS_TO_MBQ_PER_ML = {"Bq/mL": 1e-6, "kBq/mL": 1e-3}
_ACTIVITY_UNITS_TO_MBQ = {"MBq": 1.0, "Bq": 1e-6}


@dataclass(frozen=True, eq=False)
class VoxelTACStack:
    """Per-voxel TACs: ``activity_mbq`` is (n_times, n_voxels), measured (not decay-corrected).

    ``geometry`` and ``mask`` (boolean, shape ``geometry.shape``) say where the
    voxels came from, so that per-voxel results go back into an image with
    :meth:`to_image`; both may be ``None`` for plain arrays.  Activities must be
    finite; negative voxel values (reconstruction noise) are kept as they are —
    the voxel fitter's fallback rules say how they are used.
    """

    time_h: np.ndarray
    activity_mbq: np.ndarray
    nuclide: str | None = None
    geometry: Geometry | None = None
    mask: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        where = "voxel TAC stack"
        t = _validate_times(self.time_h, where)
        a = np.asarray(self.activity_mbq, dtype=float)
        if a.ndim == 1:
            a = a[:, None]
        if a.ndim != 2 or a.shape[0] != t.size:
            raise TACError(f"{where}: activity_mbq must be (n_times={t.size}, n_voxels), got shape {a.shape}")
        finite = np.isfinite(a)
        if not finite.all():
            rows = np.flatnonzero(~finite.all(axis=1))
            details = ", ".join(f"#{i} ({t[i]:g} h): {int((~finite[i]).sum())} voxels" for i in rows)
            raise TACError(f"{where}: activity_mbq must be finite; non-finite values at time point {details}")
        nuc = _normalise_nuclide(self.nuclide, where)
        if self.mask is not None:
            if self.geometry is None:
                raise TACError(f"{where}: a mask needs the geometry it belongs to")
            m = np.asarray(self.mask, dtype=bool)
            if m.shape != self.geometry.shape:
                raise TACError(f"{where}: mask shape {m.shape} differs from geometry shape {self.geometry.shape}")
            if int(m.sum()) != a.shape[1]:
                raise TACError(f"{where}: mask has {int(m.sum())} voxels but activity_mbq has {a.shape[1]}")
            object.__setattr__(self, "mask", m)
        object.__setattr__(self, "time_h", t)
        object.__setattr__(self, "activity_mbq", a)
        object.__setattr__(self, "nuclide", nuc)

    @property
    def n_points(self) -> int:
        return int(self.time_h.size)

    @property
    def n_voxels(self) -> int:
        return int(self.activity_mbq.shape[1])

    @classmethod
    def from_images(cls, images: Sequence[Image], time_h, mask=None, nuclide: str | None = None,
                    decay_corrected: bool = False) -> "VoxelTACStack":
        """Stack co-registered activity images (unit Bq/mL, kBq/mL, Bq or MBq per voxel) inside ``mask``.

        ``mask`` is a boolean array, a :class:`LabelMap` (all labels > 0) or
        ``None`` (all voxels).  Concentrations are turned into MBq per voxel with
        the voxel volume.  Decay-corrected images are turned back into measured
        activity with e^{−λ_phys t}.
        """
        where = "VoxelTACStack.from_images"
        t = _validate_times(time_h, where)
        images = list(images)
        if len(images) != t.size:
            raise TACError(f"{where}: {len(images)} images but {t.size} times")
        geometry = images[0].geometry
        for n, img in enumerate(images):
            if not isinstance(img, Image):
                raise TACError(f"{where}: image #{n} is a {type(img).__name__}, expected theranomics Image")
            if not img.geometry.same_grid(geometry):
                raise TACError(f"{where}: image #{n} ({t[n]:g} h) is not on the grid of image #0; "
                               "register and resample the time points first")
            if img.unit not in _ACTIVITY_UNITS_TO_MBQ_PER_ML and img.unit not in _ACTIVITY_UNITS_TO_MBQ:
                raise TACError(f"{where}: image #{n} ({t[n]:g} h) has unit {img.unit!r}; expected one of "
                               f"{sorted({**_ACTIVITY_UNITS_TO_MBQ_PER_ML, **_ACTIVITY_UNITS_TO_MBQ})}")
        if mask is None:
            m = np.ones(geometry.shape, dtype=bool)
        elif isinstance(mask, LabelMap):
            if not mask.geometry.same_grid(geometry):
                raise TACError(f"{where}: the label map is not on the images' grid")
            m = mask.array > 0
        else:
            m = np.asarray(mask, dtype=bool)
            if m.shape != geometry.shape:
                raise TACError(f"{where}: mask shape {m.shape} differs from image shape {geometry.shape}")
        rows = []
        for img in images:
            scale = (_ACTIVITY_UNITS_TO_MBQ_PER_ML[img.unit] * geometry.voxel_volume_ml
                     if img.unit in _ACTIVITY_UNITS_TO_MBQ_PER_ML else _ACTIVITY_UNITS_TO_MBQ[img.unit])
            rows.append(np.asarray(img.array, dtype=float)[m] * scale)
        a = np.vstack(rows) if rows else np.empty((0, 0))
        if decay_corrected:
            if nuclide is None:
                raise TACError(f"{where}: decay_corrected=True needs the nuclide")
            a = a * np.exp(-nuclides.decay_constant_per_h(nuclide) * t)[:, None]
        return cls(t, a, nuclide, geometry, m)

    def to_image(self, values, unit: str = "1") -> Image:
        """Put one value per voxel back on the source grid (0 outside the mask)."""
        if self.geometry is None:
            raise TACError("to_image: this stack has no geometry (it was built from plain arrays)")
        values = np.asarray(values)
        if values.shape != (self.n_voxels,):
            raise TACError(f"to_image: expected {self.n_voxels} values, got shape {values.shape}")
        out = np.zeros(self.geometry.shape, dtype=float)
        out[self.mask] = values
        return Image(out, self.geometry, unit=unit)


__all__ = ["TACError", "TimeActivityCurve", "VoxelTACStack"]
