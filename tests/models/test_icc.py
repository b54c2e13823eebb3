"""ICC against Shrout & Fleiss (1979) Table 2 and pingouin."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from theranomics.models.icc import icc, icc_table, koo_li_rating

# Shrout & Fleiss (1979), Table 2: 6 targets x 4 judges; published ICC(1,1)=.17, ICC(2,1)=.29, ICC(3,1)=.71
SF = np.array([[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]], float)


@pytest.mark.parametrize("kind, published", [("ICC(1,1)", 0.17), ("ICC(2,1)", 0.29), ("ICC(3,1)", 0.71)])
def test_shrout_fleiss_published_values(kind, published):
    assert round(icc(SF, kind).value, 2) == published


@pytest.mark.parametrize("kind, pg_type", [("ICC(1,1)", "ICC(1,1)"), ("ICC(2,1)", "ICC(A,1)"), ("ICC(3,1)", "ICC(C,1)")])
def test_against_pingouin(kind, pg_type):
    pg = pytest.importorskip("pingouin")
    rng = np.random.default_rng(0)
    Y = rng.normal(0, 1, (25, 1)) + rng.normal(0, 0.5, (1, 3)) + rng.normal(0, 0.6, (25, 3))
    long = pd.DataFrame([(i, j, Y[i, j]) for i in range(25) for j in range(3)], columns=["s", "r", "v"])
    ref = pg.intraclass_corr(long, "s", "r", "v").set_index("Type").loc[pg_type]
    got = icc(Y, kind)
    assert got.value == pytest.approx(ref.ICC, abs=1e-10)
    assert [got.ci_low, got.ci_high] == pytest.approx(list(ref.CI95), abs=0.006)  # pingouin rounds to 2 decimals


def test_icc_table_and_rating():
    rng = np.random.default_rng(1)
    truth = rng.normal(0, 1, 30)
    rows = [(s, r, truth[s] + rng.normal(0, 0.1), rng.normal()) for s in range(30) for r in range(4)]
    long = pd.DataFrame(rows, columns=["lesion", "rater", "robust_f", "noise_f"])
    tab = icc_table(long).set_index("feature")
    assert tab.loc["robust_f", "robust"] and tab.loc["robust_f", "rating"] == "excellent"
    assert not tab.loc["noise_f", "robust"] and tab.loc["noise_f", "rating"] == "poor"
    assert [koo_li_rating(v) for v in (0.4, 0.6, 0.8, 0.95)] == ["poor", "moderate", "good", "excellent"]


def test_icc_errors():
    with pytest.raises(ValueError, match="kind"):
        icc(SF, "ICC(9,9)")
    with pytest.raises(ValueError, match=">= 2 complete subjects"):
        icc(SF[:1])
    with pytest.raises(ValueError, match="more than once"):
        icc_table(pd.DataFrame({"lesion": [1, 1], "rater": [0, 0], "f": [1.0, 2.0]}))
    assert np.isnan(icc(np.ones((5, 3))).value)
