"""Vendor-neutral SUV conversion of PET DICOM series.

Implements the QIBA vendor-neutral SUV pseudo-code (QIBA FDG-PET/CT Technical Committee,
"Vendor-neutral pseudo-code for SUV calculation") as refined by the OncoRay manual
"Standardizing SUV computation" (Vácha, Hofheinz, Braune, Löck, Zwanenburg; its digital
reference objects are the tests of this module):

    SUV = C(t_ref) [Bq/mL] × S / D(t_ref) [Bq]

with ``S`` the body size (weight, lean body mass or ideal body weight in g; body-surface area in
cm²) and ``D(t_ref) = D_inj · 2^(−(t_ref − t_inj)/T½)`` the injected dose decayed to the time
``t_ref`` the image is decay-corrected to.

The core, :func:`suv_factors`, works on pydicom headers only.  It returns one multiplicative
factor per slice that converts *rescaled* voxel values (``stored × RescaleSlope +
RescaleIntercept``, applied per slice by the caller) to SUV, plus the provenance: which tag or rule
chose the reference time, injection time, dose, half-life and body size.  Whatever the header
cannot support raises :class:`SuvError` naming the tags; nothing is guessed silently.

Header conventions handled (the rule that fired is recorded in :attr:`SuvResult.rules`):

* Units ``BQML``; ``CNTS`` with the Philips private SUV scale factor (7053,1000), else the
  activity-concentration scale factor (7053,1009); ``GML`` / ``CM2ML`` (already SUV: factor 1 when
  SUVType (0054,1006) matches the requested type, else the body-size ratio).
* DecayCorrection ``START`` (reference: SeriesDate/Time unless it is after the earliest acquisition
  by more than 1 s, then GE private (0009,100D), then AcquisitionDateTime + decay-weighted mean
  time within the frame − FrameReferenceTime (FrameReferenceTime > 0 only), then the earliest
  acquisition), ``ADMIN`` (reference: injection) and ``NONE`` (each slice decayed back from its own
  acquisition, including the decay within the frame, λT/(1 − e^(−λT))).
* Injection time from RadiopharmaceuticalStartDateTime, else RadiopharmaceuticalStartTime on the
  SeriesDate — the previous day when that is later than the series time (injection before
  midnight).
* RadionuclideTotalDose below :data:`DOSE_MBQ_THRESHOLD` is read as MBq; PatientWeight above
  :data:`WEIGHT_GRAM_THRESHOLD` as grams; PatientSize above :data:`HEIGHT_CM_THRESHOLD` as cm.
* RadionuclideHalfLife cross-checked with :mod:`theranomics.nuclides` (ICRP-107) for the nuclide
  of RadionuclideCodeSequence; a difference above :data:`HALF_LIFE_RTOL` is an error.
"""
from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping, Sequence

import numpy as np

from .. import nuclides
from ..core.image import Image
from . import body_size as bs
from .spect import frame_decay_factor

#: SUV variants accepted by ``suv_type`` and the :class:`~theranomics.core.image.Image` unit of each.
SUV_UNITS = MappingProxyType({
    "bw": "SUVbw",
    "lbm-james": "SUVlbm",
    "lbm-james128": "SUVlbm",
    "lbm-janmahasatian": "SUVlbm",
    "bsa": "SUVbsa",
    "ibw": "SUVibw",
    "sul": "SUL",
})
SUV_TYPES = tuple(SUV_UNITS)

#: DICOM SUV Type (0054,1006) defined terms → our variant names.
DICOM_SUV_TYPES = MappingProxyType({
    "BW": "bw",
    "LBM": "lbm-james",
    "LBMJAMES128": "lbm-james128",
    "LBMJANMA": "lbm-janmahasatian",
    "BSA": "bsa",
    "IBW": "ibw",
})

#: A RadionuclideTotalDose below this (in the header's nominal Bq) is taken to be in MBq: no
#: patient PET or SPECT study is done with less than 0.1 MBq, and no study with 100 GBq.
DOSE_MBQ_THRESHOLD = 1.0e5
#: A PatientWeight above this (nominally kg) is taken to be in grams.
WEIGHT_GRAM_THRESHOLD = 1000.0
#: A PatientSize above this (nominally m) is taken to be in cm.
HEIGHT_CM_THRESHOLD = 3.0
#: Largest accepted relative difference between RadionuclideHalfLife and the ICRP-107 half-life.
HALF_LIFE_RTOL = 0.01
#: Series time may exceed the earliest acquisition time by this much and still be the reference.
SERIES_TIME_TOLERANCE_S = 1.0

_KNOWN_UNITS = ("BQML", "CNTS", "GML", "CM2ML")
_DECAY_CORRECTIONS = ("START", "ADMIN", "NONE")

# Element names as written in DICOM radionuclide code meanings (``^68^Gallium``) → symbols.
_ELEMENTS = MappingProxyType({
    "carbon": "C", "nitrogen": "N", "oxygen": "O", "fluorine": "F", "sodium": "Na", "phosphorus": "P",
    "scandium": "Sc", "chromium": "Cr", "iron": "Fe", "cobalt": "Co", "copper": "Cu", "gallium": "Ga",
    "germanium": "Ge", "selenium": "Se", "bromine": "Br", "krypton": "Kr", "rubidium": "Rb",
    "strontium": "Sr", "yttrium": "Y", "zirconium": "Zr", "technetium": "Tc", "indium": "In",
    "iodine": "I", "xenon": "Xe", "samarium": "Sm", "terbium": "Tb", "holmium": "Ho", "erbium": "Er",
    "lutetium": "Lu", "rhenium": "Re", "thallium": "Tl", "lead": "Pb", "bismuth": "Bi", "astatine": "At",
    "radium": "Ra", "actinium": "Ac", "thorium": "Th",
})


class SuvError(ValueError):
    """The DICOM header cannot support the requested SUV; the message names the tags."""


@dataclass(frozen=True, eq=False)
class SuvResult:
    """Per-slice factors from rescaled voxel values to SUV, with their provenance.

    ``body_size`` is in ``body_size_unit`` ('g' for weight, lean or ideal body mass; 'cm2' for
    body-surface area).  Quantities the conversion did not need (e.g. the dose for an image stored
    as SUV of the requested type) are ``None``.  ``rules`` maps each quantity to the tag or rule
    that chose it.
    """

    factors: np.ndarray
    suv_type: str
    unit: str
    units: str
    decay_correction: str | None
    reference_datetime: dt.datetime | None
    injection_datetime: dt.datetime | None
    injected_dose_bq: float | None
    decayed_dose_bq: float | None
    half_life_s: float | None
    nuclide: str | None
    body_size: float | None
    body_size_unit: str | None
    weight_kg: float | None
    height_m: float | None
    sex: str | None
    rules: Mapping[str, str] = field(default_factory=dict)

    def provenance(self) -> dict[str, Any]:
        """JSON-friendly summary (datetimes as ISO strings) for image metadata and reports."""
        def iso(t):
            return t.isoformat() if t is not None else None
        return {
            "suv_type": self.suv_type, "unit": self.unit, "units": self.units,
            "decay_correction": self.decay_correction,
            "reference_datetime": iso(self.reference_datetime), "injection_datetime": iso(self.injection_datetime),
            "injected_dose_bq": self.injected_dose_bq, "decayed_dose_bq": self.decayed_dose_bq,
            "half_life_s": self.half_life_s, "nuclide": self.nuclide,
            "body_size": self.body_size, "body_size_unit": self.body_size_unit,
            "weight_kg": self.weight_kg, "height_m": self.height_m, "sex": self.sex,
            "rules": dict(self.rules),
        }


# ---------------------------------------------------------------------------------------------
# header access
# ---------------------------------------------------------------------------------------------
def _tagname(keyword_or_tag) -> str:
    if isinstance(keyword_or_tag, tuple):
        return f"({keyword_or_tag[0]:04X},{keyword_or_tag[1]:04X})"
    from pydicom.datadict import tag_for_keyword
    tag = tag_for_keyword(keyword_or_tag)
    return f"{keyword_or_tag} ({tag >> 16:04X},{tag & 0xFFFF:04X})" if tag is not None else keyword_or_tag


def _raw(ds, key):
    """Value of a keyword or (group, element) tag, ``None`` when absent or empty."""
    try:
        if isinstance(key, tuple):
            elem = ds.get(key)
            if elem is None:
                return None
            value = elem.value
        else:
            if key not in ds:
                return None
            value = ds[key].value
    except (ValueError, TypeError, KeyError) as exc:  # pydicom converting a malformed raw value
        raise SuvError(f"{_tagname(key)}: unreadable value ({exc})") from None
    if isinstance(value, bytes):
        value = value.decode("ascii", errors="replace").strip("\x00 ")
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str) and hasattr(value, "__len__") and len(value) == 0:
        return None
    return value


def _text(ds, key) -> str | None:
    value = _raw(ds, key)
    return None if value is None else str(value).strip()


def _float(ds, key, where: str = "") -> float | None:
    value = _raw(ds, key)
    if value is None:
        return None
    if not isinstance(value, str) and hasattr(value, "__len__"):
        value = value[0]
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise SuvError(f"{_tagname(key)}{where}: {value!r} is not a number") from None
    if not math.isfinite(number):
        raise SuvError(f"{_tagname(key)}{where}: {value!r} is not a finite number")
    return number


_DA = re.compile(r"^(\d{4})\.?(\d{2})\.?(\d{2})$")
_TM = re.compile(r"^(\d{2})(?::?(\d{2})(?::?(\d{2})(?:\.(\d{1,6}))?)?)?$")
_DT = re.compile(r"^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(?:(\d{2})(?:\.(\d{1,6}))?)?([+-]\d{4})?$")


def _date(ds, key) -> dt.date | None:
    value = _text(ds, key)
    if value is None:
        return None
    m = _DA.match(value)
    try:
        if not m:
            raise ValueError
        return dt.date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        raise SuvError(f"{_tagname(key)}: {value!r} is not a DICOM date (YYYYMMDD)") from None


def _time(ds, key) -> dt.time | None:
    value = _text(ds, key)
    if value is None:
        return None
    m = _TM.match(value)
    try:
        if not m:
            raise ValueError
        micro = int((m[4] or "0").ljust(6, "0"))
        return dt.time(int(m[1]), int(m[2] or 0), int(m[3] or 0), micro)
    except ValueError:
        raise SuvError(f"{_tagname(key)}: {value!r} is not a DICOM time (HHMMSS.FFFFFF)") from None


def _datetime(ds, key) -> tuple[dt.datetime, str | None] | None:
    """A DT value as a naive datetime plus its UTC offset text (or None)."""
    value = _text(ds, key)
    if value is None:
        return None
    m = _DT.match(value)
    try:
        if not m:
            raise ValueError
        micro = int((m[7] or "0").ljust(6, "0"))
        return dt.datetime(int(m[1]), int(m[2]), int(m[3]), int(m[4]), int(m[5]), int(m[6] or 0), micro), m[8]
    except ValueError:
        raise SuvError(f"{_tagname(key)}: {value!r} is not a DICOM datetime with at least "
                       "YYYYMMDDHHMM") from None


def _naive_datetime(ds, key, rules: dict, rule_key: str, series_ds=None) -> dt.datetime | None:
    """A DT value as local naive time; an explicit UTC offset is converted to the series' TimezoneOffsetFromUTC."""
    parsed = _datetime(ds, key)
    if parsed is None:
        return None
    value, offset = parsed
    if offset is not None:
        local = _text(ds if series_ds is None else series_ds, "TimezoneOffsetFromUTC")
        if local is not None and local != offset:
            if not re.match(r"^[+-]\d{4}$", local):
                raise SuvError(f"{_tagname('TimezoneOffsetFromUTC')}: {local!r} is not an offset like +0100")
            def minutes(o):
                sign = -1 if o[0] == "-" else 1
                return sign * (int(o[1:3]) * 60 + int(o[3:5]))
            value = value + dt.timedelta(minutes=minutes(local) - minutes(offset))
            rules[rule_key + "_timezone"] = (f"{_tagname(key)} offset {offset} converted to "
                                             f"TimezoneOffsetFromUTC {local}")
        else:
            rules[rule_key + "_timezone"] = f"{_tagname(key)} offset {offset} taken as the local time of the series"
    return value


def _slice_label(ds, index: int) -> str:
    number = _text(ds, "InstanceNumber")
    return f"slice {index}" + (f" (InstanceNumber {number})" if number is not None else "")


def _acquisition_datetime(ds, index: int) -> dt.datetime | None:
    parsed = _datetime(ds, "AcquisitionDateTime")
    if parsed is not None:
        return parsed[0]
    time = _time(ds, "AcquisitionTime")
    if time is None:
        return None
    date = _date(ds, "AcquisitionDate") or _date(ds, "SeriesDate")
    if date is None:
        raise SuvError(f"{_slice_label(ds, index)}: AcquisitionTime is given but neither AcquisitionDate "
                       "(0008,0022) nor SeriesDate (0008,0021)")
    return dt.datetime.combine(date, time)


# series-level tags that must agree on every slice
_SERIES_TAGS = ("Modality", "Units", "DecayCorrection", "SUVType", "SeriesDate", "SeriesTime", "PatientWeight",
                "PatientSize", "PatientSex", "CorrectedImage")
_RADIOPHARM_TAGS = ("RadionuclideTotalDose", "RadionuclideHalfLife", "RadiopharmaceuticalStartTime",
                    "RadiopharmaceuticalStartDateTime")


def _check_consistent(datasets: Sequence) -> None:
    first = datasets[0]
    for tag in _SERIES_TAGS:
        ref = _raw(first, tag)
        for index, ds in enumerate(datasets[1:], start=1):
            if _raw(ds, tag) != ref:
                raise SuvError(f"{_tagname(tag)} differs between slices: {ref!r} on slice 0, "
                               f"{_raw(ds, tag)!r} on {_slice_label(ds, index)}; not one PET series")
    ref_item = _radiopharm(first, 0)
    for index, ds in enumerate(datasets[1:], start=1):
        item = _radiopharm(ds, index)
        for tag in _RADIOPHARM_TAGS:
            a = None if ref_item is None else _raw(ref_item, tag)
            b = None if item is None else _raw(item, tag)
            if a != b:
                raise SuvError(f"RadiopharmaceuticalInformationSequence {_tagname(tag)} differs between slices: "
                               f"{a!r} on slice 0, {b!r} on {_slice_label(ds, index)}")


def _radiopharm(ds, index: int = 0):
    seq = _raw(ds, "RadiopharmaceuticalInformationSequence")
    if seq is None:
        return None
    if len(seq) > 1:
        raise SuvError(f"{_slice_label(ds, index)}: RadiopharmaceuticalInformationSequence (0054,0016) has "
                       f"{len(seq)} items; an SUV needs exactly one radiopharmaceutical")
    return seq[0]


def _is_vendor(ds, vendor: str, creator_tag: tuple[int, int], creator_text: str) -> bool:
    manufacturer = (_text(ds, "Manufacturer") or "").upper()
    creator = (_text(ds, creator_tag) or "").upper()
    return vendor.upper() in manufacturer or creator_text.upper() in creator


# ---------------------------------------------------------------------------------------------
# patient and radiopharmaceutical
# ---------------------------------------------------------------------------------------------
@dataclass
class _Patient:
    weight_kg: float | None
    height_m: float | None
    sex: str | None


def _patient(ds, rules: dict) -> _Patient:
    weight = _float(ds, "PatientWeight")
    if weight is not None:
        if weight <= 0:
            raise SuvError(f"PatientWeight (0010,1030) is {weight}; expected a positive weight in kg")
        if weight > WEIGHT_GRAM_THRESHOLD:
            rules["weight"] = (f"PatientWeight (0010,1030) {weight:g} > {WEIGHT_GRAM_THRESHOLD:g}: read as grams "
                               f"({weight / 1000:g} kg)")
            weight /= 1000.0
        else:
            rules["weight"] = "PatientWeight (0010,1030) in kg"
    height = _float(ds, "PatientSize")
    if height is not None:
        if height <= 0:
            raise SuvError(f"PatientSize (0010,1020) is {height}; expected a positive height in m")
        if height > HEIGHT_CM_THRESHOLD:
            rules["height"] = (f"PatientSize (0010,1020) {height:g} > {HEIGHT_CM_THRESHOLD:g}: read as cm "
                               f"({height / 100:g} m)")
            height /= 100.0
        else:
            rules["height"] = "PatientSize (0010,1020) in m"
    sex = _text(ds, "PatientSex")
    if sex is not None:
        sex = sex.upper()
        if sex not in bs.SEXES:
            raise SuvError(f"PatientSex (0010,0040) is {sex!r}; expected one of {bs.SEXES}")
        rules["sex"] = f"PatientSex (0010,0040) {sex}" + (" (mean of male and female formulas)" if sex == "O" else "")
    return _Patient(weight, height, sex)


def _body_size(kind: str, patient: _Patient, lbm_formula: str) -> tuple[float, str, str]:
    """Body size for one SUV variant: (value, unit 'g' or 'cm2', description)."""
    if kind == "sul":
        kind = f"lbm-{lbm_formula}"
    needs = {"bw": ("weight",), "bsa": ("weight", "height"), "ibw": ("height", "sex")}.get(
        kind, ("weight", "height", "sex"))
    tags = {"weight": "PatientWeight (0010,1030)", "height": "PatientSize (0010,1020)",
            "sex": "PatientSex (0010,0040)"}
    values = {"weight": patient.weight_kg, "height": patient.height_m, "sex": patient.sex}
    missing = [tags[n] for n in needs if values[n] is None]
    if missing:
        raise SuvError(f"SUV type {kind!r} needs {', '.join(missing)}, missing or empty in the header")
    try:
        if kind == "bw":
            return patient.weight_kg * 1000.0, "g", "body weight"
        if kind == "bsa":
            return bs.bsa_dubois_m2(patient.weight_kg, patient.height_m) * 1.0e4, "cm2", "Du Bois body-surface area"
        if kind == "ibw":
            return bs.ibw_kg(patient.height_m, patient.sex) * 1000.0, "g", "ideal body weight (DICOM)"
        formula = kind.removeprefix("lbm-")
        value = bs.LBM_FORMULAS[formula](patient.weight_kg, patient.height_m, patient.sex)
        return value * 1000.0, "g", f"lean body mass ({formula})"
    except ValueError as exc:
        raise SuvError(f"SUV type {kind!r} from PatientWeight/PatientSize/PatientSex: {exc}") from None


def _injection_datetime(ds, item, series_dt: dt.datetime | None, earliest_acq: dt.datetime | None,
                        rules: dict) -> dt.datetime:
    start = _naive_datetime(item, "RadiopharmaceuticalStartDateTime", rules, "injection", ds)
    if start is not None:
        rules["injection"] = "RadiopharmaceuticalStartDateTime (0018,1078)"
        return start
    time = _time(item, "RadiopharmaceuticalStartTime")
    if time is None:
        raise SuvError("no injection time: RadiopharmaceuticalInformationSequence has neither "
                       "RadiopharmaceuticalStartDateTime (0018,1078) nor RadiopharmaceuticalStartTime (0018,1072)")
    anchor = series_dt if series_dt is not None else earliest_acq
    if anchor is None:
        raise SuvError("RadiopharmaceuticalStartTime (0018,1072) has no date: SeriesDate/SeriesTime "
                       "(0008,0021/0031) and AcquisitionDate/Time are missing")
    start = dt.datetime.combine(anchor.date(), time)
    source = "SeriesDate (0008,0021)" if series_dt is not None else "earliest acquisition date"
    if start > anchor:
        start -= dt.timedelta(days=1)
        rules["injection"] = (f"RadiopharmaceuticalStartTime (0018,1072) is later than the series time on {source}: "
                              "injection before midnight, previous day")
    else:
        rules["injection"] = f"RadiopharmaceuticalStartTime (0018,1072) on {source}"
    return start


def _dose_bq(item, rules: dict) -> float:
    dose = _float(item, "RadionuclideTotalDose")
    if dose is None:
        raise SuvError("RadionuclideTotalDose (0018,1074) is missing or empty in "
                       "RadiopharmaceuticalInformationSequence; an SUV needs the injected dose")
    if dose <= 0:
        raise SuvError(f"RadionuclideTotalDose (0018,1074) is {dose}; expected a positive dose in Bq")
    if dose < DOSE_MBQ_THRESHOLD:
        rules["dose"] = (f"RadionuclideTotalDose (0018,1074) {dose:g} < {DOSE_MBQ_THRESHOLD:g}: read as MBq "
                         f"({dose * 1e6:g} Bq)")
        return dose * 1.0e6
    rules["dose"] = "RadionuclideTotalDose (0018,1074) in Bq"
    return dose


def nuclide_from_code(item) -> str | None:
    """Nuclide (``'Ga-68'``) from RadionuclideCodeSequence (0054,0300) code meaning, or ``None`` if absent."""
    seq = _raw(item, "RadionuclideCodeSequence")
    if seq is None:
        return None
    meaning = _text(seq[0], "CodeMeaning")
    if meaning is None:
        return None
    text = meaning.replace(" ", "")
    m = re.match(r"^\^?(\d+)(m?)\^?([A-Za-z]+)$", text)  # ^68^Gallium, 68Ga, ^99m^Technetium
    if m is not None:
        mass, meta, element = m[1], m[2], m[3]
    else:
        m = re.match(r"^([A-Za-z]+)-?(\d+)(m?)$", text)  # Gallium-68, Ga68
        if m is None:
            raise SuvError(f"RadionuclideCodeSequence CodeMeaning {meaning!r} is not a nuclide like '^68^Gallium'")
        element, mass, meta = m[1], m[2], m[3]
    symbol = _ELEMENTS.get(element.lower(), element if len(element) <= 2 else None)
    if symbol is None:
        raise SuvError(f"RadionuclideCodeSequence CodeMeaning {meaning!r}: unknown element {element!r}")
    try:
        return nuclides.normalise_name(f"{symbol}-{int(mass)}{meta}")
    except nuclides.UnknownNuclideError as exc:
        raise SuvError(f"RadionuclideCodeSequence CodeMeaning {meaning!r}: {exc}") from None


def _half_life_s(item, rules: dict) -> tuple[float, str | None]:
    header = _float(item, "RadionuclideHalfLife")
    if header is not None and header <= 0:
        raise SuvError(f"RadionuclideHalfLife (0018,1075) is {header}; expected a positive half-life in s")
    nuclide = nuclide_from_code(item)
    library = nuclides.half_life_s(nuclide) if nuclide is not None else None
    if header is None and library is None:
        raise SuvError("no half-life: RadionuclideHalfLife (0018,1075) and RadionuclideCodeSequence (0054,0300) "
                       "are both missing")
    if header is None:
        rules["half_life"] = f"RadionuclideHalfLife missing: ICRP-107 half-life of {nuclide} (RadionuclideCodeSequence)"
        return library, nuclide
    if library is None:
        rules["half_life"] = "RadionuclideHalfLife (0018,1075); not cross-checked (no RadionuclideCodeSequence)"
        return header, None
    if abs(header - library) > HALF_LIFE_RTOL * library:
        raise SuvError(f"RadionuclideHalfLife (0018,1075) is {header:g} s but RadionuclideCodeSequence names "
                       f"{nuclide}, whose ICRP-107 half-life is {library:g} s: contradictory header")
    rules["half_life"] = (f"RadionuclideHalfLife (0018,1075), agrees with ICRP-107 {nuclide} "
                          f"({library:g} s) within {HALF_LIFE_RTOL:.0%}")
    return header, nuclide


def _frame_mean_time_s(decay_constant_per_s: float, duration_s: float) -> float:
    """Decay-weighted mean time within a frame, ln(λT/(1 − e^(−λT))) / λ (QIBA)."""
    return math.log(frame_decay_factor(decay_constant_per_s, duration_s)) / decay_constant_per_s


def _frame_duration_s(ds, index: int) -> float | None:
    value = _float(ds, "ActualFrameDuration", f" on {_slice_label(ds, index)}")
    if value is None:
        return None
    if value <= 0:
        raise SuvError(f"ActualFrameDuration (0018,1242) on {_slice_label(ds, index)} is {value}; expected ms > 0")
    return value / 1000.0


def _start_reference(datasets, series_dt, acq, decay_constant: float, rules: dict) -> dt.datetime:
    """Reference time of a START-corrected series (see module docstring for the order of rules)."""
    known = [(t, i) for i, t in enumerate(acq) if t is not None]
    earliest, first = min(known) if known else (None, None)
    tol = dt.timedelta(seconds=SERIES_TIME_TOLERANCE_S)
    if series_dt is not None and (earliest is None or series_dt <= earliest + tol):
        rules["reference"] = "SeriesDate/SeriesTime (0008,0021/0031)"
        return series_dt
    why = ("SeriesDate/SeriesTime missing" if series_dt is None else
           f"SeriesDate/SeriesTime {series_dt.isoformat()} is after the earliest acquisition {earliest.isoformat()}")
    ds = datasets[0]
    if _is_vendor(ds, "GE", (0x0009, 0x0010), "GEMS_PETD"):
        ge = _naive_datetime(ds, (0x0009, 0x100D), rules, "reference")
        if ge is not None:
            rules["reference"] = f"{why}: GE private scan datetime (0009,100D)"
            return ge
    if earliest is not None:
        ds = datasets[first]
        frame_ref_ms = _float(ds, "FrameReferenceTime", f" on {_slice_label(ds, first)}")
        duration_s = _frame_duration_s(ds, first)
        if frame_ref_ms is not None and frame_ref_ms > 0 and duration_s is not None:
            mean_s = _frame_mean_time_s(decay_constant, duration_s)
            rules["reference"] = (f"{why}: earliest AcquisitionDateTime + decay-weighted mean frame time "
                                  f"({mean_s:.2f} s of ActualFrameDuration {duration_s:g} s) "
                                  f"− FrameReferenceTime ({frame_ref_ms / 1000:g} s)")
            return earliest + dt.timedelta(seconds=mean_s - frame_ref_ms / 1000.0)
        rules["reference"] = f"{why}: earliest AcquisitionDateTime/AcquisitionTime"
        return earliest
    raise SuvError("no decay-correction reference time: SeriesDate/SeriesTime (0008,0021/0031) and "
                   "AcquisitionDate/Time (0008,0022/0032) are missing")


# ---------------------------------------------------------------------------------------------
# public API
# ---------------------------------------------------------------------------------------------
def _check_suv_type(suv_type: str, lbm_formula: str) -> None:
    if suv_type not in SUV_UNITS:
        raise SuvError(f"unknown suv_type {suv_type!r}; valid names: {', '.join(SUV_TYPES)}")
    if lbm_formula not in bs.LBM_FORMULAS:
        raise SuvError(f"unknown lbm_formula {lbm_formula!r}; valid names: {', '.join(bs.LBM_FORMULAS)}")


def suv_factors(datasets: Sequence, suv_type: str = "bw", *, lbm_formula: str = "janmahasatian") -> SuvResult:
    """Per-slice factors f_k with SUV = (stored × RescaleSlope + RescaleIntercept) × f_k.

    ``datasets`` are the pydicom headers of one PET series, one per slice, in the caller's slice
    order.  ``suv_type`` is one of :data:`SUV_TYPES`; ``lbm_formula`` ('janmahasatian', 'james',
    'james128') is the lean-body-mass formula of ``'sul'`` (PERCIST; Janmahasatian by default).
    """
    _check_suv_type(suv_type, lbm_formula)
    datasets = list(datasets)
    if not datasets:
        raise SuvError("no DICOM datasets given")
    first = datasets[0]
    modality = _text(first, "Modality")
    if modality != "PT":
        raise SuvError(f"Modality (0008,0060) is {modality!r}; SUV conversion needs a PET ('PT') series")
    _check_consistent(datasets)
    rules: dict[str, str] = {}
    n = len(datasets)
    units = _text(first, "Units")
    if units is None:
        raise SuvError("Units (0054,1001) is missing; cannot tell what the voxel values are")
    units = units.upper()
    if units not in _KNOWN_UNITS:
        raise SuvError(f"Units (0054,1001) is {units!r}; SUV conversion supports {', '.join(_KNOWN_UNITS)}")
    rules["units"] = f"Units (0054,1001) {units}"
    patient = _patient(first, rules)
    unit = SUV_UNITS[suv_type]
    requested = f"lbm-{lbm_formula}" if suv_type == "sul" else suv_type

    def result(factors, **kw) -> SuvResult:
        base = dict(decay_correction=_text(first, "DecayCorrection"), reference_datetime=None,
                    injection_datetime=None, injected_dose_bq=None, decayed_dose_bq=None, half_life_s=None,
                    nuclide=None, body_size=None, body_size_unit=None)
        base.update(kw)
        factors = np.array(factors, dtype=float)
        factors.setflags(write=False)
        return SuvResult(factors, suv_type, unit, units, weight_kg=patient.weight_kg,
                         height_m=patient.height_m, sex=patient.sex, rules=MappingProxyType(dict(rules)), **base)

    def convert_from(stored_kind: str, scale: np.ndarray):
        """Image stored as SUV of ``stored_kind`` (times ``scale``): factor = scale × S_requested / S_stored."""
        if stored_kind == requested:
            rules["body_size"] = f"image already {stored_kind} SUV: no body-size conversion"
            return result(scale)
        size_req, unit_req, what_req = _body_size(requested, patient, lbm_formula)
        size_hdr, unit_hdr, what_hdr = _body_size(stored_kind, patient, lbm_formula)
        rules["body_size"] = f"{what_req} / {what_hdr} ({size_req:g} {unit_req} / {size_hdr:g} {unit_hdr})"
        return result(scale * size_req / size_hdr, body_size=size_req, body_size_unit=unit_req)

    if units in ("GML", "CM2ML"):
        suv_type_tag = _text(first, "SUVType")
        if suv_type_tag is None:
            stored = "bw" if units == "GML" else "bsa"
            rules["stored_suv"] = f"SUVType (0054,1006) absent: Units {units} taken as {stored.upper()}"
        else:
            if suv_type_tag.upper() not in DICOM_SUV_TYPES:
                raise SuvError(f"SUVType (0054,1006) is {suv_type_tag!r}; expected one of {', '.join(DICOM_SUV_TYPES)}")
            stored = DICOM_SUV_TYPES[suv_type_tag.upper()]
            rules["stored_suv"] = f"SUVType (0054,1006) {suv_type_tag}"
        if (units == "CM2ML") != (stored == "bsa"):
            raise SuvError(f"Units (0054,1001) {units} contradicts SUVType (0054,1006) {suv_type_tag}: "
                           "CM2ML goes with BSA only")
        return convert_from(stored, np.ones(n))

    activity_scale = np.ones(n)
    if units == "CNTS":
        if not _is_vendor(first, "PHILIPS", (0x7053, 0x0010), "PHILIPS"):
            raise SuvError(f"Units (0054,1001) CNTS can only be converted with Philips private scale factors, but "
                           f"Manufacturer (0008,0070) is {_text(first, 'Manufacturer')!r}")
        suv_scale = [_float(ds, (0x7053, 0x1000), f" on {_slice_label(ds, i)}") for i, ds in enumerate(datasets)]
        act_scale = [_float(ds, (0x7053, 0x1009), f" on {_slice_label(ds, i)}") for i, ds in enumerate(datasets)]
        if all(s is not None and s > 0 for s in suv_scale):
            rules["scale"] = "Units CNTS: Philips private SUV scale factor (7053,1000), per slice (SUVbw)"
            return convert_from("bw", np.asarray(suv_scale, dtype=float))
        if all(s is not None and s > 0 for s in act_scale):
            rules["scale"] = "Units CNTS: Philips private activity-concentration scale factor (7053,1009) to Bq/mL"
            activity_scale = np.asarray(act_scale, dtype=float)
        else:
            raise SuvError("Units (0054,1001) is CNTS but neither Philips private SUV scale factor (7053,1000) nor "
                           "activity-concentration scale factor (7053,1009) is a positive number on every slice")

    # -- activity concentration in Bq/mL: decay-corrected dose and body size ----------------------
    corrected = _raw(first, "CorrectedImage")
    corrected = [str(c).upper() for c in ([corrected] if isinstance(corrected, str) else (corrected or []))]
    decay_correction = _text(first, "DecayCorrection")
    if decay_correction is None:
        raise SuvError("DecayCorrection (0054,1102) is missing; cannot tell to which time the activity refers")
    decay_correction = decay_correction.upper()
    if decay_correction not in _DECAY_CORRECTIONS:
        raise SuvError(f"DecayCorrection (0054,1102) is {decay_correction!r}; expected one of {_DECAY_CORRECTIONS}")
    if corrected:
        if "ATTN" not in corrected:
            raise SuvError(f"CorrectedImage (0028,0051) {corrected} lacks ATTN: no SUV from a non-attenuation-"
                           "corrected PET")
        if ("DECY" in corrected) != (decay_correction != "NONE"):
            raise SuvError(f"CorrectedImage (0028,0051) {corrected} contradicts DecayCorrection (0054,1102) "
                           f"{decay_correction}")
    else:
        rules["corrections"] = "CorrectedImage (0028,0051) absent: attenuation correction not verified"
    item = _radiopharm(first)
    if item is None:
        raise SuvError("RadiopharmaceuticalInformationSequence (0054,0016) is missing: no dose, injection time "
                       "or half-life")
    dose_bq = _dose_bq(item, rules)
    half_life, nuclide = _half_life_s(item, rules)
    decay_constant = math.log(2.0) / half_life
    size, size_unit, what = _body_size(requested, patient, lbm_formula)
    rules["body_size"] = f"{what}: {size:g} {size_unit}"
    series_date, series_time = _date(first, "SeriesDate"), _time(first, "SeriesTime")
    series_dt = dt.datetime.combine(series_date, series_time) if series_date and series_time else None
    acq = [_acquisition_datetime(ds, i) for i, ds in enumerate(datasets)]
    known = [t for t in acq if t is not None]
    earliest = min(known) if known else None
    injection = _injection_datetime(first, item, series_dt, earliest, rules)
    common = dict(decay_correction=decay_correction, injection_datetime=injection, injected_dose_bq=dose_bq,
                  half_life_s=half_life, nuclide=nuclide, body_size=size, body_size_unit=size_unit)

    if decay_correction == "NONE":
        factors = np.empty(n)
        for i, (ds, t) in enumerate(zip(datasets, acq)):
            if t is None:
                raise SuvError(f"DecayCorrection NONE needs the acquisition time of every slice; "
                               f"{_slice_label(ds, i)} has no AcquisitionDateTime/AcquisitionTime")
            elapsed = (t - injection).total_seconds()
            if elapsed < -SERIES_TIME_TOLERANCE_S:
                raise SuvError(f"{_slice_label(ds, i)}: acquisition {t.isoformat()} is before the injection "
                               f"{injection.isoformat()}")
            duration_s = _frame_duration_s(ds, i)
            within = frame_decay_factor(decay_constant, duration_s) if duration_s is not None else 1.0
            factors[i] = size / dose_bq * math.exp(decay_constant * elapsed) * within
        rules["reference"] = ("DecayCorrection NONE: each slice decayed back to injection from its own acquisition "
                              "time, with λT/(1−e^(−λT)) for the decay within ActualFrameDuration (0018,1242) "
                              "where given")
        return result(factors * activity_scale, reference_datetime=injection, decayed_dose_bq=dose_bq, **common)

    if decay_correction == "ADMIN":
        reference = injection
        rules["reference"] = "DecayCorrection ADMIN: image decay-corrected to the injection time"
    else:
        reference = _start_reference(datasets, series_dt, acq, decay_constant, rules)
    elapsed = (reference - injection).total_seconds()
    if elapsed < -SERIES_TIME_TOLERANCE_S:
        raise SuvError(f"decay-correction reference {reference.isoformat()} ({rules['reference']}) is before the "
                       f"injection {injection.isoformat()} ({rules['injection']})")
    decayed = dose_bq * math.exp(-decay_constant * elapsed)
    return result(activity_scale * size / decayed, reference_datetime=reference, decayed_dose_bq=decayed, **common)


def to_suv(values_by_slice: np.ndarray, datasets: Sequence, suv_type: str = "bw", *,
           lbm_formula: str = "janmahasatian") -> np.ndarray:
    """SUV array from rescaled values ``(nz, ny, nx)`` whose slice ``k`` belongs to ``datasets[k]``."""
    values = np.asarray(values_by_slice, dtype=float)
    if values.ndim != 3:
        raise SuvError(f"values_by_slice must be 3-D (nz, ny, nx), got shape {values.shape}")
    if values.shape[0] != len(datasets):
        raise SuvError(f"values_by_slice has {values.shape[0]} slices but {len(datasets)} DICOM datasets were given")
    factors = suv_factors(datasets, suv_type, lbm_formula=lbm_formula).factors
    return values * factors[:, None, None]


# Image units acceptable for each DICOM Units value, with the factor to the header's unit.
_IMAGE_UNITS = MappingProxyType({
    "BQML": MappingProxyType({"Bq/mL": 1.0, "kBq/mL": 1000.0, "1": 1.0}),
    "CNTS": MappingProxyType({"counts": 1.0, "1": 1.0}),
    "GML": MappingProxyType({"g/mL": 1.0, "1": 1.0}),
    "CM2ML": MappingProxyType({"cm2/mL": 1.0, "SUVbsa": 1.0, "1": 1.0}),
})


def image_to_suv(image: Image, datasets: Sequence, suv_type: str = "bw", *,
                 lbm_formula: str = "janmahasatian", position_tol_mm: float = 0.1) -> Image:
    """SUV image from an image of rescaled PET values and the headers of its slices (``datasets[k]`` ↔ slice k).

    The image unit must match the header Units (Bq/mL or kBq/mL for BQML, counts for CNTS, g/mL or
    the stored SUV unit for GML, cm2/mL or SUVbsa for CM2ML; '1' means "as rescaled").  Where the
    headers carry ImagePositionPatient, each slice position is checked against the image geometry.
    The provenance of :func:`suv_factors` is stored in ``meta['suv']``.
    """
    if not isinstance(image, Image):
        raise TypeError(f"image_to_suv needs a theranomics Image, got {type(image).__name__}")
    datasets = list(datasets)
    if image.shape[0] != len(datasets):
        raise SuvError(f"image has {image.shape[0]} slices but {len(datasets)} DICOM datasets were given")
    result = suv_factors(datasets, suv_type, lbm_formula=lbm_formula)
    accepted = dict(_IMAGE_UNITS[result.units])
    if result.units == "GML":
        stored_tag = _text(datasets[0], "SUVType")
        stored = DICOM_SUV_TYPES.get((stored_tag or "BW").upper(), "bw")
        accepted[SUV_UNITS[stored]] = 1.0
    if image.unit not in accepted:
        raise SuvError(f"image unit {image.unit!r} does not match Units (0054,1001) {result.units} of the "
                       f"headers; expected one of {sorted(accepted)}")
    for k, ds in enumerate(datasets):
        ipp = _raw(ds, "ImagePositionPatient")
        if ipp is None:
            continue
        expected = image.geometry.index_to_world(np.array([0.0, 0.0, k]))
        if not np.allclose(np.asarray(ipp, dtype=float), expected, atol=position_tol_mm):
            raise SuvError(f"{_slice_label(ds, k)}: ImagePositionPatient {list(map(float, ipp))} does not match "
                           f"image slice {k} at {expected.round(3).tolist()} mm; datasets must be in image slice order")
    suv = np.asarray(image.array, dtype=float) * accepted[image.unit] * result.factors[:, None, None]
    return image.with_array(suv, unit=result.unit, suv=result.provenance())


__all__ = ["SUV_TYPES", "SUV_UNITS", "DICOM_SUV_TYPES", "DOSE_MBQ_THRESHOLD", "WEIGHT_GRAM_THRESHOLD",
           "HEIGHT_CM_THRESHOLD", "HALF_LIFE_RTOL", "SERIES_TIME_TOLERANCE_S", "SuvError", "SuvResult",
           "suv_factors", "to_suv", "image_to_suv", "frame_decay_factor", "nuclide_from_code"]
