"""Intraclass correlation coefficients for feature robustness (test–retest, segmentations, perturbations).

Two-way ANOVA on an ``n`` subjects x ``k`` raters table (mean squares ``MSR`` subjects, ``MSC``
raters, ``MSE`` residual, ``MSW`` within subjects), Shrout & Fleiss, Psychol Bull 86:420 (1979);
confidence intervals of McGraw & Wong, Psychol Methods 1:30 (1996); interpretation of Koo & Li,
J Chiropr Med 15:155 (2016):

* ``ICC(1,1) = (MSR - MSW) / (MSR + (k-1) MSW)`` — one-way random effects.
* ``ICC(2,1) = (MSR - MSE) / (MSR + (k-1) MSE + k (MSC - MSE) / n)`` — two-way random, absolute agreement.
* ``ICC(3,1) = (MSR - MSE) / (MSR + (k-1) MSE)`` — two-way mixed, consistency.

Here "raters" are repeated measurements: scans, segmentations or perturbations of one lesion.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["ICCResult", "icc", "icc_table", "koo_li_rating", "ICC_KINDS"]

ICC_KINDS = ("ICC(1,1)", "ICC(2,1)", "ICC(3,1)")


@dataclass(frozen=True)
class ICCResult:
    kind: str
    value: float
    ci_low: float
    ci_high: float
    n_subjects: int
    n_raters: int


def koo_li_rating(value: float) -> str:
    """Koo & Li (2016): < 0.5 poor, 0.5–0.75 moderate, 0.75–0.9 good, > 0.9 excellent."""
    if not np.isfinite(value):
        return "undefined"
    return "poor" if value < 0.5 else "moderate" if value < 0.75 else "good" if value < 0.9 else "excellent"


def icc(ratings, kind: str = "ICC(3,1)", alpha: float = 0.05) -> ICCResult:
    """ICC of an ``(n_subjects, k_raters)`` table with its ``1 - alpha`` CI (see the module docstring).

    Subjects with a missing rating are dropped; at least 2 subjects and 2 raters are required.
    A table with no variance at all gives NaN.
    """
    if kind not in ICC_KINDS:
        raise ValueError(f"kind must be one of {ICC_KINDS}, got {kind!r}")
    Y = np.asarray(ratings, dtype=float)
    if Y.ndim != 2:
        raise ValueError(f"ratings must be a 2-D (subjects x raters) table, got shape {Y.shape}")
    Y = Y[np.isfinite(Y).all(axis=1)]
    n, k = Y.shape
    if n < 2 or k < 2:
        raise ValueError(f"ICC needs >= 2 complete subjects and >= 2 raters, got {n} x {k}")
    grand = Y.mean()
    ss_r = k * np.sum((Y.mean(axis=1) - grand) ** 2)
    ss_c = n * np.sum((Y.mean(axis=0) - grand) ** 2)
    ss_t = np.sum((Y - grand) ** 2)
    ss_e = ss_t - ss_r - ss_c
    msr, msc = ss_r / (n - 1), ss_c / (k - 1)
    mse = ss_e / ((n - 1) * (k - 1))
    msw = (ss_c + ss_e) / (n * (k - 1))
    q = 1 - alpha / 2
    nan = ICCResult(kind, float("nan"), float("nan"), float("nan"), n, k)
    with np.errstate(divide="ignore", invalid="ignore"):
        if kind == "ICC(1,1)":
            if msw == 0 and msr == 0:
                return nan
            value = (msr - msw) / (msr + (k - 1) * msw)
            f0 = msr / msw
            fl = f0 / stats.f.ppf(q, n - 1, n * (k - 1))
            fu = f0 * stats.f.ppf(q, n * (k - 1), n - 1)
            lo, hi = (fl - 1) / (fl + k - 1), (fu - 1) / (fu + k - 1)
        elif kind == "ICC(3,1)":
            if mse == 0 and msr == 0:
                return nan
            value = (msr - mse) / (msr + (k - 1) * mse)
            f0 = msr / mse
            fl = f0 / stats.f.ppf(q, n - 1, (n - 1) * (k - 1))
            fu = f0 * stats.f.ppf(q, (n - 1) * (k - 1), n - 1)
            lo, hi = (fl - 1) / (fl + k - 1), (fu - 1) / (fu + k - 1)
        else:
            den = msr + (k - 1) * mse + k * (msc - mse) / n
            if den == 0:
                return nan
            value = (msr - mse) / den
            a = k * value / (n * (1 - value))
            b = 1 + k * value * (n - 1) / (n * (1 - value))
            v = (a * msc + b * mse) ** 2 / ((a * msc) ** 2 / (k - 1) + (b * mse) ** 2 / ((n - 1) * (k - 1)))
            fl_s = stats.f.ppf(q, n - 1, v)
            fu_s = stats.f.ppf(q, v, n - 1)
            lo = n * (msr - fl_s * mse) / (fl_s * (k * msc + (k * n - k - n) * mse) + n * msr)
            hi = n * (fu_s * msr - mse) / (k * msc + (k * n - k - n) * mse + n * fu_s * msr)
    return ICCResult(kind, float(value), float(lo), float(hi), n, k)


def icc_table(long: pd.DataFrame, features: list[str] | None = None, *, subject: str = "lesion",
              rater: str = "rater", kind: str = "ICC(3,1)", threshold: float = 0.75) -> pd.DataFrame:
    """Per-feature ICC from a long table (one row per subject x rater, one column per feature).

    Returns ``feature, icc, ci_low, ci_high, n_subjects, n_raters, rating, robust`` where
    ``robust = icc >= threshold`` and ``rating`` follows Koo & Li (2016).
    """
    for c in (subject, rater):
        if c not in long.columns:
            raise ValueError(f"icc_table: column {c!r} not in the table (columns: {list(long.columns)[:10]})")
    if features is None:
        features = [c for c in long.columns if c not in (subject, rater) and pd.api.types.is_numeric_dtype(long[c])]
    if long.duplicated([subject, rater]).any():
        raise ValueError(f"icc_table: some ({subject}, {rater}) pairs appear more than once")
    rows = []
    for f in features:
        wide = long.pivot(index=subject, columns=rater, values=f)
        r = icc(wide.to_numpy(float), kind)
        rows.append((f, r.value, r.ci_low, r.ci_high, r.n_subjects, r.n_raters, koo_li_rating(r.value),
                     bool(r.value >= threshold)))
    return pd.DataFrame(rows, columns=["feature", "icc", "ci_low", "ci_high", "n_subjects", "n_raters", "rating", "robust"])
