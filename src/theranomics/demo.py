"""The demo: simulate a patient, then run every analysis stage that exists on it, reading
the patient back from its DICOM files as a user's study would be read, and write
``report.html``.  The demo is a *user* of the library (like a test), so it may import
the simulator; analysis modules never do."""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from . import __version__
from .io import layout
from .io.nifti import read_labelmap, read_nifti
from .report import Report, mip_png

log = logging.getLogger(__name__)


def run_demo(out_dir: str | Path, seed: int = 7, tracer: str = "psma-11", small: bool = False) -> Path:
    """Simulate one patient into ``out_dir/patient`` and write ``out_dir/report.html``."""
    from .io.dicom import read_series
    from .simulate import PatientParameters, simulate_patient, write_patient

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    report = Report(f"Theranomics demo — virtual patient (seed {seed}, {tracer})")
    stages = tqdm(total=7, desc="demo", unit="stage")

    t = time.perf_counter()
    sim = simulate_patient(PatientParameters(), seed=seed, tracer=tracer, small=small, progress=True)
    patient_dir = write_patient(sim, out_dir / "patients", dicom=True)
    timings["simulate_and_write_s"] = time.perf_counter() - t
    stages.update()

    # -- diagnostic PET, read back from DICOM ---------------------------------------------
    t = time.perf_counter()
    study = layout.read_study(patient_dir, load_images=False)
    diag = study.cycle(0)
    tp = diag.timepoints[0]
    pet = read_series(layout.dicom_dir(patient_dir, 0, tp.label, "pet")).image
    truth_lesions = _truth_lesions_on(patient_dir, pet.geometry)
    sec = report.section(f"Diagnostic PET ({diag.administration.radiopharmaceutical}, {tp.label} p.i.)")
    sec.append(Report.figure(mip_png(pet, truth_lesions, "PET MIP (Bq/mL), simulated lesions outlined"),
                             "coronal MIP"))
    sec.append(Report.figure(mip_png(pet, truth_lesions, "PET MIP", axis="sagittal"), "sagittal MIP"))
    timings["read_pet_dicom_s"] = time.perf_counter() - t
    stages.update()

    # -- quantification (SUV, lesions, burden, staging, radiomics) from the DICOM files -----
    t = time.perf_counter()
    from .quant.workflow import quantify_folder
    tdir = layout.timepoint_dir(patient_dir, 0, tp.label)
    qpaths = quantify_folder(layout.dicom_dir(patient_dir, 0, tp.label, "pet"), out_dir / "quantify",
                             ct=layout.dicom_dir(patient_dir, 0, tp.label, "ct"), organs=tdir / "masks" / "organs.nii.gz",
                             radiomics="default", patient_id=study.patient.patient_id,
                             tracer_family="sstr" if "dotatate" in tracer else "psma", tracer=tracer)
    qsum = json.loads(qpaths["summary_json"].read_text())
    lesions = pd.read_csv(qpaths["lesions_csv"])
    sec = report.section("PET quantification (theranomics quantify)")
    suv_img = read_nifti(qpaths["suv_nifti"])
    found = read_labelmap(qpaths["lesions_nifti"])
    sec.append(Report.figure(mip_png(suv_img, found, f"SUV MIP, {len(lesions)} lesions segmented"), "segmented lesions"))
    sec.append(Report.table(pd.DataFrame([{k: v for k, v in qsum["whole_body"].items()}])))
    sec.append(Report.table(pd.DataFrame([qsum["staging"]])) if qsum["staging"] else Report.text("no staging"))
    sec.append(Report.table(pd.DataFrame(qsum["eligibility"])))
    cols = [c for c in ("lesion_id", "region", "volume_ml", "suv_max", "suv_mean", "suv_peak", "tlu", "tlr_max",
                        "psma_expression_score") if c in lesions.columns]
    sec.append(Report.table(lesions[cols]))
    if "radiomics_csv" in qpaths:
        feats = pd.read_csv(qpaths["radiomics_csv"])
        sec.append(Report.text(f"IBSI radiomics: {feats.shape[1] - 2} features per lesion in {qpaths['radiomics_csv']}"))
    sec.append(Report.text(f"Full quantification report: {qpaths['report_html']}"))
    timings["quantify_s"] = time.perf_counter() - t
    stages.update()

    # -- post-therapy SPECT per time point ------------------------------------------------
    t = time.perf_counter()
    therapy = [c for c in study.cycles if c.index >= 1]
    for cycle in therapy:
        sec = report.section(f"Cycle {cycle.index}: {cycle.administration.radiopharmaceutical} "
                             f"{cycle.administration.activity_mbq / 1000:.2f} GBq — SPECT per time point")
        spect_images = {tp.label: read_series(layout.dicom_dir(patient_dir, cycle.index, tp.label, "spect")).image
                        for tp in cycle.timepoints}
        vmax = max(float(img.array.max()) for img in spect_images.values())
        for (label, img), hours in zip(spect_images.items(), cycle.hours):
            sec.append(Report.figure(mip_png(img, None, f"SPECT {label} ({hours:.0f} h)", vmax=vmax, cmap="magma"),
                                     f"{label}: same grey scale for all time points"))
    timings["read_spect_dicom_s"] = time.perf_counter() - t
    stages.update()

    # -- dosimetry (serial SPECT/CT → TAC → TIA → absorbed dose) ------------------------------
    t = time.perf_counter()
    from .dosimetry.workflow import DosimetrySettings, dosimetry_folder
    # the SPECT system resolution is clinic knowledge (written beside the calibration factor)
    first_spect = next(layout.modality_dir(patient_dir, c.index, tp_.label, "spect") / "calibration.json"
                       for c in study.cycles if c.index >= 1 for tp_ in c.timepoints)
    fwhm = json.loads(first_spect.read_text()).get("spect_fwhm_mm")
    dsettings = DosimetrySettings(spect_fwhm_mm=float(fwhm)) if fwhm else DosimetrySettings()
    dpaths = dosimetry_folder(patient_dir, out_dir / "dosimetry", settings=dsettings)
    table = pd.read_csv(dpaths["dosimetry_csv"]) if "dosimetry_csv" in dpaths else pd.read_csv(out_dir / "dosimetry" / "dosimetry.csv")
    sec = report.section("Dosimetry (theranomics dosimetry)")
    show = [c for c in ("cycle", "voi", "mass_g", "tia_mbq_h", "model", "dose_gy", "dose_gy_per_gbq", "bed_gy", "flags")
            if c in table.columns]
    sec.append(Report.table(table[show]))
    if "report_html" in dpaths:
        sec.append(Report.text(f"Full dosimetry report (TACs, fits, DVHs): {dpaths['report_html']}"))
    timings["dosimetry_s"] = time.perf_counter() - t
    stages.update()

    # -- digital twin: personalise the PBPK model and plan the next cycles ------------------------
    t = time.perf_counter()
    from .twin.workflow import plan_folder
    ligand = "dotatate" if "dotatate" in tracer else "psma-617"
    ppaths = plan_folder(patient_dir, out_dir / "plan", ligand=ligand, quant_dir=out_dir / "quantify",
                         dosimetry_dir=out_dir / "dosimetry", spect_fwhm_mm=dsettings.spect_fwhm_mm,
                         n_samples=8 if small else 32)
    plan = json.loads(ppaths["plan_json"].read_text())
    sec = report.section("Theranostic digital twin (theranomics plan)")
    sec.append(Report.text(f"Recommended activity per cycle (MBq): {plan.get('recommended_activity_mbq')}; "
                           f"binding constraint: {plan.get('binding_constraint')}"))
    for reason in plan.get("reasons", [])[:8]:
        sec.append(Report.text(str(reason)))
    if "doses_csv" in ppaths:
        sec.append(Report.table(pd.read_csv(ppaths["doses_csv"])))
    if "report_html" in ppaths:
        sec.append(Report.text(f"Full planning report (TACs, trade-off, tumour sink): {ppaths['report_html']}"))
    timings["plan_s"] = time.perf_counter() - t
    stages.update()

    # -- ground truth summary (what the simulator planted) -----------------------------------
    truth = layout.truth_dir(patient_dir)
    sec = report.section("Simulated ground truth (for checking the analysis, never read by it)")
    lesions_csv = truth / "lesions.csv"
    if lesions_csv.is_file():
        sec.append(Report.table(pd.read_csv(lesions_csv)))
    tia_csv = truth / "tia.csv"
    if tia_csv.is_file():
        sec.append(Report.table(pd.read_csv(tia_csv)))
    stages.update()
    stages.close()

    timings = {k: round(v, 2) for k, v in timings.items()}
    report.section("Timings").append(Report.table(pd.DataFrame([timings])))
    report.provenance = {"seed": seed, "tracer": tracer, "small": small, "patient_dir": str(patient_dir),
                         "timings_s": timings}
    (out_dir / "demo_provenance.json").write_text(json.dumps(
        {"software": "theranomics", "version": __version__, **report.provenance}, indent=2))
    return report.write(out_dir / "report.html")


def _truth_lesions_on(patient_dir: Path, geometry):
    """The simulator's true lesion label map on the PET grid, for display only (or None)."""
    from .io.sitk import resample_to

    truth = layout.truth_dir(patient_dir)
    for name in ("lesions_pet_grid.nii.gz", "lesions.nii.gz"):
        path = truth / name
        if path.is_file():
            labels = read_labelmap(path)
            return labels if labels.geometry.same_grid(geometry) else resample_to(labels, geometry)
    return None
