"""The compiled intensity statistics equal numpy's percentiles and direct moment formulas."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from theranomics.radiomics.features import intensity_histogram, intensity_statistics


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 7, 10, 11, 101, 1000, 4099])
def test_statistics_equal_numpy(n):
    rng = np.random.default_rng(n)
    for x in (rng.normal(size=n) * 3.0 + 5.0, np.round(rng.normal(size=n) * 4.0) + 20.0):
        s = intensity_statistics(x)
        p10, p25, p50, p75, p90 = np.percentile(x, [10, 25, 50, 75, 90])
        robust = x[(x >= p10) & (x <= p90)]
        ref = {"stat_mean": x.mean(), "stat_var": x.var(), "stat_median": p50, "stat_p10": p10, "stat_p90": p90,
               "stat_iqr": p75 - p25, "stat_min": x.min(), "stat_max": x.max(), "stat_range": np.ptp(x),
               "stat_mad": np.mean(np.abs(x - x.mean())), "stat_medad": np.mean(np.abs(x - p50)),
               "stat_rmad": np.mean(np.abs(robust - robust.mean())) if robust.size else np.nan,
               "stat_qcod": (p75 - p25) / (p75 + p25), "stat_energy": np.sum(x ** 2),
               "stat_rms": np.sqrt(np.mean(x ** 2)), "stat_cov": x.std() / x.mean()}
        if x.var() > 0:
            ref["stat_skew"] = stats.skew(x)
            ref["stat_kurt"] = stats.kurtosis(x)  # excess (Fisher), biased
        for tag, value in ref.items():
            assert s[tag] == pytest.approx(value, rel=1e-10, abs=1e-12, nan_ok=True), tag


def test_histogram_percentiles_equal_numpy():
    rng = np.random.default_rng(5)
    for n in (1, 2, 9, 500):
        g = rng.integers(1, 9, size=n)
        h = intensity_histogram(g, 8)
        p10, p25, p50, p75, p90 = np.percentile(g, [10, 25, 50, 75, 90])
        assert (h["ih_p10"], h["ih_median"], h["ih_p90"]) == pytest.approx((p10, p50, p90), abs=1e-12)
        assert h["ih_iqr"] == pytest.approx(p75 - p25, abs=1e-12)
        assert h["ih_mean"] == pytest.approx(g.mean()) and h["ih_var"] == pytest.approx(g.var())
