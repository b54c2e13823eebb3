"""Threshold-based lesion segmentation on SUV images.

* fixed SUV threshold (e.g. SUV 3 for PSMA PET; SUV 4.0 for lymph nodes on
  [18F]PSMA-1007, Mittlmeier et al. 2021);
* per-lesion relative isocontour (40/41/50 % of the lesion's own SUVmax; e.g. PSMA-TV50);
* PERCIST liver threshold: 1.5 × liver SULmean + 2 SD in a 3 cm sphere
  (Wahl et al., J Nucl Med 2009;50:122S; O JH et al., Radiology 2016);
* qPSMA-like: SUV ≥ 3 inside a CT bone mask and a liver-based threshold in soft tissue,
  T_liver = (4.30 / SUVmean_liver) × (SUVmean_liver + SD_liver)  (Gafita et al., J Nucl Med 2019;60:1277).

Every function returns a :class:`LabelMap` of individually numbered lesions.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..core import Image, LabelMap
from .components import FULL_CONNECTIVITY, label_components, label_order


def _suv(image: Image) -> np.ndarray:
    if not (image.unit.startswith("SUV") or image.unit == "SUL"):
        raise ValueError(f"lesion segmentation needs an SUV image, got unit {image.unit!r}; convert with theranomics.quant.suv first")
    return np.asarray(image.array, dtype=float)


def _allowed(image: Image, exclude: np.ndarray | None) -> np.ndarray:
    if exclude is None:
        return np.ones(image.shape, dtype=bool)
    exclude = np.asarray(exclude, dtype=bool)
    if exclude.shape != image.shape:
        raise ValueError(f"exclusion mask shape {exclude.shape} does not match the PET grid {image.shape}")
    return ~exclude


def fixed_threshold(image: Image, threshold_suv: float, *, exclude: np.ndarray | None = None,
                    min_volume_ml: float = 0.1, connectivity: int = 26) -> LabelMap:
    """Voxels with SUV ≥ ``threshold_suv`` outside ``exclude``, split into lesions."""
    if not threshold_suv > 0:
        raise ValueError(f"threshold_suv must be positive, got {threshold_suv}")
    suv = _suv(image)
    mask = (suv >= threshold_suv) & _allowed(image, exclude)
    return label_components(mask, image.geometry, min_volume_ml, suv, connectivity)


def local_background(values: np.ndarray, region: np.ndarray, inner_voxels: int = 2, outer_voxels: int = 4,
                     allowed: np.ndarray | None = None) -> float:
    """Median of ``values`` in a shell ``inner_voxels``–``outer_voxels`` outside ``region`` (a local
    background for background-corrected isocontours; Erdi et al. 1997, Schaefer et al. 2008)."""
    inner = ndimage.binary_dilation(region, iterations=inner_voxels)
    outer = ndimage.binary_dilation(region, iterations=outer_voxels)
    shell = outer & ~inner
    if allowed is not None:
        shell &= allowed
    return float(np.median(values[shell])) if shell.any() else 0.0


def relative_isocontour(image: Image, candidates: LabelMap, fraction: float = 0.41, *,
                        exclude: np.ndarray | None = None, min_volume_ml: float = 0.0,
                        background_suv: float | str = 0.0, fill_holes: bool = True) -> LabelMap:
    """Per-lesion isocontour: for each candidate lesion, the connected region around its
    maximum with SUV ≥ background + ``fraction`` × (SUVmax − background).

    ``fraction`` 0.41 (EANM FDG guideline), 0.40 or 0.50 (PSMA-TV50).  ``background_suv`` is a
    number, or ``"local"`` for the median in a shell around each candidate (needed for lesions
    in organs with uptake, e.g. the liver).  The region may grow beyond the candidate (a
    lesion's boundary at 41 % of a high maximum can lie below a fixed detection threshold) but
    never into another candidate; each candidate keeps its own label number.  With
    ``fill_holes`` an enclosed cold core (necrosis) belongs to the lesion, as in its delineation
    on CT.
    """
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be in (0, 1), got {fraction}")
    suv = _suv(image)
    candidates.geometry.require_same_grid(image.geometry, "SUV image and candidate lesions")
    allowed = _allowed(image, exclude)
    out = np.zeros(image.shape, dtype=np.int32)
    objects = ndimage.find_objects(candidates.array)
    for label, box in enumerate(objects, start=1):
        if box is None:
            continue
        cand = candidates.array[box] == label
        local = np.where(cand, suv[box], -np.inf)
        peak_local = np.unravel_index(int(np.argmax(local)), local.shape)
        peak = tuple(s.start + p for s, p in zip(box, peak_local))
        suv_max = suv[peak]
        if background_suv == "local":
            lbox = tuple(slice(max(0, s.start - 6), min(n, s.stop + 6)) for s, n in zip(box, image.shape))
            region = candidates.array[lbox] == label
            bg = min(local_background(suv[lbox], region, allowed=allowed[lbox] & (candidates.array[lbox] == 0)), suv_max)
        else:
            bg = float(background_suv)
        level = bg + fraction * (suv_max - bg)
        # grow within a box of the candidate's own size (at least 3 voxels) around it; a region that
        # reaches the box edge has leaked (see below)
        margin = max(3, max(s.stop - s.start for s in box))
        gbox = tuple(slice(max(0, s.start - margin), min(n, s.stop + margin)) for s, n in zip(box, image.shape))
        above = (suv[gbox] >= level) & allowed[gbox] & ((out[gbox] == 0))
        other = (candidates.array[gbox] != 0) & (candidates.array[gbox] != label)
        above &= ~other
        lab, _ = ndimage.label(above, structure=FULL_CONNECTIVITY)
        seed = tuple(p - s.start for p, s in zip(peak, gbox))
        if lab[seed] == 0:
            continue
        region = lab == lab[seed]
        if fill_holes:
            region = ndimage.binary_fill_holes(region) & ((out[gbox] == 0) & ~other)
        touches_edge = any((region.take(0, axis=a).any() and gbox[a].start > 0) or
                           (region.take(-1, axis=a).any() and gbox[a].stop < image.shape[a]) for a in range(3))
        if touches_edge:
            # the isocontour leaks (low contrast against a hot neighbourhood): keep the part of the
            # detected candidate above the level rather than flooding the surroundings
            region = (candidates.array[gbox] == label) & (suv[gbox] >= level)
            if not region.any():
                region = candidates.array[gbox] == label
        view = out[gbox]
        view[region & (view == 0)] = label
    result = LabelMap(out, image.geometry, dict(candidates.names))
    if min_volume_ml > 0:
        vox = image.geometry.voxel_volume_ml
        counts = np.bincount(out.ravel())
        small = [i for i in range(1, len(counts)) if 0 < counts[i] * vox < min_volume_ml]
        if small:
            out[np.isin(out, small)] = 0
            result = LabelMap(out, image.geometry, {k: v for k, v in candidates.names.items() if k not in small})
    return result


def percist_threshold(liver_sul_mean: float, liver_sul_sd: float) -> float:
    """PERCIST 1.0 minimum measurable uptake: 1.5 × liver SULmean + 2 × SD (Wahl 2009)."""
    if liver_sul_mean <= 0 or liver_sul_sd < 0:
        raise ValueError(f"liver reference must have mean > 0 and SD >= 0, got {liver_sul_mean}, {liver_sul_sd}")
    return 1.5 * liver_sul_mean + 2.0 * liver_sul_sd


def qpsma_liver_threshold(liver_suv_mean: float, liver_suv_sd: float) -> float:
    """qPSMA soft-tissue threshold (4.30 / SUVmean_liver) × (SUVmean_liver + SD_liver) (Gafita 2019)."""
    if liver_suv_mean <= 0 or liver_suv_sd < 0:
        raise ValueError(f"liver reference must have mean > 0 and SD >= 0, got {liver_suv_mean}, {liver_suv_sd}")
    return 4.30 / liver_suv_mean * (liver_suv_mean + liver_suv_sd)


def qpsma_like(image: Image, bone_mask: np.ndarray, liver_suv_mean: float, liver_suv_sd: float, *,
               exclude: np.ndarray | None = None, bone_threshold_suv: float = 3.0,
               min_volume_ml: float = 0.1) -> LabelMap:
    """Bone lesions at SUV ≥ 3 inside ``bone_mask``; soft-tissue lesions above the liver-based threshold."""
    suv = _suv(image)
    bone = np.asarray(bone_mask, dtype=bool)
    if bone.shape != image.shape:
        raise ValueError(f"bone mask shape {bone.shape} does not match the PET grid {image.shape}")
    soft = qpsma_liver_threshold(liver_suv_mean, liver_suv_sd)
    mask = np.where(bone, suv >= bone_threshold_suv, suv >= soft) & _allowed(image, exclude)
    return label_components(mask, image.geometry, min_volume_ml, suv)


#: median of a χ²₁ variable (the squared standard normal)
_MEDIAN_CHI2_1 = 0.45493642311957283


def noise_variance_slope(values: np.ndarray, mask: np.ndarray | None = None) -> float:
    """``a`` of the noise model Var(v) = a · E(v) (variance proportional to the local level, as for
    counting noise in PET), fitted on the whole image: r = v − (3×3×3 mean) has variance
    a·μ·26/27 for white noise, so a = median(r²/μ) / (0.4549 · 26/27) (μ the 3×3×3 mean; voxels
    with μ above 2 % of the 99th percentile, inside ``mask``).  Smooth structure barely enters r;
    the median ignores edges and foci.  0 for a noise-free image."""
    v = np.asarray(values, dtype=float)
    mu = ndimage.uniform_filter(v, 3, mode="nearest")
    sel = mu > 0.02 * float(np.percentile(v, 99))
    if mask is not None:
        sel &= mask
    if not sel.any():
        return 0.0
    ratio = (v - mu)[sel] ** 2 / mu[sel]
    return float(np.median(ratio)) / (_MEDIAN_CHI2_1 * 26.0 / 27.0)


def local_significance(values: np.ndarray, candidates: LabelMap, *, inner_voxels: int = 2, outer_voxels: int = 4,
                       allowed: np.ndarray | None = None, variance_slope: float | None = None) -> dict[int, float]:
    """Per candidate label: (SUVmax − local background) / noise SD at that background.

    Background: a least-squares plane through a shell ``inner_voxels``–``outer_voxels`` outside the
    candidate (restricted to ``allowed`` and to voxels of no candidate), evaluated at the peak
    voxel, so a focus on a gradient (an organ's spill-out slope) is measured against the level
    there.  Noise SD: √(a · background) with ``a`` from :func:`noise_variance_slope` (estimated on
    ``values`` within ``allowed`` when not given) — PET noise grows with the local level, so a
    focus in the blood pool next to the lungs must be judged by the blood pool's noise, not the
    lungs'.  A noise-free image gives +inf (any excess is significant); a shell with fewer than
    10 voxels gives nan (cannot tell).
    """
    arr = candidates.array
    other = arr > 0
    a = noise_variance_slope(values, allowed) if variance_slope is None else float(variance_slope)
    out: dict[int, float] = {}
    pad = outer_voxels + 1
    for value, box in enumerate(ndimage.find_objects(arr), start=1):
        if box is None:
            continue
        crop = tuple(slice(max(s.start - pad, 0), min(s.stop + pad, n)) for s, n in zip(box, arr.shape))
        region = arr[crop] == value
        inner = ndimage.binary_dilation(region, FULL_CONNECTIVITY, iterations=inner_voxels)
        shell = ndimage.binary_dilation(region, FULL_CONNECTIVITY, iterations=outer_voxels) & ~inner & ~other[crop]
        if allowed is not None:
            shell &= allowed[crop]
        v = np.asarray(values[crop], dtype=float)
        if shell.sum() < 10:
            out[value] = float("nan")
            continue
        peak_at = np.unravel_index(np.argmax(np.where(region, v, -np.inf)), v.shape)
        coords = np.argwhere(shell).astype(float) - np.asarray(peak_at, dtype=float)
        design = np.column_stack([np.ones(len(coords)), coords])
        coef, *_ = np.linalg.lstsq(design, v[shell], rcond=None)
        background = float(coef[0])
        sd = float(np.sqrt(a * max(background, float(np.median(v[shell])), 0.0)))
        peak = float(v[peak_at])
        out[value] = (peak - background) / sd if sd > 0 else (float("inf") if peak > background else 0.0)
    return out


def drop_insignificant(values: np.ndarray, candidates: LabelMap, min_sd: float, *,
                       allowed: np.ndarray | None = None) -> tuple[LabelMap, dict[int, float]]:
    """Candidates whose SUVmax stands at least ``min_sd`` local noise SDs above the local background
    (:func:`local_significance`; undecidable ones are kept), renumbered by decreasing SUVmax.

    A focus made by noise alone — at low counts a single voxel over the SUV threshold — stands
    ~3–5 SD above its background among the ~10⁶ voxels of a whole-body image (Gaussian noise:
    P(z > 5) ≈ 3·10⁻⁷ per voxel); noise on a small physiologic bump reaches ~5–6 SD.  Returns the
    kept candidates and the significance of every input candidate.
    """
    z = local_significance(values, candidates, allowed=allowed)
    keep = [v for v in candidates.labels if not (z.get(v, np.nan) < min_sd)]
    kept = LabelMap(np.where(np.isin(candidates.array, keep), candidates.array, 0).astype(np.int32),
                    candidates.geometry, {v: candidates.names[v] for v in keep})
    return label_order(kept, values), z
