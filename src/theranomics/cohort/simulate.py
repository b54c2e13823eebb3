"""Image-level virtual multi-centre cohorts: full virtual patients (:mod:`theranomics.simulate`),
each centre with its own scanner (PET/SPECT resolution, voxel size and noise), written in the study
layout with a manifest (CSV and YAML) ready for :func:`theranomics.cohort.run_cohort`.

Patient-level parameters, clinical variables, outcomes and centre assignment are drawn from the
simulator's cohort generator :func:`theranomics.simulate.cohort.simulate_feature_cohort` (one
generator for both modes): lesion count and median volume from its lesion table, receptor
expression from its centre-free lesion SUVs (``exp(mean log SUVmean) / 8``), kidney function from
its eGFR (``egfr / 90``).
"""
from __future__ import annotations

import json
import shutil
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ._worker import limit_threads
from .manifest import Manifest, PatientEntry, write_manifest


@dataclass(frozen=True)
class ScannerProfile:
    """What differs between centres: PET and SPECT resolution (FWHM), PET voxel size and noise."""

    name: str
    pet_fwhm_mm: float
    pet_voxel_mm: float
    pet_noise_sensitivity: float
    spect_fwhm_mm: float


#: Scanner of centre C<k> = SCANNERS[k % len(SCANNERS)]: digital PET, analogue PET, older analogue.
SCANNERS = (
    ScannerProfile("digital-pet", 4.5, 4.0, 2e-3, 10.0),
    ScannerProfile("analogue-pet", 6.0, 4.0, 1e-3, 12.0),
    ScannerProfile("older-pet", 8.0, 5.0, 5e-4, 14.0),
)
CLINICAL = ("age_y", "psa_ng_ml", "alp_u_l", "ldh_u_l", "egfr_ml_min", "prior_treatments")
OUTCOMES = ("response", "os_time_months", "os_event")
_SUV_REF = 8.0       # reference lesion SUVmean of the feature generator


def _plain(v):
    return v.item() if hasattr(v, "item") else v


def draw_cohort(n_patients: int, *, n_centres: int = 3, seed: int = 0, tracer: str = "psma-11",
                max_lesions: int = 8) -> list[dict]:
    """Per-patient simulation tasks (parameters, scanner, clinical variables, outcomes)."""
    from ..simulate import PatientParameters
    from ..simulate.cohort import simulate_feature_cohort

    if int(n_patients) < 1:
        raise ValueError(f"n_patients must be >= 1, got {n_patients}")
    vc = simulate_feature_cohort(int(n_patients), n_features=4, n_informative=1, n_centres=int(n_centres),
                                 n_monte_carlo=2000, seed=seed)
    rng = np.random.default_rng([seed, 7])
    sstr = tracer.startswith("dotatate")
    tasks = []
    for i, row in vc.patients.iterrows():
        c = int(str(row["centre"])[1:])
        les = vc.lesions[vc.lesions["patient_id"] == row["patient_id"]]
        bias = float(np.exp(vc.truth.suv_log_bias[c]))
        expression = float(np.exp(np.mean(np.log(les["suv_mean"] / bias)))) / _SUV_REF
        sex = str(rng.choice(["M", "F"])) if sstr else "M"
        weight = float(np.clip(rng.normal(80 if sex == "M" else 68, 12), 45, 140))
        height = float(np.clip(rng.normal(177 if sex == "M" else 164, 7), 145, 205))
        scanner = SCANNERS[c % len(SCANNERS)]
        params = PatientParameters(
            patient_id=str(row["patient_id"]), sex=sex, weight_kg=round(weight, 1), height_cm=round(height, 1),
            n_lesions=int(min(len(les), max_lesions)), median_lesion_volume_ml=float(np.median(les["volume_ml"])),
            receptor_expression_scale=expression,
            kidney_function_scale=float(row["egfr_ml_min"]) / 90.0,
            pet_fwhm_mm=scanner.pet_fwhm_mm, pet_voxel_mm=scanner.pet_voxel_mm,
            pet_noise_sensitivity=scanner.pet_noise_sensitivity, spect_fwhm_mm=scanner.spect_fwhm_mm)
        tasks.append({"params": params, "seed": int(seed) * 100_000 + int(i) + 1, "tracer": tracer,
                      "centre": str(row["centre"]), "scanner": scanner.name,
                      "clinical": {k: _plain(row[k]) for k in CLINICAL},
                      "outcomes": {k: _plain(row[k]) for k in OUTCOMES}})
    return tasks


def simulate_one(task: dict) -> dict:
    """Simulate and write one patient atomically (into a temporary folder, then renamed)."""
    limit_threads()
    from ..simulate import simulate_patient, write_patient

    studies = Path(task["studies_dir"])
    pid = task["params"].patient_id
    final = studies / pid
    if (final / "study.json").is_file():
        return {"patient_id": pid, "status": "cached", "error": None}
    tmp_root = studies / f".tmp-{pid}-{uuid.uuid4().hex[:8]}"
    try:
        sim = simulate_patient(task["params"], seed=task["seed"], tracer=task["tracer"], small=task["small"])
        write_patient(sim, tmp_root, dicom=task["dicom"])
        if final.exists():
            shutil.rmtree(final)
        (tmp_root / pid).rename(final)
        return {"patient_id": pid, "status": "ran", "error": None}
    except Exception as exc:  # report and go on with the other patients
        return {"patient_id": pid, "status": "failed", "error": f"{type(exc).__name__}: {exc}"}
    finally:
        shutil.rmtree(tmp_root, ignore_errors=True)


def simulate_cohort(n_patients: int, out_dir: str | Path, *, n_centres: int = 3, seed: int = 0,
                    tracer: str = "psma-11", small: bool = False, dicom: bool = True, max_lesions: int = 8,
                    workers: int | None = None, scheduler=None, progress: bool = True) -> Manifest:
    """Simulate ``n_patients`` in ``out_dir/studies/`` and write ``out_dir/manifest.csv`` and
    ``manifest.yaml``; returns the manifest.  Already written patients are kept (resumable)."""
    from tqdm.auto import tqdm

    from .backends import make_backend

    out = Path(out_dir)
    studies = out / "studies"
    studies.mkdir(parents=True, exist_ok=True)
    tasks = draw_cohort(n_patients, n_centres=n_centres, seed=seed, tracer=tracer, max_lesions=max_lesions)
    for t in tasks:
        t.update(studies_dir=str(studies), small=bool(small), dicom=bool(dicom))
    failures = []
    backend = make_backend(workers, scheduler)
    try:
        pending = {backend.submit(simulate_one, t): t for t in tasks}
        with tqdm(total=len(tasks), desc="simulate cohort", unit="patient", disable=not progress) as bar:
            while pending:
                for fut in backend.wait_any(pending):
                    t = pending.pop(fut)
                    res = backend.result(fut)
                    if res["status"] == "failed":
                        failures.append(res)
                    bar.update(1)
    finally:
        backend.close()
    if failures:
        raise RuntimeError(f"simulation failed for {len(failures)} patient(s): "
                           + "; ".join(f"{f['patient_id']}: {f['error']}" for f in failures))
    entries = [PatientEntry(t["params"].patient_id, studies / t["params"].patient_id, t["centre"], t["scanner"],
                            (), t["clinical"], t["outcomes"]) for t in tasks]
    (out / "cohort.json").write_text(json.dumps({
        "n_patients": n_patients, "n_centres": n_centres, "seed": seed, "tracer": tracer, "small": small,
        "scanners": {f"C{k}": asdict(SCANNERS[k % len(SCANNERS)]) for k in range(n_centres)}}, indent=2))
    write_manifest(entries, out / "manifest.yaml")
    path = write_manifest(entries, out / "manifest.csv")
    return Manifest(tuple(entries), path)
