import numpy as np
import pytest

from theranomics import nuclides
from theranomics.core import Geometry, Image
from theranomics.simulate.ct import TISSUE_HU
from theranomics.simulate.pet import simulate_pet
from theranomics.simulate.spect import counts_image


def test_spect_activity_balance(sim_small):
    """Noise-free activity map = kinetics total in the imaged VOIs (0.1 %); blurred map within 1 %;
    counts / (calibration × duration) = activity within Poisson noise."""
    sim = sim_small
    cycle = sim.study.cycle(1)
    ia = cycle.administration.activity_mbq
    imaged = [v for v in sim.kinetics.vois if v != "outside_fov"]
    assert [tp.label for tp in cycle.timepoints] == ["4h", "24h", "96h", "168h"]
    for tp, hours in zip(cycle.timepoints, cycle.hours):
        expected = ia * sum(float(sim.kinetics.activity_fraction(v, np.array([hours]))[0]) for v in imaged)
        true_map = sim.spect_activity[tp.label].array.astype(np.float64)
        assert true_map.sum() == pytest.approx(expected, rel=1e-3)
        # each VOI separately
        for label, voi in sim.voi_labels.names.items():
            a = ia * float(sim.kinetics.activity_fraction(voi, np.array([hours]))[0])
            assert true_map[sim.voi_labels.array == label].sum() == pytest.approx(a, rel=1e-3, abs=1e-6), voi
        blurred = sim.spect_blurred[tp.label].array.sum()
        assert blurred == pytest.approx(expected, rel=1e-2)
        spect = tp.images["spect"]
        cal, dur = spect.meta["calibration_cps_per_mbq"], spect.meta["acquisition_duration_s"]
        n_expected = blurred * cal * dur
        assert abs(spect.array.sum() - n_expected) <= 5 * np.sqrt(n_expected)
        assert spect.unit == "counts" and np.all(spect.array == np.round(spect.array))


def test_noise_free_pet_equals_suv_times_dose_per_weight(sim_small):
    sim = sim_small
    adm = sim.study.cycle(0).administration
    tp = sim.study.cycle(0).timepoints[0]
    dt_min = (tp.acquisition_time - adm.time).total_seconds() / 60.0
    decay = 0.5 ** (dt_min / 60.0 / nuclides.half_life_h(adm.nuclide))        # to acquisition start
    scale = adm.activity_mbq * 1e6 * decay / (sim.study.patient.weight_kg * 1000.0)
    pet = sim.pet_true.array.astype(np.float64)
    for label, organ in sim.organ_truth.names.items():
        m = sim.organ_truth.array == label
        assert pet[m].mean() == pytest.approx(sim.tracer.suv_of(organ) * scale, rel=1e-5), organ
    for row in sim.truth_lesions.itertuples():
        m = sim.lesion_truth.array == row.lesion_id
        nominal = sim.tracer.lesion_suv_of(row.region) * row.receptor_scale
        assert row.suv_mean_true == pytest.approx(nominal)
        assert pet[m].mean() == pytest.approx(nominal * scale, rel=1e-5)
    assert sim.study.cycle(0).timepoints[0].images["pet"].unit == "Bq/mL"


def _uniform(c_bq_per_ml):
    g = Geometry((24, 24, 24), (4.0, 4.0, 4.0))
    return Image(np.full(g.shape, c_bq_per_ml, np.float32), g, "Bq/mL", "PT"), g


@pytest.mark.parametrize("activity_factor, duration_s", [(1.0, 180.0), (2.0, 180.0), (1.0, 360.0), (4.0, 90.0)])
def test_pet_noise_scales_with_activity_and_duration(activity_factor, duration_s):
    """Var[C] = C / (ε V T): SD ∝ sqrt(activity / duration)."""
    c = 5000.0 * activity_factor
    img, g = _uniform(c)
    eps = 1e-3
    noisy, clean = simulate_pet(img, g, np.random.default_rng(0), fwhm_mm=0.0, frame_duration_s=duration_s,
                                noise_sensitivity=eps)
    resid = (noisy.array - clean.array)[2:-2, 2:-2, 2:-2]
    expected_sd = np.sqrt(c / (eps * g.voxel_volume_ml * duration_s))
    assert resid.std() == pytest.approx(expected_sd, rel=0.03)
    assert abs(resid.mean()) < 4 * expected_sd / np.sqrt(resid.size)


def test_ct_hounsfield_units(sim_small):
    sim = sim_small
    ct = sim.study.cycle(0).timepoints[0].images["ct"]
    assert ct.unit == "HU" and ct.geometry.same_grid(sim.phantom.geometry)
    labels = sim.organ_truth
    for organ, tissue in (("liver", "liver"), ("lung", "lung"), ("bladder", "urine"), ("kidney_cortex", "kidney")):
        values = ct.array[labels.array == labels.label_of(organ)]
        assert np.median(values) == pytest.approx(TISSUE_HU[tissue], abs=3), organ
    assert np.median(ct.array[~(sim.phantom.labels.array > 0)]) == pytest.approx(-1000, abs=3)
    noise = ct.array[labels.array == labels.label_of("liver")].std()
    assert noise == pytest.approx(sim.params.ct_noise_hu, rel=0.1)


def test_bad_image_inputs():
    img, g = _uniform(100.0)
    with pytest.raises(ValueError, match="Bq/mL"):
        simulate_pet(img.with_array(img.array, unit="MBq"), g, np.random.default_rng(0))
    with pytest.raises(ValueError, match="frame_duration_s"):
        simulate_pet(img, g, np.random.default_rng(0), frame_duration_s=0)
    with pytest.raises(ValueError, match="calibration_cps_per_mbq"):
        counts_image(img.with_array(img.array, unit="MBq"), np.random.default_rng(0), calibration_cps_per_mbq=-1)
