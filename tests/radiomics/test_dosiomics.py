"""Dosiomics: IBSI features of absorbed-dose (Gy) and dose-rate (Gy/h) maps with the dose defaults.

Synthetic map: inside a 10 × 4 × 4 box the dose rises linearly along x, D(i) = a + b·i
(i = 0 … 9), each value on 16 voxels, so the ROI holds a discrete uniform distribution whose
moments and order statistics are known in closed form (n = 10 values):
mean a + b(n − 1)/2, variance b²(n² − 1)/12, skewness 0, excess kurtosis −6(n² + 1)/(5(n² − 1)).
Outside the box: a dose of 0.3·a with negative noise voxels, which re-segmentation at 0 Gy must
never let in.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from theranomics.core import Geometry, Image, LabelMap
from theranomics.radiomics import extract_features, modality_defaults

A_GY, B_GY, N = 2.0, 3.0, 10


def _dose_map(unit: str, scale: float = 1.0) -> tuple[Image, LabelMap]:
    shape = (8, 8, 16)
    dose = np.full(shape, 0.3 * A_GY * scale)
    dose[0, 0, :] = -0.5 * scale  # noise below zero, outside the ROI
    lab = np.zeros(shape, np.int32)
    i = np.arange(N)
    dose[2:6, 2:6, 3:3 + N] = (A_GY + B_GY * i) * scale
    lab[2:6, 2:6, 3:3 + N] = 1
    geom = Geometry(shape, (2.0, 2.0, 2.0))
    return Image(dose, geom, unit=unit, modality="RTDOSE"), LabelMap(lab, geom, {1: "lesion"})


def _analytic(scale: float = 1.0) -> dict[str, float]:
    a, b = A_GY * scale, B_GY * scale
    values = np.repeat(a + b * np.arange(N), 16)  # sorted ROI doses, 160 voxels

    def pct(p: float) -> float:  # linear interpolation between order statistics, h = (N_v − 1) p
        h = (values.size - 1) * p / 100.0
        lo = math.floor(h)
        return values[lo] + (h - lo) * (values[min(lo + 1, values.size - 1)] - values[lo])

    return {
        "stat_mean": a + b * (N - 1) / 2.0,
        "stat_var": b ** 2 * (N ** 2 - 1) / 12.0,
        "stat_skew": 0.0,
        "stat_kurt": -6.0 * (N ** 2 + 1) / (5.0 * (N ** 2 - 1)),
        "stat_min": a, "stat_max": a + b * (N - 1), "stat_range": b * (N - 1),
        "stat_median": pct(50), "stat_p10": pct(10), "stat_p90": pct(90),
        "stat_iqr": pct(75) - pct(25),
        # mean absolute deviation of a discrete uniform: b · mean |i − (n−1)/2|
        "stat_mad": b * np.mean(np.abs(np.arange(N) - (N - 1) / 2.0)),
        "stat_energy": 16.0 * float(np.sum((a + b * np.arange(N)) ** 2)),
        "stat_rms": math.sqrt(np.mean(values ** 2)),
        "morph_vol_approx": 160 * 8.0,
    }


@pytest.fixture(scope="module")
def dose_features():
    image, labels = _dose_map("Gy")
    return extract_features(image, labels, modality_defaults("DOSE")).iloc[0]


@pytest.mark.parametrize("tag", list(_analytic()))
def test_first_order_analytic(dose_features, tag):
    assert dose_features[tag] == pytest.approx(_analytic()[tag], rel=1e-9, abs=1e-9)


def test_dose_discretisation_and_dvh_metrics(dose_features):
    """FBS 1 Gy from 0 Gy: D = 2, 5, …, 29 Gy fall in bins 3, 6, …, 30 (floor(D/1) + 1), 16 voxels
    each.  IVH on 0.1 Gy bins (centres D + 0.05; every bin centre between min and max is a
    candidate, IBSI 3.5.3): I_x is the lowest candidate with ν(i) ≤ x, so I10 is the bin just above
    the second-hottest dose, 26.05 + 0.1 = 26.15 Gy (only the 29.05 column, 10 %, lies above it)
    and I90 the bin just above the coldest, 2.15 Gy; V10/V90 are the volume fractions at ≥ 10 % /
    90 % of the maximum bin centre (i_min = 0 Gy, the re-segmentation bound)."""
    levels = 3 + 3 * np.arange(N)
    assert dose_features["ih_mean"] == pytest.approx(levels.mean())
    assert dose_features["ih_min"] == 3 and dose_features["ih_max"] == 30
    assert dose_features["ih_entropy"] == pytest.approx(math.log2(N))
    assert dose_features["ivh_i10"] == pytest.approx(A_GY + B_GY * (N - 2) + 0.05 + 0.1)
    assert dose_features["ivh_i90"] == pytest.approx(2.15)
    d_max = 29.05
    centres = A_GY + B_GY * np.arange(N) + 0.05
    assert dose_features["ivh_v10"] == pytest.approx(np.mean(centres >= 0.1 * d_max))
    assert dose_features["ivh_v90"] == pytest.approx(np.mean(centres >= 0.9 * d_max))


def test_dose_rate_map_scales(dose_features):
    """A dose-rate map (Gy/h, 100× smaller numbers) with the dose-rate defaults (bins 100× finer)
    gives the same distribution shape: moments scale, shape features and bin counts do not."""
    scale = 0.01
    image, labels = _dose_map("Gy/h", scale)
    rate = extract_features(image, labels, modality_defaults("DOSE_RATE")).iloc[0]
    ref = _analytic(scale)
    for tag in ("stat_mean", "stat_var", "stat_median", "stat_p90", "stat_energy"):
        assert rate[tag] == pytest.approx(ref[tag], rel=1e-9), tag
    for tag in ("stat_skew", "stat_kurt", "ih_entropy", "ih_uniformity", "morph_volume", "cm_joint_entr_3D_comb",
                "szm_sze_3D", "rlm_sre_3D_comb"):
        assert rate[tag] == pytest.approx(dose_features[tag], rel=1e-9, abs=1e-12), tag
    assert rate["ivh_i10"] == pytest.approx((A_GY + B_GY * (N - 2)) * scale + 0.0005 + 0.001, rel=1e-9)


def test_negative_dose_outside_range_is_excluded():
    """Negative doses inside the ROI (noise) are removed by the [0, ∞) Gy re-segmentation."""
    image, labels = _dose_map("Gy")
    arr = image.array.copy()
    arr[2, 2, 3] = -1.0  # one ROI voxel below zero
    feats = extract_features(image.with_array(arr), labels, modality_defaults("DOSE"),
                             include_diagnostics=True).iloc[0]
    assert feats["int_mask_vox_count_reseg_roi"] == 159
    assert feats["stat_min"] == A_GY
