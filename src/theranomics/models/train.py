"""Train a model on a cohort table: nested CV for the performance estimate, a tuned final fit on
all development patients, and a model card.  :class:`TrainedModel` predicts new patients."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from importlib import metadata

import numpy as np
import pandas as pd

from . import metrics as M
from .card import ModelCard
from .combat import ComBat
from .selection import make_selector
from .tables import JOIN_KEYS, SchemaError, split_xy
from .validation import CVResult, fit_tuned, nested_cv, predict_scores
from .zoo import build_pipeline, default_grid, make_model

__all__ = ["TrainedModel", "train_model", "package_versions", "outcome_array"]

_PACKAGES = ("theranomics", "scikit-learn", "numpy", "scipy", "pandas", "scikit-survival", "xgboost-cpu", "joblib")


def package_versions() -> dict[str, str]:
    """Installed versions of the packages a saved model depends on."""
    out = {}
    for p in _PACKAGES:
        try:
            out[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            out[p] = "not installed"
    return out


def outcome_array(table: pd.DataFrame, outcome: list[str], task: str):
    """``y`` for ``task``: a 0/1 vector, a float vector, or (survival: ``[event, time]``) a structured array."""
    missing = [c for c in outcome if c not in table.columns]
    if missing:
        raise SchemaError(f"outcome column(s) {missing} not in the cohort table")
    if task == "survival":
        if len(outcome) != 2:
            raise ValueError(f"a survival outcome is two columns [event, time], got {outcome}")
        return M.surv_array(table[outcome[0]].to_numpy(), table[outcome[1]].to_numpy())
    if len(outcome) != 1:
        raise ValueError(f"a {task} outcome is one column, got {outcome}")
    y = table[outcome[0]].to_numpy()
    if task == "classification":
        M._binary(y)
        return y.astype(int)
    return y.astype(float)


@dataclass
class TrainedModel:
    """A fitted pipeline with what is needed to use it honestly on new patients."""

    estimator: object
    task: str
    outcome: list[str]
    features: list[str]
    card: ModelCard
    validation: CVResult | None = None
    versions: dict = field(default_factory=package_versions)

    def predict(self, table: pd.DataFrame) -> pd.DataFrame:
        """Predictions for the rows of ``table`` (keys kept): ``probability`` (classification),
        ``prediction`` (regression) or ``risk_score`` (survival)."""
        missing = [c for c in self.features if c not in table.columns]
        if missing:
            raise SchemaError(f"the feature table lacks {len(missing)} column(s) the model was trained on: {missing[:10]}")
        pred = predict_scores(self.estimator, table[self.features], self.task)
        keys = [k for k in JOIN_KEYS if k in table.columns]
        col = {"classification": "probability", "regression": "prediction", "survival": "risk_score"}[self.task]
        out = table[keys].copy().reset_index(drop=True)
        out[col] = pred
        return out


def _selection_steps(selection, task: str):
    steps = []
    for i, spec in enumerate(selection or ()):
        if isinstance(spec, str):
            steps.append((f"select{i}_{spec}", make_selector(spec, task)))
        elif isinstance(spec, dict):
            spec = dict(spec)
            name = spec.pop("name")
            steps.append((f"select{i}_{name}", make_selector(name, task, **spec)))
        else:
            steps.append((f"select{i}", spec))
    return steps


def train_model(table: pd.DataFrame, outcome: str | list[str], *, task: str = "classification",
                features: list[str] | None = None, model: str = "logistic", model_params: dict | None = None,
                selection=(), harmonise: bool = False, centre_column: str = "centre", param_grid="default",
                log_target: bool = False, n_outer: int = 5, n_inner: int = 3, n_repeats: int = 1,
                n_boot: int = 500, seed: int = 0, name: str | None = None, intended_use: str = "") -> TrainedModel:
    """Nested-CV estimate + tuned final fit + model card, for one cohort table.

    ``selection``: selector names or ``{"name": ..., **params}`` dicts (see
    :func:`~theranomics.models.selection.make_selector`); ``harmonise`` puts ComBat on
    ``centre_column`` first; ``param_grid="default"`` uses :func:`default_grid` of the model (plus
    the selectors' grids given as ``{"<step>__param": [...]}`` in a dict instead).
    """
    outcome = [outcome] if isinstance(outcome, str) else list(outcome)
    X, _, groups = split_xy(table, outcome[0], features)
    feats = list(X.columns)
    if harmonise:
        if centre_column not in table.columns:
            raise SchemaError(f"harmonise=True needs the centre column {centre_column!r} in the table")
        feats = feats + [centre_column] if centre_column not in feats else feats
        X = table[feats]
    y = outcome_array(table, outcome, task)
    est = make_model(model, task, random_state=seed, **(model_params or {}))
    pipe = build_pipeline(est, selection=_selection_steps(selection, task),
                          harmonise=ComBat(batch_column=centre_column) if harmonise else None, log_target=log_target)
    if isinstance(param_grid, str) and param_grid == "default":
        grid = default_grid(model, task)
        if log_target:
            grid = {k.replace("model__", "model__regressor__"): v for k, v in grid.items()}
    else:
        grid = dict(param_grid or {})
    cv = nested_cv(pipe, X, y, groups, param_grid=grid, task=task, n_outer=n_outer, n_inner=n_inner,
                   n_repeats=n_repeats, n_boot=n_boot, random_state=seed)
    final, best = fit_tuned(pipe, X, y, groups, param_grid=grid, task=task)
    card = _card(name or f"{model}-{'-'.join(outcome)}", task, outcome, model, final, best, table, X, y, groups,
                 cv, n_outer, n_inner, n_repeats, harmonise, centre_column, intended_use)
    return TrainedModel(final, task, outcome, feats, card, cv)


def _card(name, task, outcome, model, final, best, table, X, y, groups, cv: CVResult, n_outer, n_inner, n_repeats,
          harmonise, centre_column, intended_use) -> ModelCard:
    n_pat = len(np.unique(groups))
    data = {"patients": n_pat, "rows": len(X), "features (input)": X.shape[1] - int(harmonise)}
    if centre_column in table.columns:
        data["centres"] = dict(table[centre_column].value_counts().sort_index().astype(int))
    if task == "classification":
        data["outcome prevalence"] = round(float(np.mean(y)), 4)
    elif task == "survival":
        data["events"] = int(y["event"].sum())
        data["median follow-up (time units of the outcome)"] = round(float(np.median(y["time"])), 3)
    else:
        data["outcome mean (sd)"] = f"{np.mean(y):.4g} ({np.std(y, ddof=1):.4g})"
    oof = cv.oof_matrix().mean(axis=1)
    calib, failures, subgroups = {}, [], []
    keys = [k for k in JOIN_KEYS if k in table.columns]
    if task == "classification":
        a, b = M.calibration_intercept_slope(y, np.clip(oof, 1e-6, 1 - 1e-6))
        calib = {"calibration-in-the-large (ideal 0)": a, "calibration slope (ideal 1)": b,
                 "brier": float(np.mean((oof - y) ** 2))}
        err = np.abs(oof - y)
    elif task == "regression":
        err = np.abs(oof - y) / np.abs(y) * 100
    else:
        err = None
    if err is not None:
        worst = np.argsort(-err)[:5]
        for i in worst:
            rec = {k: table[k].iloc[i] for k in keys}
            rec.update({"observed": float(y[i]), "predicted (out-of-fold)": float(oof[i])})
            failures.append(rec)
    if centre_column in table.columns:
        for c in sorted(table[centre_column].unique()):
            rows = (table[centre_column] == c).to_numpy()
            try:
                if task == "classification":
                    val, metric = M.auc(y[rows], oof[rows]), "auc"
                elif task == "regression":
                    val, metric = M.mape(y[rows], oof[rows]), "mape_pct"
                else:
                    val, metric = M.c_index(y["event"][rows], y["time"][rows], oof[rows]), "c_index"
            except ValueError:
                val, metric = float("nan"), "undefined"
            subgroups.append({"centre": c, "n": int(rows.sum()), "metric": metric, "value (out-of-fold)": float(val)})
    steps = [f"{n}:{type(s).__name__}" for n, s in final.steps]
    protocol = (f"{n_repeats} x repeated nested cross-validation, {n_outer} outer / {n_inner} inner folds grouped by "
                f"patient (a patient's rows never straddle folds); every step of the pipeline, including "
                f"{'ComBat harmonisation, ' if harmonise else ''}imputation, scaling and feature selection, fitted on "
                f"training folds only; metrics on pooled out-of-fold predictions, 95 % CI by patient-level "
                f"percentile bootstrap. The final model is refitted on all patients with inner-CV tuning.")
    limits = ["internal validation only: confirm on an external centre before clinical use"]
    if n_pat < 100:
        limits.append(f"small development cohort ({n_pat} patients): wide confidence intervals")
    return ModelCard(name=name, task=task, outcome=outcome, intended_use=intended_use, model=model, pipeline=steps,
                     hyperparameters=best, data=data, validation_protocol=protocol,
                     metrics=cv.metrics.to_dict(orient="records"), calibration=calib, failure_cases=failures,
                     subgroups=subgroups, important_features={k: float(v) for k, v in cv.selection_frequency.head(15).items()},
                     limitations=limits, versions=package_versions(),
                     created=dt.datetime.now().isoformat(timespec="seconds"))


def read_table(path) -> pd.DataFrame:
    """A cohort table from CSV or Parquet (by extension)."""
    from pathlib import Path
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"cohort table not found: {path}")
    if path.suffix.lower() in (".parquet", ".pq"):
        return pd.read_parquet(path)
    if path.suffix.lower() in (".csv", ".txt"):
        return pd.read_csv(path)
    raise ValueError(f"{path}: unknown table format {path.suffix!r}; use .csv or .parquet")


_CONFIG_KEYS = {"table", "outcome", "task", "features", "model", "model_params", "selection", "harmonise",
                "centre_column", "param_grid", "log_target", "n_outer", "n_inner", "n_repeats", "n_boot", "seed",
                "name", "intended_use", "out"}


def train_from_config(config_path):
    """Train from a TOML or JSON config (keys: ``table``, ``outcome``, ``task``, ``out`` and any
    :func:`train_model` keyword); write the model, its card and an HTML report into ``out``.
    Relative paths are relative to the config file.  Returns ``(TrainedModel, out_folder)``."""
    import json
    import tomllib
    from pathlib import Path

    from .persist import save_model
    from .report import model_report
    config_path = Path(config_path)
    if not config_path.is_file():
        raise FileNotFoundError(f"config file not found: {config_path}")
    text = config_path.read_text(encoding="utf-8")
    try:
        cfg = tomllib.loads(text) if config_path.suffix.lower() == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{config_path}: cannot parse config: {exc}") from exc
    unknown = sorted(set(cfg) - _CONFIG_KEYS)
    if unknown:
        raise ValueError(f"{config_path}: unknown config key(s) {unknown}; allowed: {sorted(_CONFIG_KEYS)}")
    for key in ("table", "outcome", "out"):
        if key not in cfg:
            raise ValueError(f"{config_path}: config lacks required key {key!r}")
    base = config_path.parent
    table = read_table(base / cfg.pop("table"))
    out = base / cfg.pop("out")
    outcome = cfg.pop("outcome")
    model = train_model(table, outcome, **cfg)
    save_model(model, out)
    y = outcome_array(table, model.outcome, model.task)
    model_report(model, y, out / "report.html")
    return model, out


def evaluate_model(model: TrainedModel, table: pd.DataFrame, *, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """External validation of a saved model on a labelled table (never refitted): metrics with
    patient-level bootstrap 95 % CIs."""
    from .validation import task_metrics
    y = outcome_array(table, model.outcome, model.task)
    pred = model.predict(table).iloc[:, -1].to_numpy()
    groups = table["patient_id"].to_numpy() if "patient_id" in table.columns else None
    return task_metrics(y, pred, model.task, groups, n_boot=n_boot, random_state=seed)
