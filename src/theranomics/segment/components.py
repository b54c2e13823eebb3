"""Connected components: split a binary lesion mask into individually labelled lesions."""
from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..core import Geometry, LabelMap

#: 26-connectivity (faces, edges and corners), the usual choice for PET lesions.
FULL_CONNECTIVITY = np.ones((3, 3, 3), dtype=bool)
FACE_CONNECTIVITY = ndimage.generate_binary_structure(3, 1)


def label_components(mask: np.ndarray, geometry: Geometry, min_volume_ml: float = 0.0,
                     values: np.ndarray | None = None, connectivity: int = 26,
                     name_prefix: str = "lesion") -> LabelMap:
    """Label the connected components of ``mask`` as lesions 1..N.

    Components smaller than ``min_volume_ml`` are dropped.  Lesions are numbered by
    decreasing maximum of ``values`` (e.g. SUV) when given, else by decreasing volume,
    so the numbering is deterministic.
    """
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != geometry.shape:
        raise ValueError(f"mask shape {mask.shape} does not match the image grid {geometry.shape}")
    structure = {26: FULL_CONNECTIVITY, 6: FACE_CONNECTIVITY}.get(connectivity)
    if structure is None:
        raise ValueError(f"connectivity must be 6 or 26, got {connectivity}")
    labels, n = ndimage.label(mask, structure=structure)
    if n == 0:
        return LabelMap(np.zeros(geometry.shape, np.int32), geometry, {})
    index = np.arange(1, n + 1)
    counts = ndimage.sum_labels(np.ones_like(labels, dtype=np.int64), labels, index)
    keep = counts * geometry.voxel_volume_ml >= min_volume_ml
    if values is not None:
        key = ndimage.maximum(np.asarray(values, dtype=float), labels, index)
    else:
        key = counts.astype(float)
    order = [i for i in np.argsort(-np.asarray(key), kind="stable") if keep[i]]
    remap = np.zeros(n + 1, dtype=np.int32)
    for new, old in enumerate(order, start=1):
        remap[old + 1] = new
    out = remap[labels]
    return LabelMap(out, geometry, {i: f"{name_prefix}_{i}" for i in range(1, len(order) + 1)})
