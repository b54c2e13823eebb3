"""``theranomics suv PET_DIR --out suv.nii.gz``: vendor-neutral SUV conversion (QIBA / OncoRay)."""
from __future__ import annotations

import json
from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser("suv", help="convert a PET DICOM series to SUV (NIfTI)")
    p.add_argument("pet_dir", type=Path)
    p.add_argument("--out", required=True, type=Path, help="output NIfTI (.nii.gz)")
    p.add_argument("--suv-type", default="bw",
                   help="bw, lbm (= lbm-janmahasatian), lbm-james, lbm-james128, lbm-janmahasatian, bsa, ibw, sul")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..io.nifti import write_nifti
    from ..quant.load import load_pet_suv

    suv, _ = load_pet_suv(args.pet_dir, args.suv_type)
    path = write_nifti(suv, args.out)
    prov = suv.meta.get("suv", {})
    print(f"wrote {path} ({suv.unit}); reference time {prov.get('reference_datetime')}, "
          f"dose {prov.get('injected_dose_bq')} Bq, rules: {json.dumps(prov.get('rules', {}))}")
    return 0
