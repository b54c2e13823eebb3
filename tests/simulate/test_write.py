import json

import numpy as np
import pandas as pd
import pytest

from theranomics.io import layout
from theranomics.io.nifti import read_labelmap, read_nifti
from theranomics.simulate import write_patient


@pytest.fixture(scope="module")
def written(sim_small, tmp_path_factory):
    return write_patient(sim_small, tmp_path_factory.mktemp("cohort"), dicom=False)


def test_layout_reads_back(sim_small, written):
    assert written.name == sim_small.patient_id
    assert layout.find_studies(written.parent) == [written]
    back = layout.read_study(written)
    assert back.patient == sim_small.study.patient
    for c_sim, c_back in zip(sim_small.study.cycles, back.cycles):
        assert c_back.administration == c_sim.administration
        assert [tp.label for tp in c_back.timepoints] == [tp.label for tp in c_sim.timepoints]
        for tp_sim, tp_back in zip(c_sim.timepoints, c_back.timepoints):
            assert tp_back.acquisition_time == tp_sim.acquisition_time
            for modality, img in tp_sim.images.items():
                np.testing.assert_array_equal(tp_back.images[modality].array, img.array)
                assert tp_back.images[modality].unit == img.unit
                assert tp_back.images[modality].geometry.same_grid(img.geometry)
            organs = tp_back.masks["organs"]
            assert organs.geometry.same_grid(tp_back.images["ct"].geometry)       # on the CT grid
            assert not any(n.startswith("lesion") for n in organs.names.values())
    assert {tp.images["pet"].unit for tp in back.cycle(0).timepoints} == {"Bq/mL"}
    assert {tp.images["spect"].unit for tp in back.cycle(1).timepoints} == {"counts"}


def test_calibration_and_truth_files(sim_small, written):
    for tp in sim_small.study.cycle(1).timepoints:
        cal = json.loads((layout.modality_dir(written, 1, tp.label, "spect") / "calibration.json").read_text())
        assert cal == {"calibration_cps_per_mbq": sim_small.params.calibration_cps_per_mbq,
                       "acquisition_duration_s": sim_small.params.spect_duration_s,
                       "spect_fwhm_mm": sim_small.params.spect_fwhm_mm}
    truth = layout.truth_dir(written)
    params = json.loads((truth / "parameters.json").read_text())
    assert params["seed"] == 11 and params["tracer"] == "psma-11"
    assert params["patient_parameters"]["therapy_activity_mbq"] == sim_small.params.therapy_activity_mbq
    lesions = pd.read_csv(truth / "lesions.csv")
    for col in ("lesion_id", "site", "region", "volume_ml", "centroid_x_mm", "centroid_y_mm", "centroid_z_mm",
                "receptor_scale", "suv_mean_true"):
        assert col in lesions.columns
    act = pd.read_csv(truth / "activity.csv")
    pd.testing.assert_frame_equal(act, sim_small.truth_activity, check_dtype=False)
    tia = pd.read_csv(truth / "tia.csv")
    assert list(tia.columns) == ["patient_id", "cycle", "voi", "tia_mbq_h"]
    les = read_labelmap(truth / "lesions.nii.gz")
    np.testing.assert_array_equal(les.array, sim_small.lesion_truth.array)
    les_pet = read_labelmap(truth / "lesions_pet_grid.nii.gz")
    assert les_pet.geometry.same_grid(sim_small.study.cycle(0).timepoints[0].images["pet"].geometry)
    assert set(les_pet.labels) == set(lesions.lesion_id)
    act24 = read_nifti(truth / "spect_activity_24h.nii.gz")
    assert act24.unit == "MBq"
    np.testing.assert_allclose(act24.array.sum(), sim_small.spect_activity["24h"].array.sum(), rtol=1e-6)


@pytest.mark.slow
def test_dicom_round_trip(sim_small, tmp_path):
    dicom = pytest.importorskip("theranomics.io.dicom")
    if not hasattr(dicom, "write_nm_series"):
        pytest.skip("DICOM writers not available yet")
    pdir = write_patient(sim_small, tmp_path, dicom=True)
    tp0 = sim_small.study.cycle(0).timepoints[0]
    pet = dicom.read_series(layout.dicom_dir(pdir, 0, tp0.label, "pet")).image
    ref = tp0.images["pet"]
    assert pet.geometry.same_grid(ref.geometry)
    np.testing.assert_allclose(pet.array, ref.array, atol=float(np.abs(ref.array).max()) / 32767 * 1.01)
    ct = dicom.read_series(layout.dicom_dir(pdir, 0, tp0.label, "ct")).image
    np.testing.assert_array_equal(ct.array, tp0.images["ct"].array)
    tp = sim_small.study.cycle(1).timepoints[1]
    nm = dicom.read_series(layout.dicom_dir(pdir, 1, tp.label, "spect")).image
    assert nm.geometry.same_grid(tp.images["spect"].geometry)
    np.testing.assert_allclose(nm.array, tp.images["spect"].array, rtol=1e-4, atol=0.5)
