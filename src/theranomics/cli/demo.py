"""``theranomics demo``: simulate a patient and run every analysis stage on it."""
from __future__ import annotations

from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser("demo", help="simulate a patient, run all analysis stages, write DIR/report.html")
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--tracer", default="psma-11")
    p.add_argument("--small", action="store_true", help="small, coarse patient (fast)")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..demo import run_demo

    report = run_demo(args.out, seed=args.seed, tracer=args.tracer, small=args.small)
    print(f"demo report: {report}")
    return 0
