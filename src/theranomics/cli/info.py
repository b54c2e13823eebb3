"""``theranomics info PATH``: what a folder holds (study layout, DICOM series, NIfTI images)."""
from __future__ import annotations

from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser("info", help="list the studies, DICOM series and NIfTI images in a folder")
    p.add_argument("path", type=Path)
    p.set_defaults(func=run)


def run(args) -> int:
    from ..io.info import describe_folder

    if not args.path.exists():
        raise FileNotFoundError(f"no such file or folder: {args.path}")
    print(describe_folder(args.path))
    return 0
