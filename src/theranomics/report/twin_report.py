"""HTML report of a twin plan: the recommended schedule and why, predicted vs measured TACs, dose
per organ per cycle with the uncertainty band, trade-off curve, tumour-sink curve, personalised
parameters and the parameter table (published values, assumptions and calibrations)."""
from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import pandas as pd

from .html import Report


def _png(fig) -> bytes:
    import matplotlib.pyplot as plt
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def tac_png(tacs: pd.DataFrame) -> bytes:
    """One panel per organ: measured activities and the personalised twin's curve (MBq vs h)."""
    plt = _plt()
    organs = sorted(set(tacs["organ"]))
    ncol = min(4, max(1, len(organs)))
    nrow = math.ceil(len(organs) / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(2.6 * ncol, 2.2 * nrow), dpi=90, squeeze=False)
    for ax, organ in zip(axes.ravel(), organs):
        cur = tacs[(tacs["organ"] == organ) & (tacs["kind"] == "curve")].sort_values("time_h")
        mea = tacs[(tacs["organ"] == organ) & (tacs["kind"] == "measured")]
        ax.plot(cur["time_h"], cur["predicted_mbq"], color="tab:red", lw=1, label="twin")
        ax.plot(mea["time_h"], mea["measured_mbq"], "o", color="k", ms=3, label="measured")
        ax.set_xscale("log")
        ax.set_title(organ, fontsize=8)
        ax.tick_params(labelsize=7)
        ax.set_xlabel("h after injection", fontsize=7)
    for ax in axes.ravel()[len(organs):]:
        ax.axis("off")
    axes[0, 0].set_ylabel("activity (MBq)", fontsize=7)
    axes[0, 0].legend(fontsize=6)
    return _png(fig)


def dose_png(doses: pd.DataFrame) -> bytes:
    """Absorbed dose per organ and cycle, error bars = 5-95 % of the posterior samples."""
    plt = _plt()
    organs = list(dict.fromkeys(doses["organ"]))
    cycles = sorted(set(doses["cycle"]))
    fig, ax = plt.subplots(figsize=(max(5, 0.8 * len(organs)), 3), dpi=90)
    w = 0.8 / len(cycles)
    x = np.arange(len(organs))
    for i, c in enumerate(cycles):
        d = doses[doses["cycle"] == c].set_index("organ").loc[organs]
        ax.bar(x + i * w, d["dose_gy"], w, label=f"cycle {c}",
               yerr=[d["dose_gy"] - d["dose_gy_p05"], d["dose_gy_p95"] - d["dose_gy"]], capsize=2)
    ax.set_xticks(x + 0.4 - w / 2, organs, rotation=45, ha="right", fontsize=7)
    ax.set_yscale("log")
    ax.set_ylabel("absorbed dose (Gy)")
    ax.legend(fontsize=7)
    return _png(fig)


def tradeoff_png(front: pd.DataFrame, kidney_limit_gy: float, best: pd.Series | None) -> bytes:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(4, 3), dpi=90)
    ax.step(front["kidneys_bed_gy"], front["best_objective_gy"], where="post", color="tab:blue")
    ax.axvline(kidney_limit_gy, color="tab:red", ls="--", lw=1, label="kidney BED limit")
    if best is not None:
        ax.plot([best["kidneys_bed_gy"]], [best["objective_gy"]], "o", color="tab:red", label="recommended")
    ax.set_xlabel("cumulative kidney BED (Gy)")
    ax.set_ylabel("lowest tumour BED (Gy)")
    ax.legend(fontsize=7)
    return _png(fig)


def sink_png(sink: pd.DataFrame) -> bytes:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(4, 3), dpi=90)
    for organ in ("kidneys", "salivary_glands", "red_marrow"):
        col = f"{organ}_gy_per_gbq"
        if col in sink:
            ax.plot(sink["tumour_volume_ml"], sink[col], "o-", label=organ, ms=3)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("total tumour volume (mL)")
    ax.set_ylabel("organ dose (Gy/GBq)")
    ax.legend(fontsize=7)
    return _png(fig)


def twin_report(result, path, *, summary: dict) -> Path:
    """Write the report of a :class:`theranomics.twin.workflow.PatientPlan`."""
    from ..twin.params import parameter_table
    rep = Report(f"Theranostic digital twin plan — {result.inputs.patient_id}",
                 provenance={"ligand": result.ligand, "sources": result.inputs.sources,
                             "timings_s": result.timings_s})
    sec = rep.section("Recommended schedule")
    acts = summary["recommended_activity_mbq"]
    if acts is None:
        sec.append(rep.text("No schedule of the grid satisfies every limit."))
    else:
        sched = pd.DataFrame({"cycle": range(1, len(acts) + 1), "activity_mbq": acts,
                              "week": [i * result.interval_weeks for i in range(len(acts))]})
        sec.append(rep.table(sched))
    sec.append("<ul>" + "".join(f"<li>{rep.text(r)[3:-4]}</li>" for r in summary["reasons"]) + "</ul>")
    sec.append(rep.text(f"Constraints hold at the {summary['constraint_quantile']:.0%} quantile of "
                        f"{summary['uncertainty']}; {summary['n_feasible']} of {summary['n_candidates']} "
                        "candidate schedules are within every limit."))
    sec = rep.section("Predicted vs measured time-activity curves (cycle 1)")
    sec.append(rep.figure(tac_png(result.tacs), "measured (points) and personalised twin (line)"))
    sec = rep.section("Dose per organ and cycle")
    if not result.doses.empty:
        sec.append(rep.figure(dose_png(result.doses), "median and 5-95 % band of the posterior samples"))
        sec.append(rep.table(result.doses))
    sec = rep.section("Trade-off and tumour sink")
    lim = result.plan.constraints.limits()[("kidneys", "bed_gy")]
    sec.append(rep.figure(tradeoff_png(result.plan.tradeoff_curve(), lim, result.plan.best),
                          "best lowest-tumour BED reachable per kidney BED (other limits met)"))
    sec.append(rep.figure(sink_png(result.sink), "organ dose vs tumour load (tumour volumes scaled)"))
    sec = rep.section("Personalised parameters (90 % intervals)")
    sec.append(rep.table(result.fit.intervals_))
    sec.append(rep.table(result.fit.identifiability_))
    sec = rep.section("Parameter table")
    sec.append(rep.table(parameter_table(result.ligand)[["parameter", "value", "unit", "status", "source"]],
                         max_rows=400))
    return rep.write(path)


__all__ = ["twin_report", "tac_png", "dose_png", "tradeoff_png", "sink_png"]
