"""Connected components: split a binary lesion mask into individually labelled lesions."""
from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..core import Geometry, LabelMap

#: 26-connectivity (faces, edges and corners), the usual choice for PET lesions.
FULL_CONNECTIVITY = np.ones((3, 3, 3), dtype=bool)
FACE_CONNECTIVITY = ndimage.generate_binary_structure(3, 1)


def label_maxima(values: np.ndarray, labels: np.ndarray, n: int) -> np.ndarray:
    """Maximum of ``values`` in each label 1..n (NaN where absent), via each label's bounding box —
    fast for many small lesions, where ``scipy.ndimage.maximum`` sorts the whole volume."""
    out = np.full(n, np.nan)
    for i, box in enumerate(ndimage.find_objects(labels, max_label=n)):
        if box is not None:
            out[i] = values[box][labels[box] == i + 1].max()
    return out


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
        key = label_maxima(np.asarray(values, dtype=float), labels, n)
    else:
        key = counts.astype(float)
    order = [i for i in np.argsort(-np.asarray(key), kind="stable") if keep[i]]
    remap = np.zeros(n + 1, dtype=np.int32)
    for new, old in enumerate(order, start=1):
        remap[old + 1] = new
    out = remap[labels]
    return LabelMap(out, geometry, {i: f"{name_prefix}_{i}" for i in range(1, len(order) + 1)})


def split_touching(values: np.ndarray, labels: LabelMap, *, min_prominence_fraction: float = 0.3,
                   floor: float | np.ndarray = 0.0) -> LabelMap:
    """Split components that hold several distinct maxima (touching lesions) by a watershed on
    −values from the h-maxima markers, h = ``min_prominence_fraction`` × (max − floor) of each
    component — except maxima on the rim of one necrotic lesion, which see each other only across
    the cold core the rim encloses (:func:`_rim_groups`).  Labels are renumbered 1..N by
    decreasing maximum."""
    from skimage.morphology import h_maxima
    from skimage.segmentation import watershed

    values = np.asarray(values, dtype=float)
    out = np.zeros(labels.shape, dtype=np.int32)
    next_label = 1
    for lab, box in enumerate(ndimage.find_objects(labels.array), start=1):
        if box is None:
            continue
        comp = labels.array[box] == lab
        local = np.where(comp, values[box], values[box][comp].min())
        fl = float(np.min(floor[box][comp])) if np.ndim(floor) else float(floor)
        h = min_prominence_fraction * (local.max() - fl)
        markers, n = ndimage.label(h_maxima(local, h) & comp, structure=FULL_CONNECTIVITY) if h > 0 else (None, 1)
        view = out[box]
        if n <= 1:
            view[comp] = next_label
            next_label += 1
            continue
        parts = watershed(-local, markers, mask=comp)
        for group in _rim_groups(parts, local, comp, n):
            view[np.isin(parts, group)] = next_label
            next_label += 1
    relabelled = LabelMap(out, labels.geometry, {})
    return label_order(relabelled, values)


def _enclosed(comp: np.ndarray) -> np.ndarray:
    """Voxels enclosed by ``comp`` in some axial, coronal or sagittal plane (a cold core inside a rim)."""
    filled = np.zeros_like(comp)
    for axis in range(3):
        moved = np.moveaxis(comp, axis, 0)
        planes = np.stack([ndimage.binary_fill_holes(plane) for plane in moved])
        filled |= np.moveaxis(planes, 0, axis)
    return filled & ~comp


def _rim_groups(parts: np.ndarray, values: np.ndarray, comp: np.ndarray, n: int) -> list[list[int]]:
    """Watershed parts that belong together: maxima on the rim of one necrotic lesion, not touching
    lesions.  At some level between the component's minimum and its maxima, the voxels above that
    level form a rim enclosing a colder core (a hole in an axial, coronal or sagittal plane, of at
    least 2 voxels and on average 10 % of the component's range below that level, so that a noise
    dip does not count): every part that borders one such hole is part of the same rim.  Touching lesions border no enclosed
    hole (their maxima see each other through the neck).  Union–find over the parts."""
    parent = list(range(n + 1))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    low, high = float(values[comp].min()), float(values[comp].max())
    for level in np.linspace(low, high, 9)[1:-1]:
        core = _enclosed(comp & (values >= level))
        if not core.any():
            continue
        holes, n_holes = ndimage.label(core, structure=FULL_CONNECTIVITY)
        for h in range(1, n_holes + 1):
            hole = holes == h
            # a cold core, not a noise dip: ≥ 2 voxels, on average 10 % of the range below the rim level
            if hole.sum() < 2 or float(values[hole].mean()) > level - 0.1 * (high - low):
                continue
            ring = ndimage.binary_dilation(hole, FULL_CONNECTIVITY) & comp
            touching = [int(p) for p in np.unique(parts[ring]) if p > 0]
            for p in touching[1:]:
                parent[find(p)] = find(touching[0])
    groups: dict[int, list[int]] = {}
    for p in range(1, n + 1):
        groups.setdefault(find(p), []).append(p)
    return list(groups.values())


def label_order(labels: LabelMap, values: np.ndarray, name_prefix: str = "lesion") -> LabelMap:
    """Renumber labels 1..N by decreasing maximum of ``values`` (deterministic lesion ids)."""
    present = labels.labels
    if not present:
        return LabelMap(np.zeros(labels.shape, np.int32), labels.geometry, {})
    all_max = label_maxima(np.asarray(values, dtype=float), labels.array, max(present))
    maxima = [all_max[p - 1] for p in present]
    order = [present[i] for i in np.argsort(-np.asarray(maxima), kind="stable")]
    remap = np.zeros(int(labels.array.max()) + 1, dtype=np.int32)
    for new, old in enumerate(order, start=1):
        remap[old] = new
    return LabelMap(remap[labels.array], labels.geometry, {i: f"{name_prefix}_{i}" for i in range(1, len(order) + 1)})
