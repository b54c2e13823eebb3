"""Zones (connected voxels of equal grey level) and ROI-edge distances, shared by GLSZM and GLDZM.

IBSI 1 sections 3.8 and 3.9: zones are 8-connected within a slice (2D) or 26-connected in the
volume (3D); the distance of a voxel to the ROI edge is the smallest number of 4-connected (2D)
or 6-connected (3D) steps needed to leave the morphological mask, so edge voxels have distance 1;
a zone's distance is the smallest distance of its voxels.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage.measure import label

from ._common import RoiGrid


def zones(roi: RoiGrid, dims3: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per zone: (slice id, grey level, size in voxels, distance to the ROI edge)."""
    def make() -> tuple[np.ndarray, ...]:
        g = roi.grid
        if dims3:
            lab = label(g, background=0, connectivity=3)
        else:
            # Interleave empty slices so that full 3-D connectivity cannot cross slices.
            z = np.zeros((g.shape[0], 2) + g.shape[1:], dtype=g.dtype)
            z[:, 0] = g
            lab = label(z.reshape((-1,) + g.shape[1:]), background=0, connectivity=3)
            lab = lab.reshape(z.shape)[:, 0]
        zone_of = lab.ravel()[roi.idx]
        nz = int(zone_of.max()) if zone_of.size else 0
        size = np.bincount(zone_of, minlength=nz + 1)[1:]
        level = np.zeros(nz + 1, np.intp)
        level[zone_of] = roi.values
        slc = np.zeros(nz + 1, np.intp)
        slc[zone_of] = roi.slice_id
        dist = edge_distance(roi, dims3).ravel()[roi.idx]
        zdist = np.full(nz + 1, np.iinfo(np.intp).max, np.intp)
        np.minimum.at(zdist, zone_of, dist)
        return slc[1:], level[1:], size, zdist[1:]

    return roi.cached(f"zones_{'3d' if dims3 else '2d'}", make)


def edge_distance(roi: RoiGrid, dims3: bool) -> np.ndarray:
    """City-block distance of each morphological-mask voxel to the nearest voxel outside it.

    2D: 4-connected steps within the slice; 3D: 6-connected steps.  Outside the mask: 0.
    """
    if dims3:
        metric = ndimage.generate_binary_structure(3, 1)
    else:
        metric = np.zeros((3, 3, 3), bool)
        metric[1] = ndimage.generate_binary_structure(2, 1)
    return ndimage.distance_transform_cdt(roi.morph, metric=metric).astype(np.intp)
