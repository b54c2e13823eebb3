"""Local intensity features (IBSI-1 section 3.2): mean intensity in a 1 cm³ sphere."""
from __future__ import annotations

import numpy as np
from scipy import signal

from ..processing import PEAK_RADIUS_MM

__all__ = ["FEATURES", "local_intensity", "sphere_mean"]

FEATURES: dict[str, tuple[str, str]] = {
    "loc_peak_loc": ("Local intensity peak", "VJGA"),
    "loc_peak_glob": ("Global intensity peak", "0F91"),
}


def _sphere_kernel(spacing_mm: tuple[float, float, float]) -> np.ndarray:
    """Voxels whose centres lie within r = (3/(4π) cm³)^(1/3) ≈ 6.2 mm of the centre, axes (k, j, i)."""
    sk = np.asarray(spacing_mm[::-1], dtype=float)
    half = np.floor(PEAK_RADIUS_MM / sk + 1e-9).astype(int)
    axes = [np.arange(-h, h + 1) * s for h, s in zip(half, sk)]
    zz, yy, xx = np.meshgrid(*axes, indexing="ij")
    return (zz ** 2 + yy ** 2 + xx ** 2 <= PEAK_RADIUS_MM ** 2 + 1e-9).astype(float)


def sphere_mean(image: np.ndarray, spacing_mm: tuple[float, float, float]) -> np.ndarray:
    """Mean of the image inside the 1 cm³ sphere around every voxel (FFT convolution).

    Near the array border only voxels inside the array are averaged.
    """
    kernel = _sphere_kernel(spacing_mm)
    total = signal.fftconvolve(image, kernel, mode="same")
    count = signal.fftconvolve(np.ones_like(image, dtype=float), kernel, mode="same")
    return total / np.maximum(np.round(count), 1.0)


def local_intensity(image: np.ndarray, int_mask: np.ndarray, spacing_mm: tuple[float, float, float]
                    ) -> dict[str, float]:
    """Local peak: sphere mean centred on the ROI's maximum-intensity voxel (highest if tied);
    global peak: highest sphere mean centred on any ROI voxel (IBSI 3.2.1–3.2.2).

    ``image`` must extend at least 6.2 mm beyond the ROI where the scan does (the sphere uses
    voxels outside the ROI); :func:`~theranomics.radiomics.processing.process_roi` ensures this.
    """
    mask = np.asarray(int_mask, dtype=bool)
    if not mask.any():
        raise ValueError("local intensity: the intensity mask is empty")
    means = sphere_mean(np.asarray(image, dtype=float), spacing_mm)
    vals = image[mask]
    at_max = mask & (image == vals.max())
    return {"loc_peak_loc": float(means[at_max].max()), "loc_peak_glob": float(means[mask].max())}
