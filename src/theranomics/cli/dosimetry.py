"""``theranomics dosimetry STUDY_DIR --out DIR [--method lde|dpk|vsv] [--nuclide lu177] [--cycle N]``."""
from __future__ import annotations

from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser("dosimetry", help="serial SPECT/CT dosimetry: TACs, TIAs, organ/lesion/marrow/voxel dose, BED")
    p.add_argument("study_dir", type=Path, help="patient folder in the study layout (docs/study_layout.md)")
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--method", default="vsv", choices=["lde", "dpk", "vsv"], help="voxel dose method")
    p.add_argument("--nuclide", default=None, help="override the administration's nuclide (e.g. lu177)")
    p.add_argument("--cycle", type=int, action="append", default=None, help="cycle(s) to analyse (default: all)")
    p.add_argument("--spect-fwhm-mm", type=float, default=None, help="SPECT resolution for recovery correction")
    p.add_argument("--registration", default="rigid", choices=["rigid", "deformable", "none"])
    p.add_argument("--masks", type=Path, action="append", default=[], help="extra label-map NIfTI (e.g. lesions)")
    p.add_argument("--no-report", action="store_true")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..dosimetry.workflow import DosimetrySettings, dosimetry_folder

    settings = DosimetrySettings(method=args.method, nuclide=args.nuclide, spect_fwhm_mm=args.spect_fwhm_mm,
                                 registration=args.registration)
    paths = dosimetry_folder(args.study_dir, args.out, cycles=args.cycle, settings=settings,
                             extra_masks=args.masks, write_report=not args.no_report)
    for key, path in paths.items():
        print(f"{key}: {path}")
    return 0
