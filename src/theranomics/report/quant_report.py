"""HTML report of a PET quantification: MIP with lesions, lesion table, per-region bars."""
from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from .html import Report
from .mip import mip_png


def _region_bars(table: pd.DataFrame) -> bytes:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    g = table.groupby("region").agg(volume_ml=("volume_ml", "sum"), tlu=("tlu", "sum"), n=("lesion_id", "size"))
    fig, axes = plt.subplots(1, 2, figsize=(7, 2.6), dpi=110)
    g["volume_ml"].plot.bar(ax=axes[0], color="tab:blue")
    axes[0].set_ylabel("tumour volume (mL)")
    g["tlu"].plot.bar(ax=axes[1], color="tab:red")
    axes[1].set_ylabel("total lesion uptake (SUV·mL)")
    for ax in axes:
        ax.set_xlabel("")
        ax.tick_params(axis="x", labelrotation=30, labelsize=7)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def quant_report(result, path: str | Path, title: str = "PET quantification", provenance: dict | None = None) -> Path:
    report = Report(title, provenance=dict(provenance or {}))
    sec = report.section("Whole-body PET")
    sec.append(Report.figure(mip_png(result.suv, result.lesions, f"SUV MIP, {len(result.table)} lesions"), "coronal"))
    sec.append(Report.figure(mip_png(result.suv, result.lesions, "SUV MIP", axis="sagittal"), "sagittal"))
    if "region" in result.table.columns and len(result.table):
        sec.append(Report.figure(_region_bars(result.table), "per-region totals"))
    wb = {k: v for k, v in result.whole_body.items()}
    report.section("Whole-body burden").append(Report.table(pd.DataFrame([wb])))
    if result.references:
        refs = pd.DataFrame([{"region": k, **{kk: vv for kk, vv in v.items() if kk != "centre_mm"}}
                             for k, v in result.references.items()])
        report.section("Reference regions").append(Report.table(refs))
    if result.staging:
        report.section("PROMISE V2 miTNM").append(Report.table(pd.DataFrame([result.staging])))
    if result.eligibility:
        report.section("Therapy eligibility").append(Report.table(pd.DataFrame(result.eligibility)))
    report.section("Lesions").append(Report.table(result.table))
    if result.warnings:
        report.section("Warnings").extend(Report.text(w) for w in result.warnings)
    return report.write(path)
