"""Single-time-point methods against mono-/bi-exponential ground truth.

What is exactly true for Hänscheid (derived in stp.py): with x = λt the ratio
estimate/truth is 2x e^{−x}/ln 2, which equals 1 at x = ln 2 and x = 2 ln 2,
i.e. t = T_eff and t = 2 T_eff, and peaks at 2/(e ln 2) at t = T_eff/ln 2.
"""
import math
import warnings

import numpy as np
import pytest

from theranomics import nuclides
from theranomics.dosimetry import fitting
from theranomics.dosimetry.stp import (STPError, STPValidityWarning, haenscheid_tia_mbq_h, haenscheid_validity_range,
                                       madsen_tia_mbq_h, madsen_tia_sigma_mbq_h, multicycle_stp_tia_mbq_h)
from theranomics.dosimetry.tac import TimeActivityCurve

A0, T_EFF = 120.0, 50.0
LAM = math.log(2) / T_EFF
TRUE_TIA = A0 / LAM


def activity(t):
    return A0 * math.exp(-LAM * t)


@pytest.mark.parametrize("t", [T_EFF, 2 * T_EFF])
def test_haenscheid_exact_at_t_eff_and_twice_t_eff(t):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert haenscheid_tia_mbq_h(activity(t), t, t_eff_h=T_EFF) == pytest.approx(TRUE_TIA, rel=1e-12)


def test_haenscheid_is_not_exact_elsewhere_and_peaks_at_t_eff_over_ln2():
    t_peak = T_EFF / math.log(2)
    ratio = haenscheid_tia_mbq_h(activity(t_peak), t_peak) / TRUE_TIA
    assert ratio == pytest.approx(2 / (math.e * math.log(2)), rel=1e-12)
    assert ratio == pytest.approx(1.0615, abs=1e-4)
    ts = np.linspace(0.2, 4, 400) * T_EFF
    ratios = haenscheid_tia_mbq_h(A0 * np.exp(-LAM * ts), ts) / TRUE_TIA
    assert ratios.max() <= ratio + 1e-12
    assert haenscheid_tia_mbq_h(activity(0.5 * T_EFF), 0.5 * T_EFF) < 0.99 * TRUE_TIA


@pytest.mark.parametrize("tol", [0.05, 0.10, 0.20])
def test_validity_range_endpoints_have_the_stated_error(tol):
    lo, hi = haenscheid_validity_range(tol)
    assert lo < 1 < 2 < hi
    for r in (lo, hi):
        t = r * T_EFF
        assert haenscheid_tia_mbq_h(activity(t), t) / TRUE_TIA == pytest.approx(1 - tol, rel=1e-10)
    assert haenscheid_validity_range(0.10) == pytest.approx((0.7644, 2.4373), abs=1e-4)


def test_haenscheid_warns_outside_range_only():
    lo, hi = haenscheid_validity_range(0.10)
    with pytest.warns(STPValidityWarning, match="outside 0.764"):
        haenscheid_tia_mbq_h(activity(0.5 * T_EFF), 0.5 * T_EFF, t_eff_h=T_EFF)
    with pytest.warns(STPValidityWarning):
        haenscheid_tia_mbq_h([10.0, 10.0], [1.0 * T_EFF, 3.0 * T_EFF], t_eff_h=T_EFF)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        haenscheid_tia_mbq_h(10.0, 0.99 * hi * T_EFF, t_eff_h=T_EFF)
        haenscheid_tia_mbq_h(10.0, 1.01 * lo * T_EFF, t_eff_h=T_EFF)


@pytest.mark.parametrize("t", [4.0, 24.0, 96.0, 168.0])
def test_madsen_exact_for_mono_exp(t):
    assert madsen_tia_mbq_h(activity(t), t, T_EFF) == pytest.approx(TRUE_TIA, rel=1e-12)
    tia = madsen_tia_mbq_h(np.array([activity(t), 2 * activity(t)]), t, T_EFF)
    assert np.allclose(tia, [TRUE_TIA, 2 * TRUE_TIA], rtol=1e-12)


def test_madsen_sigma_matches_monte_carlo():
    rng = np.random.default_rng(0)
    a, t, sa, st = 40.0, 96.0, 1.0, 2.0
    sigma = madsen_tia_sigma_mbq_h(a, t, T_EFF, activity_sigma_mbq=sa, t_eff_sigma_h=st)
    samples = madsen_tia_mbq_h(a + sa * rng.standard_normal(40000), t, T_EFF + st * rng.standard_normal(40000))
    assert sigma == pytest.approx(np.std(samples), rel=0.05)
    assert madsen_tia_sigma_mbq_h(a, t, T_EFF, activity_sigma_mbq=sa) == pytest.approx(
        sa * math.exp(LAM * t) / LAM, rel=1e-12)


def test_multicycle_uses_cycle1_kinetics():
    t = np.array([4, 24, 48, 96, 168.0])
    mono = fitting.fit_model(TimeActivityCurve(t, A0 * np.exp(-LAM * t)), "mono_exp")
    a_later = 0.8 * activity(72.0)
    assert multicycle_stp_tia_mbq_h(mono, a_later, 72.0) == pytest.approx(madsen_tia_mbq_h(a_later, 72.0, T_EFF),
                                                                          rel=1e-7)
    model = fitting.get_model("bi_exp_uptake")
    p = [100.0, 0.02, 0.3]
    up = fitting.fit_model(TimeActivityCurve(t, model.evaluate(t, p)), "bi_exp_uptake")
    later = 0.7 * model.evaluate(48.0, p)
    assert multicycle_stp_tia_mbq_h(up, later, 48.0) == pytest.approx(0.7 * 100 * (1 / 0.02 - 1 / 0.3), rel=1e-6)


def test_stp_errors():
    with pytest.raises(STPError, match="activity_mbq must be >= 0"):
        madsen_tia_mbq_h(-1.0, 24.0, T_EFF)
    with pytest.raises(STPError, match="finite MBq"):
        haenscheid_tia_mbq_h(np.nan, 24.0)
    with pytest.raises(STPError, match="time_h must be finite and > 0"):
        haenscheid_tia_mbq_h(1.0, 0.0)
    with pytest.raises(STPError, match="t_eff_h must be finite and > 0"):
        madsen_tia_mbq_h(1.0, 24.0, -5.0)
    with pytest.raises(STPError, match="max_rel_error"):
        haenscheid_validity_range(1.5)
    with pytest.raises(STPError, match="activity_sigma_mbq and t_eff_sigma_h"):
        madsen_tia_sigma_mbq_h(1.0, 24.0, T_EFF, activity_sigma_mbq=-1)
    with pytest.raises(STPError, match="cycle1_fit must be a FitResult"):
        multicycle_stp_tia_mbq_h({"lambda": 0.01}, 1.0, 24.0)
    rising = fitting.fit_model(TimeActivityCurve([4, 24, 48.0], [1.0, 2.0, 3.0]), "mono_exp", constrain_rates=False)
    with pytest.raises(STPError, match="infinite TIA"):
        multicycle_stp_tia_mbq_h(rising, 1.0, 24.0)
    assert nuclides.half_life_h("Lu-177") > 2 * T_EFF  # the example T_eff is physically possible for Lu-177
