"""``theranomics simulate``: write a virtual theranostics patient in the study layout."""
from __future__ import annotations

import time
from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser("simulate", help="simulate a virtual patient (PET/CT, serial SPECT/CT, ground truth)")
    p.add_argument("--out", required=True, type=Path, help="output folder (the patient folder is created inside)")
    p.add_argument("--seed", type=int, default=1, help="random seed (same seed → same patient)")
    p.add_argument("--tracer", default="psma-11", help="diagnostic tracer preset: psma-11, dcfpyl, dotatate-ga68, dotatate-cu64")
    p.add_argument("--anatomy", default="phantom", choices=["phantom", "patient15"],
                   help="procedural phantom or the real patient-15 CT anatomy from the reference data")
    p.add_argument("--patient-id", default=None, help="patient id (default SIM<seed>)")
    p.add_argument("--n-lesions", type=int, default=None, help="number of lesions (default from the preset)")
    p.add_argument("--small", action="store_true", help="small, coarse variant (for tests)")
    p.add_argument("--no-dicom", action="store_true", help="write NIfTI only")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..simulate import PatientParameters, simulate_patient, write_patient

    kwargs = {}
    if args.patient_id:
        kwargs["patient_id"] = args.patient_id
    if args.n_lesions is not None:
        kwargs["n_lesions"] = args.n_lesions
    params = PatientParameters(**kwargs)
    t0 = time.perf_counter()
    sim = simulate_patient(params, seed=args.seed, tracer=args.tracer, small=args.small, anatomy=args.anatomy,
                           progress=True)
    folder = write_patient(sim, args.out, dicom=not args.no_dicom)
    print(f"wrote {folder} in {time.perf_counter() - t0:.1f} s")
    return 0
