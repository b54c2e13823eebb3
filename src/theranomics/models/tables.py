"""Cohort tables: join features with outcomes on the project's keys, validate schema and units.

Join keys (the project's contract): ``patient_id, cycle, timepoint, lesion_id, organ``.
A table is at *patient* level (keys ``patient_id`` [+ ``cycle``]) or *lesion* level (keys
``patient_id, lesion_id`` [+ ``cycle``, ``timepoint``]).  Units are part of column names
(``dose_gy_per_gbq``, ``volume_ml``, ``os_time_months``); a table may also declare units in
``df.attrs["units"]`` (column -> unit), which must then agree with the name's suffix.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["JOIN_KEYS", "ColumnSpec", "KNOWN_COLUMNS", "UNIT_SUFFIXES", "SchemaError", "validate_table",
           "join_cohort", "split_xy"]

JOIN_KEYS = ("patient_id", "cycle", "timepoint", "lesion_id", "organ")


class SchemaError(ValueError):
    """A cohort table does not follow the schema (missing key, wrong unit, value out of range)."""


@dataclass(frozen=True)
class ColumnSpec:
    """Expected kind (``float``, ``int``, ``binary``, ``label``), unit and allowed range of a column."""

    kind: str
    unit: str | None = None
    min: float | None = None
    max: float | None = None


#: Column-name suffix -> unit.  Longest suffix wins (``_gy_per_gbq`` before ``_gy``).
UNIT_SUFFIXES: dict[str, str] = {
    "_gy_per_gbq": "Gy/GBq", "_mgy_per_mbq": "mGy/MBq", "_gy": "Gy", "_mgy": "mGy", "_gbq": "GBq",
    "_mbq": "MBq", "_mbq_h": "MBq*h", "_ml": "mL", "_ml_min": "mL/min", "_mm": "mm", "_cm": "cm",
    "_kg": "kg", "_h": "h", "_d": "d", "_months": "months", "_y": "y", "_pct": "%",
    "_ng_ml": "ng/mL", "_u_l": "U/L", "_g_dl": "g/dL", "_bq_ml": "Bq/mL",
}

KNOWN_COLUMNS: dict[str, ColumnSpec] = {
    "patient_id": ColumnSpec("label"), "timepoint": ColumnSpec("label"), "organ": ColumnSpec("label"),
    "lesion_id": ColumnSpec("label"), "cycle": ColumnSpec("int", None, 1), "centre": ColumnSpec("label"),
    "age_y": ColumnSpec("float", "y", 0, 130), "psa_ng_ml": ColumnSpec("float", "ng/mL", 0),
    "alp_u_l": ColumnSpec("float", "U/L", 0), "ldh_u_l": ColumnSpec("float", "U/L", 0),
    "egfr_ml_min": ColumnSpec("float", "mL/min", 0), "prior_treatments": ColumnSpec("int", None, 0),
    "response": ColumnSpec("binary"), "lesion_label": ColumnSpec("binary"),
    "delta_psa_pct": ColumnSpec("float", "%", -100), "os_time_months": ColumnSpec("float", "months", 0),
    "os_event": ColumnSpec("binary"), "pfs_time_months": ColumnSpec("float", "months", 0),
    "pfs_event": ColumnSpec("binary"), "volume_ml": ColumnSpec("float", "mL", 0),
    "dose_gy_per_gbq": ColumnSpec("float", "Gy/GBq", 0), "kidney_dose_gy_per_gbq": ColumnSpec("float", "Gy/GBq", 0),
    "dose_gy": ColumnSpec("float", "Gy", 0), "activity_gbq": ColumnSpec("float", "GBq", 0),
}


def _suffix_unit(column: str) -> str | None:
    best = None
    for suffix, unit in UNIT_SUFFIXES.items():
        if column.endswith(suffix) and (best is None or len(suffix) > len(best[0])):
            best = (suffix, unit)
    return best[1] if best else None


def _level_keys(df: pd.DataFrame, level: str) -> list[str]:
    if level == "patient":
        keys = ["patient_id"] + [k for k in ("cycle",) if k in df.columns]
    elif level == "lesion":
        keys = ["patient_id", "lesion_id"] + [k for k in ("cycle", "timepoint") if k in df.columns]
    elif level == "organ":
        keys = ["patient_id", "organ"] + [k for k in ("cycle", "timepoint") if k in df.columns]
    else:
        raise ValueError(f"level must be 'patient', 'lesion' or 'organ', got {level!r}")
    return keys


def validate_table(df: pd.DataFrame, level: str, name: str = "table",
                   schema: dict[str, ColumnSpec] | None = None) -> list[str]:
    """Check a cohort table; return its key columns or raise :class:`SchemaError`.

    Checks: the level's keys are present, non-missing and unique together; declared units
    (``df.attrs["units"]``) agree with the unit suffix of the column name; every column in
    ``KNOWN_COLUMNS`` (or ``schema``) has the expected kind and range; feature columns are numeric.
    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"{name} must be a pandas DataFrame, got {type(df).__name__}")
    specs = {**KNOWN_COLUMNS, **(schema or {})}
    keys = _level_keys(df, level)
    missing = [k for k in keys if k not in df.columns]
    if missing:
        raise SchemaError(f"{name}: {level}-level table lacks key column(s) {missing}; columns are {list(df.columns)[:12]}")
    for k in keys:
        if df[k].isna().any():
            raise SchemaError(f"{name}: key column {k!r} has {int(df[k].isna().sum())} missing value(s)")
    dup = df.duplicated(keys, keep=False)
    if dup.any():
        first = df.loc[dup, keys].iloc[0].to_dict()
        raise SchemaError(f"{name}: {int(dup.sum())} rows share the same keys {keys}, e.g. {first}")
    declared = dict(df.attrs.get("units", {}) or {})
    for col, unit in declared.items():
        expected = specs[col].unit if col in specs and specs[col].unit else _suffix_unit(str(col))
        if expected is not None and unit != expected:
            raise SchemaError(f"{name}: column {col!r} is declared in {unit!r} but its name says {expected!r}; "
                              f"convert it or rename the column")
    for col in df.columns:
        if col in keys or col in ("centre", "timepoint", "organ"):
            continue
        values = df[col]
        spec = specs.get(col)
        if spec is None:
            if not (pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values)):
                raise SchemaError(f"{name}: feature column {col!r} is not numeric (dtype {values.dtype}); "
                                  f"encode categorical variables before modelling")
            continue
        if spec.kind == "label":
            continue
        if not (pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values)):
            raise SchemaError(f"{name}: column {col!r} must be numeric ({spec.kind}), got dtype {values.dtype}")
        v = values.dropna().to_numpy(dtype=float)
        if spec.kind == "binary" and not np.isin(v, (0.0, 1.0)).all():
            raise SchemaError(f"{name}: column {col!r} must be 0/1, found values {sorted(set(v) - {0.0, 1.0})[:5]}")
        if spec.kind == "int" and not np.all(np.mod(v, 1) == 0):
            raise SchemaError(f"{name}: column {col!r} must hold integers")
        if spec.min is not None and (v < spec.min).any():
            raise SchemaError(f"{name}: column {col!r} ({spec.unit or 'no unit'}) has values below {spec.min}: "
                              f"min {v.min():.4g}")
        if spec.max is not None and (v > spec.max).any():
            raise SchemaError(f"{name}: column {col!r} ({spec.unit or 'no unit'}) has values above {spec.max}: "
                              f"max {v.max():.4g}")
    return keys


def join_cohort(features: list[tuple[str, pd.DataFrame]] | dict[str, pd.DataFrame], outcomes: pd.DataFrame, *,
                level: str = "patient", how: str = "inner") -> pd.DataFrame:
    """Join feature tables with an outcome table at one level.

    ``features`` maps a table name to a table; each must be at ``level`` or at patient level
    (patient-level columns are broadcast to lesions/organs by ``patient_id`` [+ ``cycle``]).
    Lesion tables must be aggregated first for a patient-level cohort
    (:func:`theranomics.models.aggregate.aggregate_lesions`).  A column present in two tables is
    an error.  Rows whose outcome is missing are dropped with ``how="inner"``.
    Returns the joined table; ``attrs`` holds ``level``, ``keys`` and ``sources`` (column -> table).
    """
    items = list(features.items()) if isinstance(features, dict) else list(features)
    if not items:
        raise ValueError("join_cohort needs at least one feature table")
    if how not in ("inner", "left"):
        raise ValueError(f"how must be 'inner' or 'left', got {how!r}")
    out_keys = validate_table(outcomes, level if "lesion_id" in outcomes.columns or level == "patient" else "patient",
                              "outcomes")
    sources: dict[str, str] = {c: "outcomes" for c in outcomes.columns if c not in out_keys}
    table = None
    for tname, df in items:
        has_level_key = ("lesion_id" in df.columns) if level == "lesion" else (
            ("organ" in df.columns) if level == "organ" else False)
        tlevel = level if has_level_key else "patient"
        if level == "patient" and "lesion_id" in df.columns:
            raise SchemaError(f"feature table {tname!r} is lesion-level (has lesion_id); aggregate it to patients "
                              f"with aggregate_lesions() before a patient-level join")
        keys = validate_table(df, tlevel, tname)
        for c in df.columns:
            if c in keys or c in JOIN_KEYS:
                continue
            if c in sources and not (c == "centre"):
                raise SchemaError(f"column {c!r} is in both {sources[c]!r} and {tname!r}; rename one")
            sources.setdefault(c, tname)
        if table is None:
            table, table_keys = df.copy(), keys
        else:
            on = [k for k in keys if k in table_keys]
            extra = [c for c in df.columns if c == "centre" and c in table.columns]
            table = table.merge(df.drop(columns=extra), on=on, how="outer" if tlevel == level else "left")
            table_keys = sorted(set(table_keys) | set(keys), key=JOIN_KEYS.index)
    on = [k for k in out_keys if k in table.columns]
    if "centre" in outcomes.columns and "centre" in table.columns:
        outcomes = outcomes.drop(columns="centre")
    joined = table.merge(outcomes, on=on, how=how)
    if joined.empty:
        raise SchemaError(f"no rows left after joining on {on}: the feature and outcome tables share no patient")
    joined.attrs = {"level": level, "keys": _level_keys(joined, level), "sources": sources}
    return joined.reset_index(drop=True)


def split_xy(table: pd.DataFrame, outcome: str | list[str], features: list[str] | None = None, *,
             group: str = "patient_id") -> tuple[pd.DataFrame, pd.Series | pd.DataFrame, np.ndarray]:
    """Feature matrix ``X``, outcome ``y`` and patient groups (for grouped folds) of a cohort table.

    ``features`` defaults to every numeric column that is neither a key, ``centre`` nor an outcome.
    Keeps ``centre`` in ``X`` when asked for explicitly (ComBat reads it from ``X``).
    """
    outs = [outcome] if isinstance(outcome, str) else list(outcome)
    missing = [c for c in outs + [group] if c not in table.columns]
    if missing:
        raise SchemaError(f"cohort table lacks column(s) {missing}")
    if features is None:
        skip = set(JOIN_KEYS) | {"centre"} | set(outs) | {c for c, s in KNOWN_COLUMNS.items() if s.kind == "binary"}
        skip |= {"os_time_months", "pfs_time_months", "delta_psa_pct", "dose_gy_per_gbq", "kidney_dose_gy_per_gbq"}
        features = [c for c in table.columns if c not in skip and pd.api.types.is_numeric_dtype(table[c])]
    absent = [c for c in features if c not in table.columns]
    if absent:
        raise SchemaError(f"feature column(s) {absent[:10]} not in the cohort table")
    y = table[outs[0]] if isinstance(outcome, str) else table[outs]
    if y.isna().to_numpy().any():
        raise SchemaError(f"outcome {outs} has {int(y.isna().to_numpy().sum())} missing value(s); drop those rows first")
    return table[list(features)], y, table[group].to_numpy()
