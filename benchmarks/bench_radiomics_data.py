"""Synthetic whole-body PET (SUV) volume with spherical/ellipsoidal lesions for the radiomics benchmark.

Background: smooth, SUV ≈ 0.5–2 with noise; lesions: radius 3–15 voxels, SUV 2–15 with
heterogeneous (smoothed-noise) uptake and a necrotic core in some.  Deterministic for a seed.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage

#: lesion-size bands (radius in voxels) used in the benchmark tables
BANDS = ((3, 5), (6, 9), (10, 15))


def make_volume(shape=(200, 200, 200), n_lesions: int = 60, seed: int = 0, spacing_mm=(4.0, 4.0, 4.0)):
    """(image array float32 [k, j, i], label array int32, radii per label, spacing_mm)."""
    rng = np.random.default_rng(seed)
    shape = tuple(int(s) for s in shape)
    # smooth background on a coarse grid, upsampled; float32 throughout (512x512x600 stays < 2 GB)
    coarse = ndimage.gaussian_filter(rng.normal(size=tuple(max(4, s // 8) for s in shape)), 1.5).astype(np.float32)
    coarse = 1.0 + 0.4 * coarse / (np.abs(coarse).max() + 1e-12)
    zoom = [s / c for s, c in zip(shape, coarse.shape)]
    image = ndimage.zoom(coarse, zoom, order=1, output=np.float32)[:shape[0], :shape[1], :shape[2]]
    image = np.ascontiguousarray(image)
    for k in range(image.shape[0]):  # noise slab by slab
        image[k] += rng.standard_normal(image.shape[1:], dtype=np.float32) * np.float32(0.08)
    labels = np.zeros(shape, np.uint8 if n_lesions < 256 else np.uint16)
    radii = {}
    lab = 0
    tries = 0
    while lab < n_lesions and tries < 50 * n_lesions:
        tries += 1
        r = int(rng.integers(3, 16))
        axes = r * rng.uniform(0.8, 1.2, size=3)
        h = np.ceil(axes).astype(int) + 1
        centre = [int(rng.integers(hh + 2, s - hh - 2)) for hh, s in zip(h, shape)]
        sl = tuple(slice(c - hh, c + hh + 1) for c, hh in zip(centre, h))
        if labels[sl].any():
            continue
        zz, yy, xx = np.meshgrid(*[np.arange(-hh, hh + 1) for hh in h], indexing="ij")
        inside = (zz / axes[0]) ** 2 + (yy / axes[1]) ** 2 + (xx / axes[2]) ** 2 <= 1.0
        if inside.sum() < 20:
            continue
        lab += 1
        radii[lab] = r
        texture = ndimage.gaussian_filter(rng.normal(size=inside.shape), 1.0)
        texture /= np.abs(texture).max() + 1e-12
        peak = rng.uniform(2.0, 15.0)
        uptake = peak * (0.75 + 0.25 * texture)
        if r >= 8 and rng.random() < 0.4:  # necrotic core
            core = (zz / axes[0]) ** 2 + (yy / axes[1]) ** 2 + (xx / axes[2]) ** 2 <= 0.3
            uptake[core] *= 0.3
        block = image[sl]
        block[inside] = uptake[inside].astype(np.float32)
        labels[sl][inside] = lab
    return image, labels, radii, tuple(float(s) for s in spacing_mm)


def band_of(radius: int) -> str:
    for lo, hi in BANDS:
        if lo <= radius <= hi:
            return f"r {lo}-{hi}"
    return "other"
