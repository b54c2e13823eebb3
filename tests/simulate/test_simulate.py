import numpy as np
import pandas as pd
import pytest

from theranomics import nuclides
from theranomics.simulate import PatientParameters, simulate_patient
from theranomics.simulate.kinetics import ExponentialKinetics


def _arrays(sim):
    out = {"pet_true": sim.pet_true.array, "voi": sim.voi_labels.array}
    for c in sim.study.cycles:
        for tp in c.timepoints:
            for m, img in tp.images.items():
                out[f"{c.index}/{tp.label}/{m}"] = img.array
    return out


def test_deterministic_from_seed(sim_small, small_params):
    SMALL_PARAMS = small_params
    again = simulate_patient(SMALL_PARAMS, seed=11, tracer="psma-11", small=True)
    a, b = _arrays(sim_small), _arrays(again)
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    for name in ("truth_lesions", "truth_activity", "truth_tia", "truth_vois"):
        pd.testing.assert_frame_equal(getattr(sim_small, name), getattr(again, name))
    other = simulate_patient(SMALL_PARAMS, seed=12, tracer="psma-11", small=True)
    c = _arrays(other)
    assert not np.array_equal(a["1/24h/spect"], c["1/24h/spect"])
    assert not np.array_equal(a["voi"], c["voi"])
    assert not sim_small.truth_lesions[["centroid_x_mm"]].equals(other.truth_lesions[["centroid_x_mm"]])


def test_truth_tables(sim_small, small_params):
    SMALL_PARAMS = small_params
    sim = sim_small
    ia = sim.study.cycle(1).administration.activity_mbq
    tia = sim.truth_tia.set_index("voi")["tia_mbq_h"]
    for voi in sim.kinetics.vois:
        assert tia[voi] == pytest.approx(ia * sim.kinetics.tia_fraction_h(voi))
    act = sim.truth_activity
    assert list(act.columns) == ["patient_id", "cycle", "timepoint", "time_h", "voi", "activity_mbq"]
    assert set(act.cycle) == {0, 1}
    assert len(sim.truth_lesions) == len(SMALL_PARAMS.lesions)
    assert sim.truth_lesions.lesion_id.tolist() == list(range(1, len(SMALL_PARAMS.lesions) + 1))
    assert set(sim.truth_lesions.region) == {s.region for s in SMALL_PARAMS.lesions}
    # the organ mask of the clinic has no lesions; the truth VOIs carve them out
    masks = sim.study.cycle(0).timepoints[0].masks["organs"]
    assert not any(n.startswith("lesion") for n in masks.names.values())
    assert np.all(sim.organ_truth.array[sim.lesion_truth.array > 0] == 0)


def test_any_voi_kinetics_can_drive_the_simulator(sim_small, small_params):
    SMALL_PARAMS = small_params
    """A user-supplied kinetics object (constant biological fractions) replaces the preset."""
    vois = list(sim_small.kinetics.vois)
    share = 1.0 / len(vois)
    custom = ExponentialKinetics("Lu-177", {v: ([share], [0.0]) for v in vois})
    sim = simulate_patient(SMALL_PARAMS, seed=11, tracer="psma-11", small=True, kinetics=custom)
    ia = sim.study.cycle(1).administration.activity_mbq
    lam = np.log(2) / nuclides.half_life_h("Lu-177")
    liver = sim.voi_labels.array == sim.voi_labels.label_of("liver")
    assert sim.spect_activity["24h"].array[liver].sum() == pytest.approx(ia * share * np.exp(-lam * 24), rel=1e-4)
    with pytest.raises(ValueError, match="kinetics model has no VOI"):
        simulate_patient(SMALL_PARAMS, seed=11, small=True, kinetics=ExponentialKinetics("Lu-177", {"liver": ([1.0], [0.1])}))


def test_parameter_errors(small_params):
    SMALL_PARAMS = small_params
    with pytest.raises(ValueError, match="unknown tracer"):
        simulate_patient(SMALL_PARAMS, seed=1, tracer="fdg", small=True)
    with pytest.raises(ValueError, match="anatomy must be"):
        simulate_patient(SMALL_PARAMS, seed=1, small=True, anatomy="mouse")
    with pytest.raises(ValueError, match="female patient has no prostate"):
        PatientParameters(sex="F", prostate="present")
    with pytest.raises(ValueError, match="spect_hours"):
        PatientParameters(spect_hours=(24.0, 4.0))
    with pytest.raises(ValueError, match="therapy_activity_mbq"):
        PatientParameters(therapy_activity_mbq=0.0)


@pytest.mark.parametrize("tracer", ["dotatate-ga68", "dcfpyl"])
def test_other_tracers_and_random_lesions(tracer):
    sim = simulate_patient(PatientParameters(n_lesions=4, sex="F" if tracer.startswith("dota") else "M"),
                           seed=5, tracer=tracer, small=True)
    assert sim.study.cycle(1).administration.radiopharmaceutical == (
        "[177Lu]Lu-DOTATATE" if tracer.startswith("dota") else "[177Lu]Lu-PSMA-617")
    assert len(sim.lesions) == 4
    assert sim.study.cycle(0).administration.nuclide == sim.tracer.nuclide
