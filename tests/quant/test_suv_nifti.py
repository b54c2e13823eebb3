"""SUV from an activity-concentration image plus patient/administration data (the NIfTI path),
checked against the OncoRay SUV DROs' expected values and against the DICOM-header path."""
from __future__ import annotations

import csv
import datetime as dt
import functools
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest

from theranomics.core.image import Geometry, Image
from theranomics.core.study import Administration, Patient
from theranomics.quant.suv import SUV_TYPES, SuvError, image_to_suv
from theranomics.quant.suv_nifti import suv_from_activity_concentration

T_INJ = dt.datetime(2025, 1, 1, 10, 0, 0)      # RadiopharmaceuticalStartDateTime of DRO_0_0 / DRO_5_0
T_ACQ = dt.datetime(2025, 1, 1, 11, 0, 0)      # SeriesDate/SeriesTime (DecayCorrection START)


@functools.lru_cache(maxsize=None)
def _dro(refdata: Path, dro: str):
    """(datasets in slice order, Bq/mL image, mask [k, j, i]) read with pydicom/nibabel directly."""
    root = refdata / "suv_dro" / "DRO" / dro
    datasets = [pydicom.dcmread(p) for p in sorted((root / "PT").glob("*.dcm"))]
    datasets.sort(key=lambda ds: float(ds.ImagePositionPatient[2]))
    values = np.stack([ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept) for ds in datasets])
    first = datasets[0]
    spacing = (float(first.PixelSpacing[1]), float(first.PixelSpacing[0]),
               float(datasets[1].ImagePositionPatient[2]) - float(first.ImagePositionPatient[2]))
    image = Image(values, Geometry(values.shape, spacing, tuple(float(v) for v in first.ImagePositionPatient)),
                  "Bq/mL", "PT")
    mask = np.asarray(nib.load(root / "mask" / "DRO_mask.nii.gz").dataobj).transpose(2, 1, 0) > 0
    return datasets, image, mask


def _header_inputs(ds, nuclide: str) -> tuple[Patient, Administration]:
    """Patient and administration as a user would type them from the DRO header (kg, cm, MBq)."""
    item = ds.RadiopharmaceuticalInformationSequence[0]
    return (Patient("DRO", float(ds.PatientWeight), 100.0 * float(ds.PatientSize), str(ds.PatientSex)),
            Administration(str(item.Radiopharmaceutical), nuclide, float(item.RadionuclideTotalDose) / 1e6, T_INJ))


@pytest.mark.parametrize("dro, nuclide", [("DRO_0_0", "F-18"), ("DRO_5_0", "Ga-68")])
def test_dro_expected_suvbw(refdata, dro, nuclide):
    """SUVbw min/median/max in the mask equal DRO_list.csv (0.20 / 1.00 / 4.00, 2 decimals)."""
    datasets, image, mask = _dro(refdata, dro)
    patient, admin = _header_inputs(datasets[0], nuclide)
    suv = suv_from_activity_concentration(image, patient, admin, T_ACQ, "bw")
    assert suv.unit == "SUVbw" and suv.geometry is image.geometry
    with open(refdata / "suv_dro" / "DRO" / "DRO_list.csv", newline="") as fh:
        expected = next(r for r in csv.DictReader(fh) if r["ID"] == dro)
    inside = suv.array[mask]
    for name, value in (("SUVmin", inside.min()), ("SUVmed", np.median(inside)), ("SUVmax", inside.max())):
        assert abs(round(float(value), 2) - float(expected[f"{name}_expected"])) <= 0.005 + 1e-9, (name, value)
    assert suv.meta["suv"]["nuclide"] == nuclide and suv.meta["suv"]["reference_datetime"] == T_ACQ.isoformat()


@pytest.mark.parametrize("suv_type", SUV_TYPES)
def test_same_numbers_as_the_dicom_path(refdata, suv_type):
    """Every SUV type equals :func:`image_to_suv` on the same series (headers read by quant.suv)."""
    datasets, image, _ = _dro(refdata, "DRO_0_0")
    patient, admin = _header_inputs(datasets[0], "F-18")
    ours = suv_from_activity_concentration(image, patient, admin, T_ACQ, suv_type)
    ref = image_to_suv(image, datasets, suv_type)
    assert ours.unit == ref.unit
    np.testing.assert_allclose(ours.array, ref.array, rtol=2e-6, atol=1e-7)
    assert ours.meta["suv"]["body_size"] == pytest.approx(ref.meta["suv"]["body_size"], rel=1e-12)
    assert ours.meta["suv"]["decayed_dose_bq"] == pytest.approx(ref.meta["suv"]["decayed_dose_bq"], rel=1e-9)


def test_kbq_unit(refdata):
    datasets, image, _ = _dro(refdata, "DRO_0_0")
    patient, admin = _header_inputs(datasets[0], "F-18")
    bq = suv_from_activity_concentration(image, patient, admin, T_ACQ)
    kbq = suv_from_activity_concentration(image.with_array(image.array * 1e-3, unit="kBq/mL"), patient, admin, T_ACQ)
    np.testing.assert_allclose(kbq.array, bq.array, rtol=1e-6)


def test_errors_name_the_field(refdata):
    datasets, image, _ = _dro(refdata, "DRO_0_0")
    patient, admin = _header_inputs(datasets[0], "F-18")
    cases = [
        (dict(image_bq_ml=image.with_array(image.array, unit="SUVbw")), r"image unit is 'SUVbw'.*Bq/mL"),
        (dict(suv_type="lbm"), r"unknown suv_type 'lbm'"),
        (dict(patient=Patient("P1", None, 175.0, "M")), r"patient P1: SUV type 'bw' needs patient.weight_kg"),
        (dict(patient=Patient("P1", 70.0, None, "M"), suv_type="bsa"), r"needs patient.height_cm"),
        (dict(patient=Patient("P1", 70.0, 175.0, None), suv_type="lbm-james"), r"needs patient.sex"),
        (dict(patient=Patient("P1", 70.0, None, None), suv_type="sul"), r"needs patient.height_cm, patient.sex"),
        (dict(acquisition_time=T_INJ - dt.timedelta(minutes=5)), "is before the administration"),
        (dict(administration=Administration("x", "Xx-999", 300.0, T_INJ)), "administration nuclide 'Xx-999'"),
        (dict(lbm_formula="boer", suv_type="sul"), "unknown lbm_formula 'boer'"),
    ]
    base = dict(image_bq_ml=image, patient=patient, administration=admin, acquisition_time=T_ACQ, suv_type="bw")
    for change, match in cases:
        with pytest.raises(SuvError, match=match):
            suv_from_activity_concentration(**{**base, **change})
    with pytest.raises(TypeError, match="must be a theranomics Image"):
        suv_from_activity_concentration(image.array, patient, admin, T_ACQ)
