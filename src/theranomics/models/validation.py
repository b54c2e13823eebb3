"""Honest validation: repeated nested cross-validation with patient-grouped folds, bootstrap CIs,
external validation on a held-out centre.

Nested CV (Varma & Simon, BMC Bioinformatics 7:91, 2006): the outer folds estimate performance;
inside each outer training set an inner grouped CV tunes the hyper-parameters of the whole
pipeline (harmonisation, imputation, selection, model), so nothing is ever fitted on the patients
it is tested on.  Metrics are computed on the pooled out-of-fold predictions of each repeat and
averaged over repeats; their 95 % CI is a percentile bootstrap over patients (all rows of a
patient resampled together) of that repeat-averaged metric.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV

from . import metrics as M
from .splits import RepeatedGroupKFold, check_grouped

__all__ = ["CVResult", "nested_cv", "fit_tuned", "external_validation", "predict_scores", "task_metrics"]


def _strata(y, task: str):
    if task == "classification":
        return np.asarray(y)
    if task == "survival":
        return np.asarray(y)[np.asarray(y).dtype.names[0]].astype(int)
    return None


def _take(X, idx):
    return X.iloc[idx] if isinstance(X, (pd.DataFrame, pd.Series)) else np.asarray(X)[idx]


def predict_scores(estimator, X, task: str) -> np.ndarray:
    """Probability of class 1 (classification), prediction (regression) or risk score (survival)."""
    if task == "classification":
        return np.asarray(estimator.predict_proba(X))[:, 1]
    return np.asarray(estimator.predict(X), float)


def _metric_fns(task: str) -> dict:
    if task == "classification":
        def _sens(y, p):
            M._binary(y)
            return float(np.mean(p[y == 1] >= 0.5))

        def _spec(y, p):
            M._binary(y)
            return float(np.mean(p[y == 0] < 0.5))
        return {"auc": _auc,
                "sensitivity": _sens, "specificity": _spec,
                "balanced_accuracy": lambda y, p: (_sens(y, p) + _spec(y, p)) / 2,
                "brier": lambda y, p: float(np.mean((p - y) ** 2))}
    if task == "regression":
        return {"mae": lambda y, p: float(np.mean(np.abs(p - y))), "mape_pct": M.mape,
                "r2": lambda y, p: float(1 - np.sum((y - p) ** 2) / np.sum((y - np.mean(y)) ** 2))}
    return {"c_index": lambda y, p: M.c_index(y["event"], y["time"], p)}


_auc = M.auc


def task_metrics(y, pred, task: str, groups=None, *, n_boot: int = 500, alpha: float = 0.05,
                 random_state: int | None = 0) -> pd.DataFrame:
    """Metrics of predictions ``pred`` (one column per repeat, or 1-D) with bootstrap CIs.

    Returns ``metric, estimate, ci_low, ci_high``; the estimate is the mean over repeats.
    """
    pred = np.asarray(pred, float)
    pred = pred[:, None] if pred.ndim == 1 else pred
    y = np.asarray(y)
    n = len(y)
    groups = np.arange(n) if groups is None else np.asarray(groups)
    uniq, inv = np.unique(groups, return_inverse=True)
    members = [np.flatnonzero(inv == g) for g in range(len(uniq))]
    rng = np.random.default_rng(random_state)
    fns = _metric_fns(task)
    rows = []
    boots = {k: [] for k in fns}
    draws = [np.concatenate([members[g] for g in rng.integers(0, len(members), len(members))]) for _ in range(n_boot)]
    for name, fn in fns.items():
        est = float(np.mean([fn(y, pred[:, r]) for r in range(pred.shape[1])]))
        for idx in draws:
            try:
                boots[name].append(np.mean([fn(y[idx], pred[idx, r]) for r in range(pred.shape[1])]))
            except ValueError:
                continue
        lo, hi = np.quantile(boots[name], [alpha / 2, 1 - alpha / 2]) if boots[name] else (np.nan, np.nan)
        rows.append((name, est, float(lo), float(hi)))
    return pd.DataFrame(rows, columns=["metric", "estimate", "ci_low", "ci_high"])


def _feature_names(estimator, X) -> list[str]:
    names = list(X.columns) if isinstance(X, pd.DataFrame) else [f"x{i}" for i in range(np.asarray(X).shape[1])]
    steps = getattr(estimator, "steps", None)
    if not steps or len(steps) < 2:
        return names
    try:
        return [str(n) for n in estimator[:-1].get_feature_names_out()]
    except (AttributeError, ValueError, TypeError):
        return []


def fit_tuned(estimator, X, y, groups, *, param_grid=None, task: str = "classification", inner=None,
              scoring=None, n_jobs: int = 1):
    """Fit ``estimator``; with a non-empty ``param_grid``, tune it by grouped CV first
    (``GridSearchCV`` on ``inner`` splits of these rows only) and return the refitted best one."""
    if not param_grid:
        return clone(estimator).fit(X, y), {}
    inner = inner or RepeatedGroupKFold(3, 1, stratify=task != "regression", random_state=0)
    splits = list(inner.split(X, _strata(y, task), groups))
    check_grouped(splits, groups)
    if scoring is None and task == "classification":
        from sklearn.metrics import make_scorer
        scoring = make_scorer(M.auc, response_method="predict_proba")
    elif scoring is None and task == "regression":
        scoring = "neg_mean_absolute_error"
    gs = GridSearchCV(clone(estimator), param_grid, cv=splits, scoring=scoring, refit=True, n_jobs=n_jobs,
                      error_score="raise")
    gs.fit(X, y)
    return gs.best_estimator_, gs.best_params_


@dataclass
class CVResult:
    """Out-of-fold predictions, per-fold scores, pooled metrics with CIs and selection frequencies."""

    task: str
    predictions: pd.DataFrame
    folds: pd.DataFrame
    metrics: pd.DataFrame
    selection_frequency: pd.Series = field(default_factory=lambda: pd.Series(dtype=float))

    def metric(self, name: str) -> tuple[float, float, float]:
        row = self.metrics.set_index("metric").loc[name]
        return float(row.estimate), float(row.ci_low), float(row.ci_high)

    def oof_matrix(self) -> np.ndarray:
        """Out-of-fold predictions, rows in input order, one column per repeat."""
        return self.predictions.pivot(index="row", columns="repeat", values="prediction").sort_index().to_numpy()


def nested_cv(estimator, X, y, groups, *, param_grid=None, task: str = "classification", n_outer: int = 5,
              n_inner: int = 3, n_repeats: int = 1, outer=None, inner=None, scoring=None, n_boot: int = 500,
              alpha: float = 0.05, random_state: int = 0, n_jobs: int = 1) -> CVResult:
    """Repeated nested cross-validation of a pipeline (see the module docstring).

    ``groups`` are patient ids (required: a patient's rows never straddle outer or inner folds).
    ``outer``/``inner`` override the default :class:`RepeatedGroupKFold` splitters
    (stratified on the class / event indicator).  Survival ``y`` is a structured array.
    """
    if task not in ("classification", "regression", "survival"):
        raise ValueError(f"task must be classification, regression or survival, got {task!r}")
    if groups is None:
        raise ValueError("nested_cv needs groups (patient ids)")
    groups = np.asarray(groups)
    y_arr = np.asarray(y) if not isinstance(y, pd.Series) else y.to_numpy()
    if len(groups) != len(y_arr):
        raise ValueError(f"groups ({len(groups)}) and y ({len(y_arr)}) differ in length")
    strat = task != "regression"
    outer = outer or RepeatedGroupKFold(n_outer, n_repeats, stratify=strat, random_state=random_state)
    inner = inner or RepeatedGroupKFold(n_inner, 1, stratify=strat, random_state=random_state + 1)
    n_splits_per_repeat = outer.get_n_splits() // max(getattr(outer, "n_repeats", 1), 1)
    splits = list(outer.split(X, _strata(y_arr, task), groups))
    check_grouped(splits, groups)
    rows, fold_rows, selected = [], [], Counter()
    for s, (train, test) in enumerate(splits):
        rep, fold = divmod(s, n_splits_per_repeat)
        est, best = fit_tuned(estimator, _take(X, train), y_arr[train], groups[train], param_grid=param_grid,
                              task=task, inner=inner, scoring=scoring, n_jobs=n_jobs)
        pred = predict_scores(est, _take(X, test), task)
        selected.update(_feature_names(est, X))
        rows.append(pd.DataFrame({"row": test, "group": groups[test], "repeat": rep, "fold": fold, "prediction": pred}))
        try:
            score = float(est.score(_take(X, test), y_arr[test])) if scoring is None and task == "survival" else (
                _auc(y_arr[test], pred) if task == "classification" else float(np.mean(np.abs(pred - y_arr[test]))))
        except ValueError:
            score = float("nan")
        fold_rows.append({"repeat": rep, "fold": fold, "n_test": len(test), "score": score, "best_params": best})
    preds = pd.concat(rows, ignore_index=True)
    oof = preds.pivot(index="row", columns="repeat", values="prediction").sort_index()
    if len(oof) != len(y_arr) or oof.isna().to_numpy().any():
        raise ValueError("the outer splitter did not predict every row exactly once per repeat")
    table = task_metrics(y_arr, oof.to_numpy(), task, groups, n_boot=n_boot, alpha=alpha, random_state=random_state)
    freq = pd.Series(selected, dtype=float).sort_values(ascending=False) / len(splits)
    return CVResult(task, preds, pd.DataFrame(fold_rows), table, freq)


def external_validation(estimator, X_train, y_train, groups_train, X_test, y_test, groups_test=None, *,
                        param_grid=None, task: str = "classification", inner=None, n_boot: int = 1000,
                        alpha: float = 0.05, random_state: int = 0):
    """Fit (and tune) on the development data, evaluate once on an external set (e.g. a held-out
    centre).  Returns ``(fitted_estimator, predictions, metrics)``."""
    est, _ = fit_tuned(estimator, X_train, np.asarray(y_train), np.asarray(groups_train), param_grid=param_grid,
                       task=task, inner=inner)
    pred = predict_scores(est, X_test, task)
    table = task_metrics(np.asarray(y_test), pred, task, groups_test, n_boot=n_boot, alpha=alpha,
                         random_state=random_state)
    return est, pred, table
