"""Survival models and tools: Cox regression (with standard errors), elastic-net Cox, Kaplan–Meier,
log-rank, cut-offs fixed on training data (Youden, maximally selected log-rank), nomogram points.

Survival outcomes are scikit-survival structured arrays (``event`` bool, ``time`` float), built by
:func:`theranomics.models.metrics.surv_array`; risk scores are higher for earlier events.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from .metrics import surv_array

__all__ = ["CoxRegression", "CoxNet", "kaplan_meier", "logrank", "Cutoff", "Nomogram", "cox_information"]


def _check_surv(y) -> np.ndarray:
    y = np.asarray(y)
    if y.dtype.names is None or len(y.dtype.names) != 2:
        raise ValueError("survival outcome must be a structured array (event, time); build it with surv_array()")
    ev, t = y.dtype.names
    return surv_array(y[ev], y[t])


def cox_information(X: np.ndarray, time: np.ndarray, event: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """Observed information ``-d²l/dbeta²`` of the Cox partial likelihood with Breslow ties
    (Cox 1972; Breslow 1974): ``sum_events [S2/S0 - (S1/S0)(S1/S0)^T]`` over risk sets."""
    X = np.asarray(X, float)
    order = np.argsort(-time, kind="mergesort")  # descending time: risk sets are prefixes
    Xs, ts, es = X[order], time[order], event[order].astype(bool)
    w = np.exp(Xs @ beta)
    s0 = np.cumsum(w)
    s1 = np.cumsum(w[:, None] * Xs, axis=0)
    s2 = np.cumsum(w[:, None, None] * Xs[:, :, None] * Xs[:, None, :], axis=0)
    # with ties, the risk set at time t includes every subject with time >= t: take the last index of the tie
    last = np.searchsorted(-ts, -ts, side="right") - 1
    info = np.zeros((X.shape[1], X.shape[1]))
    for i in np.flatnonzero(es):
        j = last[i]
        m = s1[j] / s0[j]
        info += s2[j] / s0[j] - np.outer(m, m)
    return info


class CoxRegression(BaseEstimator):
    """Cox proportional-hazards regression (Breslow ties), optionally ridge-penalised (``alpha``),
    fitted with scikit-survival; adds standard errors from the observed information
    (:func:`cox_information`) and Wald 95 % CIs of the log-hazard ratios.

    ``predict`` returns the centred linear predictor (the risk score); ``score`` Harrell's C.
    """

    def __init__(self, alpha: float = 0.0, n_iter: int = 100):
        self.alpha = alpha
        self.n_iter = n_iter

    def fit(self, X, y):
        from sksurv.linear_model import CoxPHSurvivalAnalysis
        X = validate_data(self, X, dtype=float)
        y = _check_surv(y)
        if y["event"].sum() < 1:
            raise ValueError("Cox regression needs at least one event")
        m = CoxPHSurvivalAnalysis(alpha=self.alpha, ties="breslow", n_iter=self.n_iter).fit(X, y)
        self.coef_ = np.asarray(m.coef_, float)
        info = cox_information(X, y["time"], y["event"], self.coef_)
        if self.alpha:
            info = info + self.alpha * np.eye(len(self.coef_))
        self.cov_ = np.linalg.pinv(info)
        self.se_ = np.sqrt(np.diag(self.cov_))
        self.mean_ = X.mean(axis=0)
        return self

    def predict(self, X):
        """Linear predictor centred on the training mean, ``(X - mean_) beta`` (comparable across folds)."""
        check_is_fitted(self, "coef_")
        X = validate_data(self, X, dtype=float, reset=False)
        return (X - self.mean_) @ self.coef_

    def score(self, X, y):
        from .metrics import c_index
        y = _check_surv(y)
        return c_index(y["event"], y["time"], self.predict(X))

    def summary(self, alpha: float = 0.05) -> pd.DataFrame:
        """``coef`` (log-HR), ``se``, ``z``, ``p``, ``hr`` and Wald ``1 - alpha`` CIs per feature."""
        check_is_fitted(self, "coef_")
        names = getattr(self, "feature_names_in_", None)
        names = list(names) if names is not None else [f"x{i}" for i in range(len(self.coef_))]
        zq = stats.norm.ppf(1 - alpha / 2)
        z = self.coef_ / self.se_
        return pd.DataFrame({"feature": names, "coef": self.coef_, "se": self.se_, "z": z,
                             "p": 2 * stats.norm.sf(np.abs(z)), "hr": np.exp(self.coef_),
                             "coef_low": self.coef_ - zq * self.se_, "coef_high": self.coef_ + zq * self.se_})


class CoxNet(BaseEstimator):
    """Cox model with elastic-net penalty ``alpha * (l1_ratio |b|_1 + (1 - l1_ratio)/2 |b|²)``
    (Simon et al., J Stat Softw 39, 2011; scikit-survival ``CoxnetSurvivalAnalysis``) at one
    ``alpha`` so that it can be tuned by grid search; ``l1_ratio = 1`` is the LASSO Cox model."""

    def __init__(self, alpha: float = 0.05, l1_ratio: float = 0.5, max_iter: int = 100000):
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.max_iter = max_iter

    def fit(self, X, y):
        from sksurv.linear_model import CoxnetSurvivalAnalysis
        X = validate_data(self, X, dtype=float)
        y = _check_surv(y)
        m = CoxnetSurvivalAnalysis(alphas=[self.alpha], l1_ratio=self.l1_ratio, max_iter=self.max_iter,
                                   normalize=False, fit_baseline_model=False).fit(X, y)
        self.coef_ = np.asarray(m.coef_)[:, 0]
        self.mean_ = X.mean(axis=0)
        return self

    def predict(self, X):
        """Linear predictor centred on the training mean, ``(X - mean_) beta``."""
        check_is_fitted(self, "coef_")
        return (validate_data(self, X, dtype=float, reset=False) - self.mean_) @ self.coef_

    def score(self, X, y):
        from .metrics import c_index
        y = _check_surv(y)
        return c_index(y["event"], y["time"], self.predict(X))


def kaplan_meier(event, time) -> pd.DataFrame:
    """Kaplan–Meier survival with log-log 95 % CI (scikit-survival): ``time, survival, ci_low, ci_high``."""
    from sksurv.nonparametric import kaplan_meier_estimator
    y = surv_array(event, time)
    t, s, (lo, hi) = kaplan_meier_estimator(y["event"], y["time"], conf_type="log-log")
    return pd.DataFrame({"time": t, "survival": s, "ci_low": lo, "ci_high": hi})


def logrank(event, time, group) -> tuple[float, float]:
    """Log-rank test (Mantel 1966) of survival across ``group``: ``(chi2, p)``."""
    from sksurv.compare import compare_survival
    y = surv_array(event, time)
    group = np.asarray(group)
    if len(np.unique(group)) < 2:
        raise ValueError("log-rank test needs at least two groups")
    chi2, p = compare_survival(y, group)
    return float(chi2), float(p)


def _logrank_z(time: np.ndarray, event: np.ndarray, high: np.ndarray) -> float:
    """Standardised two-group log-rank statistic (observed - expected events in ``high``) / sd."""
    order = np.argsort(time, kind="mergesort")
    t, e, g = time[order], event[order].astype(float), high[order].astype(float)
    uniq, first = np.unique(t, return_index=True)
    n_at_risk = len(t) - first
    n1_at_risk = np.cumsum(g[::-1])[::-1][first]
    d = np.add.reduceat(e, first)
    d1 = np.add.reduceat(e * g, first)
    with np.errstate(invalid="ignore", divide="ignore"):
        exp1 = d * n1_at_risk / n_at_risk
        var = d * (n1_at_risk / n_at_risk) * (1 - n1_at_risk / n_at_risk) * (n_at_risk - d) / np.maximum(n_at_risk - 1, 1)
    v = np.nansum(var)
    return float((d1.sum() - np.nansum(exp1)) / np.sqrt(v)) if v > 0 else 0.0


class Cutoff(TransformerMixin, BaseEstimator):
    """A cut-off on one feature, fixed on the training data and then applied unchanged.

    ``method="youden"`` (binary ``y``): threshold maximising ``sensitivity + specificity - 1``
    (Youden 1950).  ``method="maxstat"`` (survival ``y``): maximally selected log-rank statistic
    over cut-points between the ``min_prop`` and ``1 - min_prop`` quantiles (Lausen & Schumacher,
    Biometrics 48:73, 1992).  ``transform`` returns ``1`` for ``x >= cutoff_`` (``0`` otherwise);
    ``higher_is_positive_`` says whether high values go with the event.
    """

    def __init__(self, method: str = "youden", min_prop: float = 0.1):
        self.method = method
        self.min_prop = min_prop

    def fit(self, X, y):
        X = validate_data(self, X, dtype=float)
        if X.shape[1] != 1:
            raise ValueError(f"Cutoff works on one feature, got {X.shape[1]} columns")
        x = X[:, 0]
        if self.method == "youden":
            from sklearn.metrics import roc_auc_score, roc_curve
            yb = np.asarray(y).astype(int)
            higher = roc_auc_score(yb, x) >= 0.5
            fpr, tpr, thr = roc_curve(yb, x if higher else -x)
            j = np.argmax(tpr - fpr)
            self.cutoff_ = float(thr[j] if higher else -thr[j])
            self.statistic_ = float(tpr[j] - fpr[j])
            self.higher_is_positive_ = bool(higher)
        elif self.method == "maxstat":
            ys = _check_surv(y)
            if not 0 < self.min_prop < 0.5:
                raise ValueError(f"min_prop must be in (0, 0.5), got {self.min_prop}")
            lo, hi = np.quantile(x, [self.min_prop, 1 - self.min_prop])
            cands = np.unique(x[(x > lo) & (x <= hi)])
            if cands.size == 0:
                raise ValueError("no candidate cut-point between the min_prop quantiles (feature nearly constant)")
            z = np.array([_logrank_z(ys["time"], ys["event"], x >= c) for c in cands])
            j = int(np.argmax(np.abs(z)))
            self.cutoff_ = float(cands[j])
            self.statistic_ = float(abs(z[j]))
            self.higher_is_positive_ = bool(z[j] > 0)
        else:
            raise ValueError(f"method must be 'youden' or 'maxstat', got {self.method!r}")
        return self

    def transform(self, X):
        check_is_fitted(self, "cutoff_")
        X = validate_data(self, X, dtype=float, reset=False)
        return (X >= self.cutoff_).astype(int)


class Nomogram:
    """Nomogram points of a linear model (logistic or Cox): each feature's contribution
    ``beta_j (x_j - ref_j)`` rescaled so that the feature with the widest effect range over the
    training data spans 0–100 points (Iasonos et al., J Clin Oncol 26:1364, 2008; the convention
    of R ``rms::nomogram``); ``ref_j`` is the end of the range that gives 0 points.

    ``linear_predictor(total_points) = intercept + sum_j beta_j ref_j + total * scale / 100``.
    """

    def __init__(self, coef, feature_names, x_min, x_max, intercept: float = 0.0):
        self.coef = np.asarray(coef, float).ravel()
        self.feature_names = list(feature_names)
        self.x_min = np.asarray(x_min, float)
        self.x_max = np.asarray(x_max, float)
        self.intercept = float(intercept)
        if not (len(self.coef) == len(self.feature_names) == len(self.x_min) == len(self.x_max)):
            raise ValueError("coef, feature_names, x_min and x_max must have the same length")
        span = np.abs(self.coef) * (self.x_max - self.x_min)
        if not np.any(span > 0):
            raise ValueError("all coefficients are zero or all feature ranges are empty: no nomogram")
        self.scale = float(span.max())
        self.ref = np.where(self.coef >= 0, self.x_min, self.x_max)

    @classmethod
    def from_model(cls, model, X_train) -> "Nomogram":
        """From a fitted model with ``coef_`` (and ``intercept_``) and the training features it saw."""
        X = np.asarray(X_train, float)
        names = list(X_train.columns) if isinstance(X_train, pd.DataFrame) else [f"x{i}" for i in range(X.shape[1])]
        inter = np.ravel(getattr(model, "intercept_", [0.0]))[0]
        return cls(np.ravel(model.coef_), names, X.min(axis=0), X.max(axis=0), inter)

    def points(self, X) -> pd.DataFrame:
        """Points per feature and ``total_points`` for each row of ``X``."""
        X = np.asarray(X, float)
        pts = 100.0 * self.coef * (X - self.ref) / self.scale
        df = pd.DataFrame(pts, columns=self.feature_names)
        df["total_points"] = pts.sum(axis=1)
        return df

    def linear_predictor(self, total_points) -> np.ndarray:
        return self.intercept + float(self.coef @ self.ref) + np.asarray(total_points, float) * self.scale / 100.0

    def table(self, n_ticks: int = 5) -> pd.DataFrame:
        """Axis ticks: ``feature, value, points`` (what a printed nomogram shows)."""
        rows = []
        for j, name in enumerate(self.feature_names):
            for v in np.linspace(self.x_min[j], self.x_max[j], n_ticks):
                rows.append((name, v, 100.0 * self.coef[j] * (v - self.ref[j]) / self.scale))
        return pd.DataFrame(rows, columns=["feature", "value", "points"])
