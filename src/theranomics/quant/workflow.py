"""Folder-level workflows behind the ``quantify`` and ``response`` commands: load, compute,
write.  Each step is timed (the benchmark reports them)."""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from ..io.nifti import write_nifti
from ..provenance import provenance
from ..registration import apply, identity, register_rigid
from . import biomarkers
from .load import load_image, load_labels, load_pet_suv, resolve_suv_type
from .outputs import write_quant_outputs
from .pipeline import QuantifySettings, quantify
from .response import evaluate_response, match_lesions
from ..segment import liver_reference, percist_threshold


def quantify_folder(pet_dir, out_dir, *, ct=None, organs=None, suv_type: str = "bw", patient_id: str | None = None,
                    write_report: bool = True, write_seg: bool = True, radiomics=None, radiomics_jobs: int = 1,
                    **settings_kwargs) -> dict[str, Path]:
    """Run the whole quantification on a PET DICOM folder and write all outputs.

    ``radiomics``: ``None`` (no radiomics), ``"default"`` (the PET/SUV defaults of
    :func:`theranomics.radiomics.modality_defaults`) or a settings file; writes
    ``radiomics.csv`` (one row per lesion) and ``radiomics_long.csv`` (IBSI codes).
    """
    timings: dict[str, float] = {}
    t = time.perf_counter()
    suv, series = load_pet_suv(pet_dir, suv_type)
    timings["read_and_suv"] = time.perf_counter() - t
    t = time.perf_counter()
    ct_img = load_image(ct, "CT", unit="HU") if ct is not None else None
    organ_labels = load_labels(organs, ct_img.geometry if ct_img is not None else suv.geometry) if organs else None
    timings["read_ct_and_masks"] = time.perf_counter() - t
    settings = QuantifySettings(**settings_kwargs)
    t = time.perf_counter()
    result = quantify(suv, ct=ct_img, organs=organ_labels, settings=settings)
    timings["quantify"] = time.perf_counter() - t
    timings.update({f"quantify.{k}": v for k, v in result.timings_s.items()})
    if patient_id is None:
        patient_id = str(series.datasets[0].get("PatientID", "") or "") or None
    result.timings_s = timings
    t = time.perf_counter()
    inputs = [p for p in (pet_dir, ct, organs) if p is not None]
    paths = write_quant_outputs(result, out_dir, source_files=series if write_seg else None, inputs=inputs,
                                patient_id=patient_id, extra_parameters={"suv_type": resolve_suv_type(suv_type)})
    timings["write_outputs"] = time.perf_counter() - t
    if radiomics is not None and result.lesions.labels:
        from ..radiomics import extract_features, load_settings, modality_defaults, to_long
        t = time.perf_counter()
        rsettings = modality_defaults("PET") if str(radiomics) == "default" else load_settings(radiomics)
        features = extract_features(suv, result.lesions, rsettings, n_jobs=radiomics_jobs)
        wide = features.reset_index().rename(columns={"label": "lesion_id"})
        wide.insert(0, "patient_id", patient_id)
        paths["radiomics_csv"] = Path(out_dir) / "radiomics.csv"
        wide.to_csv(paths["radiomics_csv"], index=False)
        long = to_long(features).rename(columns={"label": "lesion_id"})
        long.insert(0, "patient_id", patient_id)
        paths["radiomics_long_csv"] = Path(out_dir) / "radiomics_long.csv"
        long.to_csv(paths["radiomics_long_csv"], index=False)
        timings["radiomics"] = time.perf_counter() - t
    if write_report:
        from ..report.quant_report import quant_report
        t = time.perf_counter()
        paths["report_html"] = quant_report(result, Path(out_dir) / "report.html",
                                            title=f"PET quantification — {patient_id or pet_dir}",
                                            provenance={"timings_s": timings})
        timings["report"] = time.perf_counter() - t
    # record final timings alongside the summary
    summary = json.loads(paths["summary_json"].read_text())
    summary["timings_s"] = timings
    paths["summary_json"].write_text(json.dumps(summary, indent=2, default=str))
    return paths


def response_folders(baseline_dir, followup_dir, out_dir, *, baseline_ct=None, followup_ct=None,
                     baseline_organs=None, followup_organs=None, max_distance_mm: float = 20.0,
                     **settings_kwargs) -> pd.DataFrame:
    """Quantify both scans, register the follow-up to the baseline (rigid on CT when both CTs are
    given, else the scanner frame is assumed shared — reported), match lesions, and classify
    response by PERCIST 1.0 (SULpeak), RECIP 1.0 and PPP."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    settings = QuantifySettings(**settings_kwargs)
    scans = {}
    for name, pet, ct, organs in (("baseline", baseline_dir, baseline_ct, baseline_organs),
                                  ("followup", followup_dir, followup_ct, followup_organs)):
        suv, _ = load_pet_suv(pet, "bw")
        sul, _ = load_pet_suv(pet, "sul")
        ct_img = load_image(ct, "CT", unit="HU") if ct is not None else None
        labels = load_labels(organs, ct_img.geometry if ct_img is not None else suv.geometry) if organs else None
        result = quantify(suv, ct=ct_img, organs=labels, settings=settings)
        sul_table = biomarkers.lesion_table(sul, result.lesions)
        table = result.table.copy()
        table["sul_peak"] = sul_table["suv_peak"].to_numpy() if len(sul_table) else []
        liver = None
        if labels is not None and "liver" in labels.names.values():
            liver = liver_reference(sul, labels)
        scans[name] = {"suv": suv, "ct": ct_img, "result": result, "table": table, "liver_sul": liver}
        table.to_csv(out / f"lesions_{name}.csv", index=False)
        write_nifti(result.lesions, out / f"lesions_{name}.nii.gz")

    b, f = scans["baseline"], scans["followup"]
    if b["ct"] is not None and f["ct"] is not None:
        reg = register_rigid(b["ct"], f["ct"])
        frame = f"rigid registration on CT ({reg.method}, translation {np.round(reg.translation_mm, 1).tolist()} mm)"
    else:
        reg = identity(b["suv"].geometry)
        frame = "no CT pair: the scanner frames of both scans are assumed to coincide"
    f_on_b = apply(reg, f["result"].lesions, reference=b["suv"].geometry)
    inverse = reg.transform.GetInverse()
    ftab = f["table"].copy()
    if len(ftab):
        pts = ftab[["centroid_x_mm", "centroid_y_mm", "centroid_z_mm"]].to_numpy()
        ftab[["centroid_x_mm", "centroid_y_mm", "centroid_z_mm"]] = [inverse.TransformPoint(tuple(p)) for p in pts]
    match = match_lesions(b["table"], ftab, baseline_labels=b["result"].lesions, followup_labels_on_baseline=f_on_b,
                          max_distance_mm=max_distance_mm)
    if b["liver_sul"] is not None:
        threshold = percist_threshold(b["liver_sul"].mean, b["liver_sul"].sd)
    else:
        threshold = 0.0
    res = evaluate_response(b["table"], ftab, match, baseline_threshold_sul=threshold, peak_column="sul_peak")
    res.to_csv(out / "response.csv", index=False)
    pd.DataFrame(match.pairs, columns=["baseline_lesion_id", "followup_lesion_id"]).to_csv(out / "lesion_matches.csv",
                                                                                           index=False)
    summary = {"frame": frame, "pairs": match.pairs, "new_lesions": match.new, "disappeared": match.disappeared,
               "percist_threshold_sul": threshold, "response": res.to_dict(orient="records"),
               "provenance": provenance("response", {"max_distance_mm": max_distance_mm, **settings_kwargs},
                                        [p for p in (baseline_dir, followup_dir, baseline_ct, followup_ct) if p])}
    (out / "response.json").write_text(json.dumps(summary, indent=2, default=str))
    return res
