"""Response criteria: each category's boundary from the published definitions."""
import numpy as np
import pandas as pd
import pytest

from theranomics.core import Geometry, LabelMap
from theranomics.quant.response import evaluate_response, match_lesions, percist, ppp, recip


def _table(ids, xyz, vol=None, suvmax=None, peak=None):
    n = len(ids)
    return pd.DataFrame({"lesion_id": ids, "centroid_x_mm": [p[0] for p in xyz], "centroid_y_mm": [p[1] for p in xyz],
                         "centroid_z_mm": [p[2] for p in xyz], "volume_ml": vol or [1.0] * n,
                         "suv_max": suvmax or [10.0] * n, "suv_peak": peak or [8.0] * n})


@pytest.mark.parametrize("b, f, new, expected", [
    (10.0, 6.9, 0, "PMR"),      # -31 %, -3.1 SUL
    (10.0, 7.1, 0, "SMD"),      # -29 %
    (2.0, 1.3, 0, "SMD"),       # -35 % but only -0.7 SUL
    (10.0, 13.1, 0, "PMD"),
    (10.0, 9.0, 1, "PMD"),      # new lesion
    (10.0, None, 0, "CMR"),
    (1.0, 0.5, 0, "NE"),        # baseline below threshold
])
def test_percist(b, f, new, expected):
    assert percist(b, f, new_lesions=new, baseline_threshold_sul=1.8).category == expected


@pytest.mark.parametrize("b, f, new, expected", [
    (100.0, 0.0, 0, "CR"), (100.0, 70.0, 0, "PR"), (100.0, 71.0, 0, "SD"), (100.0, 60.0, 1, "SD"),
    (100.0, 120.0, 1, "PD"), (100.0, 119.0, 1, "SD"), (100.0, 150.0, 0, "SD"),
])
def test_recip(b, f, new, expected):
    assert recip(b, f, new_lesions=new).category == expected


def test_ppp():
    assert ppp(new_lesions=2).category == "progression"
    assert ppp(new_lesions=1).category == "progression pending confirmation"
    assert ppp(new_lesions=0, max_relative_uptake_increase=0.31).category == "progression pending confirmation"
    assert ppp(new_lesions=0, max_relative_size_increase=0.2).category == "no progression"


def test_match_by_overlap_then_distance():
    geom = Geometry((10, 10, 10))
    b = np.zeros((10, 10, 10), np.int32); b[1:3, 1:3, 1:3] = 1; b[6:8, 6:8, 6:8] = 2
    f = np.zeros((10, 10, 10), np.int32); f[2:4, 1:3, 1:3] = 5
    base = _table([1, 2, 3], [(1.5, 1.5, 1.5), (6.5, 6.5, 6.5), (50, 50, 50)])
    fol = _table([5, 6, 7], [(1.5, 1.5, 2.5), (7, 7, 7), (200, 0, 0)])
    m = match_lesions(base, fol, baseline_labels=LabelMap(b, geom), followup_labels_on_baseline=LabelMap(f, geom))
    assert m.pairs == ((1, 5), (2, 6)) and m.new == (7,) and m.disappeared == (3,)


def test_evaluate_response_table():
    base = _table([1, 2], [(0, 0, 0), (100, 0, 0)], vol=[10.0, 10.0], peak=[10.0, 5.0])
    fol = _table([1, 2, 3], [(0, 0, 1), (100, 0, 1), (0, 100, 0)], vol=[12.0, 14.0, 2.0], peak=[12.0, 5.0, 3.0])
    m = match_lesions(base, fol)
    res = evaluate_response(base, fol, m, baseline_threshold_sul=2.0).set_index("criterion")
    assert res.loc["PERCIST 1.0", "category"] == "PMD"
    assert res.loc["RECIP 1.0", "category"] == "PD"  # +40 % with a new lesion
    assert res.loc["PPP", "category"] == "progression pending confirmation"


def test_fragments_of_a_known_lesion_are_not_new():
    geom = Geometry((10, 10, 10))
    b = np.zeros((10, 10, 10), np.int32); b[2:6, 2:6, 2:6] = 1
    f = np.zeros((10, 10, 10), np.int32); f[2, 2, 2] = 1; f[5, 5, 5] = 2
    base = _table([1], [(3.5, 3.5, 3.5)])
    fol = _table([1, 2, 3], [(2, 2, 2), (5, 5, 5), (9, 9, 60)])
    m = match_lesions(base, fol, baseline_labels=LabelMap(b, geom), followup_labels_on_baseline=LabelMap(f, geom))
    assert m.pairs == ((1, 1),) and m.attached == ((1, 2),) and m.new == (3,)
