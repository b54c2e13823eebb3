"""A noisy PET (older scanner: 8 mm FWHM, 5 mm voxels, half the counts) must not turn noise voxels
into lesions: simulated patients, against their true lesion positions."""
import numpy as np
import pytest

from theranomics.quant.pipeline import QuantifySettings, quantify
from theranomics.quant.suv_nifti import suv_from_activity_concentration
from theranomics.simulate import PatientParameters, simulate_patient

XYZ = ["centroid_x_mm", "centroid_y_mm", "centroid_z_mm"]


@pytest.fixture(scope="module", params=[11, 13])
def noisy_patient(request):
    params = PatientParameters(patient_id=f"N{request.param}", n_lesions=4, pet_fwhm_mm=8.0, pet_voxel_mm=5.0,
                               pet_noise_sensitivity=0.0005)
    sp = simulate_patient(params, seed=request.param, tracer="psma-11", small=True)
    cycle = sp.study.cycle(0)
    tp = cycle.timepoints[0]
    suv = suv_from_activity_concentration(tp.images["pet"], sp.study.patient, cycle.administration,
                                          tp.acquisition_time)
    return suv, tp.images["ct"], tp.masks["organs"], sp.truth_lesions


def _found_and_spurious(result, truth):
    table = result.table
    if not len(table):
        return np.zeros(len(truth), bool), 0
    dist = np.linalg.norm(truth[XYZ].to_numpy()[:, None] - table[XYZ].to_numpy()[None], axis=-1)
    return dist.min(axis=1) < 10.0, int((dist.min(axis=0) > 25.0).sum())


def test_noise_foci_are_rejected_and_lesions_kept(noisy_patient):
    suv, ct, organs, truth = noisy_patient
    found, spurious = _found_and_spurious(quantify(suv, ct=ct, organs=organs), truth)
    off_found, off_spurious = _found_and_spurious(
        quantify(suv, ct=ct, organs=organs, settings=QuantifySettings(detection_sd=None)), truth)
    assert off_spurious >= 10            # without the significance test: a flood of noise foci
    assert spurious == 0
    assert found.all() and off_found.all()
