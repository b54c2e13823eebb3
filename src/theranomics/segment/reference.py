"""Reference regions: liver 3 cm sphere (PERCIST), blood pool (aorta), parotid, spleen.

PERCIST 1.0 (Wahl et al. 2009; O JH et al., Radiology 2016;280:576): liver reference is a
3 cm diameter spherical VOI in the normal right lobe; blood pool a 1 cm diameter × 2 cm long
cylinder in the descending thoracic aorta.  PSMA expression score (PROMISE V2, Seifert 2023)
compares with blood pool, liver and parotid (spleen for [18F]PSMA-1007).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ..core import Image, LabelMap
from ..io.sitk import resample_to


@dataclass(frozen=True)
class ReferenceRegion:
    """Statistics of a reference VOI (in the image's unit)."""

    name: str
    mean: float
    sd: float
    n_voxels: int
    volume_ml: float
    centre_mm: tuple[float, float, float]
    method: str


class ReferenceRegionError(ValueError):
    """The reference region cannot be placed (organ missing or too small)."""


def _organ(organs: LabelMap, image: Image, name: str) -> np.ndarray:
    if name not in organs.names.values():
        raise ReferenceRegionError(f"no {name!r} label in the organ mask (it has {sorted(organs.names.values())})")
    if not organs.geometry.same_grid(image.geometry):
        organs = resample_to(organs, image.geometry)
    mask = organs.mask(name)
    if not mask.any():
        raise ReferenceRegionError(f"the {name!r} mask is empty on the image grid")
    return mask


def _stats(image: Image, mask: np.ndarray, name: str, method: str) -> ReferenceRegion:
    values = np.asarray(image.array, dtype=float)[mask]
    idx = np.argwhere(mask).mean(axis=0)[::-1]  # (i, j, k)
    centre = tuple(float(c) for c in image.geometry.index_to_world(idx))
    return ReferenceRegion(name, float(values.mean()), float(values.std(ddof=1)) if values.size > 1 else 0.0,
                           int(values.size), values.size * image.geometry.voxel_volume_ml, centre, method)


def _edt_mm(mask: np.ndarray, image: Image) -> np.ndarray:
    """Distance (mm) of each mask voxel to the nearest non-mask voxel, computed on the mask's
    bounding box (padded by one voxel) only."""
    sx, sy, sz = image.spacing_mm
    out = np.zeros(mask.shape, dtype=float)
    boxes = ndimage.find_objects(mask.astype(np.uint8))
    if not boxes or boxes[0] is None:
        return out
    box = tuple(slice(max(0, b.start - 1), min(n, b.stop + 1)) for b, n in zip(boxes[0], mask.shape))
    local = np.pad(mask[box], 1)  # outside the image counts as outside the organ
    out[box] = ndimage.distance_transform_edt(local, sampling=(sz, sy, sx))[1:-1, 1:-1, 1:-1]
    return out


def sphere_mask(image: Image, centre_index_kji: tuple[int, int, int], diameter_mm: float) -> np.ndarray:
    """Voxels whose centres lie within a sphere of ``diameter_mm`` around a voxel centre."""
    sx, sy, sz = image.spacing_mm
    k, j, i = np.ogrid[:image.shape[0], :image.shape[1], :image.shape[2]]
    ck, cj, ci = centre_index_kji
    r2 = ((k - ck) * sz) ** 2 + ((j - cj) * sy) ** 2 + ((i - ci) * sx) ** 2
    return r2 <= (diameter_mm / 2.0) ** 2


def liver_reference(image: Image, organs: LabelMap, diameter_mm: float = 30.0, organ: str = "liver",
                    exclude: np.ndarray | None = None) -> ReferenceRegion:
    """Sphere of ``diameter_mm`` fully inside the liver, in the right lobe (patient right = −x in LPS).

    Among voxel centres at least the sphere radius from the liver edge (and from any excluded
    voxel, e.g. liver lesions), the deepest one on the patient-right half of the liver is chosen.
    """
    liver = _organ(organs, image, organ)
    usable = liver & (~exclude if exclude is not None else True)
    depth = _edt_mm(usable, image)
    radius = diameter_mm / 2.0
    ok = depth >= radius
    if not ok.any():
        raise ReferenceRegionError(f"the {organ} is too small (or too occupied by lesions) for a {diameter_mm} mm sphere; "
                                   f"largest inscribed sphere diameter {2 * depth.max():.0f} mm")
    idx = np.argwhere(liver)
    centroid_x = image.geometry.index_to_world(idx.mean(axis=0)[::-1])[0]
    kji = np.argwhere(ok)
    world_x = image.geometry.index_to_world(kji[:, ::-1].astype(float))[:, 0]
    right = kji[world_x < centroid_x]
    pool = right if len(right) else kji
    best = pool[np.argmax(depth[tuple(pool.T)])]
    sphere = sphere_mask(image, tuple(best), diameter_mm) & liver
    return _stats(image, sphere, organ, f"{diameter_mm:g} mm sphere, right lobe")


def blood_pool_reference(image: Image, organs: LabelMap, organ: str = "aorta", diameter_mm: float = 10.0,
                         length_mm: float = 20.0) -> ReferenceRegion:
    """Cylinder-like VOI of ``diameter_mm`` × ``length_mm`` along the aorta's centreline (PERCIST)."""
    aorta = _organ(organs, image, organ)
    depth = _edt_mm(aorta, image)
    core = depth >= diameter_mm / 2.0
    if not core.any():
        raise ReferenceRegionError(f"the {organ} mask is narrower than {diameter_mm} mm")
    # the slab of `length_mm` around the slice where the core is most extended
    per_slice = core.sum(axis=(1, 2))
    k0 = int(np.argmax(per_slice))
    half = max(0, int(round(length_mm / image.spacing_mm[2] / 2.0)))
    slab = np.zeros_like(core)
    slab[max(0, k0 - half):k0 + half + 1] = True
    sel = (depth >= max(diameter_mm / 2.0 - max(image.spacing_mm[:2]), 0)) & slab & aorta
    return _stats(image, sel, "blood_pool", f"{diameter_mm:g} mm x {length_mm:g} mm in the {organ}")


def organ_reference(image: Image, organs: LabelMap, organ: str, erode_mm: float = 0.0) -> ReferenceRegion:
    """Mean over a whole organ (parotid, spleen…), optionally eroded to avoid spill-out."""
    mask = _organ(organs, image, organ)
    if erode_mm > 0:
        eroded = _edt_mm(mask, image) > erode_mm
        if eroded.any():
            mask = eroded
    return _stats(image, mask, organ, f"whole organ eroded by {erode_mm:g} mm" if erode_mm else "whole organ")
