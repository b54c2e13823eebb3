"""Compare a lesion segmentation with a reference (e.g. simulator ground truth or an expert's).

A reference lesion is *detected* when a predicted lesion overlaps it by at least
``min_overlap_voxels``; a predicted lesion overlapping no reference lesion (and lying outside
``ignore``, e.g. physiologic organs) is a *false positive*.  Per-lesion Dice pairs each
reference lesion with the union of the predicted lesions that overlap it most.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import ndimage

from ..core import LabelMap


def compare_lesions(predicted: LabelMap, reference: LabelMap, *, min_volume_ml: float = 0.0,
                    ignore: np.ndarray | None = None, min_overlap_voxels: int = 1) -> tuple[pd.DataFrame, dict]:
    """Per-reference-lesion table (detected, dice, volumes) and a summary (sensitivity, FP count, median Dice)."""
    predicted.geometry.require_same_grid(reference.geometry, "predicted and reference lesions")
    p, r = predicted.array, reference.array
    vox = reference.geometry.voxel_volume_ml
    rows = []
    for lab, box in enumerate(ndimage.find_objects(r), start=1):
        if box is None:
            continue
        ref = r == lab
        vol = ref.sum() * vox
        hits, counts = np.unique(p[ref], return_counts=True)
        keep = (hits > 0) & (counts >= min_overlap_voxels)
        hit_labels = hits[keep]
        pred = np.isin(p, hit_labels) if len(hit_labels) else np.zeros_like(ref)
        dice = 2 * (pred & ref).sum() / (pred.sum() + ref.sum()) if len(hit_labels) else 0.0
        rows.append({"reference_id": lab, "volume_ml": vol, "detected": bool(len(hit_labels)),
                     "dice": float(dice), "predicted_ids": [int(x) for x in hit_labels],
                     "predicted_volume_ml": float(pred.sum() * vox)})
    table = pd.DataFrame(rows, columns=["reference_id", "volume_ml", "detected", "dice", "predicted_ids",
                                        "predicted_volume_ml"])
    fp = 0
    fp_ids = []
    for lab in predicted.labels:
        m = p == lab
        if (r[m] > 0).any():
            continue
        if ignore is not None and np.asarray(ignore, bool)[m].mean() > 0.5:
            continue
        fp += 1
        fp_ids.append(lab)
    eligible = table[table["volume_ml"] >= min_volume_ml]
    summary = {
        "n_reference": int(len(eligible)),
        "n_detected": int(eligible["detected"].sum()),
        "sensitivity": float(eligible["detected"].mean()) if len(eligible) else float("nan"),
        "false_positives": fp,
        "false_positive_ids": fp_ids,
        "median_dice": float(eligible["dice"].median()) if len(eligible) else float("nan"),
        "min_volume_ml": min_volume_ml,
    }
    return table, summary
