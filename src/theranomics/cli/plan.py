"""``theranomics plan PATIENT_DIR --out DIR [--ligand psma-617] [--cycles 4] [--interval-weeks 6] [--risk-factors]``.

Personalises the theranostic digital twin on the patient's cycle-1 TACs and plans the activity per
cycle within organ limits (:func:`theranomics.twin.workflow.plan_folder`).
"""
from __future__ import annotations

from pathlib import Path


def _grid(text: str):
    import numpy as np
    try:
        lo, hi, n = (float(x) for x in text.split(":"))
    except ValueError:
        raise ValueError(f"--activity-grid must be LOW:HIGH:COUNT in MBq (e.g. 3000:10000:11), got {text!r}") from None
    if not (0 < lo < hi) or n < 2 or n != int(n):
        raise ValueError(f"--activity-grid needs 0 < LOW < HIGH and an integer COUNT >= 2, got {text!r}")
    return tuple(np.linspace(lo, hi, int(n)))


def add_parser(sub) -> None:
    p = sub.add_parser("plan", help="personalise the PBPK digital twin and plan activity per cycle within organ limits")
    p.add_argument("patient_dir", type=Path,
                   help="study folder (docs/study_layout.md) or a folder with quantify (lesions.csv) and "
                        "dosimetry (tacs.csv) outputs")
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--ligand", default="psma-617", help="psma-617, psma-it or dotatate")
    p.add_argument("--cycles", type=int, default=4)
    p.add_argument("--interval-weeks", type=float, default=6.0)
    p.add_argument("--risk-factors", action="store_true", help="kidney BED limit 28 Gy instead of 40 Gy")
    p.add_argument("--quant", type=Path, default=None, help="folder with `theranomics quantify` outputs")
    p.add_argument("--dosimetry", type=Path, default=None, help="folder with `theranomics dosimetry` outputs (tacs.csv)")
    p.add_argument("--activity-grid", default="3000:10000:11", help="activities per cycle LOW:HIGH:COUNT (MBq)")
    p.add_argument("--samples", type=int, default=32, help="posterior samples for the uncertainty band")
    p.add_argument("--constraint-quantile", type=float, default=0.9,
                   help="limits must hold at this quantile of the samples")
    p.add_argument("--registration", default="rigid", choices=["rigid", "deformable", "none"])
    p.add_argument("--spect-fwhm-mm", type=float, default=None, help="SPECT resolution for recovery correction")
    p.add_argument("--no-report", action="store_true")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..twin.workflow import plan_folder

    paths = plan_folder(args.patient_dir, args.out, ligand=args.ligand, n_cycles=args.cycles,
                        interval_weeks=args.interval_weeks, risk_factors=args.risk_factors, quant_dir=args.quant,
                        dosimetry_dir=args.dosimetry, registration=args.registration,
                        spect_fwhm_mm=args.spect_fwhm_mm, activity_grid_mbq=_grid(args.activity_grid),
                        n_samples=args.samples, constraint_quantile=args.constraint_quantile,
                        write_report=not args.no_report, progress=not args.no_progress)
    for key, path in paths.items():
        print(f"{key}: {path}")
    return 0
