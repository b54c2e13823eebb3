"""ComBat: equal to neuroCombat's output, the scikit-learn contract, the external-centre protocol,
and the planted-cohort check (centre effect removed, biological signal kept)."""
from __future__ import annotations

import contextlib
import io

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import make_pipeline

from theranomics.models.combat import ComBat
from theranomics.models.metrics import auc
from theranomics.simulate.cohort import simulate_feature_cohort


def _batches(seed=0, n=90, p=15):
    rng = np.random.default_rng(seed)
    b = np.repeat(["a", "b", "c"], n // 3)
    idx = np.repeat([0, 1, 2], n // 3)
    F = rng.normal(size=(n, p)) + np.array([0.0, 1.0, -1.0])[idx][:, None] * rng.normal(1, 0.3, p)
    F = F * np.array([1.0, 2.0, 0.5])[idx][:, None] + 5
    X = pd.DataFrame(F, columns=[f"f{i}" for i in range(p)])
    X["centre"] = b
    return X, F, b, rng


def _neurocombat(F, covars, **kw):
    nc = pytest.importorskip("neuroCombat")
    with contextlib.redirect_stdout(io.StringIO()):
        return nc.neuroCombat(F.T.copy(), covars, "batch", **kw)["data"].T


@pytest.mark.parametrize("kw", [{}, {"eb": False}, {"mean_only": True}])
def test_equals_neurocombat(kw):
    X, F, b, _ = _batches()
    ref = _neurocombat(F, pd.DataFrame({"batch": b}), **kw)
    # agreement to the EB iteration's own convergence tolerance (1e-4 relative)
    assert np.abs(ComBat(**kw).fit(X).transform(X) - ref).max() < 1e-4


def test_equals_neurocombat_with_covariate_and_reference_batch(monkeypatch):
    X, F, b, rng = _batches(1)
    age = rng.normal(60, 10, len(b))
    ref = _neurocombat(F, pd.DataFrame({"batch": b, "age": age}), continuous_cols=["age"])
    out = ComBat(covariate_columns=["age"]).fit(X.assign(age=age)).transform(X.assign(age=age))
    assert np.abs(out[:, :-1] - ref).max() < 1e-5  # neuroCombat casts covariates to float32
    assert np.array_equal(out[:, -1], age)  # covariates pass through
    monkeypatch.setattr(np, "int", int, raising=False)  # neuroCombat 0.2.12 still calls np.int with ref_batch
    ref = _neurocombat(F, pd.DataFrame({"batch": b}), ref_batch="b")
    out = ComBat(ref_batch="b").fit(X).transform(X)
    assert np.abs(out - ref).max() < 1e-4
    assert np.allclose(out[b == "b"], F[b == "b"])  # the reference batch is unchanged


def test_estimator_contract():
    X, _, _, _ = _batches(2)
    cb = ComBat()
    assert cb.fit(X) is cb and clone(cb).get_params() == cb.get_params()
    full = cb.transform(X)
    state = cb.gamma_star_.copy()
    part = cb.transform(X.iloc[::7])  # transform never refits: rows of a seen batch do not depend on the others
    assert np.array_equal(part, full[::7]) and np.array_equal(state, cb.gamma_star_)
    assert list(cb.get_feature_names_out()) == [c for c in X.columns if c != "centre"]
    arr = np.column_stack([np.unique(X.centre, return_inverse=True)[1], X.drop(columns="centre").to_numpy()])
    assert np.allclose(ComBat(batch_column=0).fit(arr).transform(arr), full)


def test_missing_values_are_ignored_and_kept():
    X, _, _, _ = _batches(3)
    X.iloc[4, 2] = np.nan
    out = ComBat().fit(X).transform(X)
    assert np.isnan(out[4, 2]) and np.isfinite(np.delete(out.ravel(), 4 * out.shape[1] + 2)).all()


def test_external_centre_protocol_aligns_to_training_reference():
    X, _, _, rng = _batches(4)
    train = X[X.centre != "c"]
    cb = ComBat(ref_batch="a").fit(train)
    ext = X[X.centre == "c"].copy()
    ext.iloc[:, :-1] = ext.iloc[:, :-1] * 3 + 10  # a new scanner: strong scale and shift
    ext["centre"] = "new"
    out = cb.transform(ext)
    ref_a = train[train.centre == "a"].drop(columns="centre").to_numpy()
    # the unseen centre's location/scale now match the reference batch (within sampling error of 30 rows)
    assert np.abs(out.mean(axis=0) - ref_a.mean(axis=0)).max() < 0.6
    assert np.median(out.std(axis=0) / ref_a.std(axis=0)) == pytest.approx(1, abs=0.25)
    with pytest.raises(ValueError, match="not seen in fit"):
        ComBat(unseen="error").fit(train).transform(ext)
    with pytest.raises(ValueError, match="needs >= 5 rows"):
        cb.transform(ext.iloc[:3])


@pytest.mark.parametrize("make, msg", [
    (lambda X: X.drop(columns="centre"), "batch column 'centre' not in"),
    (lambda X: X.assign(centre="a"), "at least two batches"),
    (lambda X: X.assign(centre=["a"] + ["b"] * (len(X) - 1)), "single sample"),
])
def test_input_errors(make, msg):
    X, _, _, _ = _batches(5)
    with pytest.raises(ValueError, match=msg):
        ComBat().fit(make(X))


def _oof_centre_balanced_accuracy(X, centre, groups, harmonise: bool) -> float:
    pred = np.empty(len(X), dtype=object)
    for tr, te in GroupKFold(5).split(X, groups=groups):
        steps = ([ComBat()] if harmonise else []) + [LogisticRegression(max_iter=2000)]
        Xin = X if harmonise else X.drop(columns="centre")
        model = make_pipeline(*steps).fit(Xin.iloc[tr], centre[tr])
        pred[te] = model.predict(Xin.iloc[te])
    return float(np.mean([np.mean(pred[centre == c] == c) for c in np.unique(centre)]))


def test_combat_removes_centre_effect_and_keeps_signal():
    c = simulate_feature_cohort(450, 12, 3, effect_size=1.0, centre_shift_sd=1.5, seed=11, n_monte_carlo=50_000)
    X = c.patients[list(c.feature_names) + ["centre"]]
    centre, groups = c.patients.centre.to_numpy(), c.patients.patient_id.to_numpy()
    before = _oof_centre_balanced_accuracy(X, centre, groups, harmonise=False)
    after = _oof_centre_balanced_accuracy(X, centre, groups, harmonise=True)
    assert before > 0.9 and after < 0.45  # chance = 1/3 for three centres
    y = c.patients.response.to_numpy()
    scores = {}
    for harmonise in (False, True):
        p = np.empty(len(y))
        for tr, te in GroupKFold(5).split(X, groups=groups):
            Xin = X if harmonise else X.drop(columns="centre")
            m = make_pipeline(*([ComBat()] if harmonise else []), LogisticRegression(max_iter=2000)).fit(Xin.iloc[tr], y[tr])
            p[te] = m.predict_proba(Xin.iloc[te])[:, 1]
        scores[harmonise] = auc(y, p)
    assert scores[True] > scores[False] + 0.03  # the signal hidden by centre effects is recovered
    assert scores[True] == pytest.approx(c.truth.bayes_auc, abs=0.06)
