"""Serial SPECT/CT time points → activity images on one grid → VOI time-activity curves.

Per time point (MIRD Pamphlet 23 and 26 workflow):

1. **Quantify**: a counts image becomes Bq/mL with the calibration factor and acquisition
   duration (:func:`theranomics.quant.spect.counts_to_bq_per_ml`), times the dead-time factor
   n/m when ``deadtime_tau_s`` is known (:mod:`.deadtime`); a vendor-quantitative image already
   in Bq/mL (or kBq/mL) is used as is.  A counts image without calibration is an error.
2. **Register**: the time point's CT onto the reference time point's CT (rigid, shared
   :mod:`theranomics.registration`); the SPECT shares its CT's frame, so the same transform
   resamples it onto the analysis grid (the reference SPECT's native grid).
3. **VOIs**: the reference time point's masks propagated to every time point (``'propagate'``),
   or each time point's own masks on its own SPECT grid (``'per_timepoint'``).
4. **TAC**: A_VOI = Σ C·V_voxel (MBq) with the Poisson counting uncertainty
   σ_A = A/√N, N = A·k·T/f_dead the VOI's counts (reconstruction noise amplification not
   modelled; no σ for vendor Bq/mL images unless ``noise_rel_sigma`` is given).
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from ..core.image import Geometry, Image, LabelMap
from ..core.study import Cycle
from ..io.sitk import resample_to
from ..quant.spect import counts_to_bq_per_ml
from .deadtime import deadtime_correction_factor

_CONC_TO_BQ_PER_ML = {"Bq/mL": 1.0, "kBq/mL": 1e3}
#: VOI (and mask) names that denote lesions: lesion maps are merged after organ maps (carving them).
LESION_PREFIXES = ("lesion", "tumour", "tumor")


def is_lesion(name: str) -> bool:
    """A lesion VOI or lesion mask by its name (:data:`LESION_PREFIXES`)."""
    return name.lower().startswith(LESION_PREFIXES)


class TimePointError(ValueError):
    """A time point that cannot be quantified, registered or measured."""


@dataclass(frozen=True)
class Calibration:
    """SPECT calibration of one acquisition (``calibration.json`` beside ``spect.nii.gz`` or beside
    the ``dicom/`` folder).  ``spect_fwhm_mm`` (system resolution, optional) is used for recovery
    correction when the settings do not give one."""

    calibration_cps_per_mbq: float
    acquisition_duration_s: float
    deadtime_tau_s: float | None = None
    deadtime_model: str = "paralysable"
    observed_count_rate_cps: float | None = None
    calibration_rel_sigma: float | None = None
    spect_fwhm_mm: float | None = None
    source: str = ""

    def __post_init__(self) -> None:
        for name in ("calibration_cps_per_mbq", "acquisition_duration_s"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
                raise TimePointError(f"calibration field {name!r} must be a positive number, got {v!r}")
        v = self.spect_fwhm_mm
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)
                              or v <= 0):
            raise TimePointError(f"calibration field 'spect_fwhm_mm' must be a positive number of mm, got {v!r}")

    @property
    def deadtime_factor(self) -> float:
        """n/m from the whole-field observed rate, 1 when τ or the rate is not known."""
        if self.deadtime_tau_s is None or self.observed_count_rate_cps is None:
            return 1.0
        return deadtime_correction_factor(self.observed_count_rate_cps, self.deadtime_tau_s, self.deadtime_model)

    @classmethod
    def from_mapping(cls, d: Mapping, where: str) -> "Calibration":
        for key in ("calibration_cps_per_mbq", "acquisition_duration_s"):
            if key not in d or d[key] is None:
                raise TimePointError(f"{where}: missing calibration field {key!r} (needed to turn counts into Bq/mL)")
        keys = set(cls.__dataclass_fields__) - {"source"}
        try:
            return cls(**{k: (float(v) if k != "deadtime_model" and v is not None else v)
                          for k, v in d.items() if k in keys}, source=str(d.get("source", where)))
        except (TypeError, ValueError) as exc:
            raise TimePointError(f"{where}: {exc}") from None


def find_calibration(spect: Image, override: Mapping | Calibration | None = None) -> Calibration:
    """The calibration of a counts image, first found of: ``override``; ``meta['calibration']`` (a
    mapping set by a reader, e.g. from a command-line option); ``calibration.json`` beside its
    source file or DICOM folder; its metadata keys (as the simulator sets them) — else
    :class:`TimePointError`."""
    if isinstance(override, Calibration):
        return override
    if override is not None:
        return Calibration.from_mapping(override, "calibration")
    if isinstance(spect.meta.get("calibration"), Mapping):
        return Calibration.from_mapping(spect.meta["calibration"], "SPECT image calibration")
    src = spect.meta.get("source")
    if src:
        path = Path(src).parent / "calibration.json"
        if path.is_file():
            try:
                data = json.loads(path.read_text())
            except json.JSONDecodeError as exc:
                raise TimePointError(f"{path}: not valid JSON ({exc})") from None
            if not isinstance(data, Mapping):
                raise TimePointError(f"{path}: expected a JSON object with calibration_cps_per_mbq and "
                                     "acquisition_duration_s")
            return Calibration.from_mapping({**data, "source": str(path)}, str(path))
    if "calibration_cps_per_mbq" in spect.meta and "acquisition_duration_s" in spect.meta:
        return Calibration.from_mapping(spect.meta, "SPECT image metadata")
    where = f"{Path(src).parent / 'calibration.json'}" if src else "the SPECT image metadata"
    raise TimePointError(f"SPECT image is in counts but no calibration was found (looked for {where}); give "
                         "calibration_cps_per_mbq and acquisition_duration_s (command line: "
                         "--calibration-cps-per-mbq)")


def quantify_spect(spect: Image, calibration: Mapping | Calibration | None = None) -> tuple[Image, Calibration | None]:
    """Activity concentration (Bq/mL) and the calibration used (``None`` for vendor-quantitative input)."""
    if not isinstance(spect, Image):
        raise TimePointError(f"SPECT must be a theranomics Image, got {type(spect).__name__}")
    values = np.asarray(spect.array, dtype=float)
    if not np.all(np.isfinite(values)):
        raise TimePointError(f"SPECT image ({spect.meta.get('source', 'in memory')}) contains NaN or infinite values")
    if spect.unit in _CONC_TO_BQ_PER_ML:
        if values.min() < 0:
            raise TimePointError(f"SPECT image has negative activity concentration (min {values.min():g} "
                                 f"{spect.unit}); clip or fix the reconstruction first")
        return spect.with_array(values * _CONC_TO_BQ_PER_ML[spect.unit], unit="Bq/mL"), None
    if spect.unit != "counts":
        raise TimePointError(f"SPECT image unit is {spect.unit!r}; expected 'counts' (with a calibration) or "
                             "'Bq/mL' (vendor-quantitative)")
    cal = find_calibration(spect, calibration)
    conc = counts_to_bq_per_ml(spect, cal.calibration_cps_per_mbq, cal.acquisition_duration_s)
    f = cal.deadtime_factor
    if f != 1.0:
        conc = conc.with_array(conc.array * f, deadtime_factor=f)
    return conc, cal


@dataclass(frozen=True, eq=False)
class QuantifiedTimePoint:
    """One time point on the analysis grid."""

    label: str
    time_h: float
    activity: Image                        # Bq/mL on the analysis grid
    native_activity: Image                 # Bq/mL on its own SPECT grid
    calibration: Calibration | None
    registration: object | None = None     # theranomics.registration.Registration
    masks: LabelMap | None = None          # this time point's own VOIs on its native SPECT grid
    info: dict = field(default_factory=dict)


def merge_labelmaps(maps: Sequence[LabelMap], geometry: Geometry) -> LabelMap:
    """Resample label maps onto ``geometry`` (nearest neighbour) and merge; later maps overwrite.

    Names must be unique across maps (a lesion map carves its lesions out of the organs)."""
    out = np.zeros(geometry.shape, dtype=np.int32)
    names: dict[int, str] = {}
    for lm in maps:
        if not isinstance(lm, LabelMap):
            raise TimePointError(f"VOIs must be LabelMaps, got {type(lm).__name__}")
        res = lm if lm.geometry.same_grid(geometry) else resample_to(lm, geometry)
        for value, name in lm.names.items():
            m = res.array == value
            if not m.any():
                continue
            if name in names.values():
                raise TimePointError(f"VOI name {name!r} appears in more than one label map")
            new = len(names) + 1
            out[m] = new
            names[new] = name
    # drop names whose voxels were entirely overwritten
    present = set(np.unique(out).tolist())
    return LabelMap(out, geometry, {v: n for v, n in names.items() if v in present})


def reference_index(timepoints, reference: int | str) -> int:
    """Index of the reference time point among ``timepoints``, by index or label."""
    if isinstance(reference, str):
        labels = [tp.label for tp in timepoints]
        if reference not in labels:
            raise TimePointError(f"reference time point {reference!r} not among {labels}")
        return labels.index(reference)
    if not (-len(timepoints) <= int(reference) < len(timepoints)):
        raise TimePointError(f"reference index {reference} out of range for {len(timepoints)} time points")
    return int(reference) % len(timepoints)


def quantify_cycle(cycle: Cycle, *, reference: int | str = 0, registration: str = "rigid",
                   calibrations: Mapping[str, Mapping] | None = None, mask_names: Sequence[str] | None = None,
                   registration_kwargs: Mapping | None = None,
                   registration_voxel_mm: float | None = 8.0) -> list[QuantifiedTimePoint]:
    """Quantify every SPECT time point of ``cycle`` and bring it onto the reference SPECT grid.

    ``reference``: index or label of the reference time point.  ``registration``: ``'rigid'``
    (CT→CT), ``'deformable'`` (rigid then B-spline) or ``'none'`` (already aligned; the SPECT is
    only resampled).  ``calibrations``: per time-point label, overriding calibration files.
    ``registration_voxel_mm``: the ``working_voxel_mm`` of
    :func:`theranomics.registration.register_rigid` — CTs are block-averaged to about this voxel
    size before registering (the transform is in world mm, so it applies at full resolution);
    ``None`` registers at the native CT grid.
    """
    from .. import registration as reg_mod

    tps = [tp for tp in cycle.timepoints if "spect" in tp.images]
    if not tps:
        raise TimePointError(f"cycle {cycle.index}: no time point has a SPECT image")
    times = [tp.hours_after(cycle.administration) for tp in tps]
    ref_i = reference_index(tps, reference)
    if registration not in ("rigid", "deformable", "none"):
        raise TimePointError(f"registration must be 'rigid', 'deformable' or 'none', got {registration!r}")
    ref_tp = tps[ref_i]
    ref_conc, _ = quantify_spect(ref_tp.images["spect"], (calibrations or {}).get(ref_tp.label))
    grid = ref_conc.geometry
    ref_ct = ref_tp.images.get("ct")
    out = []
    for tp, t_h in zip(tps, times):
        try:
            conc, cal = quantify_spect(tp.images["spect"], (calibrations or {}).get(tp.label))
        except (TimePointError, ValueError) as exc:
            raise TimePointError(f"cycle {cycle.index}, time point {tp.label!r}: {exc}") from None
        reg = None
        info: dict = {}
        if tp is ref_tp or registration == "none":
            moved = conc if conc.geometry.same_grid(grid) else resample_to(conc, grid)
        else:
            ct = tp.images.get("ct")
            if ct is None or ref_ct is None:
                raise TimePointError(f"cycle {cycle.index}, time point {tp.label!r}: registration needs a CT at this "
                                     f"and at the reference time point ({ref_tp.label!r}); or use registration='none'")
            kw = {"working_voxel_mm": registration_voxel_mm, **dict(registration_kwargs or {})}
            t0 = time.perf_counter()
            reg = reg_mod.register_rigid(ref_ct, ct, **kw)
            if registration == "deformable":
                reg = reg_mod.register_deformable(ref_ct, ct, initial=reg, working_voxel_mm=kw["working_voxel_mm"])
            info["registration_s"] = time.perf_counter() - t0
            moved = reg_mod.apply(reg, conc, reference=grid)
            info["translation_mm"] = reg.translation_mm
            info["metric"] = reg.metric_value
        masks = None
        if tp.masks:
            names = mask_names or sorted(tp.masks, key=lambda n: (is_lesion(n), n))   # lesion maps carve organs
            masks = merge_labelmaps([tp.masks[n] for n in names if n in tp.masks], conc.geometry)
        out.append(QuantifiedTimePoint(tp.label, float(t_h), moved.with_array(np.asarray(moved.array, np.float64)),
                                       conc, cal, reg, masks, info))
    return out


@dataclass(frozen=True)
class VoiMeasurement:
    """Activity in one VOI at one time point."""

    voi: str
    activity_mbq: float
    sigma_mbq: float | None
    volume_ml: float
    counts: float | None


def measure_vois(activity: Image, labels: LabelMap, calibration: Calibration | None = None,
                 noise_rel_sigma: float | None = None, groups: Mapping[str, Sequence[str]] | None = None
                 ) -> dict[str, VoiMeasurement]:
    """A_VOI = Σ C·V (MBq) per label (and per group of labels) with σ = A/√N (module doc)."""
    if activity.unit != "Bq/mL":
        raise TimePointError(f"activity image must be in Bq/mL, got {activity.unit!r}")
    if not activity.geometry.same_grid(labels.geometry):
        raise TimePointError("VOI label map and activity image are on different grids; resample the VOIs first")
    vv = activity.geometry.voxel_volume_ml
    lab = labels.array.ravel()
    n = int(lab.max()) + 1 if lab.size else 1
    sums = np.bincount(lab, weights=np.asarray(activity.array, dtype=float).ravel(), minlength=n) * vv * 1e-6
    nvox = np.bincount(lab, minlength=n)
    per_value = {v: (float(sums[v]), float(nvox[v]) * vv) for v in labels.names if v < n and nvox[v] > 0}
    entries = {labels.names[v]: per_value[v] for v in per_value}
    for gname, members in (groups or {}).items():
        present = [m for m in members if m in entries]
        if present and gname not in entries:
            entries[gname] = (sum(entries[m][0] for m in present), sum(entries[m][1] for m in present))
    out = {}
    for name, (a, vol) in entries.items():
        sigma = None
        counts = None
        if calibration is not None:
            counts = a * calibration.calibration_cps_per_mbq * calibration.acquisition_duration_s / \
                calibration.deadtime_factor
            sigma = a / math.sqrt(counts) if counts > 0 else None
        elif noise_rel_sigma is not None:
            sigma = abs(a) * noise_rel_sigma if a > 0 else None
        out[name] = VoiMeasurement(name, a, sigma, vol, counts)
    return out


__all__ = ["LESION_PREFIXES", "is_lesion", "TimePointError", "Calibration", "find_calibration", "quantify_spect", "QuantifiedTimePoint",
           "merge_labelmaps", "reference_index", "quantify_cycle", "VoiMeasurement", "measure_vois"]
