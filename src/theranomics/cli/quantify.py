"""``theranomics quantify PET_DIR [--ct CT_DIR] [--organs MASKS] --out DIR``."""
from __future__ import annotations

from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser("quantify", help="SUV, lesion segmentation, lesion table, whole-body burden, staging")
    p.add_argument("pet_dir", type=Path, help="PET DICOM folder")
    p.add_argument("--ct", type=Path, default=None, help="CT DICOM folder or NIfTI (HU)")
    p.add_argument("--organs", type=Path, default=None, help="organ masks: NIfTI label map, RTSTRUCT or SEG")
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--suv-type", default="bw")
    p.add_argument("--method", default="iso41", help="iso41 (default: SUV >= threshold detection, background-corrected 41 %% isocontour), iso50, fixed, percist, qpsma, gradient")
    p.add_argument("--threshold", type=float, default=3.0, help="SUV threshold (fixed method and detection)")
    p.add_argument("--min-volume-ml", type=float, default=0.1)
    p.add_argument("--detection-sd", type=float, default=6.0,
                   help="keep a candidate only when its SUVmax stands this many local noise SDs above its "
                        "surrounding background (default 6; 0 keeps every candidate)")
    p.add_argument("--tracer-family", default="psma", choices=["psma", "sstr"])
    p.add_argument("--tracer", default="psma-11", help="for the expression score reference (psma-1007 uses spleen)")
    p.add_argument("--patient-id", default=None)
    p.add_argument("--radiomics", default=None, metavar="SETTINGS",
                   help="also compute IBSI radiomics per lesion: 'default' (PET SUV defaults) or a settings YAML/JSON")
    p.add_argument("--jobs", type=int, default=1, help="worker processes for radiomics")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..quant.workflow import quantify_folder

    paths = quantify_folder(args.pet_dir, args.out, ct=args.ct, organs=args.organs, suv_type=args.suv_type,
                            method=args.method, threshold_suv=args.threshold, min_volume_ml=args.min_volume_ml,
                            detection_sd=args.detection_sd or None, tracer_family=args.tracer_family, tracer=args.tracer, patient_id=args.patient_id,
                            radiomics=args.radiomics, radiomics_jobs=args.jobs)
    for key, path in paths.items():
        print(f"{key}: {path}")
    return 0
