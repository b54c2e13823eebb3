import numpy as np
import pandas as pd
import pytest

from theranomics.simulate import PatientParameters, simulate_patient
from theranomics.simulate.anatomy import PATIENT15, load_patient15


@pytest.fixture(scope="module")
def p15(refdata):
    return load_patient15(refdata)


def test_organ_and_tumour_volumes_equal_labels_csv(p15, refdata):
    phantom, lesions = p15
    table = pd.read_csv(refdata / PATIENT15 / "labels.csv").set_index("name")
    for organ in ("liver", "spleen", "kidney_left", "kidney_right"):
        assert phantom.volume_ml(organ) == pytest.approx(table.loc[organ, "volume_ml"], abs=0.01), organ
        assert phantom.mask(organ).sum() == table.loc[organ, "voxels"]
    for lesion in lesions.lesions:
        row = table.loc[f"tumour_{lesion.lesion_id}"]
        assert lesion.n_voxels == row["voxels"]
        assert lesion.volume_ml == pytest.approx(row["volume_ml"], abs=0.01)


def test_orientation_is_anatomical(p15):
    """LPS: liver on the right (x smaller) and superior to the right kidney; spleen above the left kidney."""
    phantom, _ = p15
    g = phantom.geometry

    def c(name):
        return g.index_to_world(np.argwhere(phantom.mask(name)).mean(0)[::-1])
    assert c("liver")[0] < c("spleen")[0]
    assert c("kidney_right")[0] < c("kidney_left")[0]
    assert c("liver")[2] > c("kidney_right")[2]
    assert c("spleen")[2] > c("kidney_left")[2]
    assert phantom.volume_ml("body") > 10000


def test_patient15_simulation_balance(refdata):
    sim = simulate_patient(PatientParameters(weight_kg=70.0), seed=3, tracer="dotatate-ga68", anatomy="patient15",
                           refdata=refdata)
    assert sim.study.patient.sex == "F" and len(sim.lesions) == 3
    cycle = sim.study.cycle(1)
    ia = cycle.administration.activity_mbq
    imaged = [v for v in sim.kinetics.vois if v != "outside_fov"]
    for tp, h in zip(cycle.timepoints, cycle.hours):
        expected = ia * sum(float(sim.kinetics.activity_fraction(v, np.array([h]))[0]) for v in imaged)
        assert sim.spect_activity[tp.label].array.sum() == pytest.approx(expected, rel=1e-3)
        assert sim.spect_blurred[tp.label].array.sum() == pytest.approx(expected, rel=1e-2)
        assert tp.images["spect"].geometry.same_grid(sim.phantom.geometry)     # the data's own SPECT grid
    ct = cycle.timepoints[0].images["ct"]
    assert ct.array[sim.phantom.mask("liver")].mean() == pytest.approx(78.3, abs=0.1)   # labels.csv mean HU


def test_missing_reference_data(tmp_path):
    with pytest.raises(FileNotFoundError, match="patient-15 anatomy"):
        load_patient15(tmp_path)
