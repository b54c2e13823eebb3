"""``theranomics dosimetry STUDY_DIR --out DIR [--method lde|dpk|vsv] [--nuclide lu177] [--cycle N] …``."""
from __future__ import annotations

import argparse
from pathlib import Path

_DESCRIPTION = """\
Serial SPECT/CT dosimetry: TACs, TIAs, organ/lesion/marrow/voxel dose, BED.

STUDY_DIR is a study folder (study.json; each time point's spect/ and ct/ as NIfTI or as a dicom/
series, masks/ as NIfTI, RTSTRUCT or SEG) or a folder of plain DICOM series (SPECT = reconstructed
NM series, grouped into cycles by injection time and into time points by acquisition time; CT paired
by frame of reference; administration from the NM RadiopharmaceuticalInformationSequence).

Calibration of counts SPECT: --calibration-cps-per-mbq, else calibration.json beside the SPECT (or in
a folder above it); acquisition duration from --acquisition-duration-s, calibration.json or the NM
header's ActualFrameDuration.

Recovery (partial-volume) correction needs the SPECT FWHM: --spect-fwhm-mm, or spect_fwhm_mm in
calibration.json; without either the command stops unless --recovery none. The value used and its
source are written to summary.json.

TAC model selection: AICc among the models the number of time points allows (N > K + 1; with 4 points
only 1-2-parameter models compete), the simpler within dAICc <= 2. physical_decay is not a candidate
(with 3-4 points AICc lets it beat mono_exp unless ~20x worse, over-estimating cleared organs). Each
point carries sigma = sqrt(Poisson^2 + (5 % x activity)^2) (--activity-rel-sigma). With 3 points no
candidate has N > K + 1 and mono_exp is fitted alone (flag mono_exp_without_aicc); with 2 points,
trapezoid + physical-decay tail. Excluded models and the reasons: column excluded_models of
dosimetry.csv and model_selection in summary.json.
"""


def add_parser(sub) -> None:
    p = sub.add_parser("dosimetry", help="serial SPECT/CT dosimetry: TACs, TIAs, organ/lesion/marrow/voxel dose, BED",
                       description=_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("study_dir", type=Path, help="study folder (study.json) or a folder of plain DICOM series")
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--method", default="vsv", choices=["lde", "dpk", "vsv"], help="voxel dose method")
    p.add_argument("--nuclide", default=None, help="override the administration's nuclide (e.g. lu177)")
    p.add_argument("--cycle", type=int, action="append", default=None, help="cycle(s) to analyse (default: all)")
    p.add_argument("--spect-fwhm-mm", type=float, default=None,
                   help="SPECT system resolution for recovery correction (else spect_fwhm_mm in calibration.json; "
                        "required for recovery)")
    p.add_argument("--recovery", default="auto", choices=["auto", "gtm", "rc", "none"],
                   help="recovery correction: auto = organs by geometric transfer matrix, lesions by sphere curve")
    p.add_argument("--calibration-cps-per-mbq", type=float, default=None,
                   help="SPECT calibration factor (cps/MBq), overriding calibration.json")
    p.add_argument("--acquisition-duration-s", type=float, default=None,
                   help="SPECT acquisition duration (s), overriding calibration.json and the DICOM header")
    p.add_argument("--registration", default="rigid", choices=["rigid", "deformable", "none"])
    p.add_argument("--voi-mode", default="propagate", choices=["propagate", "per_timepoint"],
                   help="propagate the reference time point's VOIs, or use each time point's own masks")
    p.add_argument("--reference-timepoint", default="0",
                   help="reference time point: index (0 = first) or label (e.g. 24h)")
    p.add_argument("--masks", type=Path, action="append", default=[],
                   help="extra label map of the reference time point: NIfTI, DICOM RTSTRUCT or SEG (repeatable)")
    p.add_argument("--activity-rel-sigma", type=float, default=0.05,
                   help="relative per-time-point activity uncertainty added to the Poisson sigma (default 0.05)")
    p.add_argument("--no-voxel-dose", action="store_true", help="organ/lesion (MIRD) dose only, no dose map")
    p.add_argument("--no-report", action="store_true")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..dosimetry.workflow import DosimetrySettings, dosimetry_folder

    ref = int(args.reference_timepoint) if args.reference_timepoint.lstrip("-").isdigit() else args.reference_timepoint
    settings = DosimetrySettings(method=args.method, nuclide=args.nuclide, spect_fwhm_mm=args.spect_fwhm_mm,
                                 recovery=args.recovery, registration=args.registration, voi_mode=args.voi_mode,
                                 reference_timepoint=ref, activity_rel_sigma=args.activity_rel_sigma,
                                 voxel_dose=not args.no_voxel_dose)
    paths = dosimetry_folder(args.study_dir, args.out, cycles=args.cycle, settings=settings,
                             extra_masks=args.masks, write_report=not args.no_report,
                             calibration_cps_per_mbq=args.calibration_cps_per_mbq,
                             acquisition_duration_s=args.acquisition_duration_s)
    import json
    summary = json.loads(paths["summary_json"].read_text())
    for c, rec in summary["recovery"].items():
        fwhm = rec["spect_fwhm_mm"]
        print(f"cycle {c}: recovery {rec['mode']}, SPECT FWHM "
              f"{'%g mm' % fwhm if fwhm is not None else 'none'} ({rec['spect_fwhm_source']})")
    for key, path in paths.items():
        print(f"{key}: {path}")
    return 0
