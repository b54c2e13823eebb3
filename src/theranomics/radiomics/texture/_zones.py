"""Zones (connected voxels of equal grey level) and ROI-edge distances, shared by GLSZM and GLDZM.

IBSI 1 sections 3.8 and 3.9: zones are 8-connected within a slice (2D) or 26-connected in the
volume (3D); the distance of a voxel to the ROI edge is the smallest number of 4-connected (2D)
or 6-connected (3D) steps needed to leave the morphological mask, so edge voxels have distance 1;
a zone's distance is the smallest distance of its voxels.
"""
from __future__ import annotations

import numpy as np

from . import _kernels
from ._common import RoiGrid, neighbourhood


def zones(roi: RoiGrid, dims3: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per zone: (slice id, grey level, size in voxels, distance to the ROI edge).

    Zones are found by flood fill over the 26 (3D) or 8 in-slice (2D) neighbours
    (:func:`._kernels.label_zones`).
    """
    def make() -> tuple[np.ndarray, ...]:
        offs = neighbourhood(1, "chebyshev")
        if not dims3:
            offs = offs[offs[:, 0] == 0]
        zone_of, n_zones = _kernels.label_zones(roi.code_flat(), roi.idx, roi.flat_offsets(offs), roi.n_present)
        dist = edge_distance(roi, dims3).ravel()[roi.idx]
        return _kernels.zone_table(zone_of, n_zones, roi.values, roi.slice_id, dist)

    return roi.cached(f"zones_{'3d' if dims3 else '2d'}", make)


def edge_distance(roi: RoiGrid, dims3: bool) -> np.ndarray:
    """City-block distance of each morphological-mask voxel to the nearest voxel outside it.

    2D: 4-connected steps within the slice; 3D: 6-connected steps.  Outside the mask: 0
    (:func:`._kernels.edge_distance`; the grid's zero padding is outside).
    """
    return roi.cached(f"edge_{dims3}", lambda: _kernels.edge_distance(roi.morph, dims3))
