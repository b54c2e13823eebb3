"""Intensity-based statistical features (IBSI-1 section 3.3), on the voxels of the intensity mask."""
from __future__ import annotations

import numpy as np

from ._stats_kernels import NAMES, order_positions, summary as summary_kernel

__all__ = ["FEATURES", "intensity_statistics", "moments", "dispersion", "summary"]

#: tag -> (IBSI feature name, IBSI code)
FEATURES: dict[str, tuple[str, str]] = {
    "stat_mean": ("Mean intensity", "Q4LE"),
    "stat_var": ("Intensity variance", "ECT3"),
    "stat_skew": ("Intensity skewness", "KE2A"),
    "stat_kurt": ("(Excess) intensity kurtosis", "IPH6"),
    "stat_median": ("Median intensity", "Y12H"),
    "stat_min": ("Minimum intensity", "1GSF"),
    "stat_p10": ("10th intensity percentile", "QG58"),
    "stat_p90": ("90th intensity percentile", "8DWT"),
    "stat_max": ("Maximum intensity", "84IY"),
    "stat_iqr": ("Intensity interquartile range", "SALO"),
    "stat_range": ("Intensity range", "2OJQ"),
    "stat_mad": ("Intensity-based mean absolute deviation", "4FUA"),
    "stat_rmad": ("Intensity-based robust mean absolute deviation", "1128"),
    "stat_medad": ("Intensity-based median absolute deviation", "N72L"),
    "stat_cov": ("Intensity-based coefficient of variation", "7TET"),
    "stat_qcod": ("Intensity-based quartile coefficient of dispersion", "9S40"),
    "stat_energy": ("Intensity-based energy", "N8CA"),
    "stat_rms": ("Root mean square intensity", "5ZWQ"),
}


def summary(x: np.ndarray, presorted: bool = False) -> dict[str, float]:
    """Moments and percentile statistics of ``x`` keyed by :data:`._stats_kernels.NAMES` (a partial
    sort for the percentiles, then compiled passes; formulas in :func:`._stats_kernels.summary`)."""
    x = np.ascontiguousarray(x, dtype=np.float64).ravel()
    xs = x if presorted else np.partition(x, order_positions(x.size))
    return dict(zip(NAMES, summary_kernel(x, xs).tolist()))


def moments(x: np.ndarray) -> tuple[float, float, float, float]:
    """Mean, variance (biased, 1/N), skewness m3/m2^1.5 and excess kurtosis m4/m2² − 3 (IBSI 3.3.2–3.3.4).

    Skewness and kurtosis are 0 for a constant ROI (IBSI convention).
    """
    s = summary(x)
    return s["mean"], s["var"], s["skew"], s["kurt"]


#: statistics features that :func:`dispersion` returns (prefix + "_" + name)
DISPERSION = ("median", "min", "p10", "p90", "max", "iqr", "range", "mad", "rmad", "medad", "cov", "qcod")


def dispersion(x: np.ndarray, prefix: str) -> dict[str, float]:
    """Percentile-based features shared by statistics and the intensity histogram (IBSI 3.3 / 3.4).

    Percentiles use linear interpolation between order statistics (numpy's default).
    """
    s = summary(x)
    return {f"{prefix}_{k}": s[k] for k in DISPERSION}


def intensity_statistics(values: np.ndarray) -> dict[str, float]:
    """The 18 IBSI intensity statistics of the ROI intensities ``values`` (1-D).

    Energy Σ X² and RMS √(Σ X²/N) are not normalised by voxel volume (IBSI 3.3.17–18).
    """
    x = np.asarray(values, dtype=float).ravel()
    if x.size == 0:
        raise ValueError("intensity statistics: the intensity mask is empty")
    s = summary(x)
    return {tag: s[tag[5:]] for tag in FEATURES}
