"""HTML report of a dosimetry run: per-VOI table, cumulative table, TAC plots with the fitted curve
and chosen model, DVHs, dose MIP, warnings and limit flags."""
from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import pandas as pd

from .html import Report
from .mip import mip_png


def _png(fig) -> bytes:
    import matplotlib.pyplot as plt
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def tac_plot_png(res, max_vois: int = 24) -> bytes:
    """One panel per VOI: measured activities (± σ), the selected fit and its model name."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(res.tacs)[:max_vois]
    ncol = 4
    nrow = max(1, math.ceil(len(names) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(10, 2.2 * nrow), dpi=90, squeeze=False)
    for ax, name in zip(axes.ravel(), names):
        tac = res.tacs[name]
        ax.errorbar(tac.time_h, tac.activity_mbq, yerr=tac.sigma_mbq, fmt="o", ms=3, color="k")
        sel = res.selections.get(name)
        t = np.linspace(0, tac.time_h.max() * 1.3, 200)
        if sel is not None:
            ax.plot(t, sel.best.evaluate(t), color="tab:red", lw=1)
            label = sel.best.model.name
        else:
            label = res.tias[name].method
        ax.set_title(f"{name}: {label}", fontsize=7)
        ax.tick_params(labelsize=6)
        ax.set_xlabel("h", fontsize=6)
        ax.set_ylabel("MBq", fontsize=6)
    for ax in axes.ravel()[len(names):]:
        ax.axis("off")
    fig.tight_layout()
    return _png(fig)


def dvh_plot_png(res) -> bytes:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    for name, dvh in res.dvhs.items():
        if name == "remainder":
            continue
        d, v = dvh.curve()
        ax.plot(d, v, lw=1, label=name)
    ax.set_xlabel("absorbed dose (Gy)")
    ax.set_ylabel("volume (%)")
    ax.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    return _png(fig)


def dosimetry_report(result, path: str | Path, title: str | None = None, provenance: dict | None = None) -> Path:
    """Write the report of a :class:`~theranomics.dosimetry.workflow.StudyDosimetry`."""
    first = next(iter(result.cycles.values()))
    report = Report(title or f"Dosimetry — {first.patient_id}", provenance=dict(provenance or {}))
    report.section("Per-VOI absorbed dose (all cycles)").append(Report.table(result.table))
    report.section("Cumulative over cycles").append(Report.table(result.cumulative))
    flagged = result.table[result.table["flags"].astype(str).str.contains("exceeds_")]
    if len(flagged):
        report.section("Limits exceeded").append(Report.table(flagged[["cycle", "voi", "dose_gy", "bed_gy", "flags"]]))
    for c, res in result.cycles.items():
        sec = report.section(f"Cycle {c} ({res.method})")
        if res.method != "stp":
            fwhm = f"{res.spect_fwhm_mm:g} mm" if res.spect_fwhm_mm is not None else "none"
            sec.append(Report.text(f"Recovery correction: SPECT FWHM {fwhm} — {res.spect_fwhm_source}."))
        if res.excluded_models:
            from ..dosimetry.workflow import MODEL_SELECTION_RULE
            sec.append(Report.text(f"TAC model selection: {MODEL_SELECTION_RULE}"))
            rows = [{"voi": v, "model": res.tias[v].method if v in res.tias else "", "excluded_model": m, "reason": r}
                    for v, ex in res.excluded_models.items() for m, r in ex.items()]
            if rows:
                sec.append(Report.table(pd.DataFrame(rows).drop_duplicates(["model", "excluded_model", "reason"])))
        if res.dose is not None:
            sec.append(Report.figure(mip_png(res.dose, None, f"dose MIP cycle {c} (Gy)", cmap="inferno"), "dose MIP"))
        if res.tacs:
            sec.append(Report.figure(tac_plot_png(res), "TACs with the selected fit"))
        if res.dvhs:
            sec.append(Report.figure(dvh_plot_png(res), "cumulative DVHs"))
        if res.timings_s:
            sec.append(Report.table(pd.DataFrame([res.timings_s])))
        for w in res.warnings:
            sec.append(Report.text(w))
    return report.write(path)


__all__ = ["dosimetry_report", "tac_plot_png", "dvh_plot_png"]
