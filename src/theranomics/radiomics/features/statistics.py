"""Intensity-based statistical features (IBSI-1 section 3.3), on the voxels of the intensity mask."""
from __future__ import annotations

import numpy as np

__all__ = ["FEATURES", "intensity_statistics", "moments"]

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


def moments(x: np.ndarray) -> tuple[float, float, float, float]:
    """Mean, variance (biased, 1/N), skewness m3/m2^1.5 and excess kurtosis m4/m2² − 3 (IBSI 3.3.2–3.3.4).

    Skewness and kurtosis are 0 for a constant ROI (IBSI convention).
    """
    mu = float(x.mean())
    d = x - mu
    d2 = d * d
    m2 = float(d2.mean())
    if m2 == 0.0:
        return mu, 0.0, 0.0, 0.0
    return mu, m2, float(np.dot(d2, d)) / d.size / m2 ** 1.5, float(np.dot(d2, d2)) / d.size / m2 ** 2 - 3.0


def dispersion(x: np.ndarray, prefix: str) -> dict[str, float]:
    """Percentile-based features shared by statistics and the intensity histogram (IBSI 3.3 / 3.4).

    Percentiles use linear interpolation between order statistics (numpy's default).
    """
    p10, p25, p50, p75, p90 = np.percentile(x, [10, 25, 50, 75, 90])
    mu = x.mean()
    robust = x[(x >= p10) & (x <= p90)]
    return {
        f"{prefix}_median": float(p50),
        f"{prefix}_min": float(x.min()),
        f"{prefix}_p10": float(p10),
        f"{prefix}_p90": float(p90),
        f"{prefix}_max": float(x.max()),
        f"{prefix}_iqr": float(p75 - p25),
        f"{prefix}_range": float(x.max() - x.min()),
        f"{prefix}_mad": float(np.mean(np.abs(x - mu))),
        f"{prefix}_rmad": float(np.mean(np.abs(robust - robust.mean()))),
        f"{prefix}_medad": float(np.mean(np.abs(x - p50))),
        f"{prefix}_cov": float(np.sqrt(np.mean((x - mu) ** 2)) / mu) if mu != 0 else float("nan"),
        f"{prefix}_qcod": float((p75 - p25) / (p75 + p25)) if (p75 + p25) != 0 else float("nan"),
    }


def intensity_statistics(values: np.ndarray) -> dict[str, float]:
    """The 18 IBSI intensity statistics of the ROI intensities ``values`` (1-D).

    Energy Σ X² and RMS √(Σ X²/N) are not normalised by voxel volume (IBSI 3.3.17–18).
    """
    x = np.asarray(values, dtype=float).ravel()
    if x.size == 0:
        raise ValueError("intensity statistics: the intensity mask is empty")
    mu, var, skew, kurt = moments(x)
    out = {"stat_mean": mu, "stat_var": var, "stat_skew": skew, "stat_kurt": kurt}
    out.update(dispersion(x, "stat"))
    out["stat_energy"] = float(np.sum(x ** 2))
    out["stat_rms"] = float(np.sqrt(np.mean(x ** 2)))
    return {tag: out[tag] for tag in FEATURES}
