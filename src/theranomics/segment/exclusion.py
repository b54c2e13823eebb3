"""Physiologic-uptake exclusion masks and CT-threshold fallbacks (body, lung, bone).

PSMA ligands accumulate physiologically in kidneys, bladder, salivary and lacrimal glands,
liver, spleen and bowel; SSTR ligands in spleen, kidneys, liver, pituitary and adrenals
(EANM procedure guidelines: Fendler 2023 for PSMA, Bozkurt 2017 for SSTR).  Lesions in these
organs are not excluded by the mask itself when an organ is also a lesion site (liver
metastases): choose the organ list per tracer.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..core import Image, LabelMap
from ..io.sitk import resample_to

PSMA_PHYSIOLOGIC = ("kidney", "kidney_left", "kidney_right", "kidney_cortex", "kidney_medulla", "bladder",
                    "parotid", "submandibular", "lacrimal", "spleen", "bowel", "liver")
SSTR_PHYSIOLOGIC = ("kidney", "kidney_left", "kidney_right", "kidney_cortex", "kidney_medulla", "bladder",
                    "spleen", "liver", "bowel", "pituitary", "adrenal", "adrenal_left", "adrenal_right")


def organ_exclusion_mask(organs: LabelMap, target: Image, organ_names=PSMA_PHYSIOLOGIC,
                         margin_mm: float = 0.0) -> np.ndarray:
    """Union of the named organs (those present), resampled to ``target``'s grid and dilated by ``margin_mm``."""
    present = [v for v, n in organs.names.items() if n in organ_names]
    if not present:
        raise ValueError(f"none of the physiologic organs {list(organ_names)} is in the organ mask "
                         f"(it has {sorted(organs.names.values())})")
    if not organs.geometry.same_grid(target.geometry):
        organs = resample_to(organs, target.geometry)
    mask = np.isin(organs.array, present)
    if margin_mm > 0:
        radius = [max(1, int(round(margin_mm / s))) for s in reversed(target.spacing_mm)]
        zz, yy, xx = np.ogrid[-radius[0]:radius[0] + 1, -radius[1]:radius[1] + 1, -radius[2]:radius[2] + 1]
        sx, sy, sz = target.spacing_mm
        ball = (zz * sz) ** 2 + (yy * sy) ** 2 + (xx * sx) ** 2 <= margin_mm ** 2
        boxes = ndimage.find_objects(mask.astype(np.uint8))
        if boxes and boxes[0] is not None:  # dilate on the bounding box (+ margin) only
            box = tuple(slice(max(0, b.start - r), min(n, b.stop + r)) for b, r, n in zip(boxes[0], radius, mask.shape))
            mask[box] = ndimage.binary_dilation(mask[box], structure=ball)
    return mask


def ct_body_mask(ct: Image, threshold_hu: float = -300.0) -> np.ndarray:
    """Body: the largest connected region above ``threshold_hu``, holes filled slice by slice."""
    _require_hu(ct)
    above = np.asarray(ct.array) > threshold_hu
    lab, n = ndimage.label(above)
    if n == 0:
        raise ValueError(f"no voxel above {threshold_hu} HU: is this a CT in HU?")
    largest = np.argmax(np.bincount(lab.ravel())[1:]) + 1
    body = lab == largest
    return np.stack([ndimage.binary_fill_holes(s) for s in body])


def ct_lung_mask(ct: Image, low_hu: float = -950.0, high_hu: float = -400.0) -> np.ndarray:
    """Lungs: air-like voxels inside the body (excluding air outside the patient)."""
    body = ct_body_mask(ct)
    hu = np.asarray(ct.array)
    lung = body & (hu > low_hu) & (hu < high_hu)
    return ndimage.binary_opening(lung, iterations=1)


def ct_bone_mask(ct: Image, threshold_hu: float = 150.0, fill: bool = True) -> np.ndarray:
    """Bone: voxels above ``threshold_hu`` inside the body, closed and (optionally) filled so that
    the marrow cavity counts as bone (bone lesions are often in the marrow)."""
    body = ct_body_mask(ct)
    bone = body & (np.asarray(ct.array) > threshold_hu)
    bone = ndimage.binary_closing(bone, iterations=1)
    if fill:
        bone = np.stack([ndimage.binary_fill_holes(s) for s in bone])
    return bone & body


def _require_hu(ct: Image) -> None:
    if ct.unit != "HU":
        raise ValueError(f"CT masks need an image in HU, got unit {ct.unit!r}")
