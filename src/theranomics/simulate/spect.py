"""Post-therapy quantitative SPECT: per-voxel activity from the VOI kinetics, Gaussian PSF,
SPECT grid, counts with a known calibration and Poisson noise.

Voxel activity (MBq): A(x, t) = A_v(t) · w(x) / Σ_{x∈v} w, v the VOI of voxel x and w its uptake
weight (1 in organs, the lesion texture in lesions), so each VOI's sum is exactly its
kinetic activity.  The blurred map is the activity concentration ⊗ Gaussian(FWHM) resampled
(linear) onto the SPECT grid × voxel volume.  Expected counts = A (MBq) × calibration
(cps/MBq) × acquisition duration (s) — the activity at the acquisition start, decay during the
acquisition neglected (0.2 % for Lu-177 over 30 min) — and counts ~ Poisson(expected).
"""
from __future__ import annotations

import numpy as np

from ..core import Geometry, Image
from ..io.sitk import resample_to
from .pet import blur


def voxel_activity_mbq(voi_index: np.ndarray, voi_weight: np.ndarray, activity_mbq: np.ndarray) -> np.ndarray:
    """A(x) = activity_mbq[voi_index[x]] · voi_weight[x]; weights sum to 1 within each VOI (index 0 = none)."""
    table = np.concatenate([[0.0], np.asarray(activity_mbq, float)]).astype(np.float64)
    return (table[voi_index] * voi_weight).astype(np.float32)


def blurred_activity(activity: Image, grid: Geometry, fwhm_mm: float = 12.0) -> Image:
    """Blurred activity (MBq per voxel) on ``grid``: resample the concentration, multiply by voxel volume."""
    conc = blur(activity.array / activity.geometry.voxel_volume_ml, activity.geometry, fwhm_mm)
    out = resample_to(Image(conc, activity.geometry, "1"), grid)
    return Image(np.maximum(out.array, 0) * np.float32(grid.voxel_volume_ml), grid, "MBq", "NM")


def counts_image(blurred_mbq: Image, rng: np.random.Generator, *, calibration_cps_per_mbq: float = 10.0,
                 duration_s: float = 1800.0, noise: bool = True, meta=None) -> Image:
    """Counts = Poisson(A [MBq] × calibration [cps/MBq] × duration [s])."""
    if not (calibration_cps_per_mbq > 0 and duration_s > 0):
        raise ValueError(f"calibration_cps_per_mbq and duration_s must be positive, got {calibration_cps_per_mbq}, "
                         f"{duration_s}")
    expected = blurred_mbq.array.astype(np.float64) * calibration_cps_per_mbq * duration_s
    counts = rng.poisson(expected) if noise else np.rint(expected)
    return Image(counts.astype(np.float32), blurred_mbq.geometry, "counts", "NM",
                 {**dict(meta or {}), "calibration_cps_per_mbq": calibration_cps_per_mbq,
                  "acquisition_duration_s": duration_s})
