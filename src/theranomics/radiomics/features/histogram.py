"""Intensity histogram features (IBSI-1 section 3.4), on discretised grey levels 1..Ng."""
from __future__ import annotations

import numpy as np

from .statistics import DISPERSION, summary

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
    g = g.astype(np.intp) if np.issubdtype(g.dtype, np.integer) else np.round(g).astype(np.intp)
    ng = max(int(n_levels or 0), int(g.max()))
    hist = np.bincount(g, minlength=ng + 1)[1:].astype(float)
    p = hist / g.size
    st = summary(np.repeat(np.arange(1.0, ng + 1.0), hist.astype(np.intp)), presorted=True)
    mu = st["mean"]
    out = {"ih_mean": mu, "ih_var": st["var"], "ih_skew": st["skew"], "ih_kurt": st["kurt"]}
    out.update({f"ih_{k}": st[k] for k in DISPERSION})
    modes = np.flatnonzero(hist == hist.max()) + 1
    out["ih_mode"] = float(modes[np.argmin(np.abs(modes - mu))])
    nz = p[p > 0]
    out["ih_entropy"] = float(-np.sum(nz * np.log2(nz)))
    out["ih_uniformity"] = float(np.sum(p ** 2))
    grad = np.zeros(ng)
    if ng > 1:  # np.gradient: central differences inside, one-sided at the ends
        grad[1:-1] = (hist[2:] - hist[:-2]) / 2.0
        grad[0], grad[-1] = hist[1] - hist[0], hist[-1] - hist[-2]
    out["ih_max_grad"] = float(grad.max())
    out["ih_max_grad_g"] = float(np.argmax(grad) + 1)
    out["ih_min_grad"] = float(grad.min())
    out["ih_min_grad_g"] = float(np.argmin(grad) + 1)
    return {tag: out[tag] for tag in FEATURES}
