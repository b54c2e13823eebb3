"""Cohort table validation, joins and lesion -> patient aggregation (hand-computed references)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from theranomics.models.aggregate import aggregate_lesions
from theranomics.models.tables import SchemaError, join_cohort, split_xy, validate_table


@pytest.fixture
def lesions():
    return pd.DataFrame({"patient_id": ["A", "A", "A", "B"], "lesion_id": [1, 2, 3, 1],
                         "volume_ml": [1.0, 3.0, 6.0, 2.0], "suv_mean": [10.0, 4.0, 6.0, 5.0],
                         "suv_max": [20.0, 9.0, 12.0, 7.0]})


def test_aggregation_rules_by_hand(lesions):
    agg = aggregate_lesions(lesions, ["suv_mean", "suv_max"],
                            rules=("max", "mean", "volume_weighted_mean", "lowest_uptake", "highest_uptake", "sum"))
    a = agg.set_index("patient_id").loc["A"]
    assert a.n_lesions == 3 and a.total_volume_ml == 10.0
    assert a.suv_mean__max == 10.0 and a.suv_mean__mean == pytest.approx(20 / 3)
    assert a.suv_mean__volume_weighted_mean == pytest.approx((1 * 10 + 3 * 4 + 6 * 6) / 10)  # 5.8
    assert a.suv_max__lowest_uptake == 9.0  # SUVmax of the lesion with the lowest SUVmean (lesion 2)
    assert a.suv_max__highest_uptake == 20.0 and a.suv_max__sum == 41.0
    b = agg.set_index("patient_id").loc["B"]
    assert b.n_lesions == 1 and b.suv_max__volume_weighted_mean == 7.0


def test_aggregation_ignores_missing_values(lesions):
    lesions.loc[0, "suv_max"] = np.nan
    a = aggregate_lesions(lesions, ["suv_max"], rules=("max", "volume_weighted_mean")).set_index("patient_id").loc["A"]
    assert a.suv_max__max == 12.0
    assert a.suv_max__volume_weighted_mean == pytest.approx((3 * 9 + 6 * 12) / 9)


def test_aggregation_errors(lesions):
    with pytest.raises(ValueError, match="unknown aggregation rule"):
        aggregate_lesions(lesions, rules=("mode",))
    with pytest.raises(SchemaError, match="volume_ml"):
        aggregate_lesions(lesions.drop(columns="volume_ml"))
    lesions.loc[1, "suv_mean"] = np.nan
    with pytest.raises(SchemaError, match="suv_mean"):
        aggregate_lesions(lesions, ["suv_max"], rules=("lowest_uptake",))


def test_join_patient_level(lesions):
    clin = pd.DataFrame({"patient_id": ["A", "B", "C"], "centre": ["X", "Y", "Y"], "psa_ng_ml": [10.0, 3.0, 1.0]})
    out = pd.DataFrame({"patient_id": ["A", "B"], "response": [1, 0]})
    cohort = join_cohort({"lesions": aggregate_lesions(lesions, ["suv_mean"]), "clinical": clin}, out)
    assert list(cohort.patient_id) == ["A", "B"]  # C has no outcome: dropped
    assert cohort.attrs["sources"]["psa_ng_ml"] == "clinical"
    X, y, groups = split_xy(cohort, "response")
    assert "centre" not in X.columns and "response" not in X.columns and "suv_mean__max" in X.columns
    assert list(y) == [1, 0] and list(groups) == ["A", "B"]


def test_join_lesion_level_broadcasts_patient_features(lesions):
    clin = pd.DataFrame({"patient_id": ["A", "B"], "egfr_ml_min": [80.0, 60.0]})
    out = lesions[["patient_id", "lesion_id"]].assign(dose_gy_per_gbq=[1.0, 2.0, 3.0, 4.0])
    cohort = join_cohort({"lesions": lesions, "clinical": clin}, out, level="lesion")
    assert len(cohort) == 4 and list(cohort.egfr_ml_min) == [80.0, 80.0, 80.0, 60.0]


def test_join_errors(lesions):
    out = pd.DataFrame({"patient_id": ["A", "B"], "response": [1, 0]})
    with pytest.raises(SchemaError, match="aggregate it"):
        join_cohort({"lesions": lesions}, out)
    a = pd.DataFrame({"patient_id": ["A", "B"], "x": [1.0, 2.0]})
    with pytest.raises(SchemaError, match="'x' is in both"):
        join_cohort({"t1": a, "t2": a.copy()}, out)
    with pytest.raises(SchemaError, match="no rows left"):
        join_cohort({"t1": a.assign(patient_id=["Q", "R"])}, out)


@pytest.mark.parametrize("mutate, msg", [
    (lambda d: d.drop(columns="patient_id"), "lacks key column"),
    (lambda d: d.assign(patient_id=["A", "A"]), "share the same keys"),
    (lambda d: d.assign(response=[1, 2]), "must be 0/1"),
    (lambda d: d.assign(os_time_months=[-1.0, 3.0]), "below 0"),
    (lambda d: d.assign(texture=["a", "b"]), "not numeric"),
    (lambda d: d.assign(age_y=[50.0, 200.0]), "above 130"),
])
def test_validate_table_errors(mutate, msg):
    df = pd.DataFrame({"patient_id": ["A", "B"], "response": [0, 1], "os_time_months": [1.0, 2.0], "age_y": [50.0, 60.0]})
    validate_table(df, "patient")
    with pytest.raises(SchemaError, match=msg):
        validate_table(mutate(df), "patient", "clinical.csv")


def test_validate_table_checks_declared_units():
    df = pd.DataFrame({"patient_id": ["A"], "dose_gy": [1.0]})
    df.attrs["units"] = {"dose_gy": "mGy"}
    with pytest.raises(SchemaError, match="declared in 'mGy'"):
        validate_table(df, "patient")
    df.attrs["units"] = {"dose_gy": "Gy"}
    assert validate_table(df, "patient") == ["patient_id"]
