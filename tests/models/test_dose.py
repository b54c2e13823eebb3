"""Dose prediction beats the population-mean baseline (MAPE) on simulated patients and lesions."""
from __future__ import annotations

import numpy as np
import pytest

from theranomics.models.dose import compare_dose_models
from theranomics.simulate.cohort import simulate_feature_cohort


@pytest.fixture(scope="module")
def cohort():
    return simulate_feature_cohort(200, 5, 1, seed=8, n_monte_carlo=10_000)


def test_kidney_dose_model_beats_population_mean(cohort):
    res = compare_dose_models(cohort.patients, "kidney_dose_gy_per_gbq",
                              ["kidney_suv_mean", "egfr_ml_min", "age_y", "psa_ng_ml"], n_boot=300)
    row = res.summary.set_index("metric").loc["mape_pct"]
    assert row.diff_ci_high < 0 and row.model < 0.75 * row.baseline
    # the baseline is the training mean: its out-of-fold predictions are (nearly) constant
    assert np.ptp(res.baseline.oof_matrix()) < 0.1 * cohort.patients.kidney_dose_gy_per_gbq.mean()


def test_lesion_dose_model_beats_population_mean_with_patient_grouping(cohort):
    les = cohort.lesions.merge(cohort.patients[["patient_id", "egfr_ml_min"]], on="patient_id")
    res = compare_dose_models(les, "dose_gy_per_gbq", ["suv_mean", "suv_max", "volume_ml", "egfr_ml_min"],
                              model="ridge", n_boot=200)
    row = res.summary.set_index("metric").loc["mape_pct"]
    assert row.diff_ci_high < 0
    folds = res.model.predictions.groupby("group").fold.nunique()
    assert (folds == 1).all()  # all lesions of a patient are tested in the same fold


def test_dose_target_must_be_positive(cohort):
    bad = cohort.patients.assign(kidney_dose_gy_per_gbq=0.0)
    with pytest.raises(ValueError, match="positive dose"):
        compare_dose_models(bad, "kidney_dose_gy_per_gbq", ["kidney_suv_mean"])
