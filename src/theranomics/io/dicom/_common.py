"""Shared helpers: the error type, tag access with clear messages, DICOM date/time parsing."""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Iterable

from pydicom.dataset import Dataset
from pydicom.datadict import tag_for_keyword
from pydicom.multival import MultiValue
from pydicom.valuerep import DT, TM


class DicomReadError(ValueError):
    """A DICOM file or series cannot be read as asked; the message names the file(s) and the tag."""


#: Modalities whose series hold no voxel image (skipped by ``read_series``).
NON_IMAGE_MODALITIES = frozenset({"RTSTRUCT", "SEG", "SR", "RTPLAN", "RTRECORD", "KO", "PR", "REG", "DOC", "PLAN"})


def tag_name(keyword: str) -> str:
    """``'ImagePositionPatient (0020,0032)'`` for messages."""
    tag = tag_for_keyword(keyword)
    if tag is None:
        return keyword
    return f"{keyword} ({tag >> 16:04X},{tag & 0xFFFF:04X})"


def where(ds: Dataset, default: str = "<dataset>") -> str:
    """The file a dataset was read from, for messages."""
    name = getattr(ds, "filename", None)
    return str(name) if name else default


def is_empty(value: Any) -> bool:
    """True for an absent or zero-length DICOM value."""
    if value is None:
        return True
    if isinstance(value, (int, float)):
        return False
    try:
        return len(value) == 0
    except TypeError:
        return False


def require(ds: Dataset, keyword: str, source: str | None = None) -> Any:
    """Value of a type-1 attribute, or :class:`DicomReadError` naming the tag and the file."""
    value = ds.get(keyword)
    if is_empty(value):
        raise DicomReadError(f"{source or where(ds)}: missing required tag {tag_name(keyword)}")
    return value


def floats(ds: Dataset, keyword: str, n: int, source: str | None = None) -> list[float]:
    """A required multi-valued numeric attribute with exactly ``n`` values."""
    value = require(ds, keyword, source)
    values = list(value) if isinstance(value, (list, tuple, MultiValue)) else [value]
    try:
        out = [float(v) for v in values]
    except (TypeError, ValueError):
        raise DicomReadError(f"{source or where(ds)}: tag {tag_name(keyword)} must hold {n} numbers, got {value!r}") from None
    if len(out) != n:
        raise DicomReadError(f"{source or where(ds)}: tag {tag_name(keyword)} must hold {n} numbers, got {len(out)}: {out}")
    return out


def optional_float(ds: Dataset, keyword: str, source: str | None = None) -> float | None:
    """A numeric attribute that may be absent or empty (returns ``None`` then)."""
    value = ds.get(keyword)
    if value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise DicomReadError(f"{source or where(ds)}: tag {tag_name(keyword)} is not a number: {value!r}") from None


def parse_date(value: Any, keyword: str, source: str) -> dt.date | None:
    """DICOM DA ``YYYYMMDD`` (or legacy ``YYYY.MM.DD``) → date; empty → None."""
    if value is None or str(value).strip() == "":
        return None
    text = str(value).strip().replace(".", "").replace("-", "")
    try:
        return dt.datetime.strptime(text, "%Y%m%d").date()
    except ValueError:
        raise DicomReadError(f"{source}: tag {tag_name(keyword)} is not a DICOM date (YYYYMMDD): {value!r}") from None


def parse_time(value: Any, keyword: str, source: str) -> dt.time | None:
    """DICOM TM ``HHMMSS.FFFFFF`` (parts may be omitted; legacy ``HH:MM:SS``) → time; empty → None."""
    if value is None or str(value).strip() == "":
        return None
    try:
        return TM(str(value).strip().replace(":", ""))
    except ValueError:
        raise DicomReadError(f"{source}: tag {tag_name(keyword)} is not a DICOM time (HHMMSS.FFFFFF): {value!r}") from None


def parse_datetime(value: Any, keyword: str, source: str) -> dt.datetime | None:
    """DICOM DT → naive datetime in the local clock of the scanner (a UTC offset is dropped); empty → None."""
    if value is None or str(value).strip() == "":
        return None
    try:
        parsed = DT(str(value).strip())
    except ValueError:
        raise DicomReadError(f"{source}: tag {tag_name(keyword)} is not a DICOM date-time: {value!r}") from None
    return dt.datetime(parsed.year, parsed.month, parsed.day, parsed.hour, parsed.minute, parsed.second,
                       parsed.microsecond)


def combine(ds: Dataset, date_keyword: str, time_keyword: str, source: str | None = None) -> dt.datetime | None:
    """Datetime from a DA and a TM attribute; ``None`` when either is absent or empty."""
    source = source or where(ds)
    date = parse_date(ds.get(date_keyword), date_keyword, source)
    time = parse_time(ds.get(time_keyword), time_keyword, source)
    if date is None or time is None:
        return None
    return dt.datetime.combine(date, dt.time(time.hour, time.minute, time.second, time.microsecond))


def as_paths(files: Iterable[str | Path]) -> list[Path]:
    return [Path(f) for f in files]


class DicomWriteError(ValueError):
    """An image or label map cannot be written as DICOM as asked (the message says why)."""


def make_uid(uid_seed: str | None, *parts: object) -> str:
    """A new UID, or a deterministic one from ``uid_seed`` and ``parts`` (same inputs → same UID).

    Uses :func:`pydicom.uid.generate_uid` (``entropy_srcs``: SHA-512 of the inputs under
    pydicom's root), so a simulator with a fixed seed writes identical files.
    """
    from pydicom.uid import generate_uid
    if uid_seed is None:
        return generate_uid()
    return generate_uid(entropy_srcs=[str(uid_seed), *(str(p) for p in parts)])
