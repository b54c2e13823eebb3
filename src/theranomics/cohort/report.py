"""Cohort HTML report: counts, failures, validation problems, key biomarker distributions per
centre, and links to the per-patient reports (:class:`theranomics.report.Report`)."""
from __future__ import annotations

import html
import io
import os
from pathlib import Path

import pandas as pd

from ..report import Report

#: Whole-body / lesion biomarkers shown per centre when present (column, table, label[, row query]).
KEY_BIOMARKERS = (
    ("suv_max_highest", "whole_body", "highest lesion SUVmax"),
    ("suv_mean_wb", "whole_body", "whole-body SUVmean"),
    ("ttv_ml", "whole_body", "total tumour volume (mL)"),
    ("lesion_count", "whole_body", "lesion count"),
    ("suv_peak", "lesions", "lesion SUVpeak"),
    ("dose_gy_kidneys", "patients", "kidney absorbed dose (Gy)"),
    ("dose_gy_per_gbq", "dosimetry", "PET-lesion absorbed dose (Gy/GBq)", "kind == 'lesion'"),
    ("plan_total_activity_mbq", "patients", "planned total activity (MBq)"),
)


def _boxplots_png(panels: list[tuple[pd.DataFrame, str, str]]) -> bytes:
    """One figure, one box plot per (table, column, label) panel, grouped by centre."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ncols = min(3, len(panels))
    nrows = -(-len(panels) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.6 * ncols, 2.8 * nrows), dpi=90, squeeze=False)
    for ax, (df, column, label) in zip(axes.ravel(), panels):
        centre = df["centre"].fillna("unknown").astype(str)
        centres = sorted(centre.unique())
        ax.boxplot([df.loc[centre == c, column].dropna().to_numpy() for c in centres], showfliers=True)
        ax.set_xticks(range(1, len(centres) + 1), centres)
        ax.set_title(label, fontsize=9)
        ax.set_xlabel("centre", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in axes.ravel()[len(panels):]:
        ax.set_visible(False)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def cohort_report(result, manifest, stage_list, path: str | Path) -> Path:
    """Write the cohort report of ``result`` (:class:`~theranomics.cohort.runner.CohortResult`)."""
    path = Path(path)
    status = result.status
    rep = Report("Theranomics cohort report",
                 provenance={"out_dir": str(result.out_dir), "stages": [s.name for s in stage_list],
                             "manifest": str(manifest.source) if manifest.source else None,
                             "timings_s": result.timings_s})
    n = len(manifest.patients)
    failed_patients = sorted(set(result.failures["patient_id"]))
    sec = rep.section("Counts")
    sec.append(Report.text(f"{n} patients in the manifest; {n - len(failed_patients)} completed every applicable "
                           f"stage; {len(failed_patients)} with failures."))
    counts = result.counts().reset_index()
    counts.columns.name = None
    sec.append(Report.table(counts))
    by_centre = pd.DataFrame({"centre": [e.centre or "unknown" for e in manifest.patients]}).value_counts()
    sec.append(Report.table(by_centre.rename("patients").reset_index()))

    sec = rep.section("Failures")
    if len(result.failures):
        sec.append(Report.table(result.failures[["patient_id", "centre", "stage", "status", "error"]], max_rows=500))
    else:
        sec.append(Report.text("No failures."))
    if result.validation.problems:
        sec = rep.section("Validation problems")
        sec.append(Report.table(result.validation.to_frame(), max_rows=500))

    sec = rep.section("Key biomarkers per centre")
    panels, frames = [], {}
    for column, table, label, *query in KEY_BIOMARKERS:
        tpath = result.tables.get(table)
        if tpath is None:
            continue
        if table not in frames:
            frames[table] = pd.read_parquet(tpath)
        df = frames[table]
        if query and "kind" in df.columns:
            df = df.query(query[0])
        if column in df.columns and df[column].notna().any():
            panels.append((df, column, label))
    if panels:
        sec.append(Report.figure(_boxplots_png(panels), "; ".join(label for _, _, label in panels) + " by centre"))
    else:
        sec.append(Report.text("No biomarker tables (no quantification results)."))

    sec = rep.section("Patients")
    items = []
    for e in manifest.patients:
        links = []
        for stage in stage_list:
            st = status[(status["patient_id"] == e.patient_id) & (status["stage"] == stage.name)]["status"]
            state = st.iloc[-1] if len(st) else "invalid"
            report_file = result.out_dir / "patients" / e.patient_id / stage.name / "report.html"
            if state in ("ran", "cached") and report_file.exists():
                rel = os.path.relpath(report_file, path.parent)
                links.append(f'<a href="{html.escape(rel)}">{html.escape(stage.name)}</a>')
            else:
                links.append(f"{html.escape(stage.name)}: {html.escape(state)}")
        items.append(f"<li>{html.escape(e.patient_id)} ({html.escape(e.centre or 'unknown')}): {' · '.join(links)}</li>")
    sec.append(f"<ul>{''.join(items)}</ul>")
    return rep.write(path)
