"""``theranomics cohort run MANIFEST --out DIR`` and ``theranomics cohort simulate --n N --out DIR``."""
from __future__ import annotations

import json
from pathlib import Path


def _settings(values: list[str] | None) -> dict:
    """``--set stage.key=value`` (value parsed as JSON when it parses, else text)."""
    out: dict = {}
    for item in values or []:
        if "=" not in item or "." not in item.split("=", 1)[0]:
            raise ValueError(f"--set expects STAGE.KEY=VALUE, got {item!r}")
        lhs, value = item.split("=", 1)
        stage, key = lhs.split(".", 1)
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            parsed = value
        out.setdefault(stage, {})[key] = parsed
    return out


def add_parser(sub) -> None:
    p = sub.add_parser("cohort", help="run the per-patient stages over a cohort; simulate a virtual cohort")
    csub = p.add_subparsers(dest="cohort_command", metavar="{run,simulate}")
    csub.required = True

    r = csub.add_parser("run", help="validate a manifest, run the stages (resumable), gather tables, report")
    r.add_argument("manifest", type=Path, help="manifest .csv or .yaml")
    r.add_argument("--out", required=True, type=Path, help="output folder (re-use it to resume)")
    r.add_argument("--stages", default=None, help="comma-separated stages (default: all: quantify,radiomics,"
                   "dosimetry,plan; dosimetry and plan apply to patients with therapy SPECT)")
    r.add_argument("--set", action="append", metavar="STAGE.KEY=VALUE", help="stage setting, e.g. quantify.threshold_suv=4")
    g = r.add_mutually_exclusive_group()
    g.add_argument("--workers", type=int, default=None, help="local process pool size (default: cores; 0: in this process)")
    g.add_argument("--scheduler", default=None, help="Dask scheduler address, e.g. tcp://host:8786")
    r.add_argument("--strict", action="store_true", help="stop before any work when validation finds an error")
    r.add_argument("--thorough", action="store_true", help="validation parses every DICOM header (slower)")
    r.add_argument("--validate-only", action="store_true", help="only validate the manifest and print the problems")
    r.add_argument("--force", action="store_true", help="recompute every stage, ignoring cached results")
    r.add_argument("--no-progress", action="store_true")
    r.set_defaults(func=run)

    s = csub.add_parser("simulate", help="virtual multi-centre cohort (study layout + manifest)")
    s.add_argument("--n", type=int, required=True, help="number of patients")
    s.add_argument("--out", required=True, type=Path)
    s.add_argument("--centres", type=int, default=3)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--tracer", default="psma-11")
    s.add_argument("--small", action="store_true", help="small, coarse phantoms (tests, demos)")
    s.add_argument("--no-dicom", action="store_true", help="write NIfTI only")
    s.add_argument("--workers", type=int, default=None)
    s.add_argument("--no-progress", action="store_true")
    s.set_defaults(func=run)


def run(args) -> int:
    from ..cohort import read_manifest, run_cohort, validate_manifest

    if args.cohort_command == "simulate":
        from ..cohort import simulate_cohort
        manifest = simulate_cohort(args.n, args.out, n_centres=args.centres, seed=args.seed, tracer=args.tracer,
                                   small=args.small, dicom=not args.no_dicom, workers=args.workers,
                                   progress=not args.no_progress)
        print(f"wrote {len(manifest)} patients; manifest: {manifest.source} (and manifest.yaml)")
        return 0
    manifest = read_manifest(args.manifest)
    if args.validate_only:
        report = validate_manifest(manifest, thorough=args.thorough)
        print(report.summary())
        return 0 if report.ok else 1
    result = run_cohort(manifest, args.out, stages=args.stages, settings=_settings(args.set), workers=args.workers,
                        scheduler=args.scheduler, progress=not args.no_progress, strict=args.strict, force=args.force,
                        thorough=args.thorough)
    print(result.counts().to_string())
    if not result.ok:
        print(f"{len(set(result.failures['patient_id']))} patient(s) failed; see {args.out / 'failures.csv'}")
    print(f"tables: {args.out / 'tables'}  report: {result.report}")
    return 0 if result.ok else 1
