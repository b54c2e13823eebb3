"""Selection transformers: the scikit-learn contract and their selection rules."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from theranomics.models.selection import CorrelationFilter, ICCFilter, L1Selector, MRMR, make_selector, SELECTORS


@parametrize_with_checks([CorrelationFilter(), MRMR(n_features=2), L1Selector(), ICCFilter(icc={"x1": 0.1})])
def test_sklearn_contract(estimator, check):
    check(estimator)


def _redundant(seed=0, n=300):
    rng = np.random.default_rng(seed)
    a, b, c = rng.normal(size=(3, n))
    X = pd.DataFrame({"a": a, "a_copy": a + 0.05 * rng.normal(size=n), "b": b, "c": c, "c_copy": 2 * c + 0.01})
    y = (a + b + rng.normal(0, 0.5, n) > 0).astype(int)
    return X, y


def test_correlation_filter_keeps_one_of_each_redundant_pair():
    X, _ = _redundant()
    kept = set(CorrelationFilter(0.9).fit(X).get_feature_names_out())
    assert len(kept & {"a", "a_copy"}) == 1 and len(kept & {"c", "c_copy"}) == 1 and "b" in kept
    assert len(CorrelationFilter(0.9, method="spearman").fit(X).get_feature_names_out()) == 3


def test_mrmr_picks_relevant_non_redundant_features():
    X, y = _redundant()
    sel = MRMR(n_features=2).fit(X, y)
    assert set(sel.get_feature_names_out()) in ({"a", "b"}, {"a_copy", "b"})


def test_l1_selector_and_icc_filter():
    X, y = _redundant()
    Z = (X - X.mean()) / X.std()
    kept = L1Selector(C=0.05).fit(Z, y).get_feature_names_out()
    assert "c" not in kept and "c_copy" not in kept and "b" in kept
    # everything shrunk to zero: keep the most correlated feature rather than nothing
    assert list(L1Selector(C=1e-6).fit(Z, y).get_feature_names_out()) in (["a"], ["a_copy"], ["b"])
    f = ICCFilter(icc={"a": 0.95, "b": 0.5, "c": 0.8}, threshold=0.75).fit(X)
    assert list(f.get_feature_names_out()) == ["a", "a_copy", "c", "c_copy"]
    assert list(ICCFilter(icc={"a": 0.95}, missing="drop").fit(X).get_feature_names_out()) == ["a"]
    with pytest.raises(ValueError, match="needs icc"):
        ICCFilter().fit(X)


@pytest.mark.parametrize("name", SELECTORS)
def test_every_named_selector_runs(name):
    X, y = _redundant()
    kw = {"icc": {"a": 0.9}} if name == "icc" else {"n_features": 2} if name in ("mrmr", "rfe", "importance") else {}
    out = make_selector(name, **kw).fit(X, y).transform(X)
    assert out.shape[0] == len(X) and 1 <= out.shape[1] <= X.shape[1]
    with pytest.raises(ValueError, match="unknown selector"):
        make_selector("magic")
