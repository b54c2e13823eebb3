"""Lesion matching between a baseline and a follow-up scan, and response criteria.

* PERCIST 1.0 — Wahl RL et al., J Nucl Med 2009;50(Suppl 1):122S; O JH et al., Radiology
  2016;280:576 (practical PERCIST).  Hottest-lesion SULpeak; CMR, PMR (≥ 30 % and ≥ 0.8 SUL
  decrease), PMD (≥ 30 % and ≥ 0.8 SUL increase, or new lesions), SMD otherwise.
* RECIP 1.0 — Gafita A et al., J Nucl Med 2022;63:1651.  Total PSMA-positive tumour volume:
  CR absence of any PSMA uptake; PR ≥ 30 % decrease without new lesions; PD ≥ 20 % increase
  with new lesions; SD otherwise.
* PPP (PSMA PET progression) — Fanti S et al., J Nucl Med 2020;61:1570 / Eur J Nucl Med Mol Imaging
  2021.  Progression only: ≥ 2 new lesions; or 1 new lesion, or ≥ 30 % increase in size or uptake,
  each needing clinical or laboratory confirmation ("progression pending confirmation").
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..core import LabelMap

PERCIST_RELATIVE = 0.30
PERCIST_ABSOLUTE_SUL = 0.8
RECIP_PR = -0.30
RECIP_PD = 0.20
PPP_RELATIVE = 0.30
#: Boundaries are inclusive ("≥ 30 %"); this absorbs floating-point round-off at the boundary.
_EPS = 1e-9


@dataclass(frozen=True)
class LesionMatch:
    """Pairs (baseline lesion_id, follow-up lesion_id), new and disappeared lesions.

    ``attached`` are follow-up lesions left over after one-to-one pairing that overlap, or lie
    within the matching distance of, a baseline lesion (a lesion that split, or a fragment): they
    are at a known site, so they are not new lesions.
    """

    pairs: tuple[tuple[int, int], ...]
    new: tuple[int, ...]
    disappeared: tuple[int, ...]
    method: dict = field(default_factory=dict)
    attached: tuple[tuple[int, int], ...] = ()


def match_lesions(baseline: pd.DataFrame, followup: pd.DataFrame, *, baseline_labels: LabelMap | None = None,
                  followup_labels_on_baseline: LabelMap | None = None, max_distance_mm: float = 20.0) -> LesionMatch:
    """Match lesions by overlap (follow-up label map already mapped onto the baseline grid with
    :func:`theranomics.registration.apply`), then by nearest centroid within ``max_distance_mm``
    for those left.  Centroids of the follow-up table must be in the baseline frame (or the two
    scans in one frame).  Greedy, largest overlap / smallest distance first; one-to-one."""
    pairs: list[tuple[int, int]] = []
    used_b: set[int] = set()
    used_f: set[int] = set()
    if baseline_labels is not None and followup_labels_on_baseline is not None:
        baseline_labels.geometry.require_same_grid(followup_labels_on_baseline.geometry,
                                                   "baseline lesions and mapped follow-up lesions")
        b, f = baseline_labels.array.ravel(), followup_labels_on_baseline.array.ravel()
        both = (b > 0) & (f > 0)
        if both.any():
            keys, counts = np.unique(np.stack([b[both], f[both]]), axis=1, return_counts=True)
            for idx in np.argsort(-counts, kind="stable"):
                bi, fi = int(keys[0, idx]), int(keys[1, idx])
                if bi not in used_b and fi not in used_f:
                    pairs.append((bi, fi))
                    used_b.add(bi)
                    used_f.add(fi)
    cols = ["centroid_x_mm", "centroid_y_mm", "centroid_z_mm"]
    rest_b = baseline[~baseline["lesion_id"].isin(used_b)]
    rest_f = followup[~followup["lesion_id"].isin(used_f)]
    if len(rest_b) and len(rest_f):
        d = np.linalg.norm(rest_b[cols].to_numpy()[:, None, :] - rest_f[cols].to_numpy()[None, :, :], axis=2)
        for flat in np.argsort(d, axis=None, kind="stable"):
            i, j = np.unravel_index(flat, d.shape)
            if d[i, j] > max_distance_mm:
                break
            bi, fi = int(rest_b["lesion_id"].iloc[i]), int(rest_f["lesion_id"].iloc[j])
            if bi not in used_b and fi not in used_f:
                pairs.append((bi, fi))
                used_b.add(bi)
                used_f.add(fi)
    # leftovers at a known site (overlap with, or near, any baseline lesion) are attached, not new
    attached: list[tuple[int, int]] = []
    leftovers = [int(x) for x in followup["lesion_id"] if int(x) not in used_f]
    overlap_of: dict[int, int] = {}
    if baseline_labels is not None and followup_labels_on_baseline is not None and leftovers:
        b, f = baseline_labels.array.ravel(), followup_labels_on_baseline.array.ravel()
        both = (b > 0) & np.isin(f, leftovers)
        for fi, bi in zip(f[both], b[both]):
            overlap_of.setdefault(int(fi), int(bi))
    if leftovers and len(baseline):
        fpos = followup.set_index("lesion_id")[cols]
        bpos = baseline[cols].to_numpy()
        for fi in leftovers:
            if fi in overlap_of:
                attached.append((overlap_of[fi], fi))
                continue
            d = np.linalg.norm(bpos - fpos.loc[fi].to_numpy()[None, :], axis=1)
            if d.min() <= max_distance_mm:
                attached.append((int(baseline["lesion_id"].iloc[int(np.argmin(d))]), fi))
    attached_f = {fi for _, fi in attached}
    new = tuple(sorted(fi for fi in leftovers if fi not in attached_f))
    gone = tuple(sorted(int(x) for x in baseline["lesion_id"] if int(x) not in used_b))
    return LesionMatch(tuple(sorted(pairs)), new, gone, {"max_distance_mm": max_distance_mm,
                                                           "overlap": baseline_labels is not None},
                       tuple(sorted(attached)))


@dataclass(frozen=True)
class Response:
    criterion: str
    category: str
    details: dict


def percist(baseline_sulpeak: float, followup_sulpeak: float | None, *, new_lesions: int,
            baseline_threshold_sul: float, followup_background_sul: float | None = None) -> Response:
    """PERCIST 1.0 on the hottest lesion's SULpeak at each time (not necessarily the same lesion).

    ``baseline_threshold_sul`` = 1.5 × liver SULmean + 2 SD: a baseline below it is not
    measurable ("NE").  ``followup_sulpeak`` None means no lesion left: CMR if uptake is at
    background (and no new lesion).
    """
    details = {"baseline_sulpeak": baseline_sulpeak, "followup_sulpeak": followup_sulpeak, "new_lesions": new_lesions,
               "baseline_threshold_sul": baseline_threshold_sul}
    if new_lesions > 0:
        return Response("PERCIST 1.0", "PMD", {**details, "reason": "new FDG/PSMA-avid lesion(s)"})
    if baseline_sulpeak < baseline_threshold_sul:
        return Response("PERCIST 1.0", "NE", {**details, "reason": "baseline SULpeak below 1.5 x liver + 2 SD"})
    if followup_sulpeak is None or (followup_background_sul is not None and followup_sulpeak <= followup_background_sul):
        return Response("PERCIST 1.0", "CMR", {**details, "reason": "uptake resolved to background"})
    change = followup_sulpeak - baseline_sulpeak
    rel = change / baseline_sulpeak
    details.update({"relative_change": rel, "absolute_change_sul": change})
    if rel <= -PERCIST_RELATIVE + _EPS and change <= -PERCIST_ABSOLUTE_SUL + _EPS:
        return Response("PERCIST 1.0", "PMR", details)
    if rel >= PERCIST_RELATIVE - _EPS and change >= PERCIST_ABSOLUTE_SUL - _EPS:
        return Response("PERCIST 1.0", "PMD", details)
    return Response("PERCIST 1.0", "SMD", details)


def recip(baseline_volume_ml: float, followup_volume_ml: float, *, new_lesions: int) -> Response:
    """RECIP 1.0 on total PSMA-positive tumour volume (PSMA-VOL)."""
    if baseline_volume_ml <= 0:
        raise ValueError("RECIP needs PSMA-positive disease at baseline (total volume > 0)")
    details = {"baseline_volume_ml": baseline_volume_ml, "followup_volume_ml": followup_volume_ml,
               "new_lesions": new_lesions}
    if followup_volume_ml == 0 and new_lesions == 0:
        return Response("RECIP 1.0", "CR", details)
    rel = followup_volume_ml / baseline_volume_ml - 1.0
    details["relative_change"] = rel
    if rel <= RECIP_PR + _EPS and new_lesions == 0:
        return Response("RECIP 1.0", "PR", details)
    if rel >= RECIP_PD - _EPS and new_lesions > 0:
        return Response("RECIP 1.0", "PD", details)
    return Response("RECIP 1.0", "SD", details)


def ppp(*, new_lesions: int, max_relative_size_increase: float = 0.0,
        max_relative_uptake_increase: float = 0.0) -> Response:
    """PSMA PET progression criteria (PPP): defines progression only."""
    details = {"new_lesions": new_lesions, "max_relative_size_increase": max_relative_size_increase,
               "max_relative_uptake_increase": max_relative_uptake_increase}
    if new_lesions >= 2:
        return Response("PPP", "progression", {**details, "reason": ">= 2 new lesions"})
    reasons = []
    if new_lesions == 1:
        reasons.append("1 new lesion")
    if max_relative_size_increase >= PPP_RELATIVE - _EPS:
        reasons.append(">= 30 % increase in size")
    if max_relative_uptake_increase >= PPP_RELATIVE - _EPS:
        reasons.append(">= 30 % increase in uptake")
    if reasons:
        return Response("PPP", "progression pending confirmation",
                        {**details, "reason": "; ".join(reasons) + " (needs clinical or laboratory confirmation)"})
    return Response("PPP", "no progression", details)


def evaluate_response(baseline: pd.DataFrame, followup: pd.DataFrame, match: LesionMatch, *,
                      baseline_threshold_sul: float, peak_column: str = "suv_peak") -> pd.DataFrame:
    """All three criteria from two lesion tables (peaks in SUL for PERCIST) and a match."""
    b_peak = float(baseline[peak_column].max()) if len(baseline) else 0.0
    f_peak = float(followup[peak_column].max()) if len(followup) else None
    b_vol = float(baseline["volume_ml"].sum())
    f_vol = float(followup["volume_ml"].sum()) if len(followup) else 0.0
    size_inc, uptake_inc = 0.0, 0.0
    bi = baseline.set_index("lesion_id")
    fi = followup.set_index("lesion_id")
    for b, f in match.pairs:
        size_inc = max(size_inc, fi.loc[f, "volume_ml"] / bi.loc[b, "volume_ml"] - 1.0)
        uptake_inc = max(uptake_inc, fi.loc[f, "suv_max"] / bi.loc[b, "suv_max"] - 1.0)
    n_new = len(match.new)
    results = [percist(b_peak, f_peak, new_lesions=n_new, baseline_threshold_sul=baseline_threshold_sul),
               recip(b_vol, f_vol, new_lesions=n_new) if b_vol > 0 else Response("RECIP 1.0", "NE", {}),
               ppp(new_lesions=n_new, max_relative_size_increase=size_inc, max_relative_uptake_increase=uptake_inc)]
    return pd.DataFrame([{"criterion": r.criterion, "category": r.category,
                          **{k: v for k, v in r.details.items() if np.isscalar(v) or v is None}} for r in results])
