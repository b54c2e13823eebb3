"""Patient and administration from PET/NM headers (Patient module, RadiopharmaceuticalInformationSequence)."""
from __future__ import annotations

import datetime as dt
from typing import Iterable

from pydicom.dataset import Dataset

from ...core import Administration, Patient
from ... import nuclides
from ._common import DicomReadError, combine, is_empty, optional_float, parse_datetime, parse_time, tag_name, where
from .nuclide_codes import nuclide_from_code_meaning
from .series import _attr

#: Nuclides tried when only RadionuclideHalfLife identifies the nuclide.
HALF_LIFE_CANDIDATES = tuple(dict.fromkeys(nuclides.SUPPORTED + (
    "C-11", "N-13", "O-15", "Rb-82", "Zr-89", "I-123", "I-124", "Cu-67", "Tb-152", "Tb-155", "Pb-212",
    "Ho-166", "Sm-153", "Re-188", "Ra-223", "Ga-67", "Tl-201")))
#: Relative tolerance when matching RadionuclideHalfLife against the decay data.
HALF_LIFE_RTOL = 0.01
#: A RadionuclideTotalDose below this (in "Bq") is taken to be in MBq: no patient receives < 0.1 MBq.
MBQ_WRITTEN_AS_BQ_BELOW = 1e5


def _first(datasets) -> Dataset:
    if isinstance(datasets, Dataset):
        return datasets
    items = list(datasets) if isinstance(datasets, Iterable) else []
    if not items or not isinstance(items[0], Dataset):
        raise DicomReadError("read_patient_and_administration: expected a pydicom Dataset or a list of them "
                             "(DicomSeries.datasets)")
    return items[0]


def _patient(ds: Dataset, src: str) -> Patient:
    patient_id = str(ds.get("PatientID", "") or "").strip()
    if not patient_id:
        raise DicomReadError(f"{src}: missing required tag {tag_name('PatientID')}")
    weight = optional_float(ds, "PatientWeight", src)
    size_m = optional_float(ds, "PatientSize", src)
    if weight is not None and not 0 < weight < 500:
        raise DicomReadError(f"{src}: PatientWeight (0010,1030) {weight} is not a body weight in kg")
    if size_m is not None and size_m > 3:
        raise DicomReadError(f"{src}: PatientSize (0010,1020) {size_m} is not a height in metres (written in cm?)")
    sex = str(ds.get("PatientSex", "") or "").strip().upper() or None
    return Patient(patient_id,
                   weight_kg=weight if weight else None,
                   height_cm=size_m * 100.0 if size_m else None,
                   sex=sex if sex in ("M", "F", "O") else None)


def _nuclide(item: Dataset, src: str) -> str:
    code_nuclide = None
    codes = item.get("RadionuclideCodeSequence")
    if codes:
        code = codes[0]
        code_nuclide = nuclide_from_code_meaning(code.get("CodeMeaning", "")) or \
            nuclide_from_code_meaning(code.get("CodeValue", ""))
    half_life = optional_float(item, "RadionuclideHalfLife", src)
    if code_nuclide is not None:
        if half_life is not None:
            expected = nuclides.half_life_s(code_nuclide)
            if abs(half_life - expected) > HALF_LIFE_RTOL * expected:
                raise DicomReadError(f"{src}: RadionuclideCodeSequence says {code_nuclide} (half-life {expected:.6g} s) but "
                                     f"RadionuclideHalfLife (0018,1075) is {half_life} s")
        return code_nuclide
    if half_life is None:
        raise DicomReadError(f"{src}: cannot tell the nuclide: no usable RadionuclideCodeSequence (0054,0300) "
                             f"and no RadionuclideHalfLife (0018,1075)")
    matches = [n for n in HALF_LIFE_CANDIDATES
               if abs(nuclides.half_life_s(n) - half_life) <= HALF_LIFE_RTOL * nuclides.half_life_s(n)]
    if len(matches) != 1:
        raise DicomReadError(f"{src}: RadionuclideHalfLife (0018,1075) {half_life} s matches "
                             f"{matches or 'none'} of {list(HALF_LIFE_CANDIDATES)}; add a RadionuclideCodeSequence")
    return matches[0]


def _injection_time(ds: Dataset, item: Dataset, src: str) -> dt.datetime:
    """RadiopharmaceuticalStartDateTime, else the scan date with RadiopharmaceuticalStartTime.

    With a time only, the injection is taken on the acquisition (or series) date, or the
    day before when that time of day is later than the acquisition's (scan after midnight).
    """
    full = parse_datetime(item.get("RadiopharmaceuticalStartDateTime"), "RadiopharmaceuticalStartDateTime", src)
    if full is not None:
        return full
    time = parse_time(item.get("RadiopharmaceuticalStartTime"), "RadiopharmaceuticalStartTime", src)
    if time is None:
        raise DicomReadError(f"{src}: missing required tag {tag_name('RadiopharmaceuticalStartDateTime')} or "
                             f"{tag_name('RadiopharmaceuticalStartTime')}")
    scan = combine(ds, "AcquisitionDate", "AcquisitionTime", src) or combine(ds, "SeriesDate", "SeriesTime", src)
    if scan is None:
        raise DicomReadError(f"{src}: RadiopharmaceuticalStartTime has no date and neither AcquisitionDate/Time nor "
                             f"SeriesDate/Time give one")
    injection = dt.datetime.combine(scan.date(), dt.time(time.hour, time.minute, time.second, time.microsecond))
    if injection > scan:
        injection -= dt.timedelta(days=1)
    return injection


def read_patient_and_administration(datasets, *, require_administration: bool = False
                                    ) -> tuple[Patient, Administration | None]:
    """Patient (ID, weight kg, height cm, sex) and administration from PET/NM headers.

    The administration comes from the first RadiopharmaceuticalInformationSequence item:
    radiopharmaceutical name, nuclide (RadionuclideCodeSequence, else RadionuclideHalfLife
    matched within 1 % against :data:`HALF_LIFE_CANDIDATES`), RadionuclideTotalDose (Bq;
    values below 1e5 are taken as MBq, as some vendors write) and injection time.
    Without the sequence the administration is ``None`` (or an error when
    ``require_administration``); an incomplete sequence is always an error.
    """
    ds = _first(datasets)
    src = where(ds)
    patient = _patient(ds, src)
    sequence = _attr(ds, "RadiopharmaceuticalInformationSequence")
    if not sequence:
        if require_administration:
            raise DicomReadError(f"{src}: missing required tag {tag_name('RadiopharmaceuticalInformationSequence')}")
        return patient, None
    item = sequence[0]
    isrc = f"{src} RadiopharmaceuticalInformationSequence"
    dose = optional_float(item, "RadionuclideTotalDose", isrc)
    if dose is None or dose <= 0:
        raise DicomReadError(f"{isrc}: missing or non-positive {tag_name('RadionuclideTotalDose')} ({dose})")
    activity_mbq = dose if dose < MBQ_WRITTEN_AS_BQ_BELOW else dose / 1e6
    name = str(item.get("Radiopharmaceutical", "") or "").strip()
    if not name and item.get("RadiopharmaceuticalCodeSequence"):
        name = str(item.RadiopharmaceuticalCodeSequence[0].get("CodeMeaning", "") or "")
    administration = Administration(
        radiopharmaceutical=name or "unknown",
        nuclide=_nuclide(item, isrc),
        activity_mbq=activity_mbq,
        time=_injection_time(ds, item, isrc),
    )
    return patient, administration
