"""Nested CV on virtual cohorts: planted signal recovered, no-signal CI covers 0.5, a leaky pipeline
(selection outside the folds) inflates the AUC, external validation on a held-out centre."""
from __future__ import annotations

import pytest
from sklearn.feature_selection import SelectKBest, f_classif

from theranomics.models.combat import ComBat
from theranomics.models.selection import L1Selector
from theranomics.models.tables import split_xy
from theranomics.models.validation import external_validation, nested_cv
from theranomics.models.zoo import build_pipeline, make_model
from theranomics.simulate.cohort import simulate_feature_cohort


@pytest.mark.slow
def test_planted_signal_recovered_and_bayes_auc_covered_in_most_seeds():
    covered, recovered = 0, 0
    seeds = range(5)
    for seed in seeds:
        c = simulate_feature_cohort(400, 15, 3, effect_size=1.0, seed=seed, n_monte_carlo=100_000)
        X, y, g = split_xy(c.patients, "response", list(c.feature_names) + ["centre"])
        pipe = build_pipeline(make_model("logistic"), harmonise=ComBat(), selection=[L1Selector()])
        res = nested_cv(pipe, X, y, g, param_grid={"select0__C": [0.02, 0.1]}, n_boot=200, random_state=seed)
        est, lo, hi = res.metric("auc")
        covered += lo <= c.truth.bayes_auc <= hi
        freq = res.selection_frequency.reindex(c.feature_names, fill_value=0.0)
        informative = list(c.truth.informative_features)
        noise = freq.drop(informative)
        recovered += bool((freq[informative] == 1.0).all() and noise.mean() < 0.5)
    assert covered >= 4 and recovered >= 4


def test_no_signal_ci_covers_one_half_and_leaky_selection_inflates_it():
    c = simulate_feature_cohort(120, 400, 0, effect_size=0.0, n_centres=1, seed=7, n_monte_carlo=20_000)
    X, y, g = split_xy(c.patients, "response", list(c.feature_names))
    assert c.truth.bayes_auc == pytest.approx(0.5, abs=0.01)
    honest = nested_cv(build_pipeline(make_model("logistic", C=1.0), selection=[SelectKBest(f_classif, k=10)]),
                       X, y, g, n_boot=300)
    est, lo, hi = honest.metric("auc")
    assert lo <= 0.5 <= hi
    # leakage: the 10 "best" features chosen on all patients, then cross-validated
    leaked = X.iloc[:, SelectKBest(f_classif, k=10).fit(X, y).get_support(indices=True)]
    leaky = nested_cv(build_pipeline(make_model("logistic", C=1.0)), leaked, y, g, n_boot=300)
    l_est, l_lo, _ = leaky.metric("auc")
    assert l_lo > 0.5 and l_est > est + 0.15


def test_external_validation_on_held_out_centre():
    c = simulate_feature_cohort(400, 10, 3, effect_size=1.0, n_centres=4, seed=2, n_monte_carlo=50_000)
    X, y, g = split_xy(c.patients, "response", list(c.feature_names) + ["centre"])
    dev, ext = (X.centre != "C3").to_numpy(), (X.centre == "C3").to_numpy()
    pipe = build_pipeline(make_model("logistic"), harmonise=ComBat())
    _, pred, table = external_validation(pipe, X[dev], y[dev], g[dev], X[ext], y[ext], g[ext], n_boot=300)
    est, lo, hi = table.set_index("metric").loc["auc", ["estimate", "ci_low", "ci_high"]]
    assert lo <= c.truth.bayes_auc <= hi and len(pred) == ext.sum()
    # without harmonisation the unseen scanner's offsets ruin calibration: the Brier score is worse
    _, _, raw = external_validation(build_pipeline(make_model("logistic")), X[dev].drop(columns="centre"), y[dev],
                                    g[dev], X[ext].drop(columns="centre"), y[ext], g[ext], n_boot=50)
    assert table.set_index("metric").loc["brier", "estimate"] < raw.set_index("metric").loc["brier", "estimate"]


def test_nested_cv_bookkeeping_and_errors():
    c = simulate_feature_cohort(60, 5, 1, seed=1, n_monte_carlo=10_000)
    X, y, g = split_xy(c.patients, "response", list(c.feature_names))
    res = nested_cv(build_pipeline(make_model("logistic")), X, y, g, n_repeats=2, n_outer=3, n_boot=50,
                    param_grid={"model__C": [0.1, 1.0]})
    assert res.oof_matrix().shape == (60, 2) and len(res.folds) == 6
    assert set(res.metrics.metric) == {"auc", "sensitivity", "specificity", "balanced_accuracy", "brier"}
    assert all(set(bp) == {"model__C"} for bp in res.folds.best_params)
    with pytest.raises(ValueError, match="groups"):
        nested_cv(make_model("logistic"), X, y, None)
    with pytest.raises(ValueError, match="task"):
        nested_cv(make_model("logistic"), X, y, g, task="ranking")
