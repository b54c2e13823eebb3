"""Model zoo: estimators by name with default tuning grids, and the standard pipeline.

Classification: ``logistic, logistic_l1, svm_linear, svm_rbf, svm_poly, knn, tree, rf, extra_trees,
gboost, xgboost, ann``.  Regression: ``linear, ridge, lasso, svr, rfr, gbr, xgboost``.
Survival: ``cox`` (unpenalised/ridge, with SEs), ``cox_enet`` (elastic net), ``rsf`` (random
survival forest, Ishwaran et al. 2008).  Heavy backends (xgboost, scikit-survival) are imported
only when asked for.  Grids are keyed ``model__<param>`` for :func:`build_pipeline`.
"""
from __future__ import annotations

import numpy as np
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

__all__ = ["TASKS", "MODELS", "make_model", "default_grid", "build_pipeline"]

TASKS = ("classification", "regression", "survival")
MODELS = {
    "classification": ("logistic", "logistic_l1", "svm_linear", "svm_rbf", "svm_poly", "knn", "tree", "rf",
                       "extra_trees", "gboost", "xgboost", "ann"),
    "regression": ("linear", "ridge", "lasso", "svr", "rfr", "gbr", "xgboost"),
    "survival": ("cox", "cox_enet", "rsf"),
}


def _check(name: str, task: str) -> None:
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    if name not in MODELS[task]:
        raise ValueError(f"unknown {task} model {name!r}; choose from {MODELS[task]}")


def make_model(name: str, task: str = "classification", random_state: int = 0, **params):
    """A fresh, unfitted estimator ``name`` for ``task`` (``params`` override our defaults)."""
    _check(name, task)
    rs = {"random_state": random_state}
    if task == "classification":
        from sklearn import ensemble, linear_model, neighbors, neural_network, svm, tree
        if name == "logistic":
            return linear_model.LogisticRegression(**{"C": 1.0, "max_iter": 2000, **params})
        if name == "logistic_l1":
            return linear_model.LogisticRegression(**{"C": 0.5, "l1_ratio": 1.0, "solver": "liblinear", **rs, **params})
        if name.startswith("svm_"):
            kernel = name[4:]
            return svm.SVC(**{"kernel": kernel, "C": 1.0, "probability": True, **rs, **params})
        if name == "knn":
            return neighbors.KNeighborsClassifier(**{"n_neighbors": 15, **params})
        if name == "tree":
            return tree.DecisionTreeClassifier(**{"max_depth": 3, **rs, **params})
        if name == "rf":
            return ensemble.RandomForestClassifier(**{"n_estimators": 300, "min_samples_leaf": 3, "n_jobs": 1, **rs, **params})
        if name == "extra_trees":
            return ensemble.ExtraTreesClassifier(**{"n_estimators": 300, "min_samples_leaf": 3, "n_jobs": 1, **rs, **params})
        if name == "gboost":
            return ensemble.GradientBoostingClassifier(**{"n_estimators": 100, "max_depth": 2, **rs, **params})
        if name == "xgboost":
            from xgboost import XGBClassifier
            return XGBClassifier(**{"n_estimators": 200, "max_depth": 2, "learning_rate": 0.05, "n_jobs": 1,
                                    "verbosity": 0, **rs, **params})
        if name == "ann":
            return neural_network.MLPClassifier(**{"hidden_layer_sizes": (16,), "alpha": 1e-2, "max_iter": 2000,
                                                   "early_stopping": False, **rs, **params})
    if task == "regression":
        from sklearn import ensemble, linear_model, svm
        if name == "linear":
            return linear_model.LinearRegression(**params)
        if name == "ridge":
            return linear_model.Ridge(**{"alpha": 1.0, **params})
        if name == "lasso":
            return linear_model.Lasso(**{"alpha": 0.01, "max_iter": 10000, **rs, **params})
        if name == "svr":
            return svm.SVR(**{"C": 1.0, **params})
        if name == "rfr":
            return ensemble.RandomForestRegressor(**{"n_estimators": 300, "min_samples_leaf": 3, "n_jobs": 1, **rs, **params})
        if name == "gbr":
            return ensemble.GradientBoostingRegressor(**{"n_estimators": 200, "max_depth": 2, **rs, **params})
        if name == "xgboost":
            from xgboost import XGBRegressor
            return XGBRegressor(**{"n_estimators": 200, "max_depth": 2, "learning_rate": 0.05, "n_jobs": 1,
                                   "verbosity": 0, **rs, **params})
    if task == "survival":
        from .survival import CoxNet, CoxRegression
        if name == "cox":
            return CoxRegression(**params)
        if name == "cox_enet":
            return CoxNet(**{"alpha": 0.05, "l1_ratio": 0.5, **params})
        if name == "rsf":
            from sksurv.ensemble import RandomSurvivalForest
            return RandomSurvivalForest(**{"n_estimators": 200, "min_samples_leaf": 5, "n_jobs": 1, **rs, **params})
    raise AssertionError("unreachable")  # pragma: no cover


_GRIDS = {
    ("classification", "logistic"): {"C": [0.01, 0.1, 1.0]},
    ("classification", "logistic_l1"): {"C": [0.05, 0.2, 1.0]},
    ("classification", "svm_linear"): {"C": [0.01, 0.1, 1.0]},
    ("classification", "svm_rbf"): {"C": [0.3, 1.0, 3.0], "gamma": ["scale"]},
    ("classification", "svm_poly"): {"C": [0.3, 1.0], "degree": [2, 3]},
    ("classification", "knn"): {"n_neighbors": [5, 15, 31]},
    ("classification", "tree"): {"max_depth": [2, 3, 5]},
    ("classification", "rf"): {"max_features": ["sqrt", 0.3]},
    ("classification", "extra_trees"): {"max_features": ["sqrt", 0.3]},
    ("classification", "gboost"): {"learning_rate": [0.03, 0.1]},
    ("classification", "xgboost"): {"max_depth": [1, 2, 3]},
    ("classification", "ann"): {"alpha": [1e-3, 1e-1, 1.0]},
    ("regression", "ridge"): {"alpha": [0.1, 1.0, 10.0]},
    ("regression", "lasso"): {"alpha": [0.001, 0.01, 0.1]},
    ("regression", "svr"): {"C": [0.3, 1.0, 3.0]},
    ("regression", "rfr"): {"max_features": [0.3, 1.0]},
    ("regression", "gbr"): {"learning_rate": [0.03, 0.1]},
    ("regression", "xgboost"): {"max_depth": [1, 2, 3]},
    ("survival", "cox"): {"alpha": [0.0, 1.0]},
    ("survival", "cox_enet"): {"alpha": [0.01, 0.05, 0.2], "l1_ratio": [0.5, 1.0]},
    ("survival", "rsf"): {"min_samples_leaf": [5, 15]},
}


def default_grid(name: str, task: str = "classification") -> dict[str, list]:
    """The inner-CV tuning grid of model ``name``, keyed ``model__<param>``."""
    _check(name, task)
    return {f"model__{k}": list(v) for k, v in _GRIDS.get((task, name), {}).items()}


def build_pipeline(model, *, selection=(), harmonise=None, impute: str | None = "median",
                   scale: bool = True, log_target: bool = False) -> Pipeline:
    """``[harmonise] -> impute -> scale -> selection… -> model`` as one scikit-learn Pipeline.

    Everything in it is fitted on the training folds only when the pipeline is cross-validated.
    ``selection`` is a sequence of transformers (or ``(name, transformer)`` pairs); ``harmonise``
    a :class:`~theranomics.models.combat.ComBat` (reading the centre column).  ``log_target``
    (regression) fits on ``log y`` and predicts ``exp`` (positive targets such as Gy/GBq).
    """
    steps = []
    if harmonise is not None:
        steps.append(("harmonise", harmonise))
    if impute:
        steps.append(("impute", SimpleImputer(strategy=impute, keep_empty_features=True)))
    if scale:
        steps.append(("scale", StandardScaler()))
    for i, sel in enumerate(selection):
        steps.append(sel if isinstance(sel, tuple) else (f"select{i}", sel))
    if log_target:
        from sklearn.compose import TransformedTargetRegressor
        model = TransformedTargetRegressor(regressor=model, func=np.log, inverse_func=np.exp, check_inverse=False)
    steps.append(("model", model))
    return Pipeline(steps)
