"""Virtual theranostics patient simulator.

``simulate_patient(PatientParameters(), seed=1)`` builds a patient with exactly known truth:

* an anthropomorphic phantom (:mod:`.phantom`) or the real patient-15 anatomy (:mod:`.anatomy`),
* lesions in their host tissues (:mod:`.lesions`),
* cycle 0: diagnostic PET/CT at the uptake time, from the tracer preset's SUVs (:mod:`.tracers`,
  :mod:`.pet`, :mod:`.ct`),
* cycle 1: Lu-177 therapy with post-therapy SPECT/CT time points from per-VOI kinetics
  (:mod:`.kinetics`, :mod:`.spect`) — any object implementing :class:`VoiKinetics` can replace
  the preset kinetics,
* truth tables (activity per VOI and time point, analytic TIA, lesion table) and label maps;
  :func:`write_patient` writes everything in the study layout (:mod:`.write`).

The simulator is a *user* of the library (core types, io, nuclides); analysis modules never
import it.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Mapping

import numpy as np
import pandas as pd

from .. import nuclides
from ..core import Administration, Cycle, Geometry, Image, LabelMap, Patient, Study, TimePoint
from ..io.sitk import resample_to
from .ct import ct_from_tissue
from .kinetics import ExponentialKinetics, VoiKinetics, build_therapy_kinetics
from .lesions import REGIONS, Lesion, LesionSet, LesionSpec, place_lesions, random_lesion_specs
from .pet import concentration_bq_per_ml, scanner_grid, simulate_pet
from .phantom import ORGAN_NAMES, TISSUES, Phantom, build_phantom
from .spect import blurred_activity, counts_image, voxel_activity_mbq
from .tracers import PET_TRACERS, THERAPY_FOR_FAMILY, PetTracer, TherapyAgent, pet_tracer, therapy_agent

ANATOMIES = ("phantom", "patient15")


@dataclass(frozen=True)
class PatientParameters:
    """Every input of a simulated patient (units in the names).  ``None`` = preset default."""

    patient_id: str | None = None            # default SIM<seed:04d>
    sex: str = "M"
    weight_kg: float = 80.0
    height_cm: float = 178.0
    prostate: str | None = None              # 'present' | 'bed' | 'none'; default present (M) / none (F)
    # lesions
    n_lesions: int = 6
    lesions: tuple[LesionSpec, ...] | None = None   # explicit lesions (override n_lesions)
    median_lesion_volume_ml: float = 3.0
    receptor_expression_scale: float = 1.0   # multiplies every lesion's receptor expression
    lesion_heterogeneity: float = 0.3        # SD of the log-uptake texture inside lesions
    necrotic_fraction: float = 0.1           # uptake of a necrotic core relative to viable tumour
    # physiology
    kidney_function_scale: float = 1.0       # 1 = normal renal clearance
    organ_deformation: float = 0.06
    # diagnostic PET (cycle 0)
    pet_activity_mbq: float | None = None
    uptake_time_min: float | None = None
    pet_frame_duration_s: float = 180.0
    pet_fwhm_mm: float = 6.0
    pet_voxel_mm: float = 4.0
    pet_noise_sensitivity: float = 1e-3      # counts per decay, see simulate.pet
    # therapy and SPECT (cycle 1)
    therapy_activity_mbq: float = 7400.0
    spect_hours: tuple[float, ...] = (4.0, 24.0, 96.0, 168.0)
    spect_fwhm_mm: float = 12.0
    spect_voxel_mm: float = 4.42
    spect_matrix: int = 128
    calibration_cps_per_mbq: float = 10.0
    spect_duration_s: float = 1800.0
    ct_noise_hu: float = 10.0
    diagnostic_time: dt.datetime = dt.datetime(2026, 3, 2, 9, 0)
    therapy_time: dt.datetime = dt.datetime(2026, 3, 16, 10, 0)

    def __post_init__(self) -> None:
        checks = [
            (self.sex in ("M", "F"), f"sex must be 'M' or 'F', got {self.sex!r}"),
            (self.prostate in (None, "present", "bed", "none"), f"prostate must be 'present', 'bed' or 'none', got {self.prostate!r}"),
            (self.n_lesions >= 0, f"n_lesions must be >= 0, got {self.n_lesions}"),
            (self.median_lesion_volume_ml > 0, f"median_lesion_volume_ml must be > 0, got {self.median_lesion_volume_ml}"),
            (self.receptor_expression_scale > 0, f"receptor_expression_scale must be > 0, got {self.receptor_expression_scale}"),
            (self.therapy_activity_mbq > 0, f"therapy_activity_mbq must be > 0, got {self.therapy_activity_mbq}"),
            (self.pet_activity_mbq is None or self.pet_activity_mbq > 0, f"pet_activity_mbq must be > 0, got {self.pet_activity_mbq}"),
            (self.uptake_time_min is None or 0 < self.uptake_time_min < 600, f"uptake_time_min must be in (0, 600), got {self.uptake_time_min}"),
            (len(self.spect_hours) >= 1 and all(h > 0 for h in self.spect_hours)
             and list(self.spect_hours) == sorted(set(self.spect_hours)),
             f"spect_hours must be positive and strictly increasing, got {self.spect_hours}"),
            (self.pet_frame_duration_s > 0 and self.spect_duration_s > 0, "acquisition durations must be > 0 s"),
            (self.pet_voxel_mm > 0 and self.spect_voxel_mm > 0, "voxel sizes must be > 0 mm"),
            (self.therapy_time > self.diagnostic_time, "therapy_time must be after diagnostic_time"),
        ]
        for ok, msg in checks:
            if not ok:
                raise ValueError(f"PatientParameters: {msg}")
        if self.sex == "F" and self.prostate not in (None, "none"):
            raise ValueError(f"PatientParameters: a female patient has no prostate (prostate={self.prostate!r})")

    @property
    def prostate_status(self) -> str:
        return self.prostate or ("present" if self.sex == "M" else "none")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["lesions"] = None if self.lesions is None else [asdict(s) for s in self.lesions]
        d["diagnostic_time"] = self.diagnostic_time.isoformat()
        d["therapy_time"] = self.therapy_time.isoformat()
        d["spect_hours"] = list(self.spect_hours)
        return d


@dataclass(frozen=True, eq=False)
class SimulatedPatient:
    """A simulated patient: the Study (what a clinic has) and the truth (what only the simulator knows)."""

    params: PatientParameters
    seed: int
    anatomy: str
    tracer: PetTracer
    agent: TherapyAgent
    study: Study
    phantom: Phantom
    lesion_set: LesionSet
    kinetics: VoiKinetics
    voi_labels: LabelMap                     # truth VOIs on the phantom grid: organs (lesions carved out) + lesions
    organ_truth: LabelMap                    # organs with lesion voxels removed (phantom grid)
    lesion_truth: LabelMap                   # lesion_id per voxel (phantom grid)
    pet_true: Image                          # noise-free, unblurred concentration (Bq/mL, phantom grid)
    pet_noise_free: Image                    # blurred, on the PET grid
    spect_activity: Mapping[str, Image]      # per time point: true activity per voxel (MBq, phantom grid)
    spect_blurred: Mapping[str, Image]       # per time point: blurred activity (MBq per voxel, SPECT grid)
    truth_vois: pd.DataFrame
    truth_lesions: pd.DataFrame
    truth_activity: pd.DataFrame
    truth_tia: pd.DataFrame
    parameters: Mapping[str, Any] = field(default_factory=dict)

    @property
    def patient_id(self) -> str:
        return self.study.patient.patient_id

    @property
    def lesions(self) -> tuple[Lesion, ...]:
        return self.lesion_set.lesions


def _progress_fn(progress) -> tuple[Callable[[str], None], Callable[[], None]]:
    if progress is None or progress is False:
        return (lambda msg: None), (lambda: None)
    if callable(progress):
        return progress, (lambda: None)
    from tqdm.auto import tqdm
    bar = tqdm(total=7, desc="simulate", unit="step")

    def step(msg: str) -> None:
        bar.set_postfix_str(msg)
        bar.update()
    return step, bar.close


def _timepoint_label(hours: float) -> str:
    return f"{hours:g}h"


def simulate_patient(params: PatientParameters | None = None, seed: int = 0, tracer: str = "psma-11", *,
                     small: bool = False, anatomy: str = "phantom", progress=None,
                     kinetics: VoiKinetics | None = None, refdata=None) -> SimulatedPatient:
    """Simulate one patient, deterministic from ``seed``.

    ``tracer``: ``psma-11``, ``dcfpyl``, ``dotatate-ga68`` or ``dotatate-cu64``; the therapy agent
    is the family's Lu-177 agent.  ``anatomy``: ``phantom`` or ``patient15`` (real CT anatomy,
    read from ``refdata`` / $THERANOMICS_REFDATA / ../shared/data; its 3 tumours are the lesions).
    ``kinetics`` replaces the preset kinetics (any :class:`VoiKinetics` whose ``vois`` cover the
    patient's VOIs).  ``progress``: a callable taking a message, or True for a tqdm bar.
    """
    params = params or PatientParameters()
    if anatomy not in ANATOMIES:
        raise ValueError(f"anatomy must be one of {ANATOMIES}, got {anatomy!r}")
    pet_preset = pet_tracer(tracer)
    agent = therapy_agent(THERAPY_FOR_FAMILY[pet_preset.family])
    seed = int(seed)
    streams = np.random.SeedSequence(seed).spawn(6)
    rng_anat, rng_les, rng_ct, rng_pet, rng_spect, _ = (np.random.default_rng(s) for s in streams)
    step, done = _progress_fn(progress)
    patient_id = params.patient_id or f"SIM{seed:04d}"

    # -- anatomy and lesions ---------------------------------------------------------------------
    step("anatomy")
    if anatomy == "phantom":
        phantom = build_phantom(sex=params.sex, height_cm=params.height_cm, weight_kg=params.weight_kg,
                                prostate=params.prostate_status, rng=rng_anat, small=small,
                                deformation=params.organ_deformation)
        specs = list(params.lesions) if params.lesions is not None else random_lesion_specs(
            rng_les, params.n_lesions, phantom, pet_preset.family, params.median_lesion_volume_ml,
            params.receptor_expression_scale)
        step("lesions")
        lesion_set = place_lesions(phantom, specs, rng_les, params.lesion_heterogeneity, params.necrotic_fraction,
                                   receptor_expression_scale=params.receptor_expression_scale)
        sex = params.sex
    else:
        from .anatomy import load_patient15
        scales = params.receptor_expression_scale * np.exp(0.35 * rng_les.standard_normal(3))
        phantom, lesion_set = load_patient15(refdata, receptor_scale=tuple(float(s) for s in scales))
        sex = "F"     # patient 15 is a female patient
        step("lesions")
    geom = phantom.geometry
    vv = geom.voxel_volume_ml

    # -- truth VOIs: organs with lesions carved out, then lesions -----------------------------------
    les_arr = lesion_set.labels
    organ_arr = np.where(les_arr > 0, 0, phantom.labels.array).astype(np.int32)
    organ_names = {v: n for v, n in phantom.labels.names.items() if np.any(organ_arr == v)}
    voi_names = [organ_names[v] for v in sorted(organ_names)] + [l.voi for l in lesion_set.lesions]
    voi_index = np.zeros(geom.shape, np.int16)
    for i, v in enumerate(sorted(organ_names), start=1):
        voi_index[organ_arr == v] = i
    n_org = len(organ_names)
    for l in lesion_set.lesions:
        voi_index[les_arr == l.lesion_id] = n_org + l.lesion_id
    raw_w = np.where(les_arr > 0, lesion_set.weights, (voi_index > 0).astype(np.float32)).astype(np.float64)
    sums = np.bincount(voi_index.ravel(), weights=raw_w.ravel(), minlength=len(voi_names) + 1)
    counts = np.bincount(voi_index.ravel(), minlength=len(voi_names) + 1)
    norm = np.where(sums > 0, sums, 1.0)
    voi_weight = raw_w / norm[voi_index]
    volumes = {name: counts[i + 1] * vv for i, name in enumerate(voi_names)}
    voi_labels = LabelMap(voi_index.astype(np.int32), geom, {i + 1: n for i, n in enumerate(voi_names)})
    organ_truth = LabelMap(organ_arr, geom, organ_names)
    lesion_truth = LabelMap(les_arr, geom, {l.lesion_id: l.voi for l in lesion_set.lesions})

    # -- kinetics ---------------------------------------------------------------------------------
    step("kinetics")
    body_ml = float((phantom.labels.array > 0).sum()) * vv
    outside_ml = max(params.weight_kg * 1000.0 - body_ml, 0.0)
    if kinetics is None:
        kinetics = build_therapy_kinetics(
            agent, {n: volumes[n] for n in voi_names}, params.weight_kg,
            lesion_regions={l.voi: l.region for l in lesion_set.lesions},
            lesion_receptor_scale={l.voi: l.receptor_scale for l in lesion_set.lesions},
            kidney_function_scale=params.kidney_function_scale, outside_fov_ml=outside_ml)
    missing = [v for v in voi_names if v not in kinetics.vois]
    if missing:
        raise ValueError(f"kinetics model has no VOI for {missing}; it has {list(kinetics.vois)}")

    # -- cycle 0: diagnostic PET/CT -----------------------------------------------------------------
    step("PET/CT")
    pet_mbq = params.pet_activity_mbq or pet_preset.default_activity_mbq
    uptake_min = params.uptake_time_min or pet_preset.uptake_time_min
    decay_pet = nuclides.decay_factor(pet_preset.nuclide, 0.0, uptake_min * 60.0)
    suv_table = np.zeros(len(voi_names) + 1)
    for i, name in enumerate(voi_names, start=1):
        if name.startswith("lesion_"):
            l = lesion_set.lesions[int(name.split("_")[1]) - 1]
            suv_table[i] = pet_preset.lesion_suv_of(l.region) * l.receptor_scale
        else:
            suv_table[i] = pet_preset.suv_of(name)
    suv_map = (suv_table[voi_index] * np.where(les_arr > 0, lesion_set.weights, 1.0)).astype(np.float32)
    conc = concentration_bq_per_ml(suv_map, pet_mbq, params.weight_kg, decay_pet)
    pet_true = Image(conc, geom, "Bq/mL", "PT", {"truth": "noise-free unblurred concentration"})
    pet_grid = scanner_grid(geom, params.pet_voxel_mm)
    pet_img, pet_clean = simulate_pet(pet_true, pet_grid, rng_pet, fwhm_mm=params.pet_fwhm_mm,
                                      frame_duration_s=params.pet_frame_duration_s,
                                      noise_sensitivity=params.pet_noise_sensitivity)
    t_diag = params.diagnostic_time
    t_pet = t_diag + dt.timedelta(minutes=uptake_min)
    ct_tissue = phantom.tissue.copy()
    if phantom.ct_hu is None:
        bone_host = np.isin(phantom.labels.array, [phantom.labels.label_of(n) for n in ("bone", "red_marrow")
                                                   if n in phantom.organs])
        ct_tissue[(les_arr > 0) & bone_host] = TISSUES["lesion_bone"]
        ct_tissue[(les_arr > 0) & ~bone_host] = TISSUES["lesion_soft"]

    def make_ct(label: str) -> Image:
        meta = {"timepoint": label}
        if phantom.ct_hu is not None:
            return Image(phantom.ct_hu.copy(), geom, "HU", "CT", meta)
        return ct_from_tissue(ct_tissue, geom, rng_ct, params.ct_noise_hu, meta)

    organ_masks = phantom.labels        # clinical CT segmentation: organs, no lesions
    pet_label = "1h" if abs(uptake_min - 60.0) < 1e-9 else f"{uptake_min:g}min"
    pet_tp = TimePoint(pet_label, t_pet, {"pet": pet_img.with_array(pet_img.array, acquisition_time=t_pet.isoformat()),
                                          "ct": make_ct(pet_label)}, {"organs": organ_masks})
    cycle0 = Cycle(0, Administration(pet_preset.name, pet_preset.nuclide, pet_mbq, t_diag), (pet_tp,))

    # -- cycle 1: therapy and SPECT/CT ------------------------------------------------------------------
    step("SPECT/CT")
    ia = params.therapy_activity_mbq
    t_ther = params.therapy_time
    if anatomy == "patient15":
        spect_grid = Geometry(geom.shape, geom.spacing_mm, geom.origin_mm, geom.direction)
    else:
        spect_grid = scanner_grid(geom, params.spect_voxel_mm, params.spect_matrix)
    hours = np.asarray(params.spect_hours, float)
    frac = {v: np.asarray(kinetics.activity_fraction(v, hours), float) for v in kinetics.vois}
    spect_activity, spect_blurred, tps = {}, {}, []
    for j, h in enumerate(hours):
        label = _timepoint_label(h)
        act = np.array([ia * frac[v][j] for v in voi_names])
        amap = Image(voxel_activity_mbq(voi_index, voi_weight, act), geom, "MBq", "NM",
                     {"truth": f"activity per voxel at {h:g} h"})
        blurred = blurred_activity(amap, spect_grid, params.spect_fwhm_mm)
        t_acq = t_ther + dt.timedelta(hours=float(h))
        counts = counts_image(blurred, rng_spect, calibration_cps_per_mbq=params.calibration_cps_per_mbq,
                              duration_s=params.spect_duration_s,
                              meta={"acquisition_time": t_acq.isoformat(), "frame_duration_s": params.spect_duration_s})
        spect_activity[label] = amap
        spect_blurred[label] = blurred
        tps.append(TimePoint(label, t_acq, {"spect": counts, "ct": make_ct(label)}, {"organs": organ_masks}))
    cycle1 = Cycle(1, Administration(agent.name, agent.nuclide, ia, t_ther), tuple(tps))
    study = Study(Patient(patient_id, params.weight_kg, params.height_cm if anatomy == "phantom" else None, sex),
                  (cycle0, cycle1))

    # -- truth tables ---------------------------------------------------------------------------------
    step("truth")
    all_vois = list(kinetics.vois)
    rows = []
    pet_scale = pet_mbq * decay_pet / (params.weight_kg * 1000.0)      # MBq/mL per unit SUV
    for i, name in enumerate(voi_names, start=1):
        rows.append({"patient_id": patient_id, "cycle": 0, "timepoint": pet_label, "time_h": uptake_min / 60.0,
                     "voi": name, "activity_mbq": float(suv_table[i] * volumes[name] * pet_scale)})
    for j, h in enumerate(hours):
        for v in all_vois:
            rows.append({"patient_id": patient_id, "cycle": 1, "timepoint": _timepoint_label(h), "time_h": float(h),
                         "voi": v, "activity_mbq": float(ia * frac[v][j])})
    truth_activity = pd.DataFrame(rows)
    truth_tia = pd.DataFrame([{"patient_id": patient_id, "cycle": 1, "voi": v,
                               "tia_mbq_h": float(ia * kinetics.tia_fraction_h(v))} for v in all_vois])
    truth_vois = pd.DataFrame([{"patient_id": patient_id, "voi": n,
                                "kind": "lesion" if n.startswith("lesion_") else "organ",
                                "label": i, "volume_ml": volumes[n], "suv_mean_true": float(suv_table[i]),
                                "tia_mbq_h": float(ia * kinetics.tia_fraction_h(n))}
                               for i, n in enumerate(voi_names, start=1)])
    lesion_rows = []
    for l in lesion_set.lesions:
        i = voi_names.index(l.voi) + 1
        m = les_arr == l.lesion_id
        lesion_rows.append({
            "patient_id": patient_id, "lesion_id": l.lesion_id, "site": l.site, "region": l.region, "host": l.host,
            "volume_ml": l.volume_ml, "requested_volume_ml": l.requested_volume_ml, "n_voxels": l.n_voxels,
            "centroid_x_mm": l.centroid_mm[0], "centroid_y_mm": l.centroid_mm[1], "centroid_z_mm": l.centroid_mm[2],
            "receptor_scale": l.receptor_scale, "necrotic": l.necrotic,
            "suv_mean_true": float(suv_table[i]), "suv_max_true": float(suv_map[m].max()),
            "tia_mbq_h": float(ia * kinetics.tia_fraction_h(l.voi)),
        })
    truth_lesions = pd.DataFrame(lesion_rows, columns=[
        "patient_id", "lesion_id", "site", "region", "host", "volume_ml", "requested_volume_ml", "n_voxels",
        "centroid_x_mm", "centroid_y_mm", "centroid_z_mm", "receptor_scale", "necrotic", "suv_mean_true",
        "suv_max_true", "tia_mbq_h"])
    parameters = {
        "seed": seed, "tracer": pet_preset.key, "therapy_agent": agent.key, "anatomy": anatomy, "small": small,
        "patient_parameters": params.to_dict(), "patient_id": patient_id,
        "pet": {"activity_mbq": pet_mbq, "uptake_time_min": uptake_min, "decay_factor": decay_pet,
                "grid": {"shape": pet_grid.shape, "spacing_mm": pet_grid.spacing_mm, "origin_mm": pet_grid.origin_mm}},
        "spect": {"grid": {"shape": spect_grid.shape, "spacing_mm": spect_grid.spacing_mm,
                           "origin_mm": spect_grid.origin_mm, "direction": spect_grid.direction},
                  "calibration_cps_per_mbq": params.calibration_cps_per_mbq,
                  "acquisition_duration_s": params.spect_duration_s},
        "phantom": {k: (v if not isinstance(v, tuple) else list(v)) for k, v in phantom.info.items()},
        "body_volume_ml": body_ml, "outside_fov_ml": outside_ml,
        "kinetics": getattr(kinetics, "meta", {}),
        "lesion_specs": [asdict(s) for s in (specs if anatomy == "phantom" else [])],
    }
    step("done")
    done()
    return SimulatedPatient(params, seed, anatomy, pet_preset, agent, study, phantom, lesion_set, kinetics, voi_labels,
                            organ_truth, lesion_truth, pet_true, pet_clean, spect_activity, spect_blurred,
                            truth_vois, truth_lesions, truth_activity, truth_tia, parameters)


def write_patient(sim: SimulatedPatient, out_dir, dicom: bool = True):
    """Write ``sim`` into ``out_dir/<patient_id>`` in the study layout; see :mod:`.write`."""
    from .write import write_patient as _write
    return _write(sim, out_dir, dicom=dicom)


__all__ = [
    "PatientParameters", "SimulatedPatient", "simulate_patient", "write_patient", "LesionSpec", "Lesion",
    "REGIONS", "ORGAN_NAMES", "Phantom", "build_phantom", "place_lesions", "VoiKinetics", "ExponentialKinetics",
    "build_therapy_kinetics", "PET_TRACERS", "pet_tracer", "therapy_agent",
]
