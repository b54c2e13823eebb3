"""Bad input: each error is a DicomReadError/DicomWriteError naming the file(s) and the field."""
from __future__ import annotations

import datetime as dt
import re
import shutil

import numpy as np
import pydicom
import pytest

from theranomics.core import Geometry, LabelMap
from theranomics.io.dicom import (DicomReadError, DicomWriteError, read_patient_and_administration, read_rtstruct,
                                  read_seg, read_series, scan_folder, write_ct_series, write_pet_series, write_seg)


def _edit(path, **changes):
    ds = pydicom.dcmread(path)
    for keyword, value in changes.items():
        if value is None:
            delattr(ds, keyword)
        else:
            setattr(ds, keyword, value)
    ds.save_as(path)


def test_empty_folder(tmp_path):
    with pytest.raises(DicomReadError, match=re.escape(str(tmp_path))):
        scan_folder(tmp_path)
    with pytest.raises(DicomReadError, match="no DICOM files"):
        read_series(tmp_path)


def test_folder_of_non_dicom_files_is_like_empty(tmp_path):
    (tmp_path / "image.nii.gz").write_bytes(b"\x1f\x8b not dicom")
    (tmp_path / "image.json").write_text("{}")
    with pytest.raises(DicomReadError, match="no DICOM files"):
        scan_folder(tmp_path)


def test_pet_and_ct_in_one_folder_needs_a_choice(tmp_path, dro_root, make_image, patient):
    shutil.copytree(dro_root / "DRO_0_0" / "PT", tmp_path / "pt")
    write_ct_series(make_image("HU", "CT"), tmp_path / "ct", patient, acquisition_time=dt.datetime(2025, 1, 1, 10))
    with pytest.raises(DicomReadError) as err:
        read_series(tmp_path)
    message = str(err.value)
    assert "2 series" in message and "modality=PT" in message and "modality=CT" in message
    assert "series_uid=" in message and "choose one with series_uid=... or modality=..." in message
    assert str(tmp_path / "ct" / "CT_0001.dcm") in message
    assert read_series(tmp_path, modality="CT").modality == "CT"
    uid = next(s.series_uid for s in scan_folder(tmp_path) if s.modality == "PT")
    assert read_series(tmp_path, series_uid=uid).modality == "PT"
    with pytest.raises(DicomReadError, match="no series matching modality='NM'"):
        read_series(tmp_path, modality="NM")


def test_missing_middle_slice(dro_pet_copy):
    (dro_pet_copy / "pet_dro_0_0_slice_010.dcm").unlink()
    with pytest.raises(DicomReadError) as err:
        read_series(dro_pet_copy)
    message = str(err.value)
    assert "expected 4 mm" in message and "found 8 mm" in message and "missing" in message
    assert "pet_dro_0_0_slice_009.dcm" in message and "pet_dro_0_0_slice_011.dcm" in message


def test_irregular_slice_spacing(dro_pet_copy):
    f = dro_pet_copy / "pet_dro_0_0_slice_005.dcm"
    _edit(f, ImagePositionPatient=[0.0, 0.0, 21.0])
    with pytest.raises(DicomReadError, match=r"irregular slice spacing.*slice_004\.dcm.*slice_005\.dcm"):
        read_series(dro_pet_copy)


def test_duplicate_position(dro_pet_copy):
    _edit(dro_pet_copy / "pet_dro_0_0_slice_007.dcm", ImagePositionPatient=[0.0, 0.0, 24.0])
    with pytest.raises(DicomReadError, match=r"duplicate slice position.*slice_00[67]\.dcm.*slice_00[67]\.dcm"):
        read_series(dro_pet_copy)


def test_varying_pixel_spacing(dro_pet_copy):
    _edit(dro_pet_copy / "pet_dro_0_0_slice_003.dcm", PixelSpacing=[2.0, 2.0])
    with pytest.raises(DicomReadError, match=r"PixelSpacing \(0028,0030\).*slice_00[03]\.dcm.*slice_003\.dcm"):
        read_series(dro_pet_copy)


def test_mixed_orientation(dro_pet_copy):
    _edit(dro_pet_copy / "pet_dro_0_0_slice_012.dcm", ImageOrientationPatient=[0.0, 1.0, 0.0, 1.0, 0.0, 0.0])
    with pytest.raises(DicomReadError, match=r"mixed ImageOrientationPatient.*slice_012\.dcm"):
        read_series(dro_pet_copy)


def test_missing_image_position(dro_pet_copy):
    _edit(dro_pet_copy / "pet_dro_0_0_slice_004.dcm", ImagePositionPatient=None)
    with pytest.raises(DicomReadError, match=r"slice_004\.dcm: missing required tag ImagePositionPatient \(0020,0032\)"):
        read_series(dro_pet_copy)


def test_missing_units_and_unknown_units(dro_pet_copy):
    for f in dro_pet_copy.glob("*.dcm"):
        _edit(f, Units="PROPCNTS")
    with pytest.raises(DicomReadError, match=r"slice_000\.dcm: PET Units \(0054,1001\) 'PROPCNTS' not supported"):
        read_series(dro_pet_copy)
    for f in dro_pet_copy.glob("*.dcm"):
        _edit(f, Units=None)
    with pytest.raises(DicomReadError, match=r"missing required tag Units \(0054,1001\)"):
        read_series(dro_pet_copy)


def test_corrupt_file(dro_pet_copy):
    f = dro_pet_copy / "pet_dro_0_0_slice_008.dcm"
    f.write_bytes(f.read_bytes()[:100])
    for reader in (scan_folder, read_series):
        with pytest.raises(DicomReadError, match=r"slice_008\.dcm: not a readable DICOM file"):
            reader(dro_pet_copy)


def test_truncated_pixel_data(dro_pet_copy):
    f = dro_pet_copy / "pet_dro_0_0_slice_008.dcm"
    data = f.read_bytes()
    f.write_bytes(data[: len(data) - 5000])
    with pytest.raises(DicomReadError, match=r"slice_008\.dcm"):
        read_series(dro_pet_copy)


def test_missing_series_uid(dro_pet_copy):
    _edit(dro_pet_copy / "pet_dro_0_0_slice_002.dcm", SeriesInstanceUID=None)
    with pytest.raises(DicomReadError, match=r"slice_002\.dcm: missing required tag SeriesInstanceUID \(0020,000E\)"):
        scan_folder(dro_pet_copy)


def test_rtstruct_without_rois(dro_root, tmp_path):
    rs = pydicom.dcmread(next((dro_root / "DRO_0_0" / "RS").glob("*.dcm")))
    rs.StructureSetROISequence = pydicom.Sequence()
    rs.ROIContourSequence = pydicom.Sequence()
    rs.save_as(tmp_path / "rs.dcm")
    with pytest.raises(DicomReadError, match=r"rs\.dcm: the RTSTRUCT has no ROIs"):
        read_rtstruct(tmp_path / "rs.dcm", Geometry((20, 256, 256), (4, 4, 4)))


def test_rtstruct_contour_off_the_grid_names_the_roi(dro_root):
    rs = next((dro_root / "DRO_0_0" / "RS").glob("*.dcm"))
    shifted = Geometry((20, 256, 256), (4.0, 4.0, 4.0), (0.0, 0.0, 40.0))  # z from 40 to 116 mm
    with pytest.raises(DicomReadError, match=r"ROI 'region_1' contour 1 at z=8 mm lies on no slice"):
        read_rtstruct(rs, shifted)
    between = Geometry((20, 256, 256), (4.0, 4.0, 4.0), (0.0, 0.0, 2.0))
    with pytest.raises(DicomReadError, match=r"ROI 'region_1' contour 1 .* does not lie on a slice"):
        read_rtstruct(rs, between)
    with pytest.raises(DicomReadError, match=r"no ROI named \['liver'\]; the RTSTRUCT has \['region_1'\]"):
        read_rtstruct(rs, Geometry((20, 256, 256), (4, 4, 4)), roi_names=["liver"])


def test_rtstruct_wrong_modality(dro_root):
    with pytest.raises(DicomReadError, match=r"slice_000\.dcm: Modality \(0008,0060\) is 'PT', expected 'RTSTRUCT'"):
        read_rtstruct(dro_root / "DRO_0_0" / "PT" / "pet_dro_0_0_slice_000.dcm", Geometry((20, 256, 256)))


def test_seg_errors(dro_root, tmp_path):
    geometry = read_series(dro_root / "DRO_0_0" / "PT").image.geometry
    with pytest.raises(DicomWriteError, match="label map is empty"):
        write_seg(LabelMap(np.zeros(geometry.shape, np.int32), geometry, {1: "lesion"}), dro_root / "DRO_0_0" / "PT",
                  tmp_path / "seg.dcm")
    other = Geometry(geometry.shape, (2.0, 2.0, 2.0))
    with pytest.raises(DicomWriteError, match="different voxel grids"):
        write_seg(LabelMap(np.ones(geometry.shape, np.int32), other), dro_root / "DRO_0_0" / "PT", tmp_path / "s.dcm")
    with pytest.raises(DicomReadError, match=r"slice_000\.dcm: not a readable DICOM SEG"):
        read_seg(dro_root / "DRO_0_0" / "PT" / "pet_dro_0_0_slice_000.dcm")


def test_writer_input_errors(tmp_path, make_image, patient, lu_administration):
    t = dt.datetime(2024, 5, 6, 14, 0)
    with pytest.raises(DicomWriteError, match="image unit is 'counts'; expected 'Bq/mL'"):
        write_pet_series(make_image("counts", "NM"), tmp_path / "a", patient, lu_administration,
                         acquisition_time=t, frame_duration_s=600)
    with pytest.raises(DicomWriteError, match="frame_duration_s must be positive"):
        write_pet_series(make_image("Bq/mL", "PT"), tmp_path / "b", patient, lu_administration,
                         acquisition_time=t, frame_duration_s=0)
    with pytest.raises(DicomWriteError, match="left-handed"):
        write_ct_series(make_image("HU", "CT", direction=(1, 0, 0, 0, 1, 0, 0, 0, -1)), tmp_path / "c", patient,
                        acquisition_time=t)
    write_ct_series(make_image("HU", "CT"), tmp_path / "d", patient, acquisition_time=t)
    with pytest.raises(DicomWriteError, match=r"already holds 6 \.dcm files"):
        write_ct_series(make_image("HU", "CT"), tmp_path / "d", patient, acquisition_time=t)
    assert len(write_ct_series(make_image("HU", "CT"), tmp_path / "d", patient, acquisition_time=t,
                               overwrite=True)) == 6
    nan = make_image("Bq/mL", "PT")
    nan.array[0, 0, 0] = np.nan
    with pytest.raises(DicomWriteError, match="NaN"):
        write_pet_series(nan, tmp_path / "e", patient, lu_administration, acquisition_time=t, frame_duration_s=60)


def test_patient_and_administration_errors(dro_root):
    ds = pydicom.dcmread(dro_root / "DRO_0_0" / "PT" / "pet_dro_0_0_slice_000.dcm", stop_before_pixels=True)
    no_seq = pydicom.dcmread(dro_root / "DRO_0_0" / "PT" / "pet_dro_0_0_slice_000.dcm", stop_before_pixels=True)
    del no_seq.RadiopharmaceuticalInformationSequence
    patient, admin = read_patient_and_administration([no_seq])
    assert admin is None and patient.weight_kg == 70.0
    with pytest.raises(DicomReadError, match=r"missing required tag RadiopharmaceuticalInformationSequence"):
        read_patient_and_administration([no_seq], require_administration=True)
    item = ds.RadiopharmaceuticalInformationSequence[0]
    item.RadionuclideHalfLife = "4057.7"  # the code still says F-18
    with pytest.raises(DicomReadError, match=r"says F-18 .* RadionuclideHalfLife \(0018,1075\) is 4057.7"):
        read_patient_and_administration(ds)
    del item.RadionuclideCodeSequence
    assert read_patient_and_administration(ds)[1].nuclide == "Ga-68"  # identified from the half-life alone
    del item.RadionuclideTotalDose
    with pytest.raises(DicomReadError, match=r"slice_000\.dcm RadiopharmaceuticalInformationSequence: missing .*"
                                             r"RadionuclideTotalDose \(0018,1074\)"):
        read_patient_and_administration(ds)
    ds.PatientSize = "175"
    with pytest.raises(DicomReadError, match=r"PatientSize \(0010,1020\) 175.0 is not a height in metres"):
        read_patient_and_administration(ds)
    ds.PatientID = ""
    with pytest.raises(DicomReadError, match=r"missing required tag PatientID \(0010,0020\)"):
        read_patient_and_administration(ds)
