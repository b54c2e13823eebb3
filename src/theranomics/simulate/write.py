"""Write a simulated patient in the study layout (:mod:`theranomics.io.layout`).

Per time point: NIfTI images (``pet`` Bq/mL, ``ct`` HU, ``spect`` counts), the clinical organ
mask ``masks/organs.nii.gz`` on the CT grid (organs only, no lesions) and, for SPECT,
``spect/calibration.json`` (calibration_cps_per_mbq, acquisition_duration_s, spect_fwhm_mm: clinic knowledge);
``study.json``; and ``truth/``:

* ``parameters.json`` — every parameter and the seed;
* ``lesions.csv``, ``vois.csv``, ``activity.csv``, ``tia.csv`` — truth tables;
* ``organs.nii.gz`` (organs with lesions carved out), ``lesions.nii.gz`` (lesion_id per voxel) on the
  phantom grid, and ``organs_pet_grid.nii.gz`` / ``lesions_pet_grid.nii.gz`` on the PET grid;
* ``pet_true.nii.gz`` (noise-free unblurred Bq/mL, phantom grid), ``pet_noise_free.nii.gz``
  (blurred, PET grid), ``spect_activity_<tp>.nii.gz`` (true MBq per voxel, phantom grid) and
  ``spect_blurred_<tp>.nii.gz`` (blurred MBq per voxel, SPECT grid).

DICOM series (``<modality>/dicom/``) are written with :mod:`theranomics.io.dicom` when
``dicom=True`` and its writers are available.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

from ..io import layout
from ..io.nifti import write_nifti
from ..io.sitk import resample_to

log = logging.getLogger(__name__)


def _json_default(obj):
    import numpy as np
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, tuple):
        return list(obj)
    return str(obj)


def write_patient(sim, out_dir, dicom: bool = True) -> Path:
    """Write ``sim`` (a :class:`~theranomics.simulate.SimulatedPatient`) to ``out_dir/<patient_id>``."""
    out_dir = Path(out_dir)
    pdir = out_dir / sim.patient_id
    pdir.mkdir(parents=True, exist_ok=True)
    study = sim.study
    layout.write_study_images(study, pdir)
    for cycle in study.cycles:
        for tp in cycle.timepoints:
            if "spect" in tp.images:
                img = tp.images["spect"]
                cal = {"calibration_cps_per_mbq": float(img.meta["calibration_cps_per_mbq"]),
                       "acquisition_duration_s": float(img.meta["acquisition_duration_s"]),
                       # the system's resolution, known to the clinic from its phantom measurements
                       "spect_fwhm_mm": float(sim.parameters["patient_parameters"]["spect_fwhm_mm"])}
                path = layout.modality_dir(pdir, cycle.index, tp.label, "spect") / "calibration.json"
                path.write_text(json.dumps(cal, indent=2))

    truth = layout.truth_dir(pdir)
    truth.mkdir(parents=True, exist_ok=True)
    (truth / "parameters.json").write_text(json.dumps(sim.parameters, indent=2, default=_json_default))
    sim.truth_lesions.to_csv(truth / "lesions.csv", index=False)
    sim.truth_vois.to_csv(truth / "vois.csv", index=False)
    sim.truth_activity.to_csv(truth / "activity.csv", index=False)
    sim.truth_tia.to_csv(truth / "tia.csv", index=False)
    write_nifti(sim.organ_truth, truth / "organs.nii.gz")
    write_nifti(sim.lesion_truth, truth / "lesions.nii.gz")
    pet_grid = sim.pet_noise_free.geometry
    write_nifti(resample_to(sim.organ_truth, pet_grid), truth / "organs_pet_grid.nii.gz")
    write_nifti(resample_to(sim.lesion_truth, pet_grid), truth / "lesions_pet_grid.nii.gz")
    write_nifti(sim.pet_true, truth / "pet_true.nii.gz")
    write_nifti(sim.pet_noise_free, truth / "pet_noise_free.nii.gz")
    for label, img in sim.spect_activity.items():
        write_nifti(img, truth / f"spect_activity_{label}.nii.gz")
    for label, img in sim.spect_blurred.items():
        write_nifti(img, truth / f"spect_blurred_{label}.nii.gz")

    if dicom:
        _write_dicom(sim, pdir)
    return pdir


def _write_dicom(sim, pdir: Path) -> bool:
    """DICOM series through theranomics.io.dicom (False, with a warning, while its writers are missing)."""
    try:
        from ..io.dicom import write_ct_series, write_nm_series, write_pet_series
    except ImportError:
        log.warning("theranomics.io.dicom writers are not available: wrote NIfTI only for %s", sim.patient_id)
        return False
    import pydicom.uid

    study = sim.study
    root = f"{sim.patient_id}/{sim.seed}"
    for cycle in study.cycles:
        study_uid = pydicom.uid.generate_uid(entropy_srcs=[root, str(cycle.index), "study"])
        for tp in cycle.timepoints:
            for_uid = pydicom.uid.generate_uid(entropy_srcs=[root, str(cycle.index), tp.label, "for"])
            common = dict(acquisition_time=tp.acquisition_time, study_uid=study_uid, frame_of_reference_uid=for_uid)

            def seed_of(modality: str) -> str:
                return f"{root}/cycle{cycle.index}/{tp.label}/{modality}"
            if "ct" in tp.images:
                write_ct_series(tp.images["ct"], layout.dicom_dir(pdir, cycle.index, tp.label, "ct"), study.patient,
                                series_description=f"CT {tp.label}", series_number=1, uid_seed=seed_of("ct"),
                                overwrite=True, **common)
            if "pet" in tp.images:
                img = tp.images["pet"]
                write_pet_series(img, layout.dicom_dir(pdir, cycle.index, tp.label, "pet"), study.patient,
                                 cycle.administration, frame_duration_s=float(img.meta["frame_duration_s"]),
                                 series_description=f"PET {tp.label}", series_number=2, uid_seed=seed_of("pet"),
                                 overwrite=True, **common)
            if "spect" in tp.images:
                img = tp.images["spect"]
                write_nm_series(img, layout.dicom_dir(pdir, cycle.index, tp.label, "spect"), study.patient,
                                cycle.administration, frame_duration_s=float(img.meta["acquisition_duration_s"]),
                                series_description=f"SPECT {tp.label}", series_number=3, uid_seed=seed_of("spect"),
                                overwrite=True, **common)
    return True
