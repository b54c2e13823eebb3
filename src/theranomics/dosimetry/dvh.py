"""Cumulative dose-volume histograms (DVH) and their metrics, from voxel doses.

Every voxel of the mask counts with equal volume (no partial voxels).  With the
voxel doses sorted in decreasing order d_(1) ≥ … ≥ d_(n):

* V(D) — cumulative DVH — = fraction of voxels with dose ≥ D (``vx_percent``).
* D_x — minimum dose to the hottest x % of the volume — = d_(⌈x·n/100⌉)
  (D_0 = Dmax, D_100 = Dmin); no interpolation, so D_x is always a voxel's dose
  and V(D_x) ≥ x %.
* Dmean = Σd/n; Dmax, Dmin.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..core.image import Image, LabelMap

_DOSE_UNITS_TO_GY = {"Gy": 1.0, "mGy": 1e-3}


class DVHError(ValueError):
    """A dose image or mask that cannot give a DVH."""


@dataclass(frozen=True, eq=False)
class DoseVolumeHistogram:
    """Voxel doses (Gy) inside one VOI, sorted in decreasing order, and the voxel volume."""

    dose_gy_sorted: np.ndarray = field(repr=False)
    voxel_volume_ml: float
    voi: str = ""

    @property
    def n_voxels(self) -> int:
        return int(self.dose_gy_sorted.size)

    @property
    def volume_ml(self) -> float:
        return self.n_voxels * self.voxel_volume_ml

    @property
    def dmean_gy(self) -> float:
        return float(np.mean(self.dose_gy_sorted))

    @property
    def dmax_gy(self) -> float:
        return float(self.dose_gy_sorted[0])

    @property
    def dmin_gy(self) -> float:
        return float(self.dose_gy_sorted[-1])

    def dx_gy(self, volume_percent: float) -> float:
        """Minimum dose received by the hottest ``volume_percent`` % of the VOI (D2, D50, D98, …)."""
        if not (math.isfinite(volume_percent) and 0 <= volume_percent <= 100):
            raise DVHError(f"volume_percent must be in [0, 100], got {volume_percent}")
        rank = max(int(math.ceil(volume_percent / 100.0 * self.n_voxels - 1e-9)), 1)
        return float(self.dose_gy_sorted[rank - 1])

    def vx_percent(self, dose_gy: float) -> float:
        """% of the VOI volume receiving at least ``dose_gy`` Gy (V20 = ``vx_percent(20)``)."""
        if not math.isfinite(dose_gy):
            raise DVHError(f"dose_gy must be finite, got {dose_gy}")
        # sorted decreasing: count of d >= dose_gy
        count = np.searchsorted(-self.dose_gy_sorted, -dose_gy, side="right")
        return 100.0 * float(count) / self.n_voxels

    def vx_ml(self, dose_gy: float) -> float:
        """Volume (mL) receiving at least ``dose_gy`` Gy."""
        return self.vx_percent(dose_gy) / 100.0 * self.volume_ml

    def curve(self, bin_width_gy: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(dose_gy, volume_percent) of the cumulative DVH on a grid from 0 to Dmax (200 steps by default)."""
        top = max(self.dmax_gy, 0.0)
        if bin_width_gy is None:
            doses = np.linspace(0.0, top, 201)
        else:
            if not (math.isfinite(bin_width_gy) and bin_width_gy > 0):
                raise DVHError(f"bin_width_gy must be > 0, got {bin_width_gy}")
            doses = np.arange(0.0, top + bin_width_gy, bin_width_gy)
        counts = np.searchsorted(-self.dose_gy_sorted, -doses, side="right")
        return doses, 100.0 * counts / self.n_voxels

    def metrics(self) -> dict[str, float]:
        """Dmean, Dmax, Dmin, D2, D50, D98 (Gy), V20 (%) and the volume (mL)."""
        return {"dmean_gy": self.dmean_gy, "dmax_gy": self.dmax_gy, "dmin_gy": self.dmin_gy,
                "d2_gy": self.dx_gy(2), "d50_gy": self.dx_gy(50), "d98_gy": self.dx_gy(98),
                "v20_percent": self.vx_percent(20.0), "volume_ml": self.volume_ml}


def dose_volume_histogram(dose: Image, mask, label: int | str | None = None) -> DoseVolumeHistogram:
    """DVH of ``dose`` (unit Gy or mGy) inside ``mask``: a boolean array, or a LabelMap and ``label``."""
    if not isinstance(dose, Image):
        raise DVHError(f"dose must be a theranomics Image, got {type(dose).__name__}")
    if dose.unit not in _DOSE_UNITS_TO_GY:
        raise DVHError(f"dose image unit is {dose.unit!r}; expected one of {sorted(_DOSE_UNITS_TO_GY)}")
    voi = ""
    if isinstance(mask, LabelMap):
        if not mask.geometry.same_grid(dose.geometry):
            raise DVHError("the label map is not on the dose image's grid; resample it first")
        if label is None:
            m = mask.array > 0
            voi = "all labels"
        else:
            try:
                m = mask.mask(label)
            except KeyError as exc:
                raise DVHError(str(exc)) from None
            voi = str(label)
    else:
        m = np.asarray(mask)
        if m.dtype != bool:
            raise DVHError(f"mask must be a boolean array or a LabelMap, got dtype {m.dtype}")
        if m.shape != dose.shape:
            raise DVHError(f"mask shape {m.shape} differs from the dose image shape {dose.shape}")
    values = np.asarray(dose.array, dtype=float)[m] * _DOSE_UNITS_TO_GY[dose.unit]
    if values.size == 0:
        raise DVHError(f"the mask{f' (label {voi})' if voi else ''} is empty; no DVH")
    if not np.all(np.isfinite(values)):
        raise DVHError(f"dose image has {int((~np.isfinite(values)).sum())} non-finite voxels inside the mask")
    return DoseVolumeHistogram(np.sort(values)[::-1].copy(), dose.geometry.voxel_volume_ml, voi)


__all__ = ["DVHError", "DoseVolumeHistogram", "dose_volume_histogram"]
