"""Find DICOM series in a folder by reading headers only."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import pydicom
from pydicom.dataset import Dataset

from ._common import DicomReadError, is_empty, tag_name

#: Media Storage Directory (DICOMDIR) — an index, not an image.
_DICOMDIR_CLASS = "1.2.840.10008.1.3.10"


@dataclass(frozen=True)
class SeriesInfo:
    """One series found by :func:`scan_folder` (header information only)."""

    series_uid: str
    modality: str
    description: str
    n_files: int
    files: tuple[Path, ...]
    patient_id: str
    study_uid: str
    rows: int | None
    cols: int | None
    n_frames: int | None  #: NumberOfFrames of a multi-frame file (NM, enhanced), None for one frame per file
    series_number: int | None = None
    sop_class_uid: str = ""

    def summary(self) -> str:
        """One line for messages: UID, modality, description, number of files."""
        frames = f", {self.n_frames} frames" if self.n_frames else ""
        return (f"series_uid={self.series_uid} modality={self.modality} "
                f"description={self.description!r} ({self.n_files} files{frames}, e.g. {self.files[0]})")


def looks_like_dicom(path: Path) -> bool:
    """A ``.dcm`` suffix or the ``DICM`` marker after the 128-byte preamble."""
    if path.suffix.lower() in (".dcm", ".dicom"):
        return True
    try:
        with open(path, "rb") as fh:
            head = fh.read(132)
    except OSError:
        return False
    return len(head) == 132 and head[128:132] == b"DICM"


def read_header(path: Path) -> Dataset:
    """Header of one file (no pixel data, large elements deferred) or :class:`DicomReadError`."""
    try:
        return pydicom.dcmread(path, stop_before_pixels=True, defer_size="4 KB")
    except Exception as exc:  # pydicom raises many types for damaged files
        raise DicomReadError(f"{path}: not a readable DICOM file ({type(exc).__name__}: {exc})") from None


def _candidate_files(path: Path, recursive: bool) -> list[Path]:
    if not path.exists():
        raise DicomReadError(f"{path}: no such file or folder")
    if path.is_file():
        return [path]
    walker = path.rglob("*") if recursive else path.iterdir()
    return sorted(p for p in walker if p.is_file() and not p.name.startswith(".") and looks_like_dicom(p))


def read_lazy(path: Path) -> Dataset:
    """Whole file parsed once, with large elements (pixel data) read from disk only when used."""
    try:
        return pydicom.dcmread(path, defer_size="64 KB")
    except Exception as exc:  # pydicom raises many types for damaged files
        raise DicomReadError(f"{path}: not a readable DICOM file ({type(exc).__name__}: {exc})") from None


def read_headers(files: Iterable[Path], lazy_full: bool = False) -> list[tuple[Path, Dataset]]:
    """Headers of DICOM files, skipping DICOMDIR indexes.  With ``lazy_full`` the whole datasets
    are parsed (pixel data deferred), so that a reader needs no second pass over the files."""
    out = []
    reader = read_lazy if lazy_full else read_header
    for f in files:
        ds = reader(f)
        if str(getattr(ds, "file_meta", Dataset()).get("MediaStorageSOPClassUID", "")) == _DICOMDIR_CLASS:
            continue
        out.append((f, ds))
    return out


def group_series(headers: list[tuple[Path, Dataset]]) -> list[SeriesInfo]:
    """Group headers by SeriesInstanceUID."""
    groups: dict[str, list[tuple[Path, Dataset]]] = {}
    for f, ds in headers:
        for keyword in ("SeriesInstanceUID", "Modality"):
            if is_empty(ds.get(keyword)):
                raise DicomReadError(f"{f}: missing required tag {tag_name(keyword)}")
        groups.setdefault(str(ds.SeriesInstanceUID), []).append((f, ds))
    infos = []
    for uid, members in groups.items():
        members.sort(key=lambda m: str(m[0]))
        first = members[0][1]
        n_frames = first.get("NumberOfFrames")
        number = first.get("SeriesNumber")
        infos.append(SeriesInfo(
            series_uid=uid,
            modality=str(first.Modality),
            description=str(first.get("SeriesDescription", "") or ""),
            n_files=len(members),
            files=tuple(m[0] for m in members),
            patient_id=str(first.get("PatientID", "") or ""),
            study_uid=str(first.get("StudyInstanceUID", "") or ""),
            rows=int(first.Rows) if first.get("Rows") is not None else None,
            cols=int(first.Columns) if first.get("Columns") is not None else None,
            n_frames=int(n_frames) if n_frames not in (None, "") and int(n_frames) > 1 else None,
            series_number=int(number) if number not in (None, "") else None,
            sop_class_uid=str(first.get("SOPClassUID", "") or ""),
        ))
    infos.sort(key=lambda s: (s.study_uid, s.series_number if s.series_number is not None else -1, s.modality, s.series_uid))
    return infos


def scan_folder(path: str | Path, recursive: bool = True) -> list[SeriesInfo]:
    """Series under ``path`` (a folder or one file), found from headers only.

    Files that do not look like DICOM (no ``.dcm`` suffix and no ``DICM`` marker,
    e.g. ``.nii.gz``, ``.json``) are ignored; a file that looks like DICOM but
    cannot be parsed raises :class:`DicomReadError` naming it, as does a folder
    without any DICOM file.
    """
    path = Path(path)
    headers = read_headers(_candidate_files(path, recursive))
    if not headers:
        raise DicomReadError(f"{path}: no DICOM files found (looked for *.dcm and files with the DICM marker"
                             f"{', recursively' if recursive else ''})")
    return group_series(headers)
