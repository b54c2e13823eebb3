"""Metrics against independent references: Mann–Whitney U, hand-computed net benefit and MAPE,
brute-force concordance, analytic calibration slope and bootstrap-vs-normal-theory CIs."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import roc_auc_score

from theranomics.models import metrics as M


def test_auc_equals_mann_whitney_and_sklearn():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    s = np.round(rng.normal(y * 0.8, 1.0), 1)  # rounded: ties
    u = stats.mannwhitneyu(s[y == 1], s[y == 0]).statistic
    assert M.auc(y, s) == pytest.approx(u / (y.sum() * (1 - y).sum()), abs=1e-12)
    assert M.auc(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)


def test_classification_metrics_by_hand():
    y = np.array([1, 1, 1, 0, 0, 0, 0, 1])
    p = np.array([0.9, 0.6, 0.4, 0.3, 0.7, 0.1, 0.2, 0.8])
    m = M.classification_metrics(y, p)
    assert m["sensitivity"] == 0.75 and m["specificity"] == 0.75 and m["balanced_accuracy"] == 0.75
    assert m["brier"] == pytest.approx(np.mean([0.01, 0.16, 0.36, 0.09, 0.49, 0.01, 0.04, 0.04]))
    assert m["auc"] == pytest.approx(14 / 16)  # 14 of the 16 positive-negative pairs ranked correctly


def test_calibration_slope_analytic():
    rng = np.random.default_rng(1)
    lp = rng.normal(0, 1.5, 100_000)
    y = (rng.random(lp.size) < 1 / (1 + np.exp(-lp))).astype(int)
    a, b = M.calibration_intercept_slope(y, 1 / (1 + np.exp(-lp)))
    assert a == pytest.approx(0, abs=0.03) and b == pytest.approx(1, abs=0.03)
    _, b2 = M.calibration_intercept_slope(y, 1 / (1 + np.exp(-2 * lp)))  # over-confident by 2x
    assert b2 == pytest.approx(0.5, abs=0.02)


def test_decision_curve_by_hand():
    y = np.array([1, 1, 0, 0, 0])
    p = np.array([0.8, 0.3, 0.6, 0.1, 0.2])
    dc = M.decision_curve(y, p, thresholds=[0.25, 0.5]).set_index("threshold")
    # pt=0.25: treat 0.8, 0.3, 0.6 -> TP 2, FP 1: 2/5 - 1/5 * (1/3)
    assert dc.loc[0.25, "net_benefit_model"] == pytest.approx(0.4 - 0.2 / 3)
    assert dc.loc[0.5, "net_benefit_model"] == pytest.approx(0.2 - 0.2)
    assert dc.loc[0.25, "net_benefit_treat_all"] == pytest.approx(0.4 - 0.6 / 3)
    with pytest.raises(ValueError, match=r"\(0, 1\)"):
        M.decision_curve(y, p, thresholds=[0.0])


def _harrell_brute(event, time, risk):
    conc = perm = 0.0
    for i in range(len(time)):
        for j in range(len(time)):
            if event[i] and time[i] < time[j]:
                perm += 1
                conc += 1.0 if risk[i] > risk[j] else 0.5 if risk[i] == risk[j] else 0.0
    return conc / perm


def test_c_index_equals_brute_force_pairs():
    rng = np.random.default_rng(2)
    t = rng.exponential(1, 60)
    e = rng.random(60) < 0.7
    r = np.round(rng.normal(size=60) - np.log(t), 1)
    assert M.c_index(e, t, r) == pytest.approx(_harrell_brute(e, t, r), abs=1e-12)


def test_time_dependent_auc_without_censoring_is_plain_auc():
    rng = np.random.default_rng(3)
    r = rng.normal(size=300)
    t = rng.exponential(np.exp(-r))
    e = np.ones(300, bool)
    tab = M.time_dependent_auc(e, t, e, t, r, [0.5])
    assert tab.auc.iloc[0] == pytest.approx(M.auc((t <= 0.5).astype(int), r), abs=1e-9)


def test_regression_metrics_by_hand():
    m = M.regression_metrics([1.0, 2.0, 4.0], [1.5, 2.0, 3.0])
    assert m["mae"] == pytest.approx(0.5) and m["mape_pct"] == pytest.approx(100 * (0.5 + 0 + 0.25) / 3)
    assert m["r2"] == pytest.approx(1 - 1.25 / (14 / 3))
    with pytest.raises(ValueError, match="undefined"):
        M.mape([0.0, 1.0], [1.0, 1.0])


def test_bootstrap_ci_matches_normal_theory_for_a_mean():
    x = np.random.default_rng(4).normal(10, 2, 400)
    est, lo, hi = M.bootstrap_ci(np.mean, x, n_boot=2000, random_state=0)
    half = 1.96 * x.std(ddof=1) / np.sqrt(len(x))
    assert est == pytest.approx(x.mean()) and lo == pytest.approx(x.mean() - half, abs=0.04)
    assert hi == pytest.approx(x.mean() + half, abs=0.04)


def test_grouped_bootstrap_is_wider_for_clustered_data():
    rng = np.random.default_rng(5)
    groups = np.repeat(np.arange(40), 10)
    x = rng.normal(0, 1, 40)[groups] + rng.normal(0, 0.1, 400)  # strongly clustered
    _, lo_g, hi_g = M.bootstrap_ci(np.mean, x, groups=groups, n_boot=500)
    _, lo_i, hi_i = M.bootstrap_ci(np.mean, x, n_boot=500)
    assert (hi_g - lo_g) > 2 * (hi_i - lo_i)


def test_metric_input_errors():
    with pytest.raises(ValueError, match="single class"):
        M.classification_metrics([1, 1], [0.2, 0.3])
    with pytest.raises(ValueError, match="0/1"):
        M.surv_array([2, 0], [1.0, 2.0])
    with pytest.raises(ValueError, match=">= 0"):
        M.surv_array([1, 0], [-1.0, 2.0])
