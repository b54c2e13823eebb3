"""Grey level distance zone matrix (GLDZM) features, IBSI 1 section 3.9 (Thibault et al. 2014).

d[i, j] counts zones (as in the GLSZM: same grey level i, 8-connected in 2D, 26-connected in 3D,
within the intensity mask) whose distance to the ROI edge is j.  The distance map is built on
the *morphological* mask: the number of 4-connected (2D) or 6-connected (3D) steps needed to
leave it, 1 for edge voxels; a zone takes the minimum over its voxels.  N_v is the number of
intensity-mask voxels.  Aggregation ``_2D`` (per slice, averaged), ``_2_5D`` (merged over
slices), ``_3D``.  Feature formulas: :func:`theranomics.radiomics.texture._common.zone_features`.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ._common import RoiGrid, nan_result, read_settings
from .glszm import SUFFIXES, zone_family

__all__ = ["FEATURES", "compute_gldzm"]

#: base tag -> (IBSI feature name, IBSI code)
FEATURES: dict[str, tuple[str, str]] = {
    "dzm_sde": ("Small distance emphasis", "0GBI"),
    "dzm_lde": ("Large distance emphasis", "MB4I"),
    "dzm_lgze": ("Low grey level zone emphasis", "S1RA"),
    "dzm_hgze": ("High grey level zone emphasis", "K26C"),
    "dzm_sdlge": ("Small distance low grey level emphasis", "RUVG"),
    "dzm_sdhge": ("Small distance high grey level emphasis", "DKNJ"),
    "dzm_ldlge": ("Large distance low grey level emphasis", "A7WM"),
    "dzm_ldhge": ("Large distance high grey level emphasis", "KLTH"),
    "dzm_glnu": ("Grey level non-uniformity", "VFT7"),
    "dzm_glnu_norm": ("Normalised grey level non-uniformity", "7HP3"),
    "dzm_zdnu": ("Zone distance non-uniformity", "V294"),
    "dzm_zdnu_norm": ("Normalised zone distance non-uniformity", "IATH"),
    "dzm_z_perc": ("Zone percentage", "VIWW"),
    "dzm_gl_var": ("Grey level variance", "QK93"),
    "dzm_zd_var": ("Zone distance variance", "7WT1"),
    "dzm_zd_entr": ("Zone distance entropy", "GBDU"),
}

_GENERIC = dict(zip(FEATURES, ("se", "le", "lge", "hge", "slge", "shge", "llge", "lhge", "glnu", "glnu_norm",
                               "sznu", "sznu_norm", "perc", "gl_var", "sz_var", "sz_entr")))


def tags(settings: Any = None) -> list[str]:
    """Output tags for these settings (base tag + aggregation suffix)."""
    prm = read_settings(settings)
    return [k + SUFFIXES[d] for d in prm.dims for k in FEATURES]


def compute_gldzm(levels: np.ndarray, mask: np.ndarray, n_levels: int, settings: Any = None,
                  spacing_mm: Any = (1.0, 1.0, 1.0), morph_mask: np.ndarray | None = None) -> dict[str, float]:
    """GLDZM features (IBSI 1 section 3.9) of grey levels ``levels`` (1..n_levels) inside ``mask``.

    ``morph_mask`` (default: ``mask``) defines the ROI edge for the distances and must contain
    ``mask``.  Returns tag -> value for every dimension in ``settings.dims``; ``spacing_mm`` is
    only checked (distances are in voxel steps).  Fewer than two ROI voxels: every value is NaN.
    """
    prm = read_settings(settings)
    roi = RoiGrid(levels, mask, n_levels, pad=1, morph_mask=morph_mask, spacing_mm=spacing_mm)
    return _run(roi, prm)


def _run(roi: RoiGrid, prm: Any) -> dict[str, float]:
    if roi.n_voxels < 2:
        return nan_result(tags(prm))
    return zone_family(roi, prm, 3, _GENERIC)
