"""Vectorised voxel-wise mono-exponential fitting against per-voxel numpy.polyfit and hand formulas."""
import time

import numpy as np
import pytest

from theranomics import nuclides
from theranomics.core.image import Image
from theranomics.dosimetry.fitting import VOXEL_METHODS, FitError, fit_voxels_mono_exp
from theranomics.dosimetry.tac import VoxelTACStack

LP = nuclides.decay_constant_per_h("Lu-177")
T = np.array([4, 24, 72, 168.0])


def test_noiseless_voxels_recover_parameters_exactly():
    rng = np.random.default_rng(0)
    a0 = rng.uniform(1, 100, 500)
    lam = rng.uniform(1.2 * LP, 0.2, 500)
    stack = VoxelTACStack(T, a0 * np.exp(-np.outer(T, lam)), nuclide="Lu-177")
    res = fit_voxels_mono_exp(stack)
    assert np.allclose(res.a0_mbq, a0, rtol=1e-9) and np.allclose(res.lambda_per_h, lam, rtol=1e-9)
    assert np.allclose(res.tia_mbq_h, a0 / lam, rtol=1e-9)
    assert res.counts == {"mono_exp": 500, "trapezoid_physical_tail": 0, "no_positive_activity": 0, "unfittable": 0}


@pytest.mark.parametrize("weighting", ["activity", "uniform"])
def test_noisy_voxels_match_per_voxel_polyfit(weighting):
    rng = np.random.default_rng(1)
    a = 50 * np.exp(-0.03 * T)[:, None] + rng.normal(0, 2.0, (T.size, 200))
    res = fit_voxels_mono_exp(VoxelTACStack(T, a, nuclide="Lu-177"), weighting=weighting)
    for v in np.flatnonzero(res.method == 0)[:50]:
        pos = a[:, v] > 0
        w = a[pos, v] if weighting == "activity" else np.ones(pos.sum())  # polyfit weights multiply residuals
        slope, intercept = np.polyfit(T[pos], np.log(a[pos, v]), 1, w=w)
        assert res.lambda_per_h[v] == pytest.approx(-slope, rel=1e-8)
        assert res.a0_mbq[v] == pytest.approx(np.exp(intercept), rel=1e-8)


def test_fallback_rules():
    rising = np.array([5.0, 8.0, 9.0, 10.0])           # non-decreasing -> trapezoid + physical tail
    too_slow = 40 * np.exp(-0.5 * LP * T)              # λ < λ_phys -> fallback
    one_positive = np.array([0.0, 0.0, 3.0, 0.0])      # < 2 positive points -> fallback
    zero = np.zeros(4)                                  # nothing positive
    good = 40 * np.exp(-0.05 * T)
    a = np.column_stack([rising, too_slow, one_positive, zero, good])
    res = fit_voxels_mono_exp(VoxelTACStack(T, a, nuclide="Lu-177"))
    assert [VOXEL_METHODS[m] for m in res.method] == [
        "trapezoid_physical_tail", "trapezoid_physical_tail", "trapezoid_physical_tail", "no_positive_activity",
        "mono_exp"]
    for v in range(3):
        x = a[:, v]
        hand = x[0] * T[0] / 2 + sum((x[i] + x[i + 1]) * (T[i + 1] - T[i]) / 2 for i in range(3)) + x[-1] / LP
        assert res.tia_mbq_h[v] == pytest.approx(hand, rel=1e-12)
    assert res.tia_mbq_h[3] == 0 and np.isnan(res.lambda_per_h[0])
    assert res.tia_mbq_h[4] == pytest.approx(40 / 0.05, rel=1e-9)
    no_nuclide = fit_voxels_mono_exp(VoxelTACStack(T, a))
    assert VOXEL_METHODS[no_nuclide.method[0]] == "unfittable" and np.isnan(no_nuclide.tia_mbq_h[0])
    assert no_nuclide.tia_mbq_h[1] == pytest.approx(40 / (0.5 * LP), rel=1e-9)  # λ > 0 is enough without nuclide


def test_images_to_tia_image():
    a0, lam = 2e5, 0.04  # Bq/mL
    arrays = [np.full((2, 3, 4), a0 * np.exp(-lam * t)) for t in T]
    mask = np.zeros((2, 3, 4), bool)
    mask[1] = True
    images = [Image.from_array(x, spacing_mm=(4, 4, 4), unit="Bq/mL") for x in arrays]
    res = fit_voxels_mono_exp(VoxelTACStack.from_images(images, T, mask=mask, nuclide="Lu-177"))
    tia = res.tia_image()
    assert tia.unit == "MBq*h"
    assert np.allclose(tia.array[mask], a0 * 0.064 * 1e-6 / lam, rtol=1e-9)
    assert np.all(tia.array[~mask] == 0)


def test_voxel_fit_errors():
    stack = VoxelTACStack(T, np.ones((4, 3)))
    with pytest.raises(FitError, match="weighting must be"):
        fit_voxels_mono_exp(stack, weighting="poisson")
    with pytest.raises(FitError, match="min_points must be >= 2"):
        fit_voxels_mono_exp(stack, min_points=1)
    with pytest.raises(FitError, match="needs a VoxelTACStack"):
        fit_voxels_mono_exp(np.ones((4, 3)))


def test_one_million_voxels_four_time_points_is_fast():
    rng = np.random.default_rng(2)
    n = 1_000_000
    a = 30 * np.exp(-np.outer(T, rng.uniform(0.005, 0.1, n))) + rng.normal(0, 0.5, (4, n))
    stack = VoxelTACStack(T, a, nuclide="Lu-177")
    start = time.perf_counter()
    res = fit_voxels_mono_exp(stack)
    elapsed = time.perf_counter() - start
    assert res.tia_mbq_h.shape == (n,) and np.all(np.isfinite(res.tia_mbq_h))
    assert elapsed < 10.0, f"1e6 voxels took {elapsed:.1f} s"
