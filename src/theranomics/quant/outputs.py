"""Write a quantification result: tidy tables (CSV + Parquet), NIfTI, DICOM SEG, JSON summary
with provenance.  Column names and units are documented in :mod:`theranomics.quant.biomarkers`."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Iterable

import pandas as pd

from ..io.nifti import write_nifti
from ..provenance import provenance
from .pipeline import QuantResult


def _atomic_json(obj, path: Path) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, default=str))
    tmp.replace(path)


def write_quant_outputs(result: QuantResult, out_dir: str | Path, *, source_files=None,
                        inputs: Iterable[str | Path] = (), patient_id: str | None = None,
                        extra_parameters: dict | None = None) -> dict[str, Path]:
    """Write every output of :func:`theranomics.quant.pipeline.quantify` into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    table = result.table.copy()
    if patient_id is not None:
        table.insert(0, "patient_id", patient_id)
    paths["lesions_csv"] = out / "lesions.csv"
    table.to_csv(paths["lesions_csv"], index=False)
    paths["lesions_parquet"] = out / "lesions.parquet"
    table.to_parquet(paths["lesions_parquet"], index=False)
    wb = {"patient_id": patient_id, **{k: v for k, v in result.whole_body.items()}}
    paths["whole_body_csv"] = out / "whole_body.csv"
    pd.DataFrame([wb]).to_csv(paths["whole_body_csv"], index=False)
    paths["suv_nifti"] = write_nifti(result.suv, out / "suv.nii.gz")
    paths["lesions_nifti"] = write_nifti(result.lesions, out / "lesions.nii.gz")
    if source_files is not None and result.lesions.labels:
        from ..io.dicom import write_seg
        source = source_files if hasattr(source_files, "datasets") else list(source_files)
        paths["lesions_seg"] = write_seg(result.lesions, source, out / "lesions_seg.dcm",
                                         series_description="Theranomics lesions")
    summary = {
        "patient_id": patient_id,
        "whole_body": result.whole_body,
        "references": result.references,
        "staging": result.staging,
        "eligibility": result.eligibility,
        "warnings": result.warnings,
        "timings_s": result.timings_s,
        "suv_conversion": result.suv.meta.get("suv"),
        "provenance": provenance("quantify", {**dataclasses.asdict(result.settings), **(extra_parameters or {})},
                                 inputs),
    }
    paths["summary_json"] = out / "summary.json"
    _atomic_json(summary, paths["summary_json"])
    return paths
