"""Every model of the zoo builds, fits inside the standard pipeline and predicts sensibly."""
from __future__ import annotations

import numpy as np
import pytest

from theranomics.models.metrics import auc, c_index, surv_array
from theranomics.models.zoo import MODELS, build_pipeline, default_grid, make_model


def _data(seed=0, n=200):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    lp = X[:, 0] - X[:, 1]
    return X, lp, rng


@pytest.mark.parametrize("name", MODELS["classification"])
def test_classifiers(name):
    X, lp, rng = _data()
    y = (lp + rng.normal(0, 0.5, len(lp)) > 0).astype(int)
    pipe = build_pipeline(make_model(name)).fit(X[:150], y[:150])
    assert auc(y[150:], pipe.predict_proba(X[150:])[:, 1]) > 0.75
    assert all(k.startswith("model__") for k in default_grid(name))


@pytest.mark.parametrize("name", MODELS["regression"])
def test_regressors(name):
    X, lp, rng = _data(1)
    y = np.exp(0.3 * lp + rng.normal(0, 0.05, len(lp)))
    pred = build_pipeline(make_model(name, "regression"), log_target=True).fit(X[:150], y[:150]).predict(X[150:])
    assert np.corrcoef(pred, y[150:])[0, 1] > 0.8


@pytest.mark.parametrize("name", MODELS["survival"])
def test_survival_models(name):
    X, lp, rng = _data(2)
    t = rng.exponential(np.exp(-lp))
    y = surv_array(np.ones(len(t)), t)
    pipe = build_pipeline(make_model(name, "survival", alpha=0.01) if name == "cox_enet" else make_model(name, "survival"))
    risk = pipe.fit(X[:150], y[:150]).predict(X[150:])
    assert c_index(y["event"][150:], y["time"][150:], risk) > 0.65


def test_unknown_names():
    with pytest.raises(ValueError, match="unknown classification model"):
        make_model("deep_magic")
    with pytest.raises(ValueError, match="task"):
        make_model("ridge", "clustering")
