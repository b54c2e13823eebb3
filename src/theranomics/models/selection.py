"""Feature selection transformers, fitted inside the folds only.

Ours: :class:`CorrelationFilter`, :class:`ICCFilter`, :class:`MRMR`, :class:`L1Selector`.  The
rest are scikit-learn's, built by :func:`make_selector` with our defaults: ``variance``
(``VarianceThreshold``), ``rfe`` (``RFE``), ``pca`` (``PCA``), ``importance``
(``SelectFromModel`` on a random forest).
"""
from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.feature_selection import SelectorMixin, f_classif, f_regression
from sklearn.utils.validation import check_is_fitted, validate_data

__all__ = ["CorrelationFilter", "ICCFilter", "MRMR", "L1Selector", "make_selector", "SELECTORS"]

SELECTORS = ("variance", "correlation", "icc", "mrmr", "lasso", "rfe", "pca", "importance")


def _abs_corr(X: np.ndarray) -> np.ndarray:
    sd = X.std(axis=0)
    Z = (X - X.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
    C = np.abs(Z.T @ Z) / max(len(X), 1)
    C[:, sd == 0] = 0.0
    C[sd == 0, :] = 0.0
    return C


class CorrelationFilter(SelectorMixin, BaseEstimator):
    """Drop redundant features: no two kept features have ``|r| > threshold``.

    Rule (as caret's ``findCorrelation``, Kuhn 2008): features are visited from the least to the
    most redundant (mean ``|r|`` with all others) and kept unless correlated above ``threshold``
    with a feature already kept.  ``method``: ``pearson`` or ``spearman`` (ranks first).
    """

    def __init__(self, threshold: float = 0.9, method: str = "pearson"):
        self.threshold = threshold
        self.method = method

    def fit(self, X, y=None):
        X = validate_data(self, X, dtype=float)
        if self.method not in ("pearson", "spearman"):
            raise ValueError(f"method must be 'pearson' or 'spearman', got {self.method!r}")
        if not 0 < self.threshold <= 1:
            raise ValueError(f"threshold must be in (0, 1], got {self.threshold}")
        if self.method == "spearman":
            from scipy.stats import rankdata
            X = rankdata(X, axis=0)
        C = _abs_corr(X)
        np.fill_diagonal(C, 0.0)
        order = np.argsort(C.mean(axis=0), kind="stable")
        keep = np.zeros(X.shape[1], bool)
        for j in order:
            if not np.any(C[j, keep] > self.threshold):
                keep[j] = True
        self.support_ = keep
        return self

    def _get_support_mask(self):
        check_is_fitted(self, "support_")
        return self.support_


class ICCFilter(SelectorMixin, BaseEstimator):
    """Keep features whose robustness ICC (from :func:`theranomics.models.icc.icc_table`) is
    ``>= threshold`` (Koo & Li 2016: 0.75 = good).  ``icc`` maps feature name -> ICC; features
    without an entry (e.g. clinical variables) are kept when ``missing="keep"``.  Array input
    uses the names ``x0, x1, …``."""

    def __init__(self, icc=None, threshold: float = 0.75, missing: str = "keep"):
        self.icc = icc
        self.threshold = threshold
        self.missing = missing

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # the decision uses the names only
        return tags

    def fit(self, X, y=None):
        X = validate_data(self, X, dtype=float, ensure_all_finite="allow-nan")
        if self.icc is None:
            raise ValueError("ICCFilter needs icc= (feature name -> ICC), e.g. from icc_table()")
        if self.missing not in ("keep", "drop"):
            raise ValueError(f"missing must be 'keep' or 'drop', got {self.missing!r}")
        names = getattr(self, "feature_names_in_", None)
        names = [str(n) for n in names] if names is not None else [f"x{i}" for i in range(X.shape[1])]
        icc = dict(self.icc)
        self.support_ = np.array([(icc[n] >= self.threshold) if n in icc else self.missing == "keep" for n in names])
        return self

    def _get_support_mask(self):
        check_is_fitted(self, "support_")
        return self.support_


class MRMR(SelectorMixin, BaseEstimator):
    """Minimum-redundancy maximum-relevance selection of ``n_features`` (Ding & Peng, J Bioinform
    Comput Biol 3:185, 2005; difference scheme "MID" with correlations in place of mutual
    information): greedily add the feature maximising ``rel(x) - mean_{s in selected} |r(x, s)|``.
    Relevance is on the same 0–1 scale as the redundancy: the correlation ratio
    ``eta = sqrt(F (k-1) / (F (k-1) + n - k))`` of the ANOVA F for ``classification`` (k classes;
    the point-biserial ``|r|`` for two), ``|r| = sqrt(F / (F + n - 2))`` for ``regression``.
    (The quotient form divides by redundancies near zero for independent features and then ranks
    by noise.)"""

    def __init__(self, n_features: int = 10, task: str = "classification"):
        self.n_features = n_features
        self.task = task

    def fit(self, X, y):
        X, y = validate_data(self, X, y, dtype=float)
        if self.task not in ("classification", "regression"):
            raise ValueError(f"task must be 'classification' or 'regression', got {self.task!r}")
        if int(self.n_features) < 1:
            raise ValueError(f"n_features must be >= 1, got {self.n_features}")
        k = min(int(self.n_features), X.shape[1])
        n = X.shape[0]
        with np.errstate(divide="ignore", invalid="ignore"):
            if self.task == "classification":
                k_cls = len(np.unique(y))
                F = f_classif(X, y)[0] * (k_cls - 1)
                rel = np.sqrt(F / (F + n - k_cls))
            else:
                F = f_regression(X, y)[0]
                rel = np.sqrt(F / (F + n - 2))
        F = np.nan_to_num(rel, nan=0.0, posinf=1.0)
        C = _abs_corr(X)
        chosen = [int(np.argmax(F))]
        red_sum = C[:, chosen[0]].copy()
        avail = np.ones(X.shape[1], bool)
        avail[chosen[0]] = False
        while len(chosen) < k:
            score = F - red_sum / len(chosen)
            score[~avail] = -np.inf
            j = int(np.argmax(score))
            chosen.append(j)
            avail[j] = False
            red_sum += C[:, j]
        self.ranking_ = np.asarray(chosen)
        mask = np.zeros(X.shape[1], bool)
        mask[chosen] = True
        self.support_ = mask
        return self

    def _get_support_mask(self):
        check_is_fitted(self, "support_")
        return self.support_


class L1Selector(SelectorMixin, BaseEstimator):
    """LASSO selection: features with a non-zero coefficient in an L1-penalised model
    (``LogisticRegression`` for classification, ``Lasso`` for regression; Tibshirani 1996).
    ``C`` is the inverse penalty (regression uses ``alpha = 1 / (2 n C)``).  When every coefficient
    is zero the ``min_features`` largest by ``|coef|`` before shrinkage are kept instead of none.
    Scale the features first."""

    def __init__(self, C: float = 0.1, task: str = "classification", min_features: int = 1, random_state=0):
        self.C = C
        self.task = task
        self.min_features = min_features
        self.random_state = random_state

    def fit(self, X, y):
        X, y = validate_data(self, X, y, dtype=float)
        if self.task == "classification":
            from sklearn.linear_model import LogisticRegression
            classes = np.unique(y)
            if len(classes) < 2 or len(X) < 2:
                raise ValueError(f"L1Selector needs >= 2 samples of >= 2 classes; got n_samples={len(X)}, "
                                 f"{len(classes)} class")
            targets = [y] if len(classes) <= 2 else [(y == c).astype(int) for c in classes]  # one-vs-rest
            coef = np.zeros(X.shape[1])
            for t in targets:
                m = LogisticRegression(C=self.C, l1_ratio=1.0, solver="liblinear", random_state=self.random_state)
                coef = np.maximum(coef, np.abs(m.fit(X, t).coef_).max(axis=0))
        elif self.task == "regression":
            from sklearn.linear_model import Lasso
            coef = np.abs(Lasso(alpha=1.0 / (2 * len(X) * self.C), random_state=self.random_state).fit(X, y).coef_)
        else:
            raise ValueError(f"task must be 'classification' or 'regression', got {self.task!r}")
        mask = coef > 0
        if mask.sum() < self.min_features:
            corr = np.abs(np.nan_to_num([np.corrcoef(X[:, j], y.astype(float))[0, 1] if X[:, j].std() > 0 else 0.0
                                         for j in range(X.shape[1])]))
            mask = np.zeros(X.shape[1], bool)
            mask[np.argsort(-corr, kind="stable")[:min(self.min_features, X.shape[1])]] = True
        self.coef_ = coef
        self.support_ = mask
        return self

    def _get_support_mask(self):
        check_is_fitted(self, "support_")
        return self.support_


def make_selector(name: str, task: str = "classification", **params):
    """A selection transformer by name (see ``SELECTORS``), with ``params`` for its constructor.

    ``rfe`` and ``importance`` take ``n_features`` (default 10); ``pca`` takes ``n_components``
    (default 0.95 of the variance).
    """
    if name == "variance":
        from sklearn.feature_selection import VarianceThreshold
        return VarianceThreshold(**params)
    if name == "correlation":
        return CorrelationFilter(**params)
    if name == "icc":
        return ICCFilter(**params)
    if name == "mrmr":
        return MRMR(task=task, **params)
    if name == "lasso":
        return L1Selector(task=task, **params)
    if name == "rfe":
        from sklearn.feature_selection import RFE
        from sklearn.linear_model import LinearRegression, LogisticRegression
        base = LogisticRegression(max_iter=1000) if task == "classification" else LinearRegression()
        return RFE(base, n_features_to_select=params.pop("n_features", 10), step=params.pop("step", 0.2), **params)
    if name == "pca":
        from sklearn.decomposition import PCA
        return PCA(n_components=params.pop("n_components", 0.95), **params)
    if name == "importance":
        from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
        from sklearn.feature_selection import SelectFromModel
        cls = RandomForestClassifier if task == "classification" else RandomForestRegressor
        k = params.pop("n_features", 10)
        return SelectFromModel(cls(n_estimators=params.pop("n_estimators", 200), random_state=params.pop("random_state", 0),
                                   n_jobs=1, **params),
                               max_features=lambda X: min(k, X.shape[1]), threshold=-np.inf)
    raise ValueError(f"unknown selector {name!r}; choose from {SELECTORS}")
