"""The feature-level cohort generator (theranomics.simulate.cohort) against analytic references."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, stats

from theranomics.simulate.cohort import concordance_probability, expected_auc, simulate_feature_cohort


def test_expected_auc_matches_binormal_formula():
    # lp | Y=1 ~ N(d, 1), lp | Y=0 ~ N(0, 1), prevalence 1/2  <=>  P(Y=1 | lp) = sigmoid(d lp - d²/2);
    # the Bayes AUC is Phi(d / sqrt 2) (binormal ROC).
    rng = np.random.default_rng(3)
    d = 1.2
    lab = rng.random(400_000) < 0.5
    lp = rng.standard_normal(lab.size) + d * lab
    p = 1 / (1 + np.exp(-(d * lp - d**2 / 2)))
    assert expected_auc(lp, p) == pytest.approx(stats.norm.cdf(d / np.sqrt(2)), abs=0.003)


def test_expected_auc_ties_count_one_half():
    assert expected_auc(np.zeros(10), np.full(10, 0.3)) == pytest.approx(0.5)


def test_concordance_probability_matches_integral():
    # lp ~ N(0, s²): C = E[sigmoid(|lp_i - lp_j|)], lp_i - lp_j ~ N(0, 2 s²)
    s = 0.8
    ref = integrate.quad(lambda u: 2 * stats.norm.pdf(u, scale=s * np.sqrt(2)) / (1 + np.exp(-u)), 0, np.inf)[0]
    rng = np.random.default_rng(0)
    assert concordance_probability(rng.normal(0, s, 200_000), rng) == pytest.approx(ref, abs=0.003)


def test_cohort_tables_truth_and_reproducibility():
    a = simulate_feature_cohort(120, 30, 4, seed=5, n_monte_carlo=50_000)
    b = simulate_feature_cohort(120, 30, 4, seed=5, n_monte_carlo=50_000)
    assert a.patients.equals(b.patients) and a.lesions.equals(b.lesions)
    assert len(a.patients) == 120 and a.patients.patient_id.is_unique
    assert set(a.truth.informative_features) <= set(a.feature_names) and len(a.truth.informative_features) == 4
    assert set(a.lesions.patient_id) == set(a.patients.patient_id)
    # 1 + Poisson(3) lesions per patient: mean 4
    assert a.lesions.groupby("patient_id").size().mean() == pytest.approx(4.0, abs=0.5)
    assert 0.75 < a.truth.bayes_auc < 0.9 and 0.6 < a.truth.bayes_c_index < 0.8
    # centre effect planted on the features: the centre explains a large share of some feature's variance
    f = a.feature_names[int(np.argmax(np.abs(a.truth.centre_shift).max(axis=0)))]
    groups = [g[f].to_numpy() for _, g in a.patients.groupby("centre")]
    assert stats.f_oneway(*groups).pvalue < 1e-3


def test_no_signal_cohort_has_bayes_auc_one_half():
    c = simulate_feature_cohort(50, 10, 0, effect_size=0.0, seed=1, n_monte_carlo=50_000)
    assert c.truth.bayes_auc == pytest.approx(0.5, abs=0.01)


@pytest.mark.parametrize("kwargs, msg", [({"n_patients": 0}, "n_patients"), ({"n_informative": 20}, "n_informative"),
                                         ({"censor_min_months": 0}, "censor")])
def test_generator_rejects_bad_input(kwargs, msg):
    args = {"n_patients": 10, "n_features": 10, "n_informative": 2, **kwargs}
    with pytest.raises(ValueError, match=msg):
        simulate_feature_cohort(**args)
