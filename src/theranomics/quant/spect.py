"""SPECT counts → activity concentration with a planar/volumetric calibration factor.

    A [Bq/mL] = N / (T × k) × 10⁶ / V

with ``N`` the reconstructed counts of a voxel, ``T`` the acquisition duration (s), ``k`` the
system calibration factor (cps/MBq) and ``V`` the voxel volume (mL) — MIRD Pamphlet No. 23
(Dewaraja et al., J Nucl Med 53 (2012) 1310) and No. 26 (Ljungberg et al., J Nucl Med 57 (2016)
151).  Optionally the decay during the acquisition is corrected, so that ``A`` refers to the
acquisition start: the mean activity over ``[0, T]`` is A₀ (1 − e^(−λT)) / (λT), hence the factor
λT / (1 − e^(−λT)).
"""
from __future__ import annotations

import math

import numpy as np

from .. import nuclides
from ..core.image import Image


def frame_decay_factor(decay_constant_per_s: float, duration_s: float) -> float:
    """λT / (1 − e^(−λT)): activity at the start of a frame of length T over the mean activity in it."""
    if not (math.isfinite(decay_constant_per_s) and decay_constant_per_s >= 0):
        raise ValueError(f"decay_constant_per_s must be a non-negative number, got {decay_constant_per_s!r}")
    if not (math.isfinite(duration_s) and duration_s > 0):
        raise ValueError(f"duration_s must be a positive number, got {duration_s!r}")
    x = decay_constant_per_s * duration_s
    if x < 1e-8:
        return 1.0 + x / 2.0
    return x / -math.expm1(-x)


def counts_to_bq_per_ml(counts_image: Image, calibration_cps_per_mbq: float, acquisition_duration_s: float,
                        *, decay_during_acquisition_nuclide: str | None = None) -> Image:
    """Activity-concentration image (Bq/mL) from a reconstructed SPECT counts image.

    A = counts / (acquisition_duration_s × calibration_cps_per_mbq) × 10⁶ / voxel_volume_mL, times
    λT / (1 − e^(−λT)) when ``decay_during_acquisition_nuclide`` names the nuclide (activity at the
    acquisition start).  No decay correction within the acquisition otherwise.
    """
    if not isinstance(counts_image, Image):
        raise TypeError(f"counts_to_bq_per_ml needs a theranomics Image, got {type(counts_image).__name__}")
    if counts_image.unit != "counts":
        raise ValueError(f"counts_image unit is {counts_image.unit!r}; expected 'counts'")
    for name, value in (("calibration_cps_per_mbq", calibration_cps_per_mbq),
                        ("acquisition_duration_s", acquisition_duration_s)):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or \
                not math.isfinite(value) or value <= 0:
            raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    counts = np.asarray(counts_image.array, dtype=float)
    if not np.all(np.isfinite(counts)):
        raise ValueError("counts_image contains NaN or infinite values")
    if counts.size and counts.min() < 0:
        raise ValueError(f"counts_image contains negative counts (minimum {counts.min():g}); counts must be >= 0")
    factor = 1.0e6 / (acquisition_duration_s * calibration_cps_per_mbq * counts_image.geometry.voxel_volume_ml)
    meta = {"calibration_cps_per_mbq": float(calibration_cps_per_mbq),
            "acquisition_duration_s": float(acquisition_duration_s)}
    if decay_during_acquisition_nuclide is not None:
        nuclide = nuclides.normalise_name(decay_during_acquisition_nuclide)
        within = frame_decay_factor(nuclides.decay_constant_per_s(nuclide), float(acquisition_duration_s))
        factor *= within
        meta["decay_during_acquisition"] = {"nuclide": nuclide, "factor": within}
    return counts_image.with_array(counts * factor, unit="Bq/mL", **meta)


__all__ = ["frame_decay_factor", "counts_to_bq_per_ml"]
