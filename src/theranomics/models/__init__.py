"""Predictive models with honest validation (issue 6).

Cohort tables (:mod:`.tables`, :mod:`.aggregate`), patient-grouped folds (:mod:`.splits`),
robustness ICC and image perturbations (:mod:`.icc`, :mod:`.perturb`), ComBat harmonisation
(:mod:`.combat`), selection transformers (:mod:`.selection`), the model zoo (:mod:`.zoo`),
survival tools (:mod:`.survival`), metrics (:mod:`.metrics`), nested CV and external validation
(:mod:`.validation`), training with model cards (:mod:`.train`, :mod:`.card`, :mod:`.persist`),
dose prediction (:mod:`.dose`) and reports (:mod:`.report`).  Submodules load on first use.
"""
from __future__ import annotations

import importlib

_API = {
    "tables": ("JOIN_KEYS", "SchemaError", "validate_table", "join_cohort", "split_xy"),
    "aggregate": ("aggregate_lesions", "AGGREGATION_RULES"),
    "splits": ("RepeatedGroupKFold", "patient_folds", "check_grouped"),
    "icc": ("icc_table", "ICCResult", "koo_li_rating"),
    "perturb": ("robustness_table", "draw_perturbations", "apply_perturbation", "first_order_features"),
    "combat": ("ComBat",),
    "selection": ("CorrelationFilter", "ICCFilter", "MRMR", "L1Selector", "make_selector"),
    "zoo": ("make_model", "default_grid", "build_pipeline", "MODELS"),
    "survival": ("CoxRegression", "CoxNet", "kaplan_meier", "logrank", "Cutoff", "Nomogram"),
    "metrics": ("auc", "surv_array", "classification_metrics", "calibration_intercept_slope", "calibration_table",
                "decision_curve", "c_index", "time_dependent_auc", "regression_metrics", "mape", "bootstrap_ci"),
    "validation": ("nested_cv", "external_validation", "fit_tuned", "CVResult"),
    "train": ("train_model", "TrainedModel", "train_from_config", "evaluate_model", "read_table"),
    "card": ("ModelCard",),
    "persist": ("save_model", "load_model"),
    "dose": ("compare_dose_models", "DoseComparison"),
    "report": ("model_report",),
}
_WHERE = {name: mod for mod, names in _API.items() for name in names}

__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(f"module 'theranomics.models' has no attribute {name!r}")
