"""IBSI 1 texture feature families: GLCM, GLRLM, GLSZM, GLDZM, NGTDM, NGLDM.

Reference: Zwanenburg et al., The Image Biomarker Standardisation Initiative reference manual
(arXiv:1612.07003), sections 3.6-3.11.  Every family takes discretised grey levels (1..n_levels
inside the intensity ``mask``), a ``TextureSettings`` (``distance``, ``dims``,
``glcm_symmetric``, ``ngldm_alpha``, ``distance_norm``) and returns ``{tag: value}`` with the
tags of the IBSI reference tables (base tag + ``_2D_avg``/``_2D_comb``/``_2_5D_avg``/
``_2_5D_comb``/``_3D_avg``/``_3D_comb`` for GLCM and GLRLM, ``_2D``/``_2_5D``/``_3D`` for the
others).  Slices run along the first array axis (k).  Each ``FEATURES`` dict maps a base tag to
(IBSI feature name, IBSI code).

Undefined values are NaN, never an exception: an ROI with fewer than two voxels gives NaN for
every feature; within an aggregation, matrices without entries (a slice without pairs) are left
out of the average, and features that are 0/0 for a matrix (e.g. GLCM correlation with a single
grey level) are NaN for that matrix and left out of the average too.
"""
from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from . import gldzm, glcm, glrlm, glszm, ngldm, ngtdm
from ._common import RoiGrid, TextureInputError, read_settings
from .gldzm import compute_gldzm
from .glcm import compute_glcm
from .glrlm import compute_glrlm
from .glszm import compute_glszm
from .ngldm import compute_ngldm
from .ngtdm import compute_ngtdm

__all__ = ["FAMILIES", "FEATURES", "TextureInputError", "compute_all", "feature_tags", "compute_glcm",
           "compute_glrlm", "compute_glszm", "compute_gldzm", "compute_ngtdm", "compute_ngldm"]

#: family name -> module (each has FEATURES, compute_<family>, tags)
FAMILIES = {"glcm": glcm, "glrlm": glrlm, "glszm": glszm, "gldzm": gldzm, "ngtdm": ngtdm, "ngldm": ngldm}

#: every texture base tag -> (IBSI feature name, IBSI code)
FEATURES: dict[str, tuple[str, str]] = {k: v for mod in FAMILIES.values() for k, v in mod.FEATURES.items()}


def _families(families: Iterable[str] | str | None) -> list[str]:
    if families is None:
        return list(FAMILIES)
    names = [families] if isinstance(families, str) else list(families)
    names = [str(f).lower() for f in names]
    bad = [f for f in names if f not in FAMILIES]
    if bad:
        raise TextureInputError(f"unknown texture famil{'y' if len(bad) == 1 else 'ies'} {bad}; "
                                f"expected any of {list(FAMILIES)}")
    return list(dict.fromkeys(names))


def feature_tags(settings: Any = None, families: Iterable[str] | str | None = None) -> list[str]:
    """The tags :func:`compute_all` returns for these settings and families, in order."""
    return [t for f in _families(families) for t in FAMILIES[f].tags(settings)]


def compute_all(levels: np.ndarray, mask: np.ndarray, n_levels: int, settings: Any = None,
                spacing_mm: Any = (1.0, 1.0, 1.0), morph_mask: np.ndarray | None = None,
                families: Iterable[str] | str | None = None) -> dict[str, float]:
    """All requested texture families (default: all six) on one ROI, sharing the cropped grid,
    the zones (GLSZM/GLDZM) and the neighbour gather (NGTDM/NGLDM).

    Same arguments and result as the ``compute_<family>`` functions, merged into one dict.
    """
    prm = read_settings(settings)
    names = _families(families)
    roi = RoiGrid(levels, mask, n_levels, pad=max(1, prm.distance), morph_mask=morph_mask, spacing_mm=spacing_mm)
    out: dict[str, float] = {}
    for name in names:
        out.update(FAMILIES[name]._run(roi, prm))
    return out
