"""Writers and round trips: geometry through DICOM, NIfTI and SimpleITK; CT, PET, NM, SEG; determinism."""
from __future__ import annotations

import datetime as dt
import logging
import math

import highdicom as hd
import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from matplotlib.path import Path as MplPath
from scipy.integrate import quad

from theranomics import nuclides
from theranomics.core import Image, LabelMap
from theranomics.io.dicom import (read_patient_and_administration, read_seg, read_series, scan_folder, write_ct_series,
                                  write_nm_series, write_pet_series, write_seg)
from theranomics.io.dicom.rtstruct import fill_even_odd
from theranomics.io.nifti import read_nifti, write_nifti
from theranomics.io.sitk import to_sitk

T_ACQ = dt.datetime(2024, 5, 6, 14, 30, 12, 500000)
DIRECTIONS = {"identity": None, "flipped_x_and_z": (-1, 0, 0, 0, 1, 0, 0, 0, -1)}


@pytest.mark.parametrize("direction", DIRECTIONS, ids=list(DIRECTIONS))
def test_geometry_round_trip_dicom_nifti_sitk(tmp_path, make_image, patient, direction):
    """Voxel (i, j, k) has the same world position through every path, and equals origin + D·(spacing·ijk)."""
    image = make_image("HU", "CT", direction=DIRECTIONS[direction])
    files = write_ct_series(image, tmp_path / "ct", patient, acquisition_time=T_ACQ)
    dicom = read_series(tmp_path / "ct").image
    nifti = read_nifti(write_nifti(image, tmp_path / "ct.nii.gz"))
    assert dicom.geometry.same_grid(image.geometry, atol_mm=1e-6)
    np.testing.assert_array_equal(dicom.array, image.array)
    ijk = np.array([[3, 5, 4], [0, 0, 0], [10, 8, 5]], dtype=float)
    d = np.diag(np.array(DIRECTIONS[direction] or (1, 0, 0, 0, 1, 0, 0, 0, 1), float).reshape(3, 3))
    analytic = np.array([-123.4, 56.7, -890.1]) + ijk * np.array([0.8, 1.1, 2.5]) * d
    for geometry in (image.geometry, dicom.geometry, nifti.geometry):
        np.testing.assert_allclose(geometry.index_to_world(ijk), analytic, atol=1e-6)
    for img in (to_sitk(image), to_sitk(dicom)):
        for index, expected in zip(ijk.astype(int), analytic):
            np.testing.assert_allclose(img.TransformIndexToPhysicalPoint([int(v) for v in index]), expected, atol=1e-6)
    # SimpleITK's own DICOM reader (GDCM) on our files
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(tmp_path / "ct")))
    theirs = reader.Execute()
    np.testing.assert_allclose(theirs.GetOrigin(), image.geometry.origin_mm, atol=1e-6)
    np.testing.assert_allclose(theirs.GetSpacing(), image.geometry.spacing_mm, atol=1e-6)
    np.testing.assert_allclose(theirs.GetDirection(), image.geometry.direction, atol=1e-6)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(theirs), image.array)
    assert len(files) == image.shape[0]


def test_ct_headers(tmp_path, make_image, patient):
    image = make_image("HU", "CT")
    files = write_ct_series(image, tmp_path, patient, acquisition_time=T_ACQ, series_description="low-dose CT",
                            series_number=7)
    ds = pydicom.dcmread(files[2])
    assert ds.SOPClassUID == pydicom.uid.CTImageStorage and ds.Modality == "CT"
    assert (ds.PatientID, str(ds.PatientName), ds.PatientSex) == ("TRX-007", "TRX-007", "M")
    assert (ds.SeriesDescription, ds.SeriesNumber, ds.InstanceNumber) == ("low-dose CT", 7, 3)
    assert (ds.AcquisitionDate, ds.AcquisitionTime) == ("20240506", "143012.500000")
    assert ds.PixelRepresentation == 1 and ds.BitsAllocated == 16 and float(ds.RescaleSlope) == 1.0
    assert [float(v) for v in ds.PixelSpacing] == [1.1, 0.8]  # row spacing (y) first
    assert float(ds.ImagePositionPatient[2]) == pytest.approx(-890.1 + 2 * 2.5)


def test_pet_round_trip_and_headers(tmp_path, make_image, patient, ga_administration):
    image = make_image("Bq/mL", "PT", shape=(5, 12, 10), spacing=(4.0, 4.0, 3.0), origin=(-300.0, -250.5, 12.25))
    frame_s = 180.0
    files = write_pet_series(image, tmp_path, patient, ga_administration, acquisition_time=T_ACQ,
                             frame_duration_s=frame_s)
    series = read_series(tmp_path)
    back = series.image
    assert back.unit == "Bq/mL" and back.modality == "PT" and back.geometry.same_grid(image.geometry, atol_mm=1e-9)
    slopes = np.array(back.meta["rescale_slopes"])
    peaks = np.abs(image.array.astype(np.float64)).reshape(image.shape[0], -1).max(axis=1)
    np.testing.assert_allclose(slopes, peaks / 32767, rtol=1e-9)  # one slope per slice
    assert len(set(slopes)) == image.shape[0]
    error = np.abs(back.array.astype(float) - image.array.astype(float))
    assert np.all(error <= slopes[:, None, None] * (0.5 + 1e-6) + 1e-6 * peaks[:, None, None])
    ds = pydicom.dcmread(files[0])
    assert ds.Units == "BQML" and ds.DecayCorrection == "START" and "SUVType" not in ds
    assert {"DECY", "ATTN", "SCAT"} <= set(ds.CorrectedImage)
    assert (ds.SeriesDate, ds.SeriesTime) == (ds.AcquisitionDate, ds.AcquisitionTime) == ("20240506", "143012.500000")
    assert int(ds.ActualFrameDuration) == 180000
    assert float(ds.PatientWeight) == 72.5 and float(ds.PatientSize) == 1.78 and ds.PatientSex == "M"
    item = ds.RadiopharmaceuticalInformationSequence[0]
    assert float(item.RadionuclideTotalDose) == 150.0e6
    assert float(item.RadionuclideHalfLife) == pytest.approx(nuclides.half_life_s("Ga-68"), rel=1e-12)
    assert item.RadiopharmaceuticalStartDateTime == "20240506091530.000000"
    assert item.RadiopharmaceuticalStartTime == "091530.000000"
    assert item.Radiopharmaceutical == "[68Ga]Ga-PSMA-11"
    code = item.RadionuclideCodeSequence[0]  # DICOM CID 4020: 68Ga = SCT 35337001
    assert (code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning) == ("35337001", "SCT", "^68^Gallium")
    assert float(item.RadionuclidePositronFraction) == pytest.approx(0.889, abs=0.005)  # ICRP-107: 88.9 % β+
    # decay over the frame: A(t) = A0 exp(-λt); the frame mean relative to the start, by quadrature
    lam = math.log(2) / nuclides.half_life_s("Ga-68")
    mean_fraction = quad(lambda t: math.exp(-lam * t), 0, frame_s)[0] / frame_s
    assert float(ds.DecayFactor) == pytest.approx(1 / mean_fraction, rel=1e-9)
    t_ref_s = -math.log(mean_fraction) / lam  # when the instantaneous activity equals the frame mean
    assert float(ds.FrameReferenceTime) == pytest.approx(t_ref_s * 1000, rel=1e-9)
    assert float(ds.FrameReferenceTime) == pytest.approx(frame_s * 1000 / 2, rel=0.01)
    read_patient, read_admin = read_patient_and_administration(series.datasets, require_administration=True)
    assert read_patient == patient and read_admin == ga_administration
    assert back.meta["acquisition_datetime"] == T_ACQ and back.meta["frame_duration_s"] == frame_s


def test_identical_files_with_a_uid_seed(tmp_path, make_image, patient, lu_administration):
    image = make_image("Bq/mL", "PT", shape=(3, 4, 5))
    kwargs = dict(acquisition_time=T_ACQ, frame_duration_s=600, uid_seed="sim-seed-42")
    a = write_pet_series(image, tmp_path / "a", patient, lu_administration, **kwargs)
    b = write_pet_series(image, tmp_path / "b", patient, lu_administration, **kwargs)
    assert [f.read_bytes() for f in a] == [f.read_bytes() for f in b]
    c = write_pet_series(image, tmp_path / "c", patient, lu_administration, acquisition_time=T_ACQ, frame_duration_s=600)
    assert a[0].read_bytes() != c[0].read_bytes()
    ct = write_ct_series(make_image("HU", "CT", shape=(3, 4, 5)), tmp_path / "ct", patient, acquisition_time=T_ACQ,
                         uid_seed="sim-seed-42")
    pet_ds, ct_ds = pydicom.dcmread(a[0]), pydicom.dcmread(ct[0])
    assert pet_ds.StudyInstanceUID == ct_ds.StudyInstanceUID  # same seed → same study and frame of reference
    assert pet_ds.FrameOfReferenceUID == ct_ds.FrameOfReferenceUID
    assert pet_ds.SeriesInstanceUID != ct_ds.SeriesInstanceUID
    uid = "1.2.3.4.5"
    d = write_ct_series(make_image("HU", "CT", shape=(2, 3, 3)), tmp_path / "d", patient, acquisition_time=T_ACQ,
                        study_uid=uid, frame_of_reference_uid=uid + ".1")
    assert pydicom.dcmread(d[1]).StudyInstanceUID == uid and pydicom.dcmread(d[1]).FrameOfReferenceUID == uid + ".1"


@pytest.mark.parametrize("unit", ["counts", "Bq/mL"])
def test_nm_round_trip_and_headers(tmp_path, make_image, patient, lu_administration, unit):
    image = make_image(unit, "NM", shape=(8, 10, 12), spacing=(4.8, 4.8, 4.8), origin=(-240.0, -230.4, 99.9), scale=50.0)
    path = write_nm_series(image, tmp_path, patient, lu_administration, acquisition_time=T_ACQ, frame_duration_s=1200)
    series = read_series(path)
    back = series.image
    assert back.modality == "NM" and back.unit == unit and back.geometry.same_grid(image.geometry, atol_mm=1e-9)
    slope = np.abs(image.array).max() / 32767
    assert np.max(np.abs(back.array - image.array)) <= slope * (0.5 + 1e-6)
    ds = pydicom.dcmread(path)
    assert ds.SOPClassUID == pydicom.uid.NuclearMedicineImageStorage
    assert list(ds.ImageType) == ["ORIGINAL", "PRIMARY", "RECON TOMO", "EMISSION"]
    assert ds.NumberOfFrames == 8 and list(ds.SliceVector) == list(range(1, 9)) and ds.NumberOfSlices == 8
    assert ds.FrameIncrementPointer == pydicom.tag.Tag("SliceVector")
    assert float(ds.SpacingBetweenSlices) == 4.8 and int(ds.ActualFrameDuration) == 1_200_000
    det = ds.DetectorInformationSequence[0]
    assert [float(v) for v in det.ImagePositionPatient] == [-240.0, -230.4, 99.9]
    assert [float(v) for v in det.ImageOrientationPatient] == [1, 0, 0, 0, 1, 0]
    window = ds.EnergyWindowInformationSequence[0].EnergyWindowRangeSequence[0]
    low, high = float(window.EnergyWindowLowerLimit), float(window.EnergyWindowUpperLimit)
    energies, yields = nuclides.photon_lines("Lu-177")
    peak_kev = energies[np.argmax(yields)] * 1000
    assert (low + high) / 2 == pytest.approx(peak_kev) and (high - low) / peak_kev == pytest.approx(0.20)
    assert peak_kev == pytest.approx(208.37, abs=0.1)  # Lu-177 main photopeak (ENSDF 208.366 keV, 10.4 %)
    assert ds.RadiopharmaceuticalInformationSequence[0].RadionuclideCodeSequence[0].CodeValue == "447553000"
    assert ("Units" in ds) == (unit == "Bq/mL")
    assert read_patient_and_administration(series.datasets) == (patient, lu_administration)
    info = scan_folder(tmp_path)[0]
    assert (info.modality, info.n_files, info.n_frames, info.rows, info.cols) == ("NM", 1, 8, 10, 12)


def test_nm_frames_follow_slice_vector_and_negative_spacing(tmp_path, make_image, patient, lu_administration):
    image = make_image("counts", "NM", shape=(6, 5, 7), spacing=(4.0, 4.0, 4.0), origin=(1.0, 2.0, 3.0), scale=30.0)
    path = write_nm_series(image, tmp_path, patient, lu_administration, acquisition_time=T_ACQ, frame_duration_s=600)
    reference = read_series(path).image
    ds = pydicom.dcmread(path)
    frames = ds.pixel_array[::-1].copy()
    ds.PixelData = frames.astype("<i2").tobytes()
    ds.SliceVector = list(range(6, 0, -1))  # stored last slice first, numbered accordingly
    ds.save_as(tmp_path / "reordered.dcm")
    np.testing.assert_array_equal(read_series(tmp_path / "reordered.dcm").image.array, reference.array)
    ds.SliceVector = list(range(1, 7))
    ds.SpacingBetweenSlices = "-4.0"  # frames run against the normal from the last slice
    ds.DetectorInformationSequence[0].ImagePositionPatient = [1.0, 2.0, 3.0 + 5 * 4.0]
    ds.save_as(tmp_path / "negative.dcm")
    negative = read_series(tmp_path / "negative.dcm").image
    np.testing.assert_array_equal(negative.array, reference.array)
    assert negative.geometry.same_grid(reference.geometry)


def test_seg_round_trip_on_pet_and_ct_sources(tmp_path, dro_root, make_image, patient):
    pet = read_series(dro_root / "DRO_0_0" / "PT").image
    array = np.zeros(pet.shape, np.int32)
    array[5:9, 100:120, 90:130] = 2
    array[10:12, 50:60, 50:70] = 5
    array[3, 3, 3] = 7
    labels = LabelMap(array, pet.geometry, {2: "lesion A", 5: "lesion B", 7: "dot", 9: "absent"})
    path = write_seg(labels, dro_root / "DRO_0_0" / "PT", tmp_path / "seg.dcm", uid_seed="s")
    back = read_seg(path, pet.geometry)
    np.testing.assert_array_equal(back.array, array)
    assert back.names == labels.names and back.geometry.same_grid(pet.geometry)
    # without a reference grid, the SEG (empty frames omitted) spans the slices that hold segments;
    # every labelled voxel keeps its world position and label
    alone = read_seg(path)
    assert alone.names == labels.names
    for value in (2, 5, 7):
        kji = np.argwhere(array == value)
        world = pet.geometry.index_to_world(kji[:, ::-1].astype(float))
        ijk = np.rint(alone.geometry.world_to_index(world)).astype(int)
        assert np.all(alone.array[ijk[:, 2], ijk[:, 1], ijk[:, 0]] == value)
        assert (alone.array == value).sum() == len(kji)
    seg = hd.seg.segread(path)
    assert seg.SeriesDescription == "Lesions" and seg.number_of_segments == 4
    assert [s.SegmentLabel for s in seg.SegmentSequence] == ["lesion A", "lesion B", "dot", "absent"]
    ct = make_image("HU", "CT", shape=(4, 6, 5))
    write_ct_series(ct, tmp_path / "ct", patient, acquisition_time=T_ACQ)
    ct_labels = LabelMap((ct.array > 200).astype(np.int32), ct.geometry, {1: "bone"})
    path = write_seg(ct_labels, tmp_path / "ct", tmp_path / "ct_seg.dcm", series_description="Organs")
    np.testing.assert_array_equal(read_seg(path).array, ct_labels.array)


@pytest.mark.filterwarnings("ignore:.*unlikely to represent the intended person name")
def test_enhanced_multiframe_pet_from_highdicom_conversion(tmp_path, dro_root):
    """highdicom's legacy → enhanced PET converter (per-frame slopes in functional groups) reads back identically."""
    files = sorted((dro_root / "DRO_1_0" / "PT").glob("*.dcm"))
    datasets = [pydicom.dcmread(f) for f in files]
    for ds in datasets:
        ds.AccessionNumber = ds.get("AccessionNumber", "")
        ds.ReferringPhysicianName = ds.get("ReferringPhysicianName", "")
    logging.disable(logging.WARNING)
    try:
        enhanced = hd.legacy.LegacyConvertedEnhancedPETImage(
            datasets[::-1], series_instance_uid=pydicom.uid.generate_uid(), series_number=9,
            sop_instance_uid=pydicom.uid.generate_uid(), instance_number=1)
    finally:
        logging.disable(logging.NOTSET)
    enhanced.save_as(tmp_path / "enhanced.dcm")
    single = read_series(files).image
    multi = read_series(tmp_path / "enhanced.dcm").image
    assert multi.unit == "Bq/mL" and multi.geometry.same_grid(single.geometry)
    np.testing.assert_array_equal(multi.array, single.array)
    assert multi.meta["rescale_slopes"] == single.meta["rescale_slopes"]


def test_even_odd_fill_against_matplotlib_and_a_hole():
    rng = np.random.default_rng(3)
    jj, ii = np.mgrid[0:25, 0:28]
    centres = np.c_[ii.ravel(), jj.ravel()]
    for _ in range(50):  # random (possibly self-intersecting) polygons, vertices off the voxel centres
        poly = rng.uniform(-3.0, 30.0, (int(rng.integers(3, 9)), 2))
        expected = MplPath(poly).contains_points(centres).reshape(25, 28)
        np.testing.assert_array_equal(fill_even_odd([poly], (25, 28)), expected)
    outer = np.array([[2.5, 2.5], [20.5, 2.5], [20.5, 16.5], [2.5, 16.5]])
    inner = np.array([[6.5, 6.5], [10.5, 6.5], [10.5, 9.5], [6.5, 9.5]])
    ring = fill_even_odd([outer, inner], (25, 28))
    assert ring.sum() == 18 * 14 - 4 * 3 and not ring[8, 8] and ring[4, 4]
