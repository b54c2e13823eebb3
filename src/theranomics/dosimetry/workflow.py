"""The patient-specific dosimetry workflow: serial SPECT/CT → TACs → TIAs → organ, lesion, marrow
and voxel absorbed dose, BED, DVHs, and several cycles.

:func:`run_cycle_dosimetry` does one therapy cycle with several time points:

1. quantify, register and resample every time point (:mod:`.timepoints`);
2. VOI TACs with Poisson uncertainty, recovery correction (sphere curve by volume for lesions,
   the VOI's own shape for organs — :mod:`.recovery`), TIA by AICc model selection with the
   excluded models and flags reported, EANM uncertainty (:mod:`.fitting`); a VOI whose fits all
   fail falls back to the trapezoid rule and says so;
3. organ/lesion dose by the MIRD schema with patient-specific S-values (:mod:`.mird`), the
   lesion sphere model alongside, red marrow by the blood-based and image-based methods
   (:mod:`.marrow`);
4. voxel dose: voxel-wise TIA (mono-exponential fits inside the body) then one convolution
   (``lde`` | ``dpk`` | ``vsv``) with CT density scaling, or through a Monte Carlo backend;
   DVH metrics per VOI;
5. BED per VOI with :mod:`.radiobiology` and organ-limit flags.

:func:`run_study_dosimetry` adds later cycles: a cycle with one time point uses
single-time-point dosimetry with the cycle-1 kinetics of each VOI
(:func:`~theranomics.dosimetry.stp.multicycle_stp_tia_mbq_h`), and the cumulative dose and BED
sum over cycles.  :func:`dosimetry_folder` runs it on a study folder and writes every output.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from .. import nuclides
from ..core.image import Image, LabelMap
from ..core.study import Study
from ..io.sitk import resample_to
from . import marrow as marrow_mod
from .dvh import dose_volume_histogram
from .fitting import (MODELS, FitError, ModelSelection, TIAResult, fit_model, fit_voxels_mono_exp, get_model,
                      select_model, trapezoid_tia)
from .mird import SValueMatrix, lesion_sphere_s_value, mird_dose_gy, patient_s_values
from .radiobiology import RadiobiologyError, bed_from_fit_gy, check_limits, multicycle_bed_gy, tissue_parameters
from .recovery import RecoveryCurve, mask_recovery_coefficient, sphere_recovery_curve
from .stp import multicycle_stp_tia_mbq_h
from .tac import TACError, TimeActivityCurve, VoxelTACStack
from .timepoints import (LESION_PREFIXES, QuantifiedTimePoint, is_lesion, measure_vois, merge_labelmaps,
                         quantify_cycle, reference_index)
from .voxel import KernelConvolution, LocalDeposition, REFERENCE_DENSITY, density_from_ct

METHODS = {"lde": "lde", "dpk": "dpk", "vsv": "voxel_s"}
#: VOI groups reported besides their members (present members only).
DEFAULT_GROUPS = {
    "kidneys": ("kidney_cortex", "kidney_medulla", "kidney_left", "kidney_right"),
    "salivary_glands": ("parotid", "submandibular"),
}
BLOOD_VOIS = ("blood_pool", "blood", "aorta")
MARROW_VOIS = ("red_marrow", "marrow", "bone_marrow")
_TISSUE_OF = (("kidney", "kidney"), ("lesion", "tumour"), ("tumour", "tumour"), ("tumor", "tumour"),
              ("red_marrow", "red_marrow"), ("marrow", "red_marrow"))


#: Candidate TAC models.  ``physical_decay`` (no biological clearance) is left out by default:
#: with 3–4 time points the AICc small-sample penalty lets it beat ``mono_exp`` unless its
#: residuals are ~20× larger, which over-estimated the TIA of cleared VOIs by up to 40 % on
#: simulated patients.  Add it for VOIs known to retain the agent.  The rule is stated in
#: :mod:`.fitting` (module doc) and reported per VOI (``excluded_models``).
DEFAULT_MODELS = ("mono_exp", "uptake_physical_decay", "bi_exp_uptake", "bi_exp", "tri_exp")
#: Why a model that is not among the candidates was not fitted (reported per VOI).
NOT_A_CANDIDATE = {
    "physical_decay": "not a candidate (workflow default): with 3-4 points AICc favours this 1-parameter model "
                      "over mono_exp unless its residuals are ~20x larger; that over-estimated cleared VOIs' TIA "
                      "by up to 40 % on simulated patients (add it to DosimetrySettings.models for VOIs known to "
                      "retain the agent)",
}


class DosimetryError(ValueError):
    """The dosimetry workflow cannot run on the given study or settings."""


@dataclass(frozen=True)
class DosimetrySettings:
    """Every choice of the workflow (units in the names; ``None`` = decided from the study).

    ``spect_fwhm_mm`` (system resolution) is needed for recovery correction: from the settings,
    else ``spect_fwhm_mm`` in the reference time point's ``calibration.json``; with neither, a
    recovery mode other than ``'none'`` is an error (no silent default; a measured
    ``recovery_curve`` alone corrects lesions, organs are then flagged
    ``no_recovery_correction``).  The value used and its source are in
    :attr:`CycleDosimetry.spect_fwhm_mm` / ``spect_fwhm_source`` and ``summary.json``.  Recovery
    works for propagated VOIs and for per-time-point VOIs (``voi_mode='per_timepoint'``: each
    time point's own VOIs, transfer matrix and RCs on its own SPECT grid).  ``recovery``:

    * ``'auto'`` — organs by the geometric transfer matrix of all VOIs (spill-out and spill-in,
      :func:`~theranomics.dosimetry.recovery.geometric_transfer_matrix`), lesions by the sphere
      recovery curve at their volume (``recovery_curve`` or one generated from the PSF);
    * ``'gtm'`` — every VOI by the transfer matrix;
    * ``'rc'`` — lesions by the sphere curve, organs by their own shape's RC (spill-out only);
    * ``'none'``.

    ``activity_rel_sigma``: relative per-time-point uncertainty of a VOI activity from
    reconstruction noise and VOI definition (default 5 %), added in quadrature to the Poisson
    counting σ (which alone is far too small for AICc to weigh model misfit; EANM, Gear et al.
    2018, recommends including these components).  ``voi_rel_sigma``/``calibration_rel_sigma``
    are systematic and act on the TIA.

    ``models``: AICc candidates (default :data:`DEFAULT_MODELS`, without ``physical_decay``).
    With 3 time points no candidate has N > K + 1; ``mono_exp`` is then fitted alone (flag
    ``mono_exp_without_aicc``), and with 2 points (or when that fit fails) the trapezoid rule
    with a physical-decay tail is used (flag ``trapezoid_fallback``).
    """

    method: str = "vsv"
    nuclide: str | None = None
    reference_timepoint: int | str = 0
    registration: str = "rigid"
    voi_mode: str = "propagate"
    spect_fwhm_mm: float | None = None
    recovery: str = "auto"                 # see the class doc
    activity_rel_sigma: float = 0.05
    recovery_curve: RecoveryCurve | None = None
    calibration_rel_sigma: float | None = None   # None: from calibration.json, else 0 (flagged)
    voi_rel_sigma: float = 0.0
    noise_rel_sigma: float | None = None   # per-time-point σ for vendor Bq/mL images
    models: tuple[str, ...] | None = DEFAULT_MODELS
    delta_aicc: float = 2.0
    include: tuple[str, ...] = ("beta", "ce", "auger", "photons")
    density_from_ct: bool = True
    groups: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: dict(DEFAULT_GROUPS))
    body_threshold_hu: float = -400.0
    voxel_dose: bool = True
    rmblr: float = marrow_mod.DEFAULT_RMBLR
    marrow_mass_g: float | None = None
    marrow_electron_absorbed_fraction: float = 1.0
    marrow_photon_absorbed_fraction: float | None = None   # None: sphere of the marrow mass (marrow module doc)
    risk_factors: bool = False
    registration_kwargs: Mapping = field(default_factory=dict)
    registration_voxel_mm: float | None = 8.0

    def __post_init__(self) -> None:
        if self.method not in METHODS and self.method != "montecarlo":
            raise DosimetryError(f"method must be one of {sorted(METHODS)} (or 'montecarlo' with a backend), "
                                 f"got {self.method!r}")
        if self.voi_mode not in ("propagate", "per_timepoint"):
            raise DosimetryError(f"voi_mode must be 'propagate' or 'per_timepoint', got {self.voi_mode!r}")
        if self.recovery not in ("auto", "gtm", "rc", "none"):
            raise DosimetryError(f"recovery must be 'auto', 'gtm', 'rc' or 'none', got {self.recovery!r}")
        if not (math.isfinite(self.activity_rel_sigma) and self.activity_rel_sigma >= 0):
            raise DosimetryError(f"activity_rel_sigma must be >= 0, got {self.activity_rel_sigma}")
        if self.spect_fwhm_mm is not None and not (math.isfinite(self.spect_fwhm_mm) and self.spect_fwhm_mm > 0):
            raise DosimetryError(f"spect_fwhm_mm must be > 0 mm, got {self.spect_fwhm_mm}")
        if self.models is not None:
            from .fitting import get_model
            try:
                for m in self.models:
                    get_model(m)
            except FitError as exc:
                raise DosimetryError(f"models: {exc}") from None


def tissue_of(name: str) -> str | None:
    low = name.lower()
    for key, tissue in _TISSUE_OF:
        if key in low:
            return tissue
    return None


@dataclass(eq=False)
class CycleDosimetry:
    """Everything one cycle's dosimetry produced (tables, curves, maps, timings)."""

    patient_id: str
    cycle: int
    nuclide: str
    administered_mbq: float
    table: pd.DataFrame
    tacs: dict[str, TimeActivityCurve]
    selections: dict[str, ModelSelection | None]
    tias: dict[str, TIAResult]
    labels: LabelMap
    s_values: SValueMatrix | None
    timepoints: list[QuantifiedTimePoint]
    dose: Image | None = None
    tia_map: Image | None = None
    density: Image | None = None
    voxel_fit_counts: dict = field(default_factory=dict)
    dvhs: dict = field(default_factory=dict)
    marrow: dict = field(default_factory=dict)
    recovery_curve: RecoveryCurve | None = None
    timings_s: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    method: str = "stp"
    spect_fwhm_mm: float | None = None
    spect_fwhm_source: str = ""
    excluded_models: dict = field(default_factory=dict)     # voi -> {model: reason}


# ----------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------
def _nuclide(study: Study, cycle_index: int, settings: DosimetrySettings) -> str:
    name = settings.nuclide or study.cycle(cycle_index).administration.nuclide
    return nuclides.normalise_name(name)


def _with_remainder(labels: LabelMap, ct_on_grid: Image | None, threshold_hu: float) -> tuple[LabelMap, np.ndarray | None]:
    """``labels`` plus a ``remainder`` label (body from the CT, filled, minus the VOIs) and the body mask."""
    if ct_on_grid is None:
        return labels, None
    from scipy.ndimage import binary_fill_holes
    body = binary_fill_holes(np.asarray(ct_on_grid.array) > threshold_hu) | (labels.array > 0)
    if "remainder" not in labels.names.values():
        rem = body & (labels.array == 0)
        if rem.any():
            arr = labels.array.copy()
            new = max(labels.names) + 1 if labels.names else 1
            arr[rem] = new
            labels = LabelMap(arr, labels.geometry, {**labels.names, new: "remainder"})
    return labels, body


def _analysis_labels(qtps: list[QuantifiedTimePoint], ref_i: int, vois, settings: DosimetrySettings,
                     ct_on_grid: Image | None) -> tuple[LabelMap, np.ndarray | None]:
    grid = qtps[ref_i].activity.geometry
    if vois is None:
        ref_masks = qtps[ref_i].masks
        if ref_masks is None:
            raise DosimetryError("no VOIs: the reference time point has no masks and none were given "
                                 "(command line: --masks)")
        labels = ref_masks if ref_masks.geometry.same_grid(grid) else resample_to(ref_masks, grid)
    else:
        maps = [vois] if isinstance(vois, LabelMap) else list(vois.values() if isinstance(vois, Mapping) else vois)
        labels = merge_labelmaps(maps, grid)
    if not labels.labels:
        raise DosimetryError("the VOI label map is empty on the SPECT grid")
    return _with_remainder(labels, ct_on_grid, settings.body_threshold_hu)


def _tac(times, values, name, nuc, settings) -> TimeActivityCurve:
    """TAC from (activity, counting σ) pairs; σ² += (activity_rel_sigma·A)² (reconstruction and VOI noise)."""
    acts = np.array([a for a, _ in values])
    sig = [s for _, s in values]
    extra = settings.activity_rel_sigma * np.abs(acts)
    if any(s is None for s in sig):
        sigma = extra if settings.activity_rel_sigma > 0 and np.all(extra > 0) else None
    else:
        sigma = np.sqrt(np.asarray(sig, float) ** 2 + extra ** 2)
    return TimeActivityCurve(times, acts, sigma, name, nuc)


def _resolve_fwhm(settings: DosimetrySettings, qtps: list[QuantifiedTimePoint], ref_i: int,
                  warnings: list[str]) -> tuple[float | None, str]:
    """The SPECT FWHM (mm) for recovery and where it came from (class doc of DosimetrySettings)."""
    if settings.spect_fwhm_mm is not None:
        return float(settings.spect_fwhm_mm), "settings (--spect-fwhm-mm)"
    ref_cal = qtps[ref_i].calibration
    if ref_cal is not None and ref_cal.spect_fwhm_mm is not None:
        others = {q.label: q.calibration.spect_fwhm_mm for q in qtps
                  if q.calibration is not None and q.calibration.spect_fwhm_mm not in (None, ref_cal.spect_fwhm_mm)}
        if others:
            warnings.append(f"calibration spect_fwhm_mm differs between time points ({others}); the reference "
                            f"time point's {ref_cal.spect_fwhm_mm:g} mm is used")
        return float(ref_cal.spect_fwhm_mm), f"calibration ({ref_cal.source or 'calibration.json'})"
    if settings.recovery == "none":
        return None, "not needed (recovery 'none')"
    if settings.recovery_curve is not None:
        warnings.append("no SPECT FWHM: lesions corrected by the given recovery curve, organs not corrected")
        return None, "not given (lesions by the given recovery curve only)"
    raise DosimetryError(f"recovery correction ({settings.recovery!r}) needs the SPECT system resolution: give "
                         "spect_fwhm_mm (command line --spect-fwhm-mm) or put spect_fwhm_mm in the reference time "
                         "point's calibration.json; or switch recovery off (recovery='none', --recovery none)")


def _recover(per_tp, label_names, groups, tp_masks, tp_spacing, settings):
    """Raw and recovery-corrected (activity, σ) per VOI and time point; RC (corrected/raw at the
    first time point) and the method used per VOI.  ``tp_masks[k]``/``tp_spacing[k]``: the VOI
    masks and voxel size of time point k (the same objects for every k with propagated VOIs, so
    the transfer matrix is computed once).  Modes: see :class:`DosimetrySettings`."""
    from .recovery import geometric_transfer_matrix, gtm_correct
    mode = settings.recovery
    fwhm = settings.spect_fwhm_mm
    have_psf = fwhm is not None
    n_tp = len(per_tp)
    raw = {n: [(m[n].activity_mbq, m[n].sigma_mbq) for m in per_tp] for n in label_names}
    corr = {n: list(v) for n, v in raw.items()}
    how = {n: "none" for n in label_names}
    curve = settings.recovery_curve
    if curve is None and mode in ("auto", "rc") and have_psf and any(is_lesion(n) for n in label_names):
        curve = sphere_recovery_curve(fwhm, tp_spacing[0])
    cache: dict = {}

    def cached(key, fn):
        if key not in cache:
            cache[key] = fn()
        return cache[key]

    if mode in ("auto", "gtm") and have_psf:
        for k, m in enumerate(per_tp):
            gtm = cached(("gtm", id(tp_masks[k]), tuple(tp_spacing[k])), lambda: geometric_transfer_matrix(
                {n: tp_masks[k][n] for n in label_names}, tp_spacing[k], fwhm))
            true = gtm_correct({n: m[n].activity_mbq for n in label_names}, gtm)
            for n in label_names:
                if mode == "gtm" or not is_lesion(n):
                    a, s = raw[n][k]
                    # noise can push a near-empty VOI (a voided bladder) slightly below zero after the
                    # spill-in correction; an activity is never negative, so it is set to 0 (σ kept)
                    value = max(float(true[n]), 0.0)
                    corr[n][k] = (value, None if s is None else s * max(abs(true[n]), abs(a)) / max(abs(a), 1e-300))
                    how[n] = "gtm"
    for n in label_names:
        if how[n] != "none" or mode == "none" or n == "remainder":
            continue
        if is_lesion(n) and curve is not None:
            rcs = [float(curve.rc_at(per_tp[k][n].volume_ml)) for k in range(n_tp)]
            how[n] = "sphere_curve"
        elif have_psf and mode in ("rc", "auto"):
            rcs = [cached(("rc", n, id(tp_masks[k]), tuple(tp_spacing[k])), lambda: mask_recovery_coefficient(
                tp_masks[k][n], tp_spacing[k], fwhm)) for k in range(n_tp)]
            how[n] = "voi_shape"
        else:
            continue
        corr[n] = [(a / rc, None if s is None else s / rc) for (a, s), rc in zip(raw[n], rcs)]
    for g, members in groups.items():
        for d in (raw, corr):
            d[g] = [(sum(d[m][k][0] for m in members),
                     None if any(d[m][k][1] is None for m in members) else
                     math.sqrt(sum(d[m][k][1] ** 2 for m in members))) for k in range(n_tp)]
        kinds = {how[m] for m in members}
        how[g] = kinds.pop() if len(kinds) == 1 else "mixed"
    rc_of = {n: (raw[n][0][0] / corr[n][0][0] if corr[n][0][0] else math.nan) for n in raw}
    rc_of["_curve"] = curve
    return raw, corr, rc_of, how


def _excluded(sel: ModelSelection | None, settings: DosimetrySettings) -> dict[str, str]:
    """Every model of ``fitting.MODELS`` that was not chosen from, with the reason."""
    from .fitting import MODELS
    out: dict[str, str] = {}
    if settings.models is not None:
        wanted = {get_model(m).name for m in settings.models}
        for m in MODELS:
            if m.name not in wanted:
                out[m.name] = NOT_A_CANDIDATE.get(m.name, "not among the requested models (DosimetrySettings.models)")
    if sel is not None:
        out.update(sel.excluded)
    return out


def _fit_tia(tac: TimeActivityCurve, settings: DosimetrySettings, cal_sigma: float
             ) -> tuple[TIAResult, ModelSelection | None, list[str], dict[str, str]]:
    """TIA by AICc selection; with no AICc-eligible candidate (N=3) mono_exp alone; else the trapezoid
    rule with a physical tail.  Returns the TIA, the selection, flags and the excluded models."""
    flags: list[str] = []
    excluded = _excluded(None, settings)
    candidates = [get_model(m) for m in (settings.models or [m.name for m in MODELS])]
    n = tac.n_points
    try:
        if not any(n > m.n_params + 1 for m in candidates) and n >= 3 and any(m.name == "mono_exp" for m in candidates):
            fit = fit_model(tac, "mono_exp")
            for m in candidates:
                if m.name != "mono_exp":
                    excluded[m.name] = f"AICc needs N > K + 1: N={n} time points, K={m.n_params} parameters"
            if not fit.converged:
                raise FitError(f"mono_exp did not converge ({fit.message})")
            sel = ModelSelection(fit, {"mono_exp": fit}, {}, dict(excluded), settings.delta_aicc)
            flags.append(f"mono_exp_without_aicc(N={n})")
        else:
            sel = select_model(tac, settings.models, delta_aicc=settings.delta_aicc)
            excluded.update(sel.excluded)
        tia = sel.best.tia(calibration_rel_sigma=cal_sigma, voi_rel_sigma=settings.voi_rel_sigma)
        if not np.isfinite(tia.tia_mbq_h):
            raise FitError(f"selected model {sel.best.model.name} has an infinite TIA")
        return tia, sel, flags, excluded
    except FitError as exc:
        flags.append(f"fit_failed({exc})".replace(",", ";"))
    try:
        tia = trapezoid_tia(tac, tail="physical", calibration_rel_sigma=cal_sigma, voi_rel_sigma=settings.voi_rel_sigma)
        flags.append("trapezoid_fallback")
        return tia, None, flags, excluded
    except (FitError, TACError) as exc:
        raise DosimetryError(f"VOI {tac.voi!r}: no model and no trapezoid could integrate the TAC ({exc})") from None


def _bed(name: str, dose_gy: float, tia: float, sel: ModelSelection | None, flags: list[str]) -> float:
    tissue = tissue_of(name)
    if tissue is None:
        return math.nan
    if sel is None or dose_gy <= 0 or tia <= 0:
        flags.append("bed_needs_a_fitted_curve")
        return math.nan
    try:
        return bed_from_fit_gy(sel.best, dose_gy / tia, tissue_parameters(tissue))
    except RadiobiologyError as exc:
        flags.append(f"bed_failed({exc})".replace(",", ";"))
        return math.nan


def _limit_flags(name: str, dose_gy: float, bed_gy: float, risk: bool) -> list[str]:
    key = "kidney" if name == "kidneys" else name
    try:
        checks = check_limits(key, absorbed_dose_gy=dose_gy if math.isfinite(dose_gy) else None,
                              bed_gy=bed_gy if math.isfinite(bed_gy) else None, risk_factors=risk)
    except RadiobiologyError:
        return []
    return [f"exceeds_{c.limit.quantity}_limit_{c.limit.limit_gy:g}" for c in checks if c.exceeded]


# ----------------------------------------------------------------------------------------------
# dose from TIAs alone (the step that must reproduce the truth given the true TIAs)
# ----------------------------------------------------------------------------------------------
def organ_doses_from_tia(labels: LabelMap, tia_mbq_h: Mapping[str, float], nuclide: str, *,
                         density: Image | None = None, include=("beta", "ce", "auger", "photons"),
                         groups: Mapping[str, Sequence[str]] | None = None,
                         s_values: SValueMatrix | None = None) -> tuple[dict[str, float], SValueMatrix]:
    """MIRD organ/lesion mean doses (Gy) from VOI TIAs with patient-specific S-values on ``labels``.

    Groups get the mass-weighted mean dose of their present members.
    """
    names = [n for v, n in labels.names.items() if v in set(labels.labels)]
    sources = [s for s in tia_mbq_h if s in names]
    missing = [s for s in tia_mbq_h if s not in names and s not in (groups or {})]
    if missing:
        raise DosimetryError(f"TIAs given for {missing}, which are not labels of the VOI map ({names})")
    if s_values is None:
        s_values = patient_s_values(labels, nuclide, sources=sources, targets=names, density=density, include=include)
    doses = mird_dose_gy({s: tia_mbq_h[s] for s in sources}, s_values, names)
    for gname, members in (groups or {}).items():
        present = [m for m in members if m in doses]
        if present and gname not in doses:
            w = np.array([s_values.masses_g[m] for m in present])
            doses[gname] = float(np.dot(w, [doses[m] for m in present]) / w.sum())
    return doses, s_values


# ----------------------------------------------------------------------------------------------
# voxel dosimetry
# ----------------------------------------------------------------------------------------------
def _backend(settings: DosimetrySettings, backend):
    if backend is not None:
        return backend
    if settings.method == "montecarlo":
        raise DosimetryError("method 'montecarlo' needs a MonteCarloBackend (theranomics.dosimetry.montecarlo)")
    m = METHODS[settings.method]
    if m == "lde":
        return LocalDeposition(include_photons="photons" in settings.include)
    return KernelConvolution(method=m, include=settings.include)


def voxel_tia_map(activities: Sequence[Image], time_h, mask: np.ndarray, nuclide: str):
    """Voxel-wise mono-exponential TIA (MBq·h per voxel) inside ``mask`` (fitting.fit_voxels_mono_exp)."""
    stack = VoxelTACStack.from_images(list(activities), time_h, mask=mask, nuclide=nuclide)
    fit = fit_voxels_mono_exp(stack)
    return fit.tia_image(), fit.counts


def dose_rate_then_fit(activities: Sequence[Image], time_h, mask: np.ndarray, nuclide: str, backend,
                       density: Image | None = None) -> Image:
    """The other order: a dose-rate map (Gy/h) per time point, then a voxel-wise fit of dose rates
    (the same mono-exponential fitter, integrating Gy/h to Gy)."""
    rates = []
    for img in activities:
        mbq = img.with_array(np.asarray(img.array, float) * img.geometry.voxel_volume_ml * 1e-6, unit="MBq")
        rates.append(np.asarray(backend.dose(mbq, nuclide, density).array)[mask])
    stack = VoxelTACStack(np.asarray(time_h, float), np.vstack(rates), nuclide, activities[0].geometry, mask)
    fit = fit_voxels_mono_exp(stack)
    out = np.zeros(activities[0].shape)
    out[mask] = fit.tia_mbq_h
    return Image(out, activities[0].geometry, "Gy", "RTDOSE", {"dose_method": "dose_rate_then_fit"})


# ----------------------------------------------------------------------------------------------
# one cycle
# ----------------------------------------------------------------------------------------------
def run_cycle_dosimetry(study: Study, cycle: int = 1, *, settings: DosimetrySettings | None = None,
                        vois=None, calibrations: Mapping[str, Mapping] | None = None,
                        blood_tac: TimeActivityCurve | None = None, backend=None) -> CycleDosimetry:
    """Dosimetry of one therapy cycle with ≥ 2 SPECT time points (module doc).

    ``vois``: a LabelMap, or several (organs, lesions; later ones carve earlier ones), on any
    grid in the reference frame; default the reference time point's masks.  ``blood_tac``: blood
    activity *concentration* per mL (MBq/mL, as ``activity_mbq``) from samples, for the
    blood-based marrow method (default: a blood-pool VOI when present).
    """
    settings = settings or DosimetrySettings()
    timings: dict[str, float] = {}
    warnings: list[str] = []
    cyc = study.cycle(cycle)
    nuc = _nuclide(study, cycle, settings)
    t0 = time.perf_counter()
    qtps = quantify_cycle(cyc, reference=settings.reference_timepoint, registration=settings.registration,
                          calibrations=calibrations, registration_kwargs=settings.registration_kwargs,
                          registration_voxel_mm=settings.registration_voxel_mm)
    timings["quantify_and_register"] = time.perf_counter() - t0
    timings["registration"] = sum(q.info.get("registration_s", 0.0) for q in qtps)
    if len(qtps) < 2:
        raise DosimetryError(f"cycle {cycle} has {len(qtps)} SPECT time point(s); a TAC fit needs at least 2 "
                             "(use run_study_dosimetry for single-time-point cycles after cycle 1)")
    spect_tps = [tp for tp in cyc.timepoints if "spect" in tp.images]
    ref_i = reference_index(spect_tps, settings.reference_timepoint)
    grid = qtps[ref_i].activity.geometry
    ref_tp = spect_tps[ref_i]

    t0 = time.perf_counter()
    ct_grid = None
    density = None
    if "ct" in ref_tp.images:
        ct_grid = resample_to(ref_tp.images["ct"], grid, default_value=-1000.0)
        if settings.density_from_ct:
            density = density_from_ct(ct_grid)
    labels, body = _analysis_labels(qtps, ref_i, vois, settings, ct_grid)
    if body is None:
        body = labels.array > 0
        warnings.append("no CT: body mask = the VOIs, no density scaling, no remainder VOI")
    timings["vois_and_density"] = time.perf_counter() - t0

    # -- TACs ------------------------------------------------------------------------------------
    t0 = time.perf_counter()
    groups = {g: tuple(m for m in members if m in labels.names.values()) for g, members in settings.groups.items()}
    groups = {g: m for g, m in groups.items() if m and g not in labels.names.values()}
    times = np.array([q.time_h for q in qtps])
    per_tp = []
    tp_labels: list[LabelMap] = []
    for q, tp in zip(qtps, spect_tps):
        if settings.voi_mode == "per_timepoint":
            if q.masks is None:
                raise DosimetryError(f"voi_mode 'per_timepoint': time point {q.label!r} has no masks")
            native = q.native_activity.geometry
            ct_native = resample_to(tp.images["ct"], native, default_value=-1000.0) if "ct" in tp.images else None
            tp_lab, _ = _with_remainder(q.masks, ct_native, settings.body_threshold_hu)
            tp_labels.append(tp_lab)
            per_tp.append(measure_vois(q.native_activity, tp_lab, q.calibration, settings.noise_rel_sigma))
        else:
            per_tp.append(measure_vois(q.activity, labels, q.calibration, settings.noise_rel_sigma))
    label_names = [n for n in per_tp[0] if all(n in m for m in per_tp)]
    dropped = sorted(set().union(*[set(m) for m in per_tp]) - set(label_names))
    if dropped:
        warnings.append(f"VOIs missing at some time point, skipped: {dropped}")
    groups = {g: tuple(m for m in members if m in label_names) for g, members in groups.items()}
    groups = {g: m for g, m in groups.items() if m}
    names = label_names + list(groups)
    masks_by_name = {n: labels.mask(n) for n in label_names if n in labels.names.values()}
    for g, members in groups.items():
        masks_by_name[g] = np.isin(labels.array, [labels.label_of(m) for m in members if m in labels.names.values()])
    if settings.voi_mode == "per_timepoint":
        tp_masks = [{n: lab.mask(n) for n in label_names} for lab in tp_labels]
        tp_spacing = [q.native_activity.geometry.spacing_mm for q in qtps]
    else:
        tp_masks = [masks_by_name] * len(qtps)
        tp_spacing = [grid.spacing_mm] * len(qtps)
    fwhm, fwhm_source = _resolve_fwhm(settings, qtps, ref_i, warnings)
    rsettings = replace(settings, spect_fwhm_mm=fwhm)
    raw, corr, rc_of, rc_how = _recover(per_tp, label_names, groups, tp_masks, tp_spacing, rsettings)
    curve = rc_of.pop("_curve", None)
    timings["tacs_and_recovery"] = time.perf_counter() - t0

    # -- TIA per VOI -----------------------------------------------------------------------------
    t0 = time.perf_counter()
    cal_sigmas = [q.calibration.calibration_rel_sigma for q in qtps if q.calibration is not None
                  and q.calibration.calibration_rel_sigma is not None]
    cal_sigma = settings.calibration_rel_sigma if settings.calibration_rel_sigma is not None else \
        (max(cal_sigmas) if cal_sigmas else 0.0)
    tacs, sels, tias, rows, excluded_by = {}, {}, {}, {}, {}
    for name in names:
        flags: list[str] = []
        if settings.calibration_rel_sigma is None and not cal_sigmas:
            flags.append("calibration_uncertainty_unknown")
        vol = sum(per_tp[0][m].volume_ml for m in groups[name]) if name in groups else per_tp[0][name].volume_ml
        if rc_how[name] == "none" and name != "remainder":
            flags.append("no_recovery_correction")
        if rc_how[name] == "sphere_curve" and curve is not None and not curve.in_range(vol):
            flags.append("recovery_curve_extrapolated")
        try:
            tac = _tac(times, corr[name], name, nuc, settings)
            tac_raw = _tac(times, raw[name], name, nuc, settings)
        except TACError as exc:
            raise DosimetryError(f"{exc} (after recovery correction by {rc_how[name]})") from None
        tia, sel, fit_flags, excluded = _fit_tia(tac, settings, cal_sigma)
        tia_raw, _, _, _ = _fit_tia(tac_raw, settings, cal_sigma)
        flags += fit_flags + list(tia.flags)
        tacs[name], sels[name], tias[name], excluded_by[name] = tac, sel, tia, excluded
        rows[name] = {"voi": name, "kind": "lesion" if is_lesion(name) else ("group" if name in groups else "organ"),
                      "volume_ml": vol, "recovery_coefficient": rc_of[name], "recovery_method": rc_how[name],
                      "tia_uncorrected_mbq_h": tia_raw.tia_mbq_h, "tia_mbq_h": tia.tia_mbq_h,
                      "tia_sigma_mbq_h": tia.sigma_mbq_h, "model": tia.method,
                      "excluded_models": "; ".join(f"{k}: {v}" for k, v in excluded.items()),
                      "effective_half_life_h": sel.best.effective_half_life_h if sel else math.nan,
                      "_flags": flags}
    timings["tia_fits"] = time.perf_counter() - t0

    # -- organ/lesion MIRD doses ---------------------------------------------------------------------
    t0 = time.perf_counter()
    doses, s_values = organ_doses_from_tia(labels, {n: tias[n].tia_mbq_h for n in label_names}, nuc,
                                           density=density, include=settings.include, groups=groups)
    masses = dict(s_values.masses_g)
    for g, members in groups.items():
        masses[g] = sum(masses[m] for m in members if m in masses)
    timings["mird_s_values"] = time.perf_counter() - t0

    # -- voxel dose --------------------------------------------------------------------------------
    dose_img = tia_map = None
    fit_counts: dict = {}
    dvhs: dict = {}
    if settings.voxel_dose:
        t0 = time.perf_counter()
        tia_map, fit_counts = voxel_tia_map([q.activity for q in qtps], times, body, nuc)
        timings["voxel_fits"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        be = _backend(settings, backend)
        dose_img = be.dose(tia_map, nuc, density)
        dose_img = dose_img.with_array(np.where(body, dose_img.array, 0.0), unit="Gy")
        timings["voxel_dose"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        for name in names:
            m = masks_by_name.get(name)
            if m is None or not m.any():
                continue
            dvhs[name] = dose_volume_histogram(dose_img, m)
        timings["dvh"] = time.perf_counter() - t0

    # -- marrow -------------------------------------------------------------------------------------
    marrow_results = _marrow(study, names, labels, tias, per_tp, s_values, settings, nuc, blood_tac, doses)

    # -- table -----------------------------------------------------------------------------------------
    a0 = cyc.administration.activity_mbq
    out_rows = []
    for name in names:
        r = rows.pop(name)
        flags = r.pop("_flags")
        dose = doses.get(name, math.nan)
        bed = _bed(name, dose, r["tia_mbq_h"], sels[name], flags)
        flags += _limit_flags(name, dose, bed, settings.risk_factors)
        r.update({"patient_id": study.patient.patient_id, "cycle": cycle, "mass_g": masses.get(name, math.nan),
                  "dose_gy": dose, "dose_gy_per_gbq": dose / (a0 / 1000.0), "bed_gy": bed})
        if is_lesion(name):
            r["dose_sphere_gy"] = r["tia_mbq_h"] * lesion_sphere_s_value(nuc, r["volume_ml"], include=settings.include)
        if name in dvhs:
            met = dvhs[name].metrics()
            r.update({"dose_voxel_mean_gy": _mass_weighted_mean(dose_img, density, masks_by_name[name]),
                      "d2_gy": met["d2_gy"], "d50_gy": met["d50_gy"], "d98_gy": met["d98_gy"],
                      "v20_percent": met["v20_percent"]})
        r["flags"] = ";".join(dict.fromkeys(flags))
        out_rows.append(r)
    for key, md in marrow_results.items():
        flags = list(md.flags) + _limit_flags("red_marrow", md.dose_gy, math.nan, settings.risk_factors)
        out_rows.append({"patient_id": study.patient.patient_id, "cycle": cycle, "voi": key, "kind": "marrow",
                         "mass_g": md.marrow_mass_g, "tia_mbq_h": md.tia_mbq_h, "tia_sigma_mbq_h": math.nan,
                         "model": md.method, "dose_gy": md.dose_gy, "dose_gy_per_gbq": md.dose_gy / (a0 / 1000.0),
                         "bed_gy": math.nan, "flags": ";".join(flags),
                         "dose_self_gy": md.self_dose_gy,
                         "dose_cross_gy": sum(md.cross_dose_gy.values())})
    from .outputs import voi_table
    table = voi_table(out_rows)
    return CycleDosimetry(study.patient.patient_id, cycle, nuc, a0, table, tacs, sels, tias, labels, s_values, qtps,
                          dose_img, tia_map, density, fit_counts, dvhs, marrow_results, curve, timings, warnings,
                          method=settings.method, spect_fwhm_mm=fwhm, spect_fwhm_source=fwhm_source,
                          excluded_models=excluded_by)


def _mass_weighted_mean(dose: Image, density: Image | None, mask: np.ndarray) -> float:
    d = np.asarray(dose.array)[mask]
    if density is None:
        return float(d.mean())
    w = np.asarray(density.array)[mask]
    return float(np.dot(d, w) / w.sum())


def _marrow(study, names, labels, tias, per_tp, s_values, settings, nuc, blood_tac, doses) -> dict:
    out = {}
    patient = study.patient
    try:
        m_rm = settings.marrow_mass_g or marrow_mod.red_marrow_mass_g(patient.sex, patient.weight_kg)
    except marrow_mod.MarrowError:
        return {}
    rm_voi = next((n for n in MARROW_VOIS if n in names), None)
    cross = {}
    cross_flags = []
    if rm_voi is not None and rm_voi in s_values.targets:
        for src in s_values.sources:
            if src == rm_voi:
                continue
            if src == "remainder" or (is_lesion(src)):
                cross[src] = (tias[src].tia_mbq_h, s_values.s(rm_voi, src))
    else:
        cross_flags.append("no_marrow_voi_for_cross_dose")
    # image-based
    if rm_voi is not None:
        voi_mass = s_values.masses_g.get(rm_voi) or per_tp[0][rm_voi].volume_ml * REFERENCE_DENSITY
        tia_rm = marrow_mod.image_based_marrow_tia_mbq_h(tias[rm_voi].tia_mbq_h, voi_mass, m_rm)
        out["red_marrow_image_based"] = marrow_mod.marrow_dose(
            "image_based", tia_rm, m_rm, nuc, cross=cross,
            electron_absorbed_fraction=settings.marrow_electron_absorbed_fraction,
            photon_absorbed_fraction=settings.marrow_photon_absorbed_fraction,
            parameters={"voi_mass_g": voi_mass}, flags=cross_flags)
    # blood-based
    blood_tia_per_ml = None
    bflags = list(cross_flags)
    if blood_tac is not None:
        sel_tia, _, f, _ = _fit_tia(blood_tac, settings, 0.0)
        blood_tia_per_ml = sel_tia.tia_mbq_h
        bflags += f
    else:
        bvoi = next((n for n in BLOOD_VOIS if n in names), None)
        if bvoi is not None:
            blood_tia_per_ml = tias[bvoi].tia_mbq_h / per_tp[0][bvoi].volume_ml
            bflags.append(f"blood_from_image_voi_{bvoi}")
    if blood_tia_per_ml is not None:
        tia_rm = marrow_mod.blood_based_marrow_tia_mbq_h(blood_tia_per_ml, m_rm, settings.rmblr)
        out["red_marrow_blood_based"] = marrow_mod.marrow_dose(
            "blood_based", tia_rm, m_rm, nuc, cross=cross,
            electron_absorbed_fraction=settings.marrow_electron_absorbed_fraction,
            photon_absorbed_fraction=settings.marrow_photon_absorbed_fraction,
            parameters={"blood_tia_mbq_h_per_ml": blood_tia_per_ml, "rmblr": settings.rmblr}, flags=bflags)
    return out


# ----------------------------------------------------------------------------------------------
# several cycles
# ----------------------------------------------------------------------------------------------
@dataclass(eq=False)
class StudyDosimetry:
    cycles: dict[int, CycleDosimetry]
    cumulative: pd.DataFrame

    @property
    def table(self) -> pd.DataFrame:
        return pd.concat([c.table for c in self.cycles.values()], ignore_index=True)


def stp_cycle_dosimetry(study: Study, cycle: int, reference: CycleDosimetry, *,
                        settings: DosimetrySettings | None = None, calibrations=None) -> CycleDosimetry:
    """A later cycle with one SPECT time point: TIA_k = A_k(t)·TIA_1/f_1(t) per VOI with the cycle-1
    fit f_1, D_k = S·TIA_k with the cycle-1 patient S-values, BED with the cycle-1 curve shape."""
    from .. import registration as reg_mod
    from .timepoints import quantify_spect
    settings = settings or DosimetrySettings()
    cyc = study.cycle(cycle)
    tps = [tp for tp in cyc.timepoints if "spect" in tp.images]
    if len(tps) != 1:
        raise DosimetryError(f"cycle {cycle}: single-time-point dosimetry needs exactly one SPECT time point, "
                             f"got {len(tps)}")
    tp = tps[0]
    t_h = tp.hours_after(cyc.administration)
    conc, cal = quantify_spect(tp.images["spect"], (calibrations or {}).get(tp.label))
    grid = reference.labels.geometry
    ref_q = next(q for q in reference.timepoints if q.registration is None)
    ref_cyc = study.cycle(reference.cycle)
    ref_ct = next(t for t in ref_cyc.timepoints if t.label == ref_q.label).images.get("ct")
    if settings.registration != "none" and "ct" in tp.images and ref_ct is not None:
        reg = reg_mod.register_rigid(ref_ct, tp.images["ct"], **{"working_voxel_mm": settings.registration_voxel_mm,
                                                                  **dict(settings.registration_kwargs)})
        moved = reg_mod.apply(reg, conc, reference=grid)
    else:
        moved = conc if conc.geometry.same_grid(grid) else resample_to(conc, grid)
    groups = {g: m for g, m in settings.groups.items() if g in reference.tacs}
    meas = measure_vois(moved, reference.labels, cal, settings.noise_rel_sigma, groups)
    tias, rows = {}, []
    ref_table = reference.table.set_index("voi")
    for name, sel in reference.selections.items():
        if name not in meas:
            continue
        flags = ["single_time_point_cycle1_kinetics"]
        rc = float(ref_table.loc[name, "recovery_coefficient"]) if "recovery_coefficient" in ref_table.columns else 1.0
        a = meas[name].activity_mbq / rc
        if sel is None:
            flags.append("no_cycle1_fit_scaled_by_tia_ratio")
            tia = a * reference.tias[name].tia_mbq_h / max(float(reference.tacs[name].activity_mbq[0]), 1e-300)
        else:
            tia = float(multicycle_stp_tia_mbq_h(sel.best, max(a, 0.0), t_h))
        tias[name] = tia
        rows.append((name, tia, flags))
    label_names = [n for n in tias if n not in groups]
    doses, _ = organ_doses_from_tia(reference.labels, {n: tias[n] for n in label_names}, reference.nuclide,
                                    groups=groups, s_values=reference.s_values)
    a0 = cyc.administration.activity_mbq
    out = []
    for name, tia, flags in rows:
        dose = doses.get(name, math.nan)
        sel = reference.selections[name]
        bed = math.nan
        if sel is not None and tissue_of(name) and dose > 0:
            try:
                bed = bed_from_fit_gy(sel.best, dose / reference.tias[name].tia_mbq_h, tissue_parameters(tissue_of(name)))
            except RadiobiologyError:
                flags.append("bed_failed")
        r = ref_table.loc[name]
        out.append({"patient_id": study.patient.patient_id, "cycle": cycle, "voi": name, "kind": r.get("kind"),
                    "mass_g": r["mass_g"], "tia_mbq_h": tia,
                    "tia_sigma_mbq_h": tia * reference.tias[name].relative_sigma, "model": f"stp_{r['model']}",
                    "dose_gy": dose, "dose_gy_per_gbq": dose / (a0 / 1000.0), "bed_gy": bed,
                    "flags": ";".join(flags + _limit_flags(name, dose, bed, settings.risk_factors)),
                    "recovery_coefficient": r.get("recovery_coefficient", 1.0), "time_h": t_h})
    from .outputs import voi_table
    return CycleDosimetry(study.patient.patient_id, cycle, reference.nuclide, a0, voi_table(out), {}, {}, {},
                          reference.labels, reference.s_values, [], method="stp")


def cumulative_table(cycles: Mapping[int, CycleDosimetry], risk_factors: bool = False) -> pd.DataFrame:
    """Σ dose and Σ BED per VOI over cycles (full repair between cycles), with limit flags."""
    df = pd.concat([c.table for c in cycles.values()], ignore_index=True)
    rows = []
    for voi, g in df.groupby("voi", sort=False):
        dose = float(g["dose_gy"].sum())
        beds = g["bed_gy"].to_numpy(float)
        bed = multicycle_bed_gy(beds) if np.all(np.isfinite(beds)) and beds.size else math.nan
        total_a = sum(cycles[int(c)].administered_mbq for c in g["cycle"])
        rows.append({"patient_id": g["patient_id"].iloc[0], "voi": voi, "n_cycles": len(g),
                     "cycles": ",".join(str(int(c)) for c in g["cycle"]), "dose_gy": dose,
                     "dose_gy_per_gbq": dose / (total_a / 1000.0), "bed_gy": bed,
                     "flags": ";".join(_limit_flags("red_marrow" if voi.startswith("red_marrow") else voi, dose, bed,
                                                    risk_factors))})
    return pd.DataFrame(rows)


def run_study_dosimetry(study: Study, cycles: Sequence[int] | None = None, *,
                        settings: DosimetrySettings | None = None, vois=None, calibrations=None,
                        blood_tac=None, backend=None) -> StudyDosimetry:
    """Every therapy cycle: the first with ≥ 2 time points fully, later single-time-point cycles
    with its kinetics; plus the cumulative table."""
    settings = settings or DosimetrySettings()
    idx = list(cycles) if cycles is not None else [c.index for c in study.cycles if c.index >= 1 and
                                                   any("spect" in tp.images for tp in c.timepoints)]
    if not idx:
        raise DosimetryError(f"patient {study.patient.patient_id}: no therapy cycle with SPECT time points")
    results: dict[int, CycleDosimetry] = {}
    reference = None
    for c in idx:
        n_spect = sum("spect" in tp.images for tp in study.cycle(c).timepoints)
        if n_spect >= 2:
            res = run_cycle_dosimetry(study, c, settings=settings, vois=vois, calibrations=calibrations,
                                      blood_tac=blood_tac, backend=backend)
            reference = reference or res
        elif n_spect == 1:
            if reference is None:
                raise DosimetryError(f"cycle {c} has one SPECT time point and no earlier cycle with full kinetics")
            res = stp_cycle_dosimetry(study, c, reference, settings=settings, calibrations=calibrations)
        else:
            raise DosimetryError(f"cycle {c} has no SPECT time point")
        results[c] = res
    return StudyDosimetry(results, cumulative_table(results, settings.risk_factors))


# ----------------------------------------------------------------------------------------------
# folders
# ----------------------------------------------------------------------------------------------
def dosimetry_folder(study_dir, out_dir, *, cycles: Sequence[int] | None = None,
                     settings: DosimetrySettings | None = None, extra_masks: Sequence[str | Path] = (),
                     write_report: bool = True, calibration_cps_per_mbq: float | None = None,
                     acquisition_duration_s: float | None = None) -> dict[str, Path]:
    """Read a study folder — the study layout (docs/study_layout.md) with NIfTI or DICOM images, or a
    folder of plain DICOM series (:mod:`.inputs`) — run the dosimetry, write all outputs:
    ``dose_cycle<N>.nii.gz`` and ``rtdose_cycle<N>.dcm``, ``tia_cycle<N>.nii.gz``,
    ``dosimetry.csv`` (per VOI and cycle, with ``excluded_models``), ``cumulative.csv``,
    ``tacs.csv``, ``summary.json`` (settings, SPECT FWHM and its source, excluded models per VOI,
    inputs read, timings) and ``report.html``.  ``extra_masks``: label maps (NIfTI, RTSTRUCT or
    SEG; e.g. lesions) of the reference time point added to its VOIs.  ``calibration_cps_per_mbq``
    / ``acquisition_duration_s`` override ``calibration.json`` and the DICOM header."""
    from ..io.nifti import write_nifti
    from .inputs import read_dosimetry_inputs
    from .outputs import write_rtdose

    t_all = time.perf_counter()
    settings = settings or DosimetrySettings()
    t0 = time.perf_counter()
    inputs = read_dosimetry_inputs(study_dir, masks=extra_masks, calibration_cps_per_mbq=calibration_cps_per_mbq,
                                   acquisition_duration_s=acquisition_duration_s,
                                   reference_timepoint=settings.reference_timepoint)
    t_read = time.perf_counter() - t0
    study = inputs.study
    result = run_study_dosimetry(study, cycles, settings=settings, vois=inputs.vois)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    tac_rows = []
    for c, res in result.cycles.items():
        if res.dose is not None:
            paths[f"dose_cycle{c}_nifti"] = write_nifti(res.dose, out / f"dose_cycle{c}.nii.gz")
            paths[f"tia_cycle{c}_nifti"] = write_nifti(res.tia_map, out / f"tia_cycle{c}.nii.gz")
            ct_for = _frame_of_reference(study_dir, study, c, res)
            paths[f"dose_cycle{c}_rtdose"] = write_rtdose(res.dose, out / f"rtdose_cycle{c}.dcm",
                                                          patient_id=res.patient_id, frame_of_reference_uid=ct_for)
        for name, tac in res.tacs.items():
            fit = res.selections.get(name)
            for t, a, s in zip(tac.time_h, tac.activity_mbq,
                               tac.sigma_mbq if tac.sigma_mbq is not None else [math.nan] * tac.n_points):
                tac_rows.append({"patient_id": res.patient_id, "cycle": c, "voi": name, "time_h": t,
                                 "activity_mbq": a, "sigma_mbq": s,
                                 "fitted_mbq": float(fit.best.evaluate([t])[0]) if fit else math.nan})
    result.table.to_csv(out / "dosimetry.csv", index=False)
    paths["table_csv"] = out / "dosimetry.csv"
    result.cumulative.to_csv(out / "cumulative.csv", index=False)
    paths["cumulative_csv"] = out / "cumulative.csv"
    pd.DataFrame(tac_rows).to_csv(out / "tacs.csv", index=False)
    paths["tacs_csv"] = out / "tacs.csv"
    timings = {"read_inputs": t_read}
    timings.update({f"cycle{c}.{k}": v for c, r in result.cycles.items() for k, v in r.timings_s.items()})
    if write_report:
        from ..report.dosimetry_report import dosimetry_report
        t0 = time.perf_counter()
        paths["report_html"] = dosimetry_report(result, out / "report.html",
                                                provenance={"study_dir": str(study_dir), "settings": _settings_dict(settings)})
        timings["report"] = time.perf_counter() - t0
    timings["total"] = time.perf_counter() - t_all
    summary = {"patient_id": study.patient.patient_id, "cycles": list(result.cycles), "settings": _settings_dict(settings),
               "inputs": {"kind": inputs.kind, "notes": inputs.notes,
                          "series": {f"cycle{c}/{label}": v for (c, label), v in inputs.series.items()},
                          "calibration": _calibrations(result)},
               "recovery": {c: {"mode": settings.recovery if r.method != "stp" else "cycle-1 recovery coefficients",
                                "spect_fwhm_mm": r.spect_fwhm_mm, "spect_fwhm_source": r.spect_fwhm_source}
                            for c, r in result.cycles.items()},
               "model_selection": {
                   "rule": MODEL_SELECTION_RULE,
                   "activity_rel_sigma_per_point": settings.activity_rel_sigma,
                   "candidates": list(settings.models) if settings.models is not None else [m.name for m in MODELS],
                   "excluded_models": {c: r.excluded_models for c, r in result.cycles.items()}},
               "marrow": {c: {k: dict(md.parameters) for k, md in r.marrow.items()} for c, r in result.cycles.items()},
               "timings_s": timings,
               "warnings": {c: r.warnings for c, r in result.cycles.items()},
               "voxel_fit_counts": {c: r.voxel_fit_counts for c, r in result.cycles.items()}}
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    paths["summary_json"] = out / "summary.json"
    return paths


#: The TAC model-selection rule of the workflow, as written to summary.json and the CLI help.
MODEL_SELECTION_RULE = (
    "AICc (Glatting 2007) among the candidate models the number of time points allows (N > K + 1: "
    "with 4 points only 1-2-parameter models compete); the simpler model wins within dAICc <= 2. "
    "physical_decay is not a candidate by default (it wins AICc at 3-4 points unless ~20x worse, "
    "over-estimating cleared VOIs). Each point's sigma = sqrt(Poisson^2 + (5 % x A)^2) "
    "(activity_rel_sigma). With 3 points no candidate has N > K + 1: mono_exp is fitted alone "
    "(flag mono_exp_without_aicc); with 2 points or a failed fit, trapezoid + physical tail "
    "(flag trapezoid_fallback). Excluded models and reasons: excluded_models per VOI.")


def _calibrations(result: StudyDosimetry) -> dict:
    out = {}
    for c, r in result.cycles.items():
        for q in r.timepoints:
            cal = q.calibration
            out[f"cycle{c}/{q.label}"] = None if cal is None else {
                "calibration_cps_per_mbq": cal.calibration_cps_per_mbq,
                "acquisition_duration_s": cal.acquisition_duration_s, "spect_fwhm_mm": cal.spect_fwhm_mm,
                "deadtime_factor": cal.deadtime_factor, "source": cal.source}
    return out


def _settings_dict(settings: DosimetrySettings) -> dict:
    d = {}
    for k in settings.__dataclass_fields__:
        v = getattr(settings, k)
        d[k] = v.to_frame().to_dict("list") if isinstance(v, RecoveryCurve) else v
    return d


def _frame_of_reference(study_dir, study: Study, cycle: int, res: CycleDosimetry) -> str:
    """FrameOfReferenceUID of the reference time point's CT (DICOM header, or the layout's CT DICOM),
    or a new one."""
    from ..io import layout
    ref_q = next((q for q in res.timepoints if q.registration is None), None)
    if ref_q is not None:
        tp = next((t for t in study.cycle(cycle).timepoints if t.label == ref_q.label), None)
        ct = tp.images.get("ct") if tp is not None else None
        if ct is not None and ct.meta.get("frame_of_reference_uid"):
            return str(ct.meta["frame_of_reference_uid"])
        try:
            folder = layout.dicom_dir(study_dir, cycle, ref_q.label, "ct")
        except layout.StudyLayoutError:
            folder = None
        files = sorted(folder.glob("*.dcm")) if folder is not None and folder.is_dir() else []
        if files:
            import pydicom
            ds = pydicom.dcmread(files[0], stop_before_pixels=True)
            if "FrameOfReferenceUID" in ds:
                return str(ds.FrameOfReferenceUID)
    import pydicom.uid
    return pydicom.uid.generate_uid()


__all__ = ["DosimetryError", "DosimetrySettings", "CycleDosimetry", "StudyDosimetry", "METHODS", "DEFAULT_GROUPS",
           "run_cycle_dosimetry", "stp_cycle_dosimetry", "run_study_dosimetry", "cumulative_table",
           "organ_doses_from_tia", "voxel_tia_map", "dose_rate_then_fit", "dosimetry_folder", "is_lesion", "tissue_of",
           "DEFAULT_MODELS", "NOT_A_CANDIDATE", "MODEL_SELECTION_RULE", "LESION_PREFIXES"]
