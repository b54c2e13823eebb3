"""SUV of an activity-concentration image (NIfTI in Bq/mL) from patient and administration data.

The DICOM path (:func:`theranomics.quant.suv.image_to_suv`) reads weight, dose and times from the
PET headers; a NIfTI image has none of them, so they are given explicitly (from ``study.json`` in
the study layout).  Same formula, same body-size definitions:

    SUV = C(t_ref) [Bq/mL] × S / (A_inj [Bq] · exp(−λ (t_ref − t_inj)))

with ``S`` the body size of ``suv_type`` (weight, lean or ideal body mass in g; body-surface area
in cm² — :mod:`theranomics.quant.body_size`), ``A_inj`` the net administered activity at
``t_inj``, λ from :mod:`theranomics.nuclides` (ICRP-107) and ``t_ref`` the time the image's
concentrations refer to (QIBA FDG-PET/CT profile; Kinahan & Fletcher, Semin Ultrasound CT MRI 31
(2010) 496; Vácha et al., "Standardizing SUV computation").
"""
from __future__ import annotations

import datetime as dt
import math
from types import MappingProxyType

from .. import nuclides
from ..core.image import Image
from ..core.study import Administration, Patient
from .body_size import LBM_FORMULAS
from .suv import SUV_TYPES, SUV_UNITS, SuvError, _body_size, _Patient

#: Image units accepted, with the factor to Bq/mL.
ACTIVITY_UNITS = MappingProxyType({"Bq/mL": 1.0, "kBq/mL": 1.0e3})
#: Patient fields each body size needs (the formulas: :mod:`theranomics.quant.body_size`).
_NEEDS = {"bw": ("weight_kg",), "bsa": ("weight_kg", "height_cm"), "ibw": ("height_cm", "sex")}


def suv_from_activity_concentration(image_bq_ml: Image, patient: Patient, administration: Administration,
                                    acquisition_time: dt.datetime, suv_type: str = "bw", *,
                                    lbm_formula: str = "janmahasatian") -> Image:
    """SUV image (unit ``SUVbw``, ``SUVlbm``, ``SUVbsa``, ``SUVibw`` or ``SUL``) of ``image_bq_ml``.

    ``image_bq_ml``: activity concentration (unit Bq/mL or kBq/mL) at ``acquisition_time``
    (the time it is decay corrected to; for a non-decay-corrected image, the acquisition start).
    ``patient``: weight (all types), height and sex (lean/ideal body mass, body-surface area).
    ``suv_type``: one of :data:`theranomics.quant.suv.SUV_TYPES`; ``lbm_formula`` is SUL's lean
    body mass.  Raises :class:`~theranomics.quant.suv.SuvError` naming the missing or bad field.
    """
    if not isinstance(image_bq_ml, Image):
        raise TypeError(f"image_bq_ml must be a theranomics Image, got {type(image_bq_ml).__name__}")
    if suv_type not in SUV_UNITS:
        raise SuvError(f"unknown suv_type {suv_type!r}; valid names: {', '.join(SUV_TYPES)}")
    if image_bq_ml.unit not in ACTIVITY_UNITS:
        raise SuvError(f"image unit is {image_bq_ml.unit!r}; an SUV needs an activity concentration in "
                       f"{', '.join(ACTIVITY_UNITS)}")
    if not isinstance(acquisition_time, dt.datetime):
        raise SuvError(f"acquisition_time must be a datetime, got {type(acquisition_time).__name__}")
    if (acquisition_time.tzinfo is None) != (administration.time.tzinfo is None):
        raise SuvError("acquisition_time and administration.time: one has a time zone and the other has not")
    elapsed_s = (acquisition_time - administration.time).total_seconds()
    if elapsed_s < 0:
        raise SuvError(f"acquisition_time {acquisition_time.isoformat()} is before the administration "
                       f"({administration.time.isoformat()})")
    try:
        decay = nuclides.decay_factor(administration.nuclide, administration.time, acquisition_time)
    except ValueError as exc:
        raise SuvError(f"administration nuclide {administration.nuclide!r}: {exc}") from None
    if lbm_formula not in LBM_FORMULAS:
        raise SuvError(f"unknown lbm_formula {lbm_formula!r}; valid names: {', '.join(LBM_FORMULAS)}")
    kind = f"lbm-{lbm_formula}" if suv_type == "sul" else suv_type
    fields = {"weight_kg": patient.weight_kg, "height_cm": patient.height_cm, "sex": patient.sex}
    missing = [f"patient.{name}" for name in _NEEDS.get(kind, ("weight_kg", "height_cm", "sex")) if fields[name] is None]
    if missing:
        raise SuvError(f"patient {patient.patient_id}: SUV type {suv_type!r} needs {', '.join(missing)} "
                       "(study.json patient fields)")
    height_m = None if patient.height_cm is None else patient.height_cm / 100.0
    size, size_unit, what = _body_size(kind, _Patient(patient.weight_kg, height_m, patient.sex), lbm_formula)
    decayed_bq = administration.activity_mbq * 1.0e6 * decay
    factor = ACTIVITY_UNITS[image_bq_ml.unit] * size / decayed_bq
    if not math.isfinite(factor):
        raise SuvError(f"SUV factor is not finite (decayed activity {decayed_bq} Bq)")
    meta = {"suv_type": suv_type, "unit": SUV_UNITS[suv_type], "units": image_bq_ml.unit,
            "reference_datetime": acquisition_time.isoformat(), "injection_datetime": administration.time.isoformat(),
            "injected_dose_bq": administration.activity_mbq * 1.0e6, "decayed_dose_bq": decayed_bq,
            "half_life_s": nuclides.half_life_s(administration.nuclide), "nuclide": administration.nuclide,
            "body_size": size, "body_size_unit": size_unit, "weight_kg": patient.weight_kg, "height_m": height_m,
            "sex": patient.sex,
            "rules": {"source": "activity concentration + patient/administration (study.json)", "body_size": what}}
    return image_bq_ml.with_array(image_bq_ml.array.astype("float32") * factor, unit=SUV_UNITS[suv_type], suv=meta)


__all__ = ["ACTIVITY_UNITS", "suv_from_activity_concentration"]
