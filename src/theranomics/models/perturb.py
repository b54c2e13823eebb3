"""Image perturbations for feature robustness (Zwanenburg et al., Sci Rep 9:614, 2019).

Each perturbation acts on the core types (:class:`~theranomics.core.Image`,
:class:`~theranomics.core.LabelMap`) and is reproducible from its parameters:

* ``noise``: additive Gaussian noise, sd = ``noise_fraction`` x mean intensity inside the labels;
* ``resample``: new isotropic-in-plane spacing ``spacing_mm * factor`` (linear for the image,
  nearest neighbour for the labels), ``factor`` drawn from ``spacing_factors``;
* ``contour``: every label dilated (into background only) or eroded by one voxel.

:func:`robustness_table` extracts features from the original and ``n_perturbations`` perturbed
copies and reports the ICC of every feature across them (lesions = subjects, copies = raters).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd
from scipy import ndimage

from ..core import Geometry, Image, LabelMap
from .icc import icc_table

__all__ = ["Perturbation", "add_noise", "resample_spacing", "change_contour", "draw_perturbations",
           "apply_perturbation", "robustness_table", "first_order_features"]

PERTURBATION_KINDS = ("noise", "resample", "contour")


@dataclass(frozen=True)
class Perturbation:
    """Parameters of one perturbed copy (``None`` = that kind not applied)."""

    noise_seed: int | None = None
    noise_fraction: float = 0.0
    spacing_factor: float | None = None
    contour_voxels: int = 0

    @property
    def name(self) -> str:
        parts = []
        if self.spacing_factor is not None:
            parts.append(f"R{self.spacing_factor:.3f}")
        if self.noise_seed is not None:
            parts.append(f"N{self.noise_fraction:g}s{self.noise_seed}")
        if self.contour_voxels:
            parts.append(f"C{self.contour_voxels:+d}")
        return "_".join(parts) or "original"


def add_noise(image: Image, labels: LabelMap, noise_fraction: float, seed: int) -> Image:
    """Image + Gaussian noise of sd ``noise_fraction * mean(image inside labels)``."""
    if noise_fraction < 0:
        raise ValueError(f"noise_fraction must be >= 0, got {noise_fraction}")
    inside = labels.array > 0
    if not inside.any():
        raise ValueError("label map is empty: no lesion to perturb")
    sd = noise_fraction * float(np.mean(image.array[inside]))
    noise = np.random.default_rng(seed).normal(0.0, abs(sd), image.shape)
    return image.with_array(image.array.astype(float) + noise)


def resample_spacing(image: Image, labels: LabelMap, factor: float) -> tuple[Image, LabelMap]:
    """Image and labels resampled to spacing ``spacing_mm * factor`` over the same extent."""
    from ..io.sitk import resample_to
    if factor <= 0:
        raise ValueError(f"spacing factor must be > 0, got {factor}")
    image.geometry.require_same_grid(labels.geometry, "image and label map")
    g = image.geometry
    spacing = tuple(s * factor for s in g.spacing_mm)
    shape_xyz = [max(1, int(round(n * s / t))) for n, s, t in zip(g.size_xyz, g.spacing_mm, spacing)]
    # keep the grid centre: origin shifts by half the change of the voxel size
    shift = 0.5 * (np.asarray(spacing) - np.asarray(g.spacing_mm))
    origin = np.asarray(g.origin_mm) + g.direction_matrix @ shift
    ref = Geometry(tuple(reversed(shape_xyz)), spacing, tuple(origin), g.direction)
    img = resample_to(image.with_array(image.array.astype(np.float32)), ref)
    lab = resample_to(labels, ref)
    return img, lab


def change_contour(labels: LabelMap, voxels: int) -> LabelMap:
    """Every label grown (``voxels > 0``, into background only) or shrunk (``< 0``) by ``|voxels|`` voxels."""
    if voxels == 0:
        return labels
    arr = labels.array
    out = np.zeros_like(arr) if voxels < 0 else arr.copy()
    struct = ndimage.generate_binary_structure(3, 1)
    for lab in labels.labels:
        m = arr == lab
        if voxels > 0:
            grown = ndimage.binary_dilation(m, struct, iterations=voxels)
            out[grown & (out == 0)] = lab
        else:
            out[ndimage.binary_erosion(m, struct, iterations=-voxels)] = lab
    return LabelMap(out, labels.geometry, labels.names, labels.meta)


def draw_perturbations(n: int, kinds=PERTURBATION_KINDS, *, noise_fraction: float = 0.05,
                       spacing_factors: tuple[float, float] = (0.8, 1.25), seed: int = 0) -> list[Perturbation]:
    """``n`` random perturbation parameter sets combining ``kinds`` (chosen up front, reproducible)."""
    bad = [k for k in kinds if k not in PERTURBATION_KINDS]
    if bad:
        raise ValueError(f"unknown perturbation kind(s) {bad}; choose from {PERTURBATION_KINDS}")
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(int(n)):
        out.append(Perturbation(
            noise_seed=int(rng.integers(0, 2**31 - 1)) if "noise" in kinds else None,
            noise_fraction=noise_fraction if "noise" in kinds else 0.0,
            spacing_factor=float(np.exp(rng.uniform(*np.log(spacing_factors)))) if "resample" in kinds else None,
            contour_voxels=int(rng.choice([-1, 1])) if "contour" in kinds else 0))
    return out


def apply_perturbation(image: Image, labels: LabelMap, p: Perturbation) -> tuple[Image, LabelMap]:
    """Apply one :class:`Perturbation`: resampling, then contour change, then noise."""
    if p.spacing_factor is not None:
        image, labels = resample_spacing(image, labels, p.spacing_factor)
    labels = change_contour(labels, p.contour_voxels)
    if p.noise_seed is not None:
        image = add_noise(image, labels, p.noise_fraction, p.noise_seed)
    return image, labels


def first_order_features(image: Image, labels: LabelMap) -> pd.DataFrame:
    """Minimal per-label features (mean, max, sd in image units; volume in mL) for when the IBSI
    extractor is not wanted; index ``label``."""
    idx = [lab for lab in labels.labels]
    arr = labels.array
    vals = image.array
    rows = {}
    for lab in idx:
        v = vals[arr == lab].astype(float)
        rows[lab] = {"mean": v.mean(), "max": v.max(), "sd": v.std(), "volume_ml": v.size * image.geometry.voxel_volume_ml}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("label")


def _default_extractor() -> Callable[[Image, LabelMap], pd.DataFrame]:
    try:
        from ..radiomics import extract_features
    except ImportError as exc:  # pragma: no cover - radiomics is part of the package
        raise ImportError("theranomics.radiomics.extract_features is not available; pass feature_fn=") from exc
    return lambda img, lab: extract_features(img, lab)


def robustness_table(image: Image, labels: LabelMap, *, feature_fn: Callable | None = None,
                     n_perturbations: int = 10, kinds=PERTURBATION_KINDS, noise_fraction: float = 0.05,
                     spacing_factors: tuple[float, float] = (0.8, 1.25), kind: str = "ICC(3,1)",
                     threshold: float = 0.75, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Features of the original and perturbed copies, and their per-feature ICC.

    ``feature_fn(image, labels)`` returns one row per label (index = label value); default
    :func:`theranomics.radiomics.extract_features`.  Labels that vanish in a copy (eroded away)
    give missing rows, and the ICC drops those lesions.  Returns ``(features_long, icc)``:
    ``features_long`` has columns ``lesion, rater, perturbation, <features…>``; ``icc`` is
    :func:`~theranomics.models.icc.icc_table` output.
    """
    if not isinstance(image, Image) or not isinstance(labels, LabelMap):
        raise TypeError("robustness_table needs a theranomics Image and LabelMap")
    image.geometry.require_same_grid(labels.geometry, "image and label map")
    if len(labels.labels) < 2:
        raise ValueError(f"robustness needs >= 2 lesions (labels) for an ICC, got {len(labels.labels)}")
    fn = feature_fn or _default_extractor()
    perts = [Perturbation()] + draw_perturbations(n_perturbations, kinds, noise_fraction=noise_fraction,
                                                  spacing_factors=spacing_factors, seed=seed)
    frames = []
    for r, p in enumerate(perts):
        img, lab = apply_perturbation(image, labels, p)
        present = [x for x in labels.labels if x in set(lab.labels)]
        if not present:
            continue
        df = fn(img, LabelMap(np.where(np.isin(lab.array, present), lab.array, 0), lab.geometry, lab.names))
        df = df.reset_index().rename(columns={df.index.name or "index": "lesion"})
        df.insert(1, "rater", r)
        df.insert(2, "perturbation", p.name)
        frames.append(df)
    long = pd.concat(frames, ignore_index=True)
    feats = [c for c in long.columns if c not in ("lesion", "rater", "perturbation")
             and pd.api.types.is_numeric_dtype(long[c])]
    table = icc_table(long, feats, subject="lesion", rater="rater", kind=kind, threshold=threshold)
    return long, table
