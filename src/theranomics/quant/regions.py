"""Assign each lesion to an anatomical region from organ masks.

Regions (the ``region`` column): ``bone``, ``lymph_node_pelvic``, ``lymph_node_extrapelvic``,
``visceral_liver``, ``visceral_lung``, ``visceral_other``, ``prostate``, ``prostate_bed``.

Rule: the organ holding the largest share of the lesion's voxels decides (bone, liver,
lung, prostate, prostate bed, other solid organs); a lesion outside all of them is a lymph
node, *pelvic* when its centroid lies below the aortic bifurcation (PROMISE: pelvic nodes
are miN, extrapelvic nodes miM1a; Eiber et al., J Nucl Med 2018;59:469; Seifert 2023).  The
bifurcation is taken as the lowest point of the ``aorta`` mask when one is given, else
``pelvic_boundary_z_mm`` must be supplied.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import ndimage

from ..core import Image, LabelMap
from ..io.sitk import resample_to

REGIONS = ("bone", "lymph_node_pelvic", "lymph_node_extrapelvic", "visceral_liver", "visceral_lung",
           "visceral_other", "prostate", "prostate_bed")

_ORGAN_REGION = {"bone": "bone", "red_marrow": "bone", "skeleton": "bone", "liver": "visceral_liver",
                 "lung": "visceral_lung", "lung_left": "visceral_lung", "lung_right": "visceral_lung",
                 "prostate": "prostate", "prostate_bed": "prostate_bed", "spleen": "visceral_other",
                 "adrenal": "visceral_other", "adrenal_left": "visceral_other", "adrenal_right": "visceral_other",
                 "kidney_cortex": "visceral_other", "kidney_medulla": "visceral_other", "pancreas": "visceral_other",
                 "brain": "visceral_other"}


def pelvic_boundary_from_aorta(organs: LabelMap) -> float:
    """World z (mm) of the lowest aorta voxel: the aortic bifurcation."""
    aorta = organs.mask("aorta")
    if not aorta.any():
        raise ValueError("the 'aorta' mask is empty: cannot place the aortic bifurcation")
    k = np.argwhere(aorta)[:, 0]
    kmin = k.min()
    # world z of that slice (for any in-plane index; direction assumed axial)
    return float(organs.geometry.index_to_world(np.array([0.0, 0.0, kmin]))[2])


def assign_regions(table: pd.DataFrame, lesions: LabelMap, organs: LabelMap | None, *,
                   bone_mask: np.ndarray | None = None, pelvic_boundary_z_mm: float | None = None) -> pd.DataFrame:
    """Return ``table`` with a ``region`` column (and ``organ`` = the deciding organ or '')."""
    geometry = lesions.geometry
    organ_arr = None
    names: dict[int, str] = {}
    if organs is not None:
        if not organs.geometry.same_grid(geometry):
            organs = resample_to(organs, geometry)
        organ_arr = organs.array
        names = dict(organs.names)
        if pelvic_boundary_z_mm is None and "aorta" in names.values():
            pelvic_boundary_z_mm = pelvic_boundary_from_aorta(organs)
    if bone_mask is not None and np.asarray(bone_mask).shape != geometry.shape:
        raise ValueError(f"bone mask shape {np.asarray(bone_mask).shape} does not match the lesion grid {geometry.shape}")
    regions, deciding = [], []
    boxes = ndimage.find_objects(lesions.array)
    for lesion_id, cz in zip(table["lesion_id"], table["centroid_z_mm"]):
        box = boxes[int(lesion_id) - 1] if int(lesion_id) - 1 < len(boxes) else None
        if box is None:
            raise ValueError(f"lesion {lesion_id} of the table is not in the label map")
        m = lesions.array[box] == lesion_id
        votes: dict[str, int] = {}
        if bone_mask is not None:
            votes["bone"] = int((np.asarray(bone_mask)[box] & m).sum())
        if organ_arr is not None:
            vals, counts = np.unique(organ_arr[box][m], return_counts=True)
            for v, c in zip(vals, counts):
                organ = names.get(int(v))
                if organ in _ORGAN_REGION:
                    votes[organ] = votes.get(organ, 0) + int(c)
        organ, n = max(votes.items(), key=lambda kv: kv[1]) if votes else ("", 0)
        if n > 0:
            regions.append(_ORGAN_REGION.get(organ, "bone"))
            deciding.append(organ)
            continue
        if pelvic_boundary_z_mm is None:
            raise ValueError("cannot tell pelvic from extrapelvic lymph nodes: give an 'aorta' organ mask "
                             "or pelvic_boundary_z_mm (world z of the aortic bifurcation)")
        regions.append("lymph_node_pelvic" if cz < pelvic_boundary_z_mm else "lymph_node_extrapelvic")
        deciding.append("")
    out = table.copy()
    out["region"] = regions
    out["organ"] = deciding
    return out
