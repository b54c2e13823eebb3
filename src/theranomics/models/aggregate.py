"""Lesion -> patient aggregation rules.

For every lesion feature ``x`` and each rule, one patient column ``<x>__<rule>``:

==========================  ===========================================================
``max`` / ``min``           largest / smallest lesion value (e.g. hottest lesion SUVmax)
``mean``                    unweighted mean over lesions
``median``                  median over lesions
``volume_weighted_mean``    ``sum_l V_l x_l / sum_l V_l`` (V = ``volume_col``, mL); for
                            ``suv_mean`` this is the whole-body tumour SUVmean (total lesion
                            uptake / total tumour volume)
``lowest_uptake``           ``x`` of the lesion with the lowest ``uptake_col`` (the
                            "PSMA-/SSTR-low" lesion that limits response; ties -> first lesion)
``highest_uptake``          ``x`` of the lesion with the highest ``uptake_col``
``sum``                     sum over lesions
==========================  ===========================================================

Always added: ``n_lesions`` (count) and ``total_<volume_col>`` (sum of volumes).  Missing lesion
values are ignored by every rule (a patient whose lesions all lack a value gets NaN, imputed
later inside the folds).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .tables import SchemaError

__all__ = ["AGGREGATION_RULES", "aggregate_lesions"]

AGGREGATION_RULES = ("max", "min", "mean", "median", "volume_weighted_mean", "lowest_uptake", "highest_uptake", "sum")


def aggregate_lesions(lesions: pd.DataFrame, features: list[str] | None = None,
                      rules: tuple[str, ...] = ("max", "volume_weighted_mean", "lowest_uptake"), *,
                      volume_col: str = "volume_ml", uptake_col: str = "suv_mean",
                      keys: tuple[str, ...] = ("patient_id",)) -> pd.DataFrame:
    """Patient-level table from a lesion table (one row per ``keys``); see the module docstring."""
    bad = [r for r in rules if r not in AGGREGATION_RULES]
    if bad:
        raise ValueError(f"unknown aggregation rule(s) {bad}; choose from {AGGREGATION_RULES}")
    need = list(keys) + [volume_col] * any(r == "volume_weighted_mean" for r in rules) + \
        [uptake_col] * any(r.endswith("_uptake") for r in rules)
    missing = [c for c in dict.fromkeys(need + [volume_col]) if c not in lesions.columns]
    if missing:
        raise SchemaError(f"lesion table lacks column(s) {missing} needed for the aggregation rules {list(rules)}")
    if features is None:
        skip = set(keys) | {"lesion_id", "cycle", "timepoint", "organ", "centre"}
        features = [c for c in lesions.columns if c not in skip and pd.api.types.is_numeric_dtype(lesions[c])]
    absent = [c for c in features if c not in lesions.columns]
    if absent:
        raise SchemaError(f"lesion table lacks feature column(s) {absent}")
    vol = lesions[volume_col].to_numpy(float)
    if (vol[np.isfinite(vol)] < 0).any():
        raise SchemaError(f"lesion column {volume_col!r} has negative volumes")
    g = lesions.groupby(list(keys), sort=True)
    out = pd.DataFrame(index=g.size().index)
    out["n_lesions"] = g.size()
    out[f"total_{volume_col}"] = g[volume_col].sum(min_count=1)
    lo_idx = hi_idx = None
    if any(r.endswith("_uptake") for r in rules):
        up = lesions[uptake_col]
        if up.isna().any():
            raise SchemaError(f"lesion column {uptake_col!r} has missing values; needed to pick the lowest/highest-uptake lesion")
        lo_idx = up.groupby([lesions[k] for k in keys]).idxmin()
        hi_idx = up.groupby([lesions[k] for k in keys]).idxmax()
    for f in features:
        col = lesions[f].astype(float)
        gf = col.groupby([lesions[k] for k in keys])
        for rule in rules:
            name = f"{f}__{rule}"
            if rule in ("max", "min", "mean", "median", "sum"):
                out[name] = getattr(gf, rule)() if rule != "sum" else gf.sum(min_count=1)
            elif rule == "volume_weighted_mean":
                ok = col.notna() & lesions[volume_col].notna()
                num = (col.where(ok) * lesions[volume_col].where(ok)).groupby([lesions[k] for k in keys]).sum(min_count=1)
                den = lesions[volume_col].where(ok).groupby([lesions[k] for k in keys]).sum(min_count=1)
                out[name] = num / den.replace(0.0, np.nan)
            else:
                idx = lo_idx if rule == "lowest_uptake" else hi_idx
                out[name] = pd.Series(col.loc[idx.to_numpy()].to_numpy(), index=idx.index)
    return out.reset_index()
