"""ComBat harmonisation as a scikit-learn transformer (usable inside cross-validation folds).

Model (Johnson, Li & Rabinovic, Biostatistics 8:118, 2007): feature ``g`` of sample ``j`` in batch
(centre/scanner) ``i`` is ``x_ijg = alpha_g + X_j beta_g + gamma_ig + delta_ig eps_ijg``.  Data are
standardised with the pooled mean/variance, the batch location ``gamma`` and scale ``delta`` are
estimated per batch and shrunk by parametric empirical Bayes (normal prior on ``gamma``,
inverse-gamma on ``delta``, priors fitted across features of that batch), then removed:
``x* = sigma_g (z - gamma*_ig) / sqrt(delta*_ig) + alpha_g + X_j beta_g``.  Follows neuroCombat
(Fortin et al. 2017/2018), including the reference-batch variant.

**External centre protocol** (a batch never seen in ``fit``): its ``gamma``/``delta`` are estimated
from its own features only (all rows of that batch passed together to ``transform``, at least
``min_external_samples``), after standardising with the *training* reference (``alpha``,
``beta``, ``sigma`` fitted on the training data), with the same empirical-Bayes shrinkage.  No
outcome is ever used.  ``unseen="error"`` refuses such batches instead.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

__all__ = ["ComBat"]


def _eb_location_scale(s: np.ndarray, mean_only: bool, conv: float = 1e-4, max_iter: int = 1000):
    """Parametric EB estimates (gamma*, delta*) of one batch; ``s`` is (n_samples, n_features)."""
    n = np.sum(np.isfinite(s), axis=0).astype(float)
    g_hat = np.nanmean(s, axis=0)
    g_bar = g_hat.mean()
    t2 = g_hat.var(ddof=1) if g_hat.size > 1 else 1.0
    if mean_only:  # as sva::ComBat(mean.only=TRUE): postmean with n = 1, delta = 1
        return (t2 * g_hat + g_bar) / (t2 + 1.0), np.ones_like(g_hat)
    d_hat = np.nanvar(s, axis=0, ddof=1)
    d_hat[d_hat == 0] = 1.0
    m, v = d_hat.mean(), d_hat.var(ddof=1) if d_hat.size > 1 else 0.0
    if v <= 0:  # a single feature (or identical variances): no shrinkage of the scale possible
        return (t2 * n * g_hat + d_hat * g_bar) / (t2 * n + d_hat), d_hat
    a = (2 * v + m**2) / v
    b = (m * v + m**3) / v
    g_old, d_old = g_hat.copy(), d_hat.copy()
    for _ in range(max_iter):
        g_new = (t2 * n * g_hat + d_old * g_bar) / (t2 * n + d_old)
        sum2 = np.nansum((s - g_new) ** 2, axis=0)
        d_new = (0.5 * sum2 + b) / (n / 2.0 + a - 1.0)
        change = max(np.max(np.abs(g_new - g_old) / np.abs(g_old)), np.max(np.abs(d_new - d_old) / d_old))
        g_old, d_old = g_new, d_new
        if change <= conv:
            break
    return g_old, d_old


class ComBat(TransformerMixin, BaseEstimator):
    """ComBat harmonisation; the batch (centre) is read from column ``batch_column`` of ``X``.

    Parameters
    ----------
    batch_column : column name (DataFrame input) or integer position (array input) of the batch.
        It is dropped from the output.
    covariate_columns : columns whose effect is preserved (continuous covariates in the design,
        e.g. age); they are passed through unchanged.  Never put the outcome here.
    eb : empirical-Bayes shrinkage (``False``: plain location/scale per batch).
    mean_only : adjust only the location.
    ref_batch : batch left unchanged, to which the others are aligned.
    unseen : ``"estimate"`` (external-centre protocol, see the module docstring) or ``"error"``.
    min_external_samples : fewest rows of an unseen batch that ``transform`` accepts.

    Missing values are ignored in the estimates and left missing (impute after ComBat).
    """

    def __init__(self, batch_column="centre", covariate_columns=(), eb: bool = True, mean_only: bool = False,
                 ref_batch=None, unseen: str = "estimate", min_external_samples: int = 5):
        self.batch_column = batch_column
        self.covariate_columns = covariate_columns
        self.eb = eb
        self.mean_only = mean_only
        self.ref_batch = ref_batch
        self.unseen = unseen
        self.min_external_samples = min_external_samples

    # -- input handling -----------------------------------------------------
    def _split(self, X, fitting: bool):
        if isinstance(X, pd.DataFrame):
            cols = list(X.columns)
            if self.batch_column not in cols:
                raise ValueError(f"ComBat: batch column {self.batch_column!r} not in the feature table "
                                 f"(columns: {cols[:8]}…)")
            covs = list(self.covariate_columns)
            absent = [c for c in covs if c not in cols]
            if absent:
                raise ValueError(f"ComBat: covariate column(s) {absent} not in the feature table")
            batch = X[self.batch_column].to_numpy()
            feat_cols = [c for c in cols if c != self.batch_column and c not in covs]
            names = [str(c) for c in cols if c != self.batch_column]
            F = X[feat_cols].to_numpy(dtype=float)
            C = X[covs].to_numpy(dtype=float) if covs else np.zeros((len(X), 0))
            pos_feat = [names.index(str(c)) for c in feat_cols]
        else:
            A = np.asarray(X, dtype=object if not np.issubdtype(np.asarray(X).dtype, np.number) else float)
            if A.ndim != 2:
                raise ValueError(f"ComBat expects a 2-D table, got shape {A.shape}")
            if not isinstance(self.batch_column, (int, np.integer)):
                raise ValueError("ComBat: with an array input, batch_column must be an integer column position")
            ncol = A.shape[1]
            if not 0 <= self.batch_column < ncol:
                raise ValueError(f"ComBat: batch_column {self.batch_column} outside 0..{ncol - 1}")
            covs = [int(c) for c in self.covariate_columns]
            batch = A[:, self.batch_column]
            keep = [c for c in range(ncol) if c != self.batch_column]
            feat_cols = [c for c in keep if c not in covs]
            names = [f"x{c}" for c in keep]
            F = A[:, feat_cols].astype(float)
            C = A[:, covs].astype(float) if covs else np.zeros((A.shape[0], 0))
            pos_feat = [keep.index(c) for c in feat_cols]
        if fitting:
            self.n_features_in_ = len(names) + 1
            if isinstance(X, pd.DataFrame):
                self.feature_names_in_ = np.asarray([str(c) for c in X.columns], dtype=object)
        elif len(names) + 1 != self.n_features_in_:
            raise ValueError(f"ComBat was fitted on {self.n_features_in_} columns, got {len(names) + 1}")
        if np.isinf(F).any():
            raise ValueError("ComBat: features contain infinite values")
        if pd.isna(batch).any():
            raise ValueError(f"ComBat: batch column {self.batch_column!r} has missing values")
        return batch, F, C, names, pos_feat

    # -- fit / transform ----------------------------------------------------
    def fit(self, X, y=None):
        """Estimate the standardisation and the batch effects of the training data (``y`` unused)."""
        if self.unseen not in ("estimate", "error"):
            raise ValueError(f"unseen must be 'estimate' or 'error', got {self.unseen!r}")
        batch, F, C, names, _ = self._split(X, fitting=True)
        levels, inv, counts = np.unique(batch, return_inverse=True, return_counts=True)
        if len(levels) < 2:
            raise ValueError(f"ComBat needs at least two batches in the training data, got {list(levels)}")
        if counts.min() < 2:
            raise ValueError(f"ComBat: batch {levels[counts.argmin()]!r} has a single sample; need >= 2 per batch")
        ref = None
        if self.ref_batch is not None:
            hits = np.flatnonzero(levels == self.ref_batch)
            if hits.size == 0:
                raise ValueError(f"ComBat: ref_batch {self.ref_batch!r} not among the batches {list(levels)}")
            ref = int(hits[0])
        n, p = F.shape
        onehot = np.eye(len(levels))[inv]
        if ref is not None:
            onehot[:, ref] = 1.0
        design = np.hstack([onehot, C])
        B = np.empty((design.shape[1], p))
        finite = np.isfinite(F)
        if finite.all():
            B[:] = np.linalg.lstsq(design, F, rcond=None)[0]
        else:
            for g in range(p):
                ok = finite[:, g]
                B[:, g] = np.linalg.lstsq(design[ok], F[ok, g], rcond=None)[0]
        nb = len(levels)
        grand = B[ref] if ref is not None else (counts / n) @ B[:nb]
        resid = F - design @ B
        rows = inv == ref if ref is not None else np.ones(n, bool)
        var = np.nanmean(resid[rows] ** 2, axis=0)
        var[~(var > 0)] = 1.0
        cov_beta = B[nb:]
        s = (F - grand - C @ cov_beta) / np.sqrt(var)
        gam = np.empty((nb, p))
        dl = np.empty((nb, p))
        ref_mean = np.nanmean(s[inv == ref], axis=0) if ref is not None else 0.0
        for b in range(nb):
            sb = s[inv == b]
            if b == ref:
                gam[b], dl[b] = 0.0, 1.0
                continue
            if self.eb:
                gb, db = _eb_location_scale(sb - ref_mean, self.mean_only)
            else:
                gb = np.nanmean(sb - ref_mean, axis=0)
                db = np.ones(p) if self.mean_only else np.nanvar(sb, axis=0, ddof=1)
                db[db == 0] = 1.0
            gam[b], dl[b] = gb, db
        self.batches_ = levels
        self.ref_index_ = ref
        self.grand_mean_ = grand
        self.var_pooled_ = var
        self.covariate_coef_ = cov_beta
        self.ref_offset_ = np.broadcast_to(ref_mean, (p,)).astype(float).copy()
        self.gamma_star_ = gam
        self.delta_star_ = dl
        self.feature_names_out_ = np.asarray(names, dtype=object)
        return self

    def transform(self, X):
        """Harmonise ``X``; rows of a batch unseen in ``fit`` follow the external-centre protocol."""
        check_is_fitted(self, "gamma_star_")
        batch, F, C, names, pos_feat = self._split(X, fitting=False)
        s = (F - self.grand_mean_ - C @ self.covariate_coef_) / np.sqrt(self.var_pooled_)
        adj = np.empty_like(s)
        for level in np.unique(batch):
            rows = batch == level
            hit = np.flatnonzero(self.batches_ == level)
            if hit.size:
                g, d = self.gamma_star_[hit[0]], self.delta_star_[hit[0]]
            else:
                if self.unseen == "error":
                    raise ValueError(f"ComBat: batch {level!r} was not seen in fit (training batches: "
                                     f"{list(self.batches_)}) and unseen='error'")
                if rows.sum() < self.min_external_samples:
                    raise ValueError(f"ComBat: unseen batch {level!r} has {int(rows.sum())} rows; the external-centre "
                                     f"protocol needs >= {self.min_external_samples} rows of that centre passed together")
                sb = s[rows] - self.ref_offset_
                if self.eb:
                    g, d = _eb_location_scale(sb, self.mean_only)
                else:
                    g = np.nanmean(sb, axis=0)
                    d = np.ones_like(g) if self.mean_only else np.nanvar(sb, axis=0, ddof=1)
            adj[rows] = (s[rows] - g) / np.sqrt(d)
        out_feat = adj * np.sqrt(self.var_pooled_) + self.grand_mean_ + C @ self.covariate_coef_
        out = np.empty((F.shape[0], len(names)))
        out[:, pos_feat] = out_feat
        cov_pos = [i for i in range(len(names)) if i not in set(pos_feat)]
        if cov_pos:
            out[:, cov_pos] = C
        return out

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self, "feature_names_out_")
        return self.feature_names_out_.copy()
