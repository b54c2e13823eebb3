"""SUV conversion against the OncoRay SUV digital reference objects (shared/data/suv_dro).

Every DRO holds the same phantom (SUVbw: cold sphere 0.20, background 1.00, hot sphere 4.00) under
a different header convention; DRO_list.csv gives the expected SUVbw min/median/max in the mask.
DRO_2_1/2_2/2_3 store SUVlbm-james128 / SUVibw / SUVbsa: converting them to SUVbw goes through
the body-size ratio, which checks those formulas against the DRO author's.
"""
from __future__ import annotations

import csv
import functools
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest

from theranomics.core.image import Geometry, Image
from theranomics.quant.suv import SuvError, image_to_suv, suv_factors, to_suv

DRO_IDS = [f"DRO_{a}" for a in ("0_0", "1_0", "2_0", "2_1", "2_2", "2_3", "2_4", "2_5", "3_0", "3_1", "3_2",
                                "3_3", "3_4", "4_0", "4_1", "4_2", "5_0")]

# The SUV type each DRO's header stores or implies (brief, DRO_list.csv descriptions).
STORED_SUV = {"DRO_2_0": "SUVType (0054,1006) BW", "DRO_2_1": "SUVType (0054,1006) LBMJAMES128",
              "DRO_2_2": "SUVType (0054,1006) IBW", "DRO_2_3": "SUVType (0054,1006) BSA"}


def dro_root(refdata: Path) -> Path:
    return refdata / "suv_dro" / "DRO"


@functools.lru_cache(maxsize=None)
def load_dro(root: str, dro: str) -> tuple[list, np.ndarray]:
    """Slices sorted by ImagePositionPatient projected on the slice normal, and rescaled values (nz, ny, nx)."""
    datasets = [pydicom.dcmread(p) for p in sorted(Path(root, dro, "PT").glob("*.dcm"))]
    row, col = np.asarray(datasets[0].ImageOrientationPatient, dtype=float).reshape(2, 3)
    normal = np.cross(row, col)
    datasets.sort(key=lambda ds: float(np.dot(normal, np.asarray(ds.ImagePositionPatient, dtype=float))))
    values = np.stack([ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept) for ds in datasets])
    return datasets, values


@functools.lru_cache(maxsize=None)
def load_mask(root: str, dro: str) -> np.ndarray:
    """NIfTI mask, axis order (column, row, slice) of the DICOM pixel array → [k, j, i]."""
    array = np.asarray(nib.load(Path(root, dro, "mask", "DRO_mask.nii.gz")).dataobj)
    return array.transpose(2, 1, 0) > 0


def expected_rows(refdata: Path) -> dict[str, dict]:
    with open(dro_root(refdata) / "DRO_list.csv", newline="") as handle:
        return {row["ID"]: row for row in csv.DictReader(handle)}


@pytest.mark.parametrize("dro", DRO_IDS)
def test_dro_suvbw_statistics(refdata, dro):
    root = str(dro_root(refdata))
    datasets, values = load_dro(root, dro)
    expected = expected_rows(refdata)[dro]
    suv = to_suv(values, datasets, "bw")
    inside = suv[load_mask(root, dro)]
    measured = {"SUVmin": inside.min(), "SUVmed": np.median(inside), "SUVmax": inside.max()}
    # DRO_2_3 stores SUVbsa as int16 with slope 0.01: exact back-conversion is 0.189/0.985/3.977.
    tol = 0.025 if dro == "DRO_2_3" else 0.005
    for name, value in measured.items():
        assert abs(round(float(value), 2) - float(expected[f"{name}_expected"])) <= tol + 1e-9, (dro, name, value)
    rules = suv_factors(datasets, "bw").rules
    if dro in STORED_SUV:
        assert rules["stored_suv"] == STORED_SUV[dro]


@pytest.mark.parametrize("dro, stored", [("DRO_2_1", "lbm-james128"), ("DRO_2_2", "ibw"), ("DRO_2_3", "bsa"),
                                         ("DRO_2_0", "bw")])
def test_dro_stored_suv_type_gives_factor_one(refdata, dro, stored):
    datasets, _ = load_dro(str(dro_root(refdata)), dro)
    result = suv_factors(datasets, stored)
    np.testing.assert_array_equal(result.factors, 1.0)
    assert result.injected_dose_bq is None  # not needed, not read


def test_dro_provenance_default(refdata):
    datasets, _ = load_dro(str(dro_root(refdata)), "DRO_0_0")
    result = suv_factors(datasets, "bw")
    assert result.reference_datetime.isoformat() == "2025-01-01T11:00:00"
    assert result.injection_datetime.isoformat() == "2025-01-01T10:00:00"
    assert result.injected_dose_bq == 368080000.0
    assert result.body_size == 70000.0 and result.body_size_unit == "g"
    assert result.half_life_s == 6586.2 and result.nuclide == "F-18"
    # analytic decay over one hour: D × 2^(−3600 / T½)
    assert result.decayed_dose_bq == pytest.approx(368080000.0 * 0.5 ** (3600.0 / 6586.2), rel=1e-12)
    assert "SeriesDate/SeriesTime" in result.rules["reference"]


def test_dro_frame_reference_rule(refdata):
    """DRO_3_2: series time after acquisition → acquisition + decay-weighted frame mid-time − FrameReferenceTime."""
    datasets, _ = load_dro(str(dro_root(refdata)), "DRO_3_2")
    result = suv_factors(datasets, "bw")
    lam = np.log(2) / 6586.2
    mean_s = np.log(lam * 603.0 / (1 - np.exp(-lam * 603.0))) / lam  # QIBA average count-rate time
    offset = (result.reference_datetime - result.injection_datetime).total_seconds()
    # earliest acquisition 11:02:30 (injection 10:00 + 3750 s), FrameReferenceTime 450 s
    assert offset == pytest.approx(3750.0 + mean_s - 450.0, abs=1e-3)
    assert "FrameReferenceTime" in result.rules["reference"]


def test_dro_mask_orientation_matches_rtstruct(refdata):
    """The NIfTI mask, read as (column, row, slice), covers the RTSTRUCT contour polygons."""
    from skimage.draw import polygon2mask
    root = dro_root(refdata)
    datasets, _ = load_dro(str(root), "DRO_0_0")
    mask = load_mask(str(root), "DRO_0_0")
    rs = pydicom.dcmread(next((root / "DRO_0_0" / "RS").glob("*.dcm")))
    spacing = np.asarray(datasets[0].PixelSpacing, dtype=float)  # (row spacing, column spacing)
    z = [float(ds.ImagePositionPatient[2]) for ds in datasets]
    checked = 0
    for contour in rs.ROIContourSequence[0].ContourSequence:
        points = np.asarray(contour.ContourData, dtype=float).reshape(-1, 3)
        k = int(np.argmin(np.abs(np.asarray(z) - points[0, 2])))
        col = (points[:, 0] - float(datasets[k].ImagePositionPatient[0])) / spacing[1]
        row = (points[:, 1] - float(datasets[k].ImagePositionPatient[1])) / spacing[0]
        polygon = polygon2mask(mask.shape[1:], np.column_stack([row, col]))
        dice = 2 * np.sum(polygon & mask[k]) / (polygon.sum() + mask[k].sum())
        assert dice > 0.97, (k, dice)
        checked += 1
    assert checked > 0


def dro_image(datasets, values, unit) -> Image:
    first = datasets[0]
    spacing = (float(first.PixelSpacing[1]), float(first.PixelSpacing[0]),
               float(datasets[1].ImagePositionPatient[2]) - float(first.ImagePositionPatient[2]))
    geometry = Geometry(values.shape, spacing, tuple(float(v) for v in first.ImagePositionPatient))
    return Image(values, geometry, unit, "PT")


def test_image_to_suv(refdata):
    datasets, values = load_dro(str(dro_root(refdata)), "DRO_1_0")
    image = dro_image(datasets, values, "Bq/mL")
    suv = image_to_suv(image, datasets, "bw")
    assert suv.unit == "SUVbw"
    mask = load_mask(str(dro_root(refdata)), "DRO_1_0")
    assert np.max(suv.array[mask]) == pytest.approx(4.0, abs=5e-3)
    assert suv.meta["suv"]["reference_datetime"] == "2025-01-01T11:00:00"
    assert suv.geometry is image.geometry
    kbq = image_to_suv(dro_image(datasets, values / 1000.0, "kBq/mL"), datasets, "bw")
    np.testing.assert_allclose(kbq.array, suv.array, rtol=1e-12)


def test_image_to_suv_units(refdata):
    datasets, values = load_dro(str(dro_root(refdata)), "DRO_2_1")
    image = image_to_suv(dro_image(datasets, values, "SUVlbm"), datasets, "lbm-james128")
    assert image.unit == "SUVlbm"
    np.testing.assert_allclose(image.array, values)
    sul = image_to_suv(dro_image(datasets, values, "g/mL"), datasets, "sul")
    assert sul.unit == "SUL"


def test_image_to_suv_rejects_wrong_unit(refdata):
    datasets, values = load_dro(str(dro_root(refdata)), "DRO_0_0")
    with pytest.raises(SuvError, match=r"image unit 'SUVbw' does not match Units \(0054,1001\) BQML"):
        image_to_suv(dro_image(datasets, values, "SUVbw"), datasets, "bw")


def test_image_to_suv_rejects_wrong_slice_order(refdata):
    datasets, values = load_dro(str(dro_root(refdata)), "DRO_0_0")
    with pytest.raises(SuvError, match="ImagePositionPatient .* does not match image slice 0"):
        image_to_suv(dro_image(datasets, values, "Bq/mL"), datasets[::-1], "bw")


def test_image_to_suv_rejects_slice_count(refdata):
    datasets, values = load_dro(str(dro_root(refdata)), "DRO_0_0")
    with pytest.raises(SuvError, match="image has 20 slices but 19 DICOM datasets"):
        image_to_suv(dro_image(datasets, values, "Bq/mL"), datasets[:-1], "bw")
    with pytest.raises(TypeError, match="needs a theranomics Image"):
        image_to_suv(values, datasets, "bw")


def test_to_suv_rejects_shape(refdata):
    datasets, values = load_dro(str(dro_root(refdata)), "DRO_0_0")
    with pytest.raises(SuvError, match="20 slices but 19 DICOM datasets"):
        to_suv(values, datasets[:-1], "bw")
    with pytest.raises(SuvError, match="must be 3-D"):
        to_suv(values[0], datasets, "bw")
