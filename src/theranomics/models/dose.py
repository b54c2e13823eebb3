"""Pre-therapy absorbed-dose prediction (PET biomarkers/radiomics -> post-therapy Gy/GBq per organ
or lesion), compared with the population-mean baseline.

The baseline predicts every patient's (or lesion's) dose per activity as the mean of the training
patients — what a fixed-activity protocol implicitly assumes.  Both are cross-validated on the same
patient-grouped folds; the comparison is the MAPE of each and the paired bootstrap CI of their
difference (model - baseline; negative = the model is better).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.dummy import DummyRegressor

from . import metrics as M
from .tables import split_xy
from .validation import CVResult, nested_cv
from .zoo import build_pipeline, default_grid, make_model

__all__ = ["DoseComparison", "compare_dose_models"]


@dataclass
class DoseComparison:
    model: CVResult
    baseline: CVResult
    summary: pd.DataFrame  # metric, model, baseline, difference, diff_ci_low, diff_ci_high


def compare_dose_models(table: pd.DataFrame, target: str = "kidney_dose_gy_per_gbq", features: list[str] | None = None,
                        *, model: str = "ridge", log_target: bool = True, n_outer: int = 5, n_inner: int = 3,
                        n_repeats: int = 1, n_boot: int = 500, seed: int = 0) -> DoseComparison:
    """Nested-CV dose model vs population-mean baseline on the same folds (see the module docstring).

    ``table`` rows are patients (organ doses) or lesions (lesion doses); folds are grouped by
    ``patient_id`` either way.  ``log_target`` models ``log(dose)`` (doses are positive and
    multiplicative in uptake).
    """
    X, y, groups = split_xy(table, target, features)
    y = y.to_numpy(float)
    if np.any(~(y > 0)):
        raise ValueError(f"target {target!r} must be a positive dose per activity (Gy/GBq) in every row")
    grid = default_grid(model, "regression")
    if log_target:
        grid = {k.replace("model__", "model__regressor__"): v for k, v in grid.items()}
    pipe = build_pipeline(make_model(model, "regression", random_state=seed), log_target=log_target)
    kw = dict(task="regression", n_outer=n_outer, n_inner=n_inner, n_repeats=n_repeats, n_boot=n_boot,
              random_state=seed)
    cv_model = nested_cv(pipe, X, y, groups, param_grid=grid, **kw)
    cv_base = nested_cv(DummyRegressor(strategy="mean"), X, y, groups, param_grid=None, **kw)
    pm, pb = cv_model.oof_matrix().mean(axis=1), cv_base.oof_matrix().mean(axis=1)
    rows = []
    for name, fn in (("mape_pct", M.mape), ("mae", lambda a, b: float(np.mean(np.abs(a - b))))):
        est, lo, hi = M.bootstrap_ci(lambda yy, a, b: fn(yy, a) - fn(yy, b), y, pm, pb, n_boot=n_boot, groups=groups,
                                     random_state=seed)
        rows.append((name, fn(y, pm), fn(y, pb), est, lo, hi))
    summary = pd.DataFrame(rows, columns=["metric", "model", "baseline", "difference", "diff_ci_low", "diff_ci_high"])
    return DoseComparison(cv_model, cv_base, summary)
