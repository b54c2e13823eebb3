"""``theranomics radiomics --image IMG --mask MASK [--settings FILE] --out features.csv``: IBSI features
of every label (one row per label, one column per feature tag), optionally also as a long table."""
from __future__ import annotations

from pathlib import Path

#: --preset names -> how to build them (see theranomics.radiomics.settings)
PRESETS = ("ibsi-A", "ibsi-B", "ibsi-C", "ibsi-D", "ibsi-E", "digital-phantom", "CT", "PET", "DOSE", "DOSE_RATE")


def add_parser(sub) -> None:
    p = sub.add_parser("radiomics", help="IBSI radiomics features of every label of a mask")
    p.add_argument("--image", required=True, type=Path, help="NIfTI image or DICOM series folder")
    p.add_argument("--mask", required=True, type=Path, help="NIfTI label map, DICOM RTSTRUCT or DICOM SEG")
    p.add_argument("--out", required=True, type=Path, help="wide CSV: one row per label, one column per feature")
    p.add_argument("--long", type=Path, default=None, metavar="CSV",
                   help="also write the long table (label, feature_tag, feature_name, ibsi_code, family, "
                        "aggregation, parameter, value)")
    p.add_argument("--settings", type=Path, default=None, help="settings file (YAML or JSON; keys = IBSI parameters)")
    p.add_argument("--preset", default=None, choices=PRESETS + tuple(f"ibsi2-{n}.{c}" for n in range(1, 10) for c in "AB"),
                   metavar="NAME", help="built-in settings instead of --settings: ibsi-A … ibsi-E, ibsi2-1.A … "
                                        "ibsi2-9.B, digital-phantom, CT, PET (SUV), DOSE (Gy), DOSE_RATE (Gy/h); "
                                        "default: by image unit")
    p.add_argument("--unit", default=None, help="image unit when a NIfTI image has no JSON sidecar (e.g. HU, SUVbw, Gy)")
    p.add_argument("--labels", type=int, nargs="+", default=None, help="only these label values")
    p.add_argument("--n-jobs", type=int, default=1, help="worker processes (parallel over labels)")
    p.add_argument("--diagnostics", action="store_true", help="add the IBSI diagnostic features")
    p.set_defaults(func=run)


def settings_for(args, image):
    """The settings the command uses: --settings, else --preset, else defaults for the image unit."""
    from ..radiomics import (RadiomicsSettings, digital_phantom, ibsi2_config, ibsi_config, load_settings,
                             modality_defaults)
    if args.settings is not None and args.preset is not None:
        raise ValueError("give either --settings or --preset, not both")
    if args.settings is not None:
        return load_settings(args.settings)
    if args.preset is not None:
        name = args.preset
        if name.startswith("ibsi2-"):
            return ibsi2_config(name[len("ibsi2-"):])
        if name.startswith("ibsi-"):
            return ibsi_config(name[len("ibsi-"):])
        if name == "digital-phantom":
            return digital_phantom()
        return modality_defaults(name)
    unit = image.unit
    if unit == "Gy":
        return modality_defaults("DOSE")
    if unit == "Gy/h":
        return modality_defaults("DOSE_RATE")
    if unit.startswith("SUV") or unit == "SUL":
        return modality_defaults("PET")
    if unit == "HU":
        return modality_defaults("CT")
    return RadiomicsSettings()


def run(args) -> int:
    from ..radiomics import extract_features, to_long
    from ..radiomics.inputs import load_image_and_mask

    image, labels = load_image_and_mask(args.image, args.mask, unit=args.unit)
    settings = settings_for(args, image)
    df = extract_features(image, labels, settings, label_ids=args.labels, n_jobs=args.n_jobs,
                          include_diagnostics=args.diagnostics)
    names = df.attrs.get("label_names", {})
    wide = df.copy()
    wide.insert(0, "label_name", [names.get(int(k), "") for k in wide.index])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    wide.to_csv(args.out)
    msg = f"wrote {args.out}: {len(df)} label(s) x {df.shape[1]} features ({settings.name}, image unit {image.unit})"
    if args.long is not None:
        args.long.parent.mkdir(parents=True, exist_ok=True)
        to_long(df).to_csv(args.long, index=False)
        msg += f"; long table {args.long}"
    print(msg)
    return 0
