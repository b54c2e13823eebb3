"""BED/EQD2: closed-form Lea–Catcheside G against numerical double integration, Dale's formula, limits."""
import math

import numpy as np
import pytest
from scipy.integrate import dblquad

from theranomics.dosimetry import fitting
from theranomics.dosimetry.radiobiology import (LIMITS, TISSUES, RadiobiologyError, TissueParameters,
                                                bed_from_fit_gy, bed_mono_exp_gy, bed_sum_of_exponentials_gy,
                                                bed_uptake_gy, check_limits, eqd2_gy, lea_catcheside_g,
                                                multicycle_bed_gy, tissue_parameters)
from theranomics.dosimetry.tac import TimeActivityCurve


def g_numerical(c, b, t_rep_h):
    """G = (2/D²) ∫_0^∞ R(t) ∫_0^t R(w) e^{−μ(t−w)} dw dt by adaptive 2-D quadrature."""
    c, b = np.asarray(c, float), np.asarray(b, float)
    mu = math.log(2) / t_rep_h
    rate = lambda t: float(np.sum(c * np.exp(-b * t)))  # noqa: E731
    dose = float(np.sum(c / b))
    t_max = 40 * math.log(2) / b.min()
    value, _ = dblquad(lambda w, t: rate(t) * rate(w) * math.exp(-mu * (t - w)), 0, t_max, 0, lambda t: t,
                       epsabs=1e-10, epsrel=1e-8)
    return 2 * value / dose ** 2


@pytest.mark.parametrize("c, b, t_rep", [
    ([2.0], [math.log(2) / 60], 2.8),                      # mono-exponential
    ([1.5, -1.5], [math.log(2) / 60, math.log(2) / 2], 1.5),  # uptake phase
    ([0.8, 0.3], [0.3, 0.01], 2.8),                        # bi-exponential clearance
    ([0.8, 0.3, -1.1], [0.3, 0.01, 1.2], 0.5),             # tri-exponential
])
def test_closed_form_g_matches_double_integral(c, b, t_rep):
    assert lea_catcheside_g(c, b, t_rep) == pytest.approx(g_numerical(c, b, t_rep), rel=1e-6)


def test_mono_exp_bed_is_dale_formula_and_limits():
    d, t_eff = 20.0, 50.0
    kidney = TISSUES["kidney"]
    lam, mu = math.log(2) / t_eff, math.log(2) / 2.8
    assert bed_mono_exp_gy(d, t_eff, "kidney") == pytest.approx(d * (1 + d / 2.6 * lam / (mu + lam)), rel=1e-12)
    assert kidney.alpha_beta_gy == 2.6 and kidney.repair_half_time_h == 2.8
    # same through the general sum-of-exponentials path
    r0 = d * lam
    assert bed_sum_of_exponentials_gy([r0], [lam], "kidney") == pytest.approx(bed_mono_exp_gy(d, t_eff, "kidney"))
    # very slow repair relative to delivery -> acute: G -> 1; very fast repair -> G -> 0
    assert lea_catcheside_g([1e4], [1e4], 1e6) == pytest.approx(1.0, rel=1e-6)
    assert lea_catcheside_g([1.0], [0.001], 1e-6) < 1e-8


def test_uptake_bed_matches_numerical_bed_and_exceeds_nothing_odd():
    d, t_clear, t_up = 25.0, 60.0, 3.0
    l1, l2 = math.log(2) / t_clear, math.log(2) / t_up
    r0 = d / (1 / l1 - 1 / l2)
    g = g_numerical([r0, -r0], [l1, l2], 1.5)
    assert bed_uptake_gy(d, t_clear, t_up, "tumour") == pytest.approx(d * (1 + g * d / 10.0), rel=1e-6)
    # an uptake phase spreads the dose further in time -> lower BED than instantaneous uptake
    assert bed_uptake_gy(d, t_clear, t_up, "tumour") < bed_mono_exp_gy(d, t_clear, "tumour")
    assert bed_uptake_gy(0.0, t_clear, t_up) == 0.0


def test_bed_from_fit_uses_the_fitted_dose_rate():
    t = np.array([1, 4, 24, 48, 96, 168.0])
    p = [100.0, 0.015, 0.5]
    fit = fitting.fit_model(TimeActivityCurve(t, fitting.get_model("bi_exp_uptake").evaluate(t, p)), "bi_exp_uptake")
    s = 0.002  # Gy per MBq·h
    dose = s * 100 * (1 / 0.015 - 1 / 0.5)
    expected = bed_uptake_gy(dose, math.log(2) / 0.015, math.log(2) / 0.5, "kidney")
    assert bed_from_fit_gy(fit, s, "kidney") == pytest.approx(expected, rel=1e-6)
    with pytest.raises(RadiobiologyError, match="dose_per_tia_gy_per_mbq_h"):
        bed_from_fit_gy(fit, 0.0)


def test_eqd2_returns_total_dose_of_2gy_fractions():
    for ab in (2.6, 3.0, 10.0):
        n, d = 15, 2.0
        bed = n * d * (1 + d / ab)
        assert eqd2_gy(bed, ab) == pytest.approx(n * d, rel=1e-12)


def test_multicycle_sum_and_overrides():
    beds = [bed_mono_exp_gy(5.0, 40.0, "kidney") for _ in range(4)]
    assert multicycle_bed_gy(beds) == pytest.approx(4 * beds[0])
    custom = tissue_parameters("kidney", alpha_beta_gy=3.0)
    assert custom.alpha_beta_gy == 3.0 and custom.repair_half_time_h == 2.8 and "overridden" in custom.reference
    assert TISSUES["kidney"].alpha_beta_gy == 2.6  # defaults untouched
    assert bed_mono_exp_gy(5.0, 40.0, "kidney", alpha_beta_gy=3.0) == pytest.approx(
        bed_mono_exp_gy(5.0, 40.0, custom))
    assert tissue_parameters("tumor") is TISSUES["tumour"] and tissue_parameters("bone_marrow") is TISSUES["red_marrow"]
    new = tissue_parameters("liver", alpha_beta_gy=2.5, repair_half_time_h=1.5)
    assert new.reference == "user-supplied"
    assert custom.repair_rate_per_h == pytest.approx(math.log(2) / 2.8)
    with pytest.raises(TypeError):
        TISSUES["kidney"] = custom  # read-only defaults


def test_limits_flag_kidney_marrow_salivary():
    checks = check_limits("kidneys", absorbed_dose_gy=25.0, bed_gy=35.0)
    by = {(c.limit.quantity, c.limit.limit_gy): c.exceeded for c in checks}
    assert by == {("absorbed_dose_gy", 23.0): True, ("bed_gy", 40.0): False}
    risky = check_limits("kidney", bed_gy=35.0, risk_factors=True)
    assert [(c.limit.limit_gy, c.exceeded) for c in risky] == [(28.0, True)]
    marrow = check_limits("bone_marrow", absorbed_dose_gy=1.0)
    assert marrow[0].limit.limit_gy == 2.0 and not marrow[0].exceeded and marrow[0].fraction_of_limit == 0.5
    assert check_limits("parotid", absorbed_dose_gy=30.0)[0].exceeded
    assert all(lim.reference for lim in LIMITS)


def test_radiobiology_errors():
    with pytest.raises(RadiobiologyError, match="no default LQ parameters for tissue 'liver'"):
        bed_mono_exp_gy(5.0, 40.0, "liver")
    with pytest.raises(RadiobiologyError, match="alpha_beta_gy must be a finite number > 0"):
        TissueParameters("x", -1.0, 1.0, "")
    with pytest.raises(RadiobiologyError, match="dose_gy must be"):
        bed_mono_exp_gy(-1.0, 40.0)
    with pytest.raises(RadiobiologyError, match="effective_half_life_h must be > 0"):
        bed_mono_exp_gy(1.0, 0.0)
    with pytest.raises(RadiobiologyError, match="uptake must be faster than clearance"):
        bed_uptake_gy(1.0, 3.0, 60.0)
    with pytest.raises(RadiobiologyError, match="every rate must be > 0"):
        lea_catcheside_g([1.0], [0.0], 1.0)
    with pytest.raises(RadiobiologyError, match="one rate per amplitude"):
        lea_catcheside_g([1.0, 2.0], [0.1], 1.0)
    with pytest.raises(RadiobiologyError, match="integrates to"):
        lea_catcheside_g([-1.0], [0.1], 1.0)
    with pytest.raises(RadiobiologyError, match="repair_half_time_h must be > 0"):
        lea_catcheside_g([1.0], [0.1], 0.0)
    with pytest.raises(RadiobiologyError, match=r"cycle #1 BED"):
        multicycle_bed_gy([1.0, math.nan])
    with pytest.raises(RadiobiologyError, match="at least one cycle"):
        multicycle_bed_gy([])
    with pytest.raises(RadiobiologyError, match="alpha_beta_gy must be > 0"):
        eqd2_gy(10.0, 0.0)
    with pytest.raises(RadiobiologyError, match="no limits for organ 'heart'"):
        check_limits("heart", absorbed_dose_gy=1.0)
    with pytest.raises(RadiobiologyError, match="give absorbed_dose_gy and/or bed_gy"):
        check_limits("kidney")
    with pytest.raises(RadiobiologyError, match="bed_gy must be finite"):
        check_limits("kidney", bed_gy=-2.0)
