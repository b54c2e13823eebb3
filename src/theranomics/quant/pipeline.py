"""The whole-body PET quantification workflow: SUV image (+ optional CT and organ masks) →
exclusion of physiologic uptake → lesion segmentation → lesion table with regions →
reference regions, whole-body burden, staging and eligibility.

Organ-adaptive detection: organs with intense physiologic uptake (kidneys, bladder, salivary
and lacrimal glands, bowel) are excluded, dilated by ``exclusion_margin_mm`` (at least two PET
voxels, :func:`exclusion_margin`) to absorb the PSF spill-out; organs that host metastases and
have moderate uptake (liver, spleen) are kept, with
the detection threshold raised inside them — and in the same margin around them, where their
blurred edge spills out — to the organ's background + ``adaptive_organ_sd`` × its noise SD
(robust median and MAD), so that a hot liver lesion is found while the normal liver is not.

Noise rejection (``detection_sd``, default 6): a candidate is kept only when its SUVmax stands at
least that many local noise SDs above its local background (a plane through a shell 2–4 voxels
around it; noise SD from the high-pass residual there;
:func:`theranomics.segment.threshold.drop_insignificant`).  At low counts single noise voxels,
or noise on a small physiologic bump, cross a fixed SUV threshold at ~3–6 SD; lesions of 0.5 mL
and more on the simulated patients stand at 8 SD or more (benchmarks/results/segmentation.md).
``None`` turns it off.
"""
from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..core import Image, LabelMap
from ..io.sitk import resample_to
from ..segment import (ReferenceRegionError, blood_pool_reference, ct_body_mask, ct_bone_mask, fixed_threshold,
                       gradient_watershed, label_components, liver_reference, organ_reference, percist_threshold,
                       qpsma_liver_threshold, relative_isocontour)
from ..segment.components import label_order, split_touching
from ..segment.threshold import drop_insignificant
from ..segment.exclusion import organ_exclusion_mask
from . import biomarkers, regions, staging

log = logging.getLogger(__name__)

METHODS = ("fixed", "iso41", "iso50", "percist", "qpsma", "gradient")

#: Physiologic organs excluded from detection, per tracer family (dilated by the margin).
EXCLUDED_ORGANS = {
    "psma": ("kidney", "kidney_left", "kidney_right", "kidney_cortex", "kidney_medulla", "bladder", "parotid",
             "submandibular", "lacrimal", "bowel"),
    "sstr": ("kidney", "kidney_left", "kidney_right", "kidney_cortex", "kidney_medulla", "bladder", "bowel",
             "pituitary", "adrenal", "adrenal_left", "adrenal_right"),
}
#: Organs kept, with an organ-specific raised threshold (they host metastases).
ADAPTIVE_ORGANS = {"psma": ("liver", "spleen", "prostate"), "sstr": ("liver", "spleen")}


@dataclass(frozen=True)
class QuantifySettings:
    """Every parameter of the workflow (written to the provenance)."""

    method: str = "iso41"
    threshold_suv: float = 3.0
    isocontour_fraction: float | None = None
    min_volume_ml: float = 0.1
    tracer_family: str = "psma"
    tracer: str = "psma-11"
    exclusion_margin_mm: float = 8.0
    adaptive_organ_sd: float = 4.0
    liver_sphere_mm: float = 30.0
    bone_threshold_hu: float = 150.0
    split_touching: bool = True
    split_prominence_fraction: float = 0.3
    isocontour_background: str | float = "local"
    detection_sd: float | None = 6.0

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"segmentation method must be one of {METHODS}, got {self.method!r}")
        if self.tracer_family not in EXCLUDED_ORGANS:
            raise ValueError(f"tracer_family must be one of {sorted(EXCLUDED_ORGANS)}, got {self.tracer_family!r}")
        if self.threshold_suv <= 0 or self.min_volume_ml < 0 or self.exclusion_margin_mm < 0:
            raise ValueError("threshold_suv must be > 0, min_volume_ml and exclusion_margin_mm >= 0")
        if self.detection_sd is not None and not self.detection_sd >= 0:
            raise ValueError(f"detection_sd must be >= 0 (noise SDs) or None, got {self.detection_sd}")


@dataclass
class QuantResult:
    suv: Image
    lesions: LabelMap
    table: pd.DataFrame
    whole_body: dict[str, Any]
    references: dict[str, dict]
    staging: dict[str, Any]
    eligibility: list[dict]
    settings: QuantifySettings
    timings_s: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def exclusion_margin(margin_mm: float, pet: Image) -> float:
    """The spill-out margin around excluded / adaptive organs: ``margin_mm``, and at least two PET
    voxels (the spill-out of a blurred edge reaches about one system FWHM, which is two voxels or
    more in reconstructed PET; on a 5 mm grid an 8 mm margin left kidney spill-out + noise foci
    8.7-10 mm from the cortex)."""
    return max(float(margin_mm), 2.0 * float(max(pet.geometry.spacing_mm)))


def _organs_on(organs: LabelMap | None, pet: Image) -> LabelMap | None:
    if organs is None:
        return None
    return organs if organs.geometry.same_grid(pet.geometry) else resample_to(organs, pet.geometry)


def _references(suv: Image, organs: LabelMap | None, settings: QuantifySettings, warnings: list[str]) -> dict:
    refs: dict[str, dict] = {}
    if organs is None:
        warnings.append("no organ masks: no reference regions, no physiologic exclusion")
        return refs
    names = set(organs.names.values())
    tries = [("liver", lambda: liver_reference(suv, organs, settings.liver_sphere_mm)),
             ("blood_pool", lambda: blood_pool_reference(suv, organs)),
             ("parotid", lambda: organ_reference(suv, organs, "parotid", erode_mm=2.0)),
             ("spleen", lambda: organ_reference(suv, organs, "spleen", erode_mm=5.0))]
    needed = {"liver": "liver", "blood_pool": "aorta", "parotid": "parotid", "spleen": "spleen"}
    for name, fn in tries:
        if needed[name] not in names:
            continue
        try:
            refs[name] = dataclasses.asdict(fn())
        except ReferenceRegionError as exc:
            warnings.append(f"reference region {name}: {exc}")
    return refs


def quantify(suv: Image, *, ct: Image | None = None, organs: LabelMap | None = None,
             settings: QuantifySettings = QuantifySettings()) -> QuantResult:
    """Segment lesions and compute every biomarker on an SUV image (see module docstring)."""
    if not (suv.unit.startswith("SUV") or suv.unit == "SUL"):
        raise ValueError(f"quantify needs an SUV image, got unit {suv.unit!r}")
    timings: dict[str, float] = {}
    warnings: list[str] = []
    t = time.perf_counter()
    organs_pet = _organs_on(organs, suv)
    ct_pet = None
    if ct is not None:
        _require_overlap(ct, suv)
        ct_pet = ct if ct.geometry.same_grid(suv.geometry) else resample_to(ct, suv.geometry, default_value=-1000.0)
    refs = _references(suv, organs_pet, settings, warnings)
    timings["references"] = time.perf_counter() - t

    # -- detection mask ---------------------------------------------------------------------
    t = time.perf_counter()
    values = np.asarray(suv.array, dtype=float)
    organ_floor = np.zeros(suv.shape)  # raised thresholds inside liver/spleen (0 elsewhere)
    exclude = np.zeros(suv.shape, bool)
    margin_mm = exclusion_margin(settings.exclusion_margin_mm, suv)
    shell_out = np.zeros(suv.shape, bool)   # excluded organs themselves (no margin) and outside the body
    if organs_pet is not None:
        present = set(organs_pet.names.values())
        excl = [o for o in EXCLUDED_ORGANS[settings.tracer_family] if o in present]
        if excl:
            exclude |= organ_exclusion_mask(organs_pet, suv, excl, margin_mm)
            shell_out |= organ_exclusion_mask(organs_pet, suv, excl, 0.0)
        for organ in ADAPTIVE_ORGANS[settings.tracer_family]:
            if organ in present:
                m = organs_pet.mask(organ)
                if m.any():
                    v = values[m]
                    # robust organ statistics (median, MAD) so that the lesions inside do not inflate them
                    med = float(np.median(v))
                    sd = 1.4826 * float(np.median(np.abs(v - med)))
                    around = organ_exclusion_mask(organs_pet, suv, (organ,), margin_mm)
                    organ_floor[around] = np.maximum(organ_floor[around], med + settings.adaptive_organ_sd * sd)
    if ct_pet is not None:
        exclude |= ~ct_body_mask(ct_pet)
        shell_out |= ~ct_body_mask(ct_pet)
    bone = None
    if organs_pet is not None and "bone" in organs_pet.names.values():
        bone = organs_pet.mask("bone") | (organs_pet.mask("red_marrow") if "red_marrow" in organs_pet.names.values() else False)
    elif ct_pet is not None:
        bone = ct_bone_mask(ct_pet, settings.bone_threshold_hu)

    method = settings.method
    if method == "percist":
        if "liver" not in refs:
            raise ValueError("the PERCIST threshold needs a liver mask (organ label 'liver')")
        base = np.full(suv.shape, percist_threshold(refs["liver"]["mean"], refs["liver"]["sd"]))
    elif method == "qpsma":
        if "liver" not in refs or bone is None:
            raise ValueError("the qPSMA-like method needs a liver mask and a bone mask (organ 'bone' or a CT)")
        soft = qpsma_liver_threshold(refs["liver"]["mean"], refs["liver"]["sd"])
        base = np.where(bone, 3.0, soft)
    else:
        base = np.full(suv.shape, settings.threshold_suv)
    threshold = np.maximum(base, organ_floor)
    detected = (values >= threshold) & ~exclude
    candidates = label_components(detected, suv.geometry, settings.min_volume_ml, values)
    if settings.split_touching and candidates.labels:
        candidates = split_touching(values, candidates, min_prominence_fraction=settings.split_prominence_fraction,
                                    floor=threshold)
    if settings.detection_sd is not None and candidates.labels:
        n_before = len(candidates.labels)
        # the background shell may reach into the spill-out margin (the local level there is what a
        # focus on the slope must exceed), not into the excluded organs or outside the body
        candidates, _ = drop_insignificant(values, candidates, settings.detection_sd, allowed=~shell_out)
        if len(candidates.labels) < n_before:
            log.info("%d candidate(s) within %.1f local noise SD of their background dropped as noise",
                     n_before - len(candidates.labels), settings.detection_sd)
    timings["detection"] = time.perf_counter() - t

    # -- delineation ------------------------------------------------------------------------
    t = time.perf_counter()
    if method in ("iso41", "iso50") or settings.isocontour_fraction is not None:
        fraction = settings.isocontour_fraction or {"iso41": 0.41, "iso50": 0.50}[method]
        lesions = relative_isocontour(suv, candidates, fraction, exclude=exclude, min_volume_ml=settings.min_volume_ml,
                                      background_suv=settings.isocontour_background)
    elif method == "gradient":
        lesions = gradient_watershed(suv, candidates, exclude=exclude)
    else:
        lesions = candidates
    lesions = label_order(lesions, values)
    timings["delineation"] = time.perf_counter() - t

    # -- tables -----------------------------------------------------------------------------
    t = time.perf_counter()
    liver_mean = refs.get("liver", {}).get("mean")
    table = biomarkers.lesion_table(suv, lesions, liver_mean)
    if len(table):
        try:
            table = regions.assign_regions(table, lesions, organs_pet, bone_mask=bone)
        except ValueError as exc:
            warnings.append(f"regions not assigned: {exc}")
    wb = biomarkers.whole_body(table, liver_mean)
    stage = staging.mitnm(table) if "region" in table.columns else {}
    decisions = _eligibility(table, refs, settings)
    if "region" in table.columns and len(table):
        for region, sub in table.groupby("region"):
            wb[f"ttv_ml_{region}"] = float(sub["volume_ml"].sum())
            wb[f"tlu_{region}"] = float(sub["tlu"].sum())
            wb[f"lesion_count_{region}"] = int(len(sub))
    if {"liver", "blood_pool", "parotid"} <= set(refs) and len(table):
        try:
            table["psma_expression_score"] = [
                staging.psma_expression_score(v, refs["blood_pool"]["mean"], refs["liver"]["mean"],
                                              refs["parotid"]["mean"], refs.get("spleen", {}).get("mean"), settings.tracer)
                for v in table["suv_max"]]
        except ValueError as exc:
            warnings.append(f"PSMA expression score not computed: {exc}")
    timings["tables"] = time.perf_counter() - t
    return QuantResult(suv, lesions, table, wb, refs, stage, decisions, settings, timings, warnings)


def _require_overlap(ct: Image, pet: Image, min_fraction: float = 0.5) -> None:
    """The CT must cover most of the PET field of view (same patient frame), else it is the wrong CT."""
    def extent(img: Image):
        nz, ny, nx = img.shape
        corners = np.array([[i, j, k] for i in (0, nx - 1) for j in (0, ny - 1) for k in (0, nz - 1)], float)
        w = img.geometry.index_to_world(corners)
        return w.min(axis=0), w.max(axis=0)
    (a0, a1), (b0, b1) = extent(ct), extent(pet)
    overlap = np.clip(np.minimum(a1, b1) - np.maximum(a0, b0), 0, None)
    size = np.maximum(b1 - b0, 1e-6)
    fraction = float(np.prod(overlap / size))
    if fraction < min_fraction:
        raise ValueError(f"the CT covers only {100 * fraction:.0f} % of the PET field of view (CT extent "
                         f"{a0.round(1).tolist()}–{a1.round(1).tolist()} mm, PET {b0.round(1).tolist()}–{b1.round(1).tolist()} mm): "
                         "PET and CT grids do not match — is it the CT of this PET study?")


def _eligibility(table: pd.DataFrame, refs: dict, settings: QuantifySettings) -> list[dict]:
    out = []
    if table.empty:
        return [{"rule": "all", "result": "no lesion detected", "deciding_lesions": [], "needs_review": []}]
    decisions = []
    if settings.tracer_family == "psma":
        if "liver" in refs:
            decisions.append(staging.vision(table, refs["liver"]["mean"]))
        decisions.append(staging.therap(table))
    else:
        if "liver" in refs and "spleen" in refs:
            decisions.append(staging.sstr_eligibility(table, refs["liver"]["mean"], refs["spleen"]["mean"]))
    for d in decisions:
        out.append({"rule": d.rule, "result": d.result, "deciding_lesions": list(d.deciding_lesions),
                    "needs_review": list(d.needs_review)})
    return out
