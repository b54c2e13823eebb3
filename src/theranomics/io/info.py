"""A human-readable summary of what a folder holds, for ``theranomics info``."""
from __future__ import annotations

from pathlib import Path

import SimpleITK as sitk

from . import layout


def _nifti_lines(root: Path) -> list[str]:
    lines = []
    for path in sorted(root.rglob("*.nii*")):
        if layout.TRUTH_DIR in path.relative_to(root).parts:
            continue
        reader = sitk.ImageFileReader()
        reader.SetFileName(str(path))
        try:
            reader.ReadImageInformation()
        except RuntimeError:
            lines.append(f"  {path.relative_to(root)}: unreadable NIfTI")
            continue
        size = "x".join(str(s) for s in reader.GetSize())
        spacing = "x".join(f"{s:.3g}" for s in reader.GetSpacing())
        lines.append(f"  {path.relative_to(root)}: {size} voxels of {spacing} mm")
    return lines


def describe_folder(path: str | Path) -> str:
    """Studies (study.json), DICOM series and NIfTI images found under ``path``."""
    from .dicom import DicomReadError, scan_folder

    root = Path(path)
    out: list[str] = []
    for study_dir in layout.find_studies(root):
        study = layout.read_study(study_dir, load_images=False)
        p = study.patient
        out.append(f"study {p.patient_id}: weight {p.weight_kg} kg, height {p.height_cm} cm, sex {p.sex}")
        for c in study.cycles:
            a = c.administration
            out.append(f"  cycle {c.index}: {a.radiopharmaceutical} ({a.nuclide}) {a.activity_mbq:.1f} MBq at {a.time}")
            for tp, hours in zip(c.timepoints, c.hours):
                out.append(f"    {tp.label}: {hours:.2f} h after injection")
    if root.is_dir():
        try:
            series = scan_folder(root)
        except DicomReadError as exc:
            if "no DICOM" not in str(exc):
                raise
            series = []
        if series:
            out.append(f"{len(series)} DICOM series:")
            for s in series:
                first = Path(s.files[0]).parent
                where = first.relative_to(root) if first.is_relative_to(root) else first
                out.append(f"  {s.modality:6s} {s.n_files:4d} file(s)  {s.description or '-'}  [{where}]  uid {s.series_uid}")
        nifti = _nifti_lines(root)
        if nifti:
            out.append(f"{len(nifti)} NIfTI image(s):")
            out.extend(nifti)
    if not out:
        out.append(f"{root}: no study, DICOM series or NIfTI image found")
    return "\n".join(out)
