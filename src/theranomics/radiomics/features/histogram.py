"""Intensity histogram features (IBSI-1 section 3.4), on discretised grey levels 1..Ng."""
from __future__ import annotations

import numpy as np

from ._stats_kernels import NAMES, histogram_summary

__all__ = ["FEATURES", "intensity_histogram"]

FEATURES: dict[str, tuple[str, str]] = {
    "ih_mean": ("Mean discretised intensity", "X6K6"),
    "ih_var": ("Discretised intensity variance", "CH89"),
    "ih_skew": ("Discretised intensity skewness", "88K1"),
    "ih_kurt": ("(Excess) discretised intensity kurtosis", "C3I7"),
    "ih_median": ("Median discretised intensity", "WIFQ"),
    "ih_min": ("Minimum discretised intensity", "1PR8"),
    "ih_p10": ("10th discretised intensity percentile", "GPMT"),
    "ih_p90": ("90th discretised intensity percentile", "OZ0C"),
    "ih_max": ("Maximum discretised intensity", "3NCY"),
    "ih_mode": ("Intensity histogram mode", "AMMC"),
    "ih_iqr": ("Discretised intensity interquartile range", "WR0O"),
    "ih_range": ("Discretised intensity range", "5Z3W"),
    "ih_mad": ("Intensity histogram mean absolute deviation", "D2ZX"),
    "ih_rmad": ("Intensity histogram robust mean absolute deviation", "WRZB"),
    "ih_medad": ("Intensity histogram median absolute deviation", "4RNL"),
    "ih_cov": ("Intensity histogram coefficient of variation", "CWYJ"),
    "ih_qcod": ("Intensity histogram quartile coefficient of dispersion", "SLWD"),
    "ih_entropy": ("Discretised intensity entropy", "TLU2"),
    "ih_uniformity": ("Discretised intensity uniformity", "BJ5W"),
    "ih_max_grad": ("Maximum histogram gradient", "12CE"),
    "ih_max_grad_g": ("Maximum histogram gradient intensity", "8E6O"),
    "ih_min_grad": ("Minimum histogram gradient", "VQB3"),
    "ih_min_grad_g": ("Minimum histogram gradient intensity", "RHQZ"),
}


def intensity_histogram(levels: np.ndarray, n_levels: int | None = None) -> dict[str, float]:
    """The 23 IBSI intensity-histogram features of grey levels ``levels`` (1-D ints ≥ 1).

    Histogram H_i over i = 1..Ng (Ng = ``n_levels`` or the highest level), p_i = H_i/N.
    Mode: most frequent level, ties resolved towards the mean.  Entropy −Σ p log2 p; uniformity
    Σ p².  Gradient H'_i = (H_{i+1} − H_{i−1})/2 inside, one-sided differences at 1 and Ng.
    """
    g = np.asarray(levels).ravel()
    if g.size == 0:
        raise ValueError("intensity histogram: the intensity mask is empty")
    if g.min() < 1 or (not np.issubdtype(g.dtype, np.integer) and not np.allclose(g, np.round(g))):
        raise ValueError("intensity histogram needs discretised integer grey levels >= 1")
    g = g.astype(np.int64) if np.issubdtype(g.dtype, np.integer) else np.round(g).astype(np.int64)
    ng = max(int(n_levels or 0), int(g.max()))
    values = histogram_summary(g, ng).tolist()
    out = {f"ih_{k}": v for k, v in zip(NAMES, values)}
    out.update(zip(("ih_mode", "ih_entropy", "ih_uniformity", "ih_max_grad", "ih_max_grad_g", "ih_min_grad",
                    "ih_min_grad_g"), values[len(NAMES):]))
    return {tag: out[tag] for tag in FEATURES}
