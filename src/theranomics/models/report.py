"""Model reports: ROC, calibration and decision curves, Kaplan–Meier by risk group, predicted vs
observed dose, feature selection frequency — matplotlib PNGs in a :class:`theranomics.report.Report`."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd

from . import metrics as M
from .train import TrainedModel

__all__ = ["model_report", "figures"]


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    import matplotlib.pyplot as plt
    plt.close(fig)
    return buf.getvalue()


def figures(task: str, y, oof: np.ndarray, selection_frequency: pd.Series | None = None) -> dict[str, bytes]:
    """PNG figures (name -> bytes) for out-of-fold predictions ``oof`` of outcome ``y``."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import roc_curve
    out = {}
    if task == "classification":
        fpr, tpr, _ = roc_curve(y, oof)
        fig, ax = plt.subplots(figsize=(4, 4))
        ax.plot(fpr, tpr, label=f"AUC {M.auc(y, oof):.3f}")
        ax.plot([0, 1], [0, 1], "k:", lw=0.8)
        ax.set(xlabel="1 - specificity", ylabel="sensitivity", title="ROC (out-of-fold)")
        ax.legend(loc="lower right")
        out["roc"] = _png(fig)
        cal = M.calibration_table(y, oof, n_bins=min(10, max(2, len(y) // 20)))
        fig, ax = plt.subplots(figsize=(4, 4))
        ax.plot(cal.mean_predicted, cal.observed_fraction, "o-")
        ax.plot([0, 1], [0, 1], "k:", lw=0.8)
        ax.set(xlabel="predicted probability", ylabel="observed fraction", title="Calibration", xlim=(0, 1), ylim=(0, 1))
        out["calibration"] = _png(fig)
        dc = M.decision_curve(y, oof)
        fig, ax = plt.subplots(figsize=(4, 4))
        ax.plot(dc.threshold, dc.net_benefit_model, label="model")
        ax.plot(dc.threshold, dc.net_benefit_treat_all, label="treat all")
        ax.plot(dc.threshold, dc.net_benefit_treat_none, label="treat none")
        ax.set(xlabel="threshold probability", ylabel="net benefit", title="Decision curve",
               ylim=(min(-0.05, dc.net_benefit_model.min()), max(0.05, float(np.mean(y))) * 1.1))
        ax.legend()
        out["decision_curve"] = _png(fig)
    elif task == "survival":
        from .survival import kaplan_meier, logrank
        high = oof >= np.median(oof)
        fig, ax = plt.subplots(figsize=(4.5, 4))
        for label, rows in (("low risk", ~high), ("high risk", high)):
            km = kaplan_meier(y["event"][rows], y["time"][rows])
            ax.step(km.time, km.survival, where="post", label=f"{label} (n={int(rows.sum())})")
        chi2, p = logrank(y["event"], y["time"], high)
        ax.set(xlabel="time", ylabel="survival", title=f"Kaplan–Meier by median risk (log-rank p={p:.2g})", ylim=(0, 1.02))
        ax.legend()
        out["kaplan_meier"] = _png(fig)
    else:
        fig, ax = plt.subplots(figsize=(4, 4))
        ax.scatter(y, oof, s=8)
        lim = [min(np.min(y), np.min(oof)), max(np.max(y), np.max(oof))]
        ax.plot(lim, lim, "k:", lw=0.8)
        ax.set(xlabel="observed", ylabel="predicted (out-of-fold)", title=f"MAPE {M.mape(y, oof):.1f} %")
        out["predicted_vs_observed"] = _png(fig)
    if selection_frequency is not None and len(selection_frequency):
        top = selection_frequency.head(15)[::-1]
        fig, ax = plt.subplots(figsize=(5, 0.25 * len(top) + 1))
        ax.barh([str(i) for i in top.index], top.to_numpy())
        ax.set(xlabel="fraction of outer folds selecting it", title="Feature selection frequency", xlim=(0, 1))
        out["feature_importance"] = _png(fig)
    return out


def model_report(model: TrainedModel, y, path: str | Path) -> Path:
    """HTML report of a trained model: card summary, metrics with CIs and the figures."""
    from ..report import Report
    if model.validation is None:
        raise ValueError("this model has no cross-validation result to report")
    oof = model.validation.oof_matrix().mean(axis=1)
    rep = Report(title=f"Model report: {model.card.name}", provenance={"versions": model.versions})
    sec = rep.section("Model card")
    sec.append(Report.text(f"Task {model.task}; outcome {', '.join(model.outcome)}; pipeline "
                           f"{' -> '.join(model.card.pipeline)}."))
    sec.append(Report.text(model.card.validation_protocol))
    rep.section("Performance (95 % CI)").append(Report.table(model.validation.metrics))
    figs = rep.section("Figures")
    for name, png in figures(model.task, y, oof, model.validation.selection_frequency).items():
        figs.append(Report.figure(png, name.replace("_", " ")))
    if model.card.subgroups:
        rep.section("Subgroups").append(Report.table(pd.DataFrame(model.card.subgroups)))
    return rep.write(path)
