"""Intensity-volume histogram features (IBSI-1 section 3.5)."""
from __future__ import annotations

import numpy as np

from ..processing import ivh_levels
from ..settings import IVHSettings, ResegmentationSettings

__all__ = ["FEATURES", "intensity_volume_histogram"]

FEATURES: dict[str, tuple[str, str, str]] = {
    "ivh_v10": ("Volume at intensity fraction", "BC2M", "10%"),
    "ivh_v90": ("Volume at intensity fraction", "BC2M", "90%"),
    "ivh_i10": ("Intensity at volume fraction", "GBPN", "10%"),
    "ivh_i90": ("Intensity at volume fraction", "GBPN", "90%"),
    "ivh_diff_v10_v90": ("Volume fraction difference between intensity fractions", "DDTU", "10%-90%"),
    "ivh_diff_i10_i90": ("Intensity fraction difference between volume fractions", "CNV2", "10%-90%"),
}


def intensity_volume_histogram(values: np.ndarray, settings: IVHSettings | None = None,
                               reseg: ResegmentationSettings | None = None) -> dict[str, float]:
    """IBSI IVH features of the ROI intensities ``values``.

    Volume fraction ν(i) = fraction of voxels with intensity ≥ i; intensity fraction
    γ(i) = (i − i_min)/(i_max − i_min).  V_x = fraction of voxels with γ ≥ x;
    I_x = the lowest candidate intensity i with ν(i) ≤ x (IBSI 3.5.1–3.5.4).  The
    discretisation and i_min, i_max are described in :func:`~theranomics.radiomics.processing.ivh_levels`.
    """
    settings = settings or IVHSettings()
    reseg = reseg or ResegmentationSettings()
    values = np.asarray(values, dtype=float).ravel()
    if values.size == 0:
        raise ValueError("intensity-volume histogram: the intensity mask is empty")
    x, candidates, i_min, i_max = ivh_levels(values, settings, reseg)
    xs = np.sort(x)
    n = xs.size
    span = i_max - i_min
    gamma = (xs - i_min) / span if span > 0 else np.zeros_like(xs)

    def v_at(frac: float) -> float:
        return float(np.count_nonzero(gamma >= frac - 1e-12)) / n

    # ν(i) for each candidate: fraction of voxels with x >= i
    nu = (n - np.searchsorted(xs, candidates - 1e-9, side="left")) / n

    def i_at(frac: float) -> float:
        ok = np.flatnonzero(nu <= frac + 1e-12)
        return float(candidates[ok[0]]) if ok.size else float(candidates[-1])

    out = {"ivh_v10": v_at(0.10), "ivh_v90": v_at(0.90), "ivh_i10": i_at(0.10), "ivh_i90": i_at(0.90)}
    out["ivh_diff_v10_v90"] = out["ivh_v10"] - out["ivh_v90"]
    out["ivh_diff_i10_i90"] = out["ivh_i10"] - out["ivh_i90"]
    return out
