"""``theranomics response BASELINE_DIR FOLLOWUP_DIR --out DIR``."""
from __future__ import annotations

from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser("response", help="match lesions between two scans; PERCIST, RECIP, PPP")
    p.add_argument("baseline", type=Path, help="baseline PET DICOM folder")
    p.add_argument("followup", type=Path, help="follow-up PET DICOM folder")
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--baseline-ct", type=Path, default=None)
    p.add_argument("--followup-ct", type=Path, default=None)
    p.add_argument("--baseline-organs", type=Path, default=None)
    p.add_argument("--followup-organs", type=Path, default=None)
    p.add_argument("--method", default="iso41", help="segmentation method (see quantify)")
    p.add_argument("--threshold", type=float, default=3.0)
    p.add_argument("--max-distance-mm", type=float, default=20.0)
    p.set_defaults(func=run)


def run(args) -> int:
    from ..quant.workflow import response_folders

    result = response_folders(args.baseline, args.followup, args.out, baseline_ct=args.baseline_ct,
                              followup_ct=args.followup_ct, baseline_organs=args.baseline_organs,
                              followup_organs=args.followup_organs, method=args.method,
                              threshold_suv=args.threshold, max_distance_mm=args.max_distance_mm)
    print(result.to_string(index=False))
    return 0
