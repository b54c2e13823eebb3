"""TAC models, weighted fits, AICc selection, EANM TIA uncertainty and the trapezoid method.

References: closed-form integrals typed here from the formulas, scipy quadrature,
noiseless/noisy synthetic data with known truth, and hand-computed sums.
"""
import math

import numpy as np
import pytest
from scipy.integrate import quad

from theranomics import nuclides
from theranomics.dosimetry import fitting
from theranomics.dosimetry.fitting import FitError, aicc, choose_by_aicc, fit_model, select_model, trapezoid_tia
from theranomics.dosimetry.tac import TimeActivityCurve

LP = nuclides.decay_constant_per_h("Lu-177")
T9 = np.array([0.5, 1, 2, 4, 8, 24, 48, 96, 168.0])

# truth per model, with the closed-form ∫_0^∞ typed from the formula
CASES = {
    "physical_decay": ([50.0], lambda p: p[0] / LP),
    "mono_exp": ([100.0, 0.02], lambda p: p[0] / p[1]),
    "uptake_physical_decay": ([100.0, 0.3], lambda p: p[0] * (1 / LP - 1 / (LP + p[1]))),
    "bi_exp_uptake": ([100.0, 0.02, 0.5], lambda p: p[0] * (1 / p[1] - 1 / p[2])),
    "bi_exp": ([60.0, 0.3, 40.0, 0.01], lambda p: p[0] / p[1] + p[2] / p[3]),
    "tri_exp": ([60.0, 0.3, 40.0, 0.01, 2.0], lambda p: p[0] / p[1] + p[2] / p[3] - (p[0] + p[2]) / p[4]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_integrals_match_closed_form_and_quadrature(name):
    model = fitting.get_model(name)
    params, closed = CASES[name]
    f = lambda t: float(model.evaluate(t, params, LP))  # noqa: E731
    total, _ = model.integral(params, LP)
    assert total == pytest.approx(closed(params), rel=1e-12)
    assert total == pytest.approx(quad(f, 0, np.inf, limit=200)[0], rel=1e-7)
    part, _ = model.integral(params, LP, t_start_h=3.0, t_end_h=72.0)
    assert part == pytest.approx(quad(f, 3.0, 72.0, limit=200)[0], rel=1e-9)


@pytest.mark.parametrize("name", list(CASES))
def test_jacobians_match_finite_differences(name):
    model = fitting.get_model(name)
    params = np.asarray(CASES[name][0])
    _, grad_inf = model.integral(params, LP)
    _, grad_fin = model.integral(params, LP, 1.0, 50.0)
    jac = model.jacobian(T9, params, LP)
    for k in range(params.size):
        h = 1e-6 * params[k]
        up, dn = params.copy(), params.copy()
        up[k] += h
        dn[k] -= h
        assert grad_inf[k] == pytest.approx((model.integral(up, LP)[0] - model.integral(dn, LP)[0]) / (2 * h), rel=1e-5)
        assert grad_fin[k] == pytest.approx(
            (model.integral(up, LP, 1.0, 50.0)[0] - model.integral(dn, LP, 1.0, 50.0)[0]) / (2 * h), rel=1e-5)
        fd = (model.evaluate(T9, up, LP) - model.evaluate(T9, dn, LP)) / (2 * h)
        assert np.allclose(jac[:, k], fd, rtol=1e-5, atol=1e-9 * np.abs(fd).max())


@pytest.mark.parametrize("name", list(CASES))
def test_noiseless_fit_recovers_parameters(name):
    model = fitting.get_model(name)
    params, closed = CASES[name]
    tac = TimeActivityCurve(T9, model.evaluate(T9, params, LP), nuclide="Lu-177", voi=name)
    fit = fit_model(tac, name)
    assert fit.converged and "not_converged" not in fit.flags
    assert np.allclose(fit.params, params, rtol=1e-6)
    assert fit.tia_mbq_h() == pytest.approx(closed(params), rel=1e-6)


def test_decay_corrected_input_is_fitted_as_measured_activity():
    lam_bio = 0.01
    t = np.array([4, 24, 72, 168.0])
    tac = TimeActivityCurve(t, 80 * np.exp(-lam_bio * t), nuclide="Lu-177", decay_corrected=True)
    fit = fit_model(tac, "mono_exp")
    assert fit.params[1] == pytest.approx(lam_bio + LP, rel=1e-7)
    assert fit.effective_half_life_h == pytest.approx(math.log(2) / (lam_bio + LP), rel=1e-7)
    assert fit.tia_mbq_h() == pytest.approx(80 / (lam_bio + LP), rel=1e-7)


def _coverage(name, params, t, rel_noise, n_seeds, seed0):
    model = fitting.get_model(name)
    truth_curve = model.evaluate(t, params, LP)
    sigma = rel_noise * truth_curve
    true_tia = model.integral(params, LP)[0]
    rng = np.random.default_rng(seed0)
    hits, estimates, sigmas = 0, [], []
    for _ in range(n_seeds):
        noisy = truth_curve + rng.normal(0, sigma)
        res = fit_model(TimeActivityCurve(t, noisy, sigma_mbq=sigma, nuclide="Lu-177"), name).tia()
        hits += abs(res.tia_mbq_h - true_tia) <= 1.96 * res.sigma_mbq_h
        estimates.append(res.tia_mbq_h)
        sigmas.append(res.sigma_mbq_h)
    return hits / n_seeds, np.std(estimates), np.mean(sigmas)


def test_mono_exp_tia_ci_coverage_and_sigma_match_monte_carlo():
    cov, sd, mean_sigma = _coverage("mono_exp", [100.0, 0.015], np.array([4, 24, 48, 96, 168.0]), 0.05, 200, 1)
    assert 0.91 <= cov <= 0.985
    assert mean_sigma == pytest.approx(sd, rel=0.15)


def test_uptake_tia_ci_coverage():
    cov, sd, mean_sigma = _coverage("bi_exp_uptake", [100.0, 0.02, 0.4], np.array([1, 4, 24, 48, 96, 168.0]),
                                    0.03, 150, 2)
    assert 0.89 <= cov <= 0.99
    assert mean_sigma == pytest.approx(sd, rel=0.2)


def test_eanm_budget_adds_calibration_and_voi_in_quadrature():
    t = np.array([4, 24, 48, 96.0])
    a = np.array([90.0, 70.0, 52.0, 31.0])
    fit = fit_model(TimeActivityCurve(t, a, sigma_mbq=3.0, nuclide="Lu-177"), "mono_exp")
    res = fit.tia(calibration_rel_sigma=0.05, voi_rel_sigma=0.10)
    value, grad = fit.model.integral(fit.params, LP)
    sigma_fit = math.sqrt(grad @ fit.covariance @ grad)
    # Cov with known σ is (JᵀJ)⁻¹, J = ∂f/∂p / σ (independent build from the model formula)
    A, lam = fit.params
    J = np.column_stack([np.exp(-lam * t), -A * t * np.exp(-lam * t)]) / 3.0
    cov = np.linalg.inv(J.T @ J)
    g = np.array([1 / lam, -A / lam ** 2])
    assert res.sigma_fit_mbq_h == pytest.approx(math.sqrt(g @ cov @ g), rel=1e-6) == pytest.approx(sigma_fit)
    assert res.tia_mbq_h == pytest.approx(A / lam, rel=1e-12)
    assert res.sigma_mbq_h == pytest.approx(math.sqrt(sigma_fit ** 2 + (0.05 * value) ** 2 + (0.10 * value) ** 2))
    assert res.relative_sigma == pytest.approx(res.sigma_mbq_h / value)
    with pytest.raises(FitError, match="calibration_rel_sigma"):
        fit.tia(calibration_rel_sigma=-0.1)
    with pytest.raises(FitError, match="t_start_h < t_end_h"):
        fit.tia(t_end_h=10.0, t_start_h=20.0)


def test_relative_weights_scale_covariance_by_residual_variance():
    t = np.array([4, 24, 48, 96, 168.0])
    a = np.array([90.0, 72.0, 50.0, 33.0, 15.0])
    fit = fit_model(TimeActivityCurve(t, a), "mono_exp")
    A, lam = fit.params
    r = a - A * np.exp(-lam * t)
    J = np.column_stack([np.exp(-lam * t), -A * t * np.exp(-lam * t)])
    expected = np.linalg.inv(J.T @ J) * (r @ r) / (5 - 2)
    assert np.allclose(fit.covariance, expected, rtol=1e-5)
    assert fit.wrss == pytest.approx(r @ r, rel=1e-9)


def test_flags_negative_rate_slow_clearance_and_nonconvergence(monkeypatch):
    t = np.array([4, 24, 48, 96.0])
    rising = TimeActivityCurve(t, [10.0, 12.0, 14.0, 18.0], nuclide="Lu-177")
    free = fit_model(rising, "mono_exp", constrain_rates=False)
    assert "negative_rate" in free.flags and "infinite_tia" in free.flags and free.params[1] < 0
    bounded = fit_model(rising, "mono_exp")
    assert "rate_at_zero_bound" in bounded.flags and "slower_than_physical_decay" in bounded.flags
    assert math.isinf(free.tia_mbq_h()) and math.isnan(free.tia().sigma_mbq_h)
    slow = TimeActivityCurve(t, 50 * np.exp(-0.5 * LP * t), nuclide="Lu-177")
    fit = fit_model(slow, "mono_exp")
    assert "slower_than_physical_decay" in fit.flags
    assert fit.effective_half_life_h == pytest.approx(2 * nuclides.half_life_h("Lu-177"), rel=1e-6)
    real = fitting.least_squares
    monkeypatch.setattr(fitting, "least_squares", lambda *a, **k: real(*a, **{**k, "max_nfev": 1}))
    stalled = fit_model(TimeActivityCurve(T9, 100 * np.exp(-0.05 * T9) + 5), "bi_exp")
    assert not stalled.converged and "not_converged" in stalled.flags


def test_fit_errors():
    tac = TimeActivityCurve([4, 24], [10.0, 5.0])
    with pytest.raises(FitError, match="K=3 parameters but TAC '' has only N=2"):
        fit_model(tac, "bi_exp_uptake")
    with pytest.raises(FitError, match="needs the physical decay constant"):
        fit_model(tac, "physical_decay")
    with pytest.raises(FitError, match="unknown TAC model 'gamma_variate'"):
        fit_model(tac, "gamma_variate")
    with pytest.raises(FitError, match="needs a TimeActivityCurve"):
        fit_model([1, 2], "mono_exp")
    exact = fit_model(tac, "mono_exp")
    assert "covariance_undefined" in exact.flags and exact.aicc is None
    assert exact.params[1] == pytest.approx(math.log(2) / 20, rel=1e-8)


# ------------------------------------------------------------------------------------ AICc
def test_aicc_formula_and_domain():
    assert aicc(2.0, 6, 2) == pytest.approx(6 * math.log(2 / 6) + 4 + 12 / 3)
    with pytest.raises(FitError, match="N > K \\+ 1"):
        aicc(1.0, 4, 3)
    with pytest.raises(FitError, match="positive finite"):
        aicc(0.0, 6, 2)


def test_choose_prefers_simpler_within_two():
    k = {"mono_exp": 2, "bi_exp_uptake": 3, "bi_exp": 4}
    assert choose_by_aicc({"mono_exp": 10.0, "bi_exp_uptake": 8.5}, k) == "mono_exp"
    assert choose_by_aicc({"mono_exp": 10.0, "bi_exp_uptake": 8.0}, k) == "mono_exp"
    assert choose_by_aicc({"mono_exp": 10.0, "bi_exp_uptake": 7.9}, k) == "bi_exp_uptake"
    assert choose_by_aicc({"mono_exp": 10.0, "bi_exp_uptake": 7.0, "bi_exp": 5.5}, k) == "bi_exp_uptake"
    with pytest.raises(FitError):
        choose_by_aicc({}, k)


ELIGIBLE = {
    3: {"physical_decay"},
    4: {"physical_decay", "mono_exp", "uptake_physical_decay"},
    5: {"physical_decay", "mono_exp", "uptake_physical_decay", "bi_exp_uptake"},
    6: {"physical_decay", "mono_exp", "uptake_physical_decay", "bi_exp_uptake", "bi_exp"},
    7: {m.name for m in fitting.MODELS},
}


@pytest.mark.parametrize("n", [3, 4, 5, 6, 7])
def test_model_set_follows_n_greater_than_k_plus_one(n):
    t = np.array([1, 4, 24, 48, 96, 168, 240.0])[:n]
    a = fitting.get_model("bi_exp_uptake").evaluate(t, [100, 0.01, 0.6])
    a = a * (1 + 0.02 * np.random.default_rng(n).standard_normal(n))
    sel = select_model(TimeActivityCurve(t, a, sigma_mbq=0.02 * a, nuclide="Lu-177"))
    competed = set(sel.aicc) | {m for m, r in sel.excluded.items() if "AICc" not in r}
    assert competed == ELIGIBLE[n]
    for name, reason in sel.excluded.items():
        if name not in ELIGIBLE[n]:
            k = fitting.get_model(name).n_params
            assert reason == f"AICc needs N > K + 1: N={n} time points, K={k} parameters"
    assert sel.best.model.name in sel.aicc
    assert sum(sel.akaike_weights.values()) == pytest.approx(1.0)


def test_without_nuclide_three_points_nothing_is_eligible():
    tac = TimeActivityCurve([4, 24, 96], [30.0, 20.0, 8.0])
    with pytest.raises(FitError, match="no model could be selected.*physical_decay: needs the nuclide"):
        select_model(tac)


def test_selection_finds_uptake_and_keeps_simple_mono():
    t = np.array([0.5, 2, 6, 24, 48, 96, 168.0])
    up = fitting.get_model("bi_exp_uptake").evaluate(t, [100, 0.02, 0.4])
    sel = select_model(TimeActivityCurve(t, up, sigma_mbq=0.01 * up + 0.1, nuclide="Lu-177"))
    assert sel.best.model.name == "bi_exp_uptake"
    mono = 100 * np.exp(-0.02 * t) * (1 + 0.03 * np.random.default_rng(5).standard_normal(t.size))
    sel = select_model(TimeActivityCurve(t, mono, sigma_mbq=3.0, nuclide="Lu-177"),
                       ["mono_exp", "bi_exp_uptake", "bi_exp"])
    assert sel.best.model.name == "mono_exp"
    # the rule: every competing model within 2 of the minimum has at least as many parameters
    best = min(sel.aicc.values())
    assert sel.aicc["mono_exp"] - best <= 2.0


# ------------------------------------------------------------------------------- trapezoid
def test_trapezoid_hand_values_and_sigma():
    tac = TimeActivityCurve([1, 2, 4], [10.0, 8.0, 4.0], sigma_mbq=[1.0, 1.0, 2.0], nuclide="Lu-177")
    ramp = trapezoid_tia(tac)
    assert ramp.tia_mbq_h == pytest.approx(5 + 9 + 12 + 4 / LP, rel=1e-12)
    const = trapezoid_tia(tac, head="constant")
    assert const.tia_mbq_h == pytest.approx(10 + 9 + 12 + 4 / LP, rel=1e-12)
    # TIA = Σ w_i A_i with w = (t1/2 + (t2-t1)/2, (t2-t1)/2 + (t3-t2)/2, (t3-t2)/2 + 1/λ)
    w = np.array([0.5 + 0.5, 0.5 + 1.0, 1.0 + 1 / LP])
    assert ramp.sigma_fit_mbq_h == pytest.approx(math.sqrt(np.sum((w * [1, 1, 2]) ** 2)), rel=1e-6)
    res = trapezoid_tia(tac, calibration_rel_sigma=0.1)
    assert res.sigma_calibration_mbq_h == pytest.approx(0.1 * res.tia_mbq_h)


def test_trapezoid_fitted_tail_is_exact_on_exponential_data():
    lam = 0.03
    t = np.array([2, 24, 48, 96.0])
    a = 70 * np.exp(-lam * t)
    res = trapezoid_tia(TimeActivityCurve(t, a, nuclide="Lu-177"), tail="fit", tail_points=3)
    body = 70 * t[0] * math.exp(-lam * t[0]) / 2 + np.sum((a[1:] + a[:-1]) * np.diff(t) / 2)
    assert res.tia_mbq_h == pytest.approx(body + a[-1] / lam, rel=1e-10)
    assert "no_activity_uncertainty" in res.flags and res.sigma_fit_mbq_h == 0
    slow = TimeActivityCurve(t, 70 * np.exp(-0.1 * LP * t), nuclide="Lu-177")
    res = trapezoid_tia(slow, tail="fit", tail_points=2)
    assert "tail_rate_below_physical_used_physical" in res.flags
    assert res.tia_mbq_h == pytest.approx(trapezoid_tia(slow).tia_mbq_h, rel=1e-12)


def test_trapezoid_errors():
    no_nuc = TimeActivityCurve([1, 2, 4], [10.0, 8.0, 9.0])
    with pytest.raises(FitError, match="physical-decay tail needs the nuclide"):
        trapezoid_tia(no_nuc)
    with pytest.raises(FitError, match="does not decrease"):
        trapezoid_tia(no_nuc, tail="fit", tail_points=2)
    with pytest.raises(FitError, match="head must be"):
        trapezoid_tia(no_nuc, head="zero")
    with pytest.raises(FitError, match="tail must be"):
        trapezoid_tia(no_nuc, tail="linear")
    with pytest.raises(FitError, match="tail_points must be 2 or 3"):
        trapezoid_tia(no_nuc, tail="fit", tail_points=4)
    with pytest.raises(FitError, match="needs at least 3 time points"):
        trapezoid_tia(TimeActivityCurve([1, 2], [3.0, 2.0]), tail="fit")
