"""Performance metrics with bootstrap confidence intervals (the quantities RELAINCE asks for).

Classification: AUC, sensitivity, specificity, balanced accuracy, Brier score, calibration curve,
calibration intercept/slope, decision curve.  Survival: Harrell's C-index, time-dependent AUC.
Regression (dose): MAE, MAPE, R².
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd
from sklearn import metrics as skm

__all__ = ["auc", "surv_array", "classification_metrics", "calibration_intercept_slope", "calibration_table",
           "decision_curve", "c_index", "time_dependent_auc", "regression_metrics", "mape", "bootstrap_ci"]


def surv_array(event, time) -> np.ndarray:
    """Structured survival outcome (``event`` bool, ``time`` float) as scikit-survival expects."""
    event = np.asarray(event)
    time = np.asarray(time, dtype=float)
    if event.shape != time.shape or event.ndim != 1:
        raise ValueError(f"event and time must be 1-D of equal length, got {event.shape} and {time.shape}")
    if not np.isin(event.astype(float), (0.0, 1.0)).all():
        raise ValueError("event must be 0/1 (1 = event observed, 0 = censored)")
    if not np.isfinite(time).all() or (time < 0).any():
        raise ValueError("survival time must be finite and >= 0")
    out = np.empty(len(time), dtype=[("event", bool), ("time", float)])
    out["event"] = event.astype(bool)
    out["time"] = time
    return out


def _binary(y) -> np.ndarray:
    y = np.asarray(y)
    if not np.isin(y.astype(float), (0.0, 1.0)).all():
        raise ValueError("binary outcome must be 0/1")
    y = y.astype(int)
    if y.min() == y.max():
        raise ValueError("binary outcome has a single class; AUC is undefined")
    return y


def auc(y, score) -> float:
    """Area under the ROC curve by the Mann–Whitney identity
    ``AUC = (R_1 - n_1 (n_1 + 1) / 2) / (n_1 n_0)`` with mid-ranks for ties (Hanley & McNeil 1982)."""
    from scipy.stats import rankdata
    y = _binary(y)
    score = np.asarray(score, float)
    if score.shape != y.shape:
        raise ValueError(f"score shape {score.shape} differs from y shape {y.shape}")
    n1 = int(y.sum())
    n0 = len(y) - n1
    r1 = rankdata(score)[y == 1].sum()
    return float((r1 - n1 * (n1 + 1) / 2) / (n1 * n0))


def _logit(p: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    p = np.clip(p, eps, 1 - eps)
    return np.log(p / (1 - p))


def calibration_intercept_slope(y, prob) -> tuple[float, float]:
    """Calibration slope ``b`` (``logit P(y) = a + b logit p``) and calibration-in-the-large
    (intercept ``a'`` of ``logit P(y) = a' + logit p``, slope fixed at 1); Van Calster et al.,
    J Clin Epidemiol 2016.  Ideal: intercept 0, slope 1; slope < 1 means over-confident."""
    y = _binary(y).astype(float)
    lp = _logit(np.asarray(prob, float))

    def newton(design, offset):
        beta = np.zeros(design.shape[1])
        for _ in range(50):
            mu = 1 / (1 + np.exp(-(design @ beta + offset)))
            grad = design.T @ (y - mu)
            hess = design.T @ (design * (mu * (1 - mu))[:, None])
            step = np.linalg.solve(hess, grad)
            beta += step
            if np.max(np.abs(step)) < 1e-10:
                break
        return beta

    slope = newton(np.column_stack([np.ones_like(lp), lp]), 0.0)[1]
    intercept = newton(np.ones((len(lp), 1)), lp)[0]
    return float(intercept), float(slope)


def classification_metrics(y, prob, threshold: float = 0.5) -> dict[str, float]:
    """AUC, sensitivity, specificity, balanced accuracy (at ``threshold``), Brier score,
    calibration intercept and slope of predicted probabilities ``prob`` for 0/1 outcome ``y``."""
    y = _binary(y)
    prob = np.asarray(prob, float)
    if prob.shape != y.shape:
        raise ValueError(f"prob shape {prob.shape} differs from y shape {y.shape}")
    pred = prob >= threshold
    sens = float(np.mean(pred[y == 1]))
    spec = float(np.mean(~pred[y == 0]))
    out = {"auc": auc(y, prob), "sensitivity": sens, "specificity": spec,
           "balanced_accuracy": (sens + spec) / 2, "brier": float(np.mean((prob - y) ** 2))}
    if np.all((prob >= 0) & (prob <= 1)):
        out["calibration_intercept"], out["calibration_slope"] = calibration_intercept_slope(y, prob)
    return out


def calibration_table(y, prob, n_bins: int = 10, strategy: str = "quantile") -> pd.DataFrame:
    """Observed event fraction vs mean predicted probability per bin (reliability diagram)."""
    from sklearn.calibration import calibration_curve
    obs, pred = calibration_curve(_binary(y), np.asarray(prob, float), n_bins=n_bins, strategy=strategy)
    return pd.DataFrame({"mean_predicted": pred, "observed_fraction": obs})


def decision_curve(y, prob, thresholds=None) -> pd.DataFrame:
    """Net benefit ``TP/n - FP/n * pt/(1-pt)`` of treating when ``prob >= pt``, with the treat-all
    and treat-none references (Vickers & Elkin, Med Decis Making 2006)."""
    y = _binary(y)
    prob = np.asarray(prob, float)
    thresholds = np.linspace(0.05, 0.95, 19) if thresholds is None else np.asarray(thresholds, float)
    if ((thresholds <= 0) | (thresholds >= 1)).any():
        raise ValueError("decision-curve thresholds must lie in (0, 1)")
    n, prev = len(y), y.mean()
    rows = []
    for pt in thresholds:
        treat = prob >= pt
        tp = np.sum(treat & (y == 1)) / n
        fp = np.sum(treat & (y == 0)) / n
        w = pt / (1 - pt)
        rows.append((pt, tp - fp * w, prev - (1 - prev) * w, 0.0))
    return pd.DataFrame(rows, columns=["threshold", "net_benefit_model", "net_benefit_treat_all", "net_benefit_treat_none"])


def c_index(event, time, risk) -> float:
    """Harrell's concordance index (higher ``risk`` = earlier event; Harrell et al. 1982)."""
    from sksurv.metrics import concordance_index_censored
    y = surv_array(event, time)
    return float(concordance_index_censored(y["event"], y["time"], np.asarray(risk, float))[0])


def time_dependent_auc(train_event, train_time, test_event, test_time, risk, times) -> pd.DataFrame:
    """Cumulative/dynamic AUC(t) with inverse-probability-of-censoring weights (Uno et al. 2007;
    scikit-survival ``cumulative_dynamic_auc``); censoring distribution from the training data."""
    from sksurv.metrics import cumulative_dynamic_auc
    y_tr, y_te = surv_array(train_event, train_time), surv_array(test_event, test_time)
    times = np.asarray(times, float)
    auc, mean_auc = cumulative_dynamic_auc(y_tr, y_te, np.asarray(risk, float), times)
    return pd.DataFrame({"time": times, "auc": auc}).assign(mean_auc=mean_auc)


def mape(y_true, y_pred) -> float:
    """Mean absolute percentage error, ``100 * mean(|pred - true| / |true|)`` (%)."""
    y_true, y_pred = np.asarray(y_true, float), np.asarray(y_pred, float)
    if np.any(y_true == 0):
        raise ValueError("MAPE is undefined when a true value is 0")
    return float(100 * np.mean(np.abs(y_pred - y_true) / np.abs(y_true)))


def regression_metrics(y_true, y_pred) -> dict[str, float]:
    """MAE, MAPE (%) and R² (coefficient of determination, ``1 - SS_res/SS_tot``)."""
    y_true, y_pred = np.asarray(y_true, float), np.asarray(y_pred, float)
    return {"mae": float(np.mean(np.abs(y_pred - y_true))), "mape_pct": mape(y_true, y_pred),
            "r2": float(skm.r2_score(y_true, y_pred))}


def bootstrap_ci(metric: Callable[..., float], *arrays, n_boot: int = 1000, alpha: float = 0.05,
                 groups=None, random_state: int | None = 0) -> tuple[float, float, float]:
    """``(estimate, low, high)``: percentile bootstrap ``1 - alpha`` CI of ``metric(*arrays)``
    (Efron & Tibshirani 1993).  With ``groups`` whole groups (patients) are resampled, so the
    lesions of a patient stay together.  Resamples where the metric is undefined are skipped."""
    arrays = [np.asarray(a) for a in arrays]
    n = len(arrays[0])
    if any(len(a) != n for a in arrays):
        raise ValueError("all arrays passed to bootstrap_ci must have the same length")
    rng = np.random.default_rng(random_state)
    estimate = float(metric(*arrays))
    if groups is not None:
        uniq, inv = np.unique(np.asarray(groups), return_inverse=True)
        members = [np.flatnonzero(inv == g) for g in range(len(uniq))]
    stats = []
    for _ in range(int(n_boot)):
        if groups is None:
            idx = rng.integers(0, n, n)
        else:
            idx = np.concatenate([members[g] for g in rng.integers(0, len(members), len(members))])
        try:
            stats.append(float(metric(*[a[idx] for a in arrays])))
        except ValueError:
            continue
    if len(stats) < 0.5 * n_boot:
        raise ValueError(f"metric undefined in {n_boot - len(stats)} of {n_boot} bootstrap resamples")
    lo, hi = np.quantile(stats, [alpha / 2, 1 - alpha / 2])
    return estimate, float(lo), float(hi)
