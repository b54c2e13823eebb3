"""Survival: Cox SEs vs statsmodels, planted log-HR recovery, KM/log-rank, cut-offs, nomogram."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from theranomics.models.metrics import surv_array
from theranomics.models.survival import CoxNet, CoxRegression, Cutoff, Nomogram, _logrank_z, kaplan_meier, logrank
from theranomics.models.validation import nested_cv
from theranomics.simulate.cohort import simulate_feature_cohort


def _planted_design(c):
    p = c.patients
    tot = c.lesions.groupby("patient_id").volume_ml.sum().reindex(p.patient_id).to_numpy()
    return pd.DataFrame({"log_total_volume_ml": np.log(tot), "log_ldh_u_l": np.log(p.ldh_u_l),
                         "age_y": p.age_y, "prior_treatments": p.prior_treatments})


def test_cox_standard_errors_match_statsmodels():
    sm = pytest.importorskip("statsmodels.duration.hazard_regression")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    t = np.round(rng.exponential(1 / np.exp(X @ [0.5, -0.3, 0.0])), 1) + 0.1  # rounded: tied times
    cens = rng.uniform(0, 3, 200)
    ev, tt = (t <= cens).astype(int), np.minimum(t, cens)
    ours = CoxRegression().fit(X, surv_array(ev, tt))
    ref = sm.PHReg(tt, X, status=ev, ties="breslow").fit()
    assert ours.coef_ == pytest.approx(ref.params, abs=1e-5)
    assert ours.se_ == pytest.approx(ref.bse, rel=1e-4)


def test_planted_log_hazard_ratios_recovered_and_penalised_shrunk():
    c = simulate_feature_cohort(600, 5, 1, seed=3, n_monte_carlo=20_000)
    X = _planted_design(c)
    y = surv_array(c.patients.os_event, c.patients.os_time_months)
    s = CoxRegression().fit(X, y).summary().set_index("feature")
    for name, true in c.truth.survival_log_hr.items():
        assert s.loc[name, "coef_low"] <= true <= s.loc[name, "coef_high"], name
    for name in ("age_y", "prior_treatments"):  # covariates with no effect
        assert s.loc[name, "coef_low"] <= 0 <= s.loc[name, "coef_high"], name
    Z = (X - X.mean()) / X.std()
    unpen = CoxRegression().fit(Z, y).coef_
    lasso = CoxNet(alpha=0.05, l1_ratio=1.0).fit(Z, y).coef_
    assert np.all(np.abs(lasso) <= np.abs(unpen) + 1e-9) and np.abs(lasso).sum() < 0.9 * np.abs(unpen).sum()


def test_nested_cv_c_index_and_km_separation_on_planted_cohort():
    c = simulate_feature_cohort(400, 5, 1, seed=4, n_monte_carlo=50_000)
    X = _planted_design(c)
    y = surv_array(c.patients.os_event, c.patients.os_time_months)
    res = nested_cv(CoxRegression(), X, y, c.patients.patient_id, task="survival", n_boot=200)
    est, lo, hi = res.metric("c_index")
    assert lo <= c.truth.bayes_c_index <= hi
    risk = res.oof_matrix()[:, 0]
    high = risk >= np.median(risk)
    chi2, p = logrank(y["event"], y["time"], high)
    assert p < 1e-4
    km_hi, km_lo = kaplan_meier(y["event"][high], y["time"][high]), kaplan_meier(y["event"][~high], y["time"][~high])
    s_at = lambda km, t: km.survival[km.time <= t].iloc[-1]  # noqa: E731
    assert s_at(km_hi, 24) < s_at(km_lo, 24) - 0.1


def test_kaplan_meier_and_logrank_by_hand():
    # times 1,2,3,4 (event at 1, 3; censored at 2, 4): S = 3/4 after t=1, 3/4 * 1/2 after t=3
    km = kaplan_meier([1, 0, 1, 0], [1.0, 2.0, 3.0, 4.0])
    assert list(km.survival) == pytest.approx([0.75, 0.75, 0.375, 0.375])
    rng = np.random.default_rng(1)
    t, e, g = rng.exponential(1, 80), rng.random(80) < 0.8, rng.random(80) < 0.5
    assert _logrank_z(t, e, g) ** 2 == pytest.approx(logrank(e, t, g)[0], rel=1e-9)
    with pytest.raises(ValueError, match="two groups"):
        logrank(e, t, np.zeros(80))


def test_youden_cutoff_is_the_binormal_midpoint():
    rng = np.random.default_rng(2)
    x = np.r_[rng.normal(0, 1, 3000), rng.normal(2, 1, 3000)]
    y = np.r_[np.zeros(3000), np.ones(3000)]
    cut = Cutoff("youden").fit(x[:, None], y)
    assert cut.cutoff_ == pytest.approx(1.0, abs=0.15) and cut.higher_is_positive_
    assert np.array_equal(cut.transform(np.array([[0.0], [5.0]])).ravel(), [0, 1])


def test_maxstat_cutoff_recovers_planted_step():
    rng = np.random.default_rng(5)
    x = rng.uniform(0, 1, 800)
    t = rng.exponential(1 / np.exp(1.2 * (x > 0.6)))
    c = Cutoff("maxstat").fit(x[:, None], surv_array(np.ones(800), t))
    assert c.cutoff_ == pytest.approx(0.6, abs=0.06) and c.higher_is_positive_
    with pytest.raises(ValueError, match="one feature"):
        Cutoff().fit(np.c_[x, x], x > 0.5)


def test_nomogram_points_by_hand_and_linear_predictor():
    nomo = Nomogram([1.0, -2.0], ["a", "b"], x_min=[0.0, 0.0], x_max=[10.0, 2.0], intercept=0.5)
    # widest effect: |1| * 10 = 10 -> 100 points; b: 0 points at x=2 (its max, negative coef)
    pts = nomo.points(np.array([[5.0, 1.0], [10.0, 0.0]]))
    assert list(pts.a) == [50.0, 100.0] and list(pts.b) == [20.0, 40.0]
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(200, 3)), columns=["u", "v", "w"])
    y = (X.u - X.v + rng.normal(size=200) > 0).astype(int)
    m = LogisticRegression().fit(X, y)
    nomo = Nomogram.from_model(m, X)
    assert nomo.linear_predictor(nomo.points(X).total_points) == pytest.approx(m.decision_function(X))
    assert nomo.points(X).drop(columns="total_points").to_numpy().min() >= -1e-9
