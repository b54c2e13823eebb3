import numpy as np
import pytest
from scipy.integrate import quad

from theranomics import nuclides
from theranomics.simulate.kinetics import ExponentialKinetics, VoiKinetics, build_therapy_kinetics
from theranomics.simulate.tracers import LU_DOTATATE, LU_PSMA_617, PET_TRACERS, THERAPY_AGENTS

# reference adult organ volumes (mL, ICRP 89) and a 80 kg body
VOLUMES = {"remainder": 40000.0, "lung": 3500.0, "heart": 350.0, "blood_pool": 200.0, "aorta": 150.0,
           "liver": 1800.0, "spleen": 150.0, "kidney_cortex": 230.0, "kidney_medulla": 75.0, "bladder": 200.0,
           "bowel": 1000.0, "parotid": 50.0, "submandibular": 14.0, "lacrimal": 1.4, "bone": 2000.0,
           "red_marrow": 700.0, "prostate": 25.0, "lesion_1": 10.0, "lesion_2": 3.0}
LESIONS = {"lesion_1": "bone", "lesion_2": "visceral_liver"}
# Lu-177 ICRP-107 electron energy deposited locally: Gy per (MBq·h) in 1 g
MEV_J = 1.602176634e-13


def _kin(agent, **kw):
    return build_therapy_kinetics(agent, VOLUMES, 80.0, lesion_regions=LESIONS, outside_fov_ml=30000.0, **kw)


@pytest.mark.parametrize("agent", [LU_PSMA_617, LU_DOTATATE], ids=lambda a: a.key)
def test_tia_equals_numerical_integral(agent):
    kin = _kin(agent)
    assert isinstance(kin, VoiKinetics)
    t = np.concatenate([np.linspace(0, 50, 50001), np.linspace(50, 8000, 40001)[1:]])
    for voi in kin.vois:
        numeric = np.trapezoid(kin.activity_fraction(voi, t), t)      # tail beyond 8000 h < 1e-12
        assert kin.tia_fraction_h(voi) == pytest.approx(numeric, rel=1e-5, abs=1e-9), voi
    numeric, _ = quad(lambda x: float(kin.activity_fraction("kidney_cortex", np.array([x]))[0]), 0, np.inf, limit=200)
    assert kin.tia_fraction_h("kidney_cortex") == pytest.approx(numeric, rel=1e-6)


@pytest.mark.parametrize("agent", [LU_PSMA_617, LU_DOTATATE], ids=lambda a: a.key)
def test_body_total_is_consistent(agent):
    kin = _kin(agent)
    t = np.concatenate([np.linspace(0, 10, 101), np.geomspace(10, 5000, 200)])
    lam = np.log(2) / nuclides.half_life_h("Lu-177")                         # independent of the kinetics
    total = kin.total_fraction(t)
    assert total[0] == pytest.approx(1.0, abs=1e-12)                          # all in the body at injection
    assert np.all(total <= np.exp(-lam * t) + 1e-12)                          # the rest is excreted
    for voi in kin.vois:
        assert np.all(kin.activity_fraction(voi, t) >= -1e-12), voi
        np.testing.assert_allclose(kin.activity_fraction(voi, t), kin.biological_fraction(voi, t) * np.exp(-lam * t),
                                   rtol=1e-9, atol=1e-15)


def _dose_gy_per_gbq(kin, vois, volume_ml):
    e_mev = nuclides.electron_energy_per_decay_mev("Lu-177")
    tia_h = sum(kin.tia_fraction_h(v) for v in vois)                          # MBq·h per MBq
    return tia_h * 1000 * 3600e6 * e_mev * MEV_J / (volume_ml / 1000.0)


def test_psma617_doses_in_published_ranges():
    """Kidney 0.4–0.9 Gy/GBq and salivary 0.5–2 Gy/GBq (Kratochwil 2016, Delker 2016, Violet 2019);
    kidney peak 3–4 %IA and late effective half-life 30–50 h."""
    kin = _kin(LU_PSMA_617)
    kidney = ("kidney_cortex", "kidney_medulla")
    assert 0.4 <= _dose_gy_per_gbq(kin, kidney, 305.0) <= 0.9
    assert 0.5 <= _dose_gy_per_gbq(kin, ("parotid",), 50.0) <= 2.0
    t = np.linspace(0, 200, 4001)
    peak = sum(kin.activity_fraction(v, t) for v in kidney).max()
    assert 0.03 <= peak <= 0.04
    a96, a168 = (sum(kin.activity_fraction(v, np.array([h])) for v in kidney)[0] for h in (96.0, 168.0))
    t_eff = np.log(2) * 72.0 / np.log(a96 / a168)
    assert 30.0 <= t_eff <= 50.0


def test_dotatate_doses_in_published_ranges():
    """Sandström 2013: kidney ~0.6 (0.3–0.9), spleen ~0.5–1.5 Gy/GBq."""
    kin = _kin(LU_DOTATATE)
    assert 0.3 <= _dose_gy_per_gbq(kin, ("kidney_cortex", "kidney_medulla"), 305.0) <= 0.9
    assert 0.5 <= _dose_gy_per_gbq(kin, ("spleen",), 150.0) <= 1.5


def test_patient_parameters_act_in_the_expected_direction():
    base = _kin(LU_PSMA_617)
    slow = _kin(LU_PSMA_617, kidney_function_scale=0.5)
    assert slow.tia_fraction_h("kidney_cortex") > base.tia_fraction_h("kidney_cortex")
    assert slow.tia_fraction_h("remainder") > base.tia_fraction_h("remainder")
    high = build_therapy_kinetics(LU_PSMA_617, VOLUMES, 80.0, lesion_regions=LESIONS,
                                  lesion_receptor_scale={"lesion_1": 2.0, "lesion_2": 1.0})
    assert high.tia_fraction_h("lesion_1") == pytest.approx(2.0 * base.tia_fraction_h("lesion_1"))


def test_kinetics_errors():
    with pytest.raises(ValueError, match="lesions take up more"):
        build_therapy_kinetics(LU_PSMA_617, {**VOLUMES, "lesion_1": 3000.0}, 80.0, lesion_regions=LESIONS,
                               lesion_receptor_scale={"lesion_1": 5.0})
    with pytest.raises(ValueError, match="organ uptake exceeds the whole-body retention"):
        build_therapy_kinetics(LU_PSMA_617, {**VOLUMES, "kidney_cortex": 30000.0}, 80.0)
    with pytest.raises(ValueError, match="kidney_function_scale"):
        _kin(LU_PSMA_617, kidney_function_scale=0.0)
    with pytest.raises(KeyError, match="no kinetics for VOI 'brain'"):
        build_therapy_kinetics(LU_PSMA_617, {"brain": 1000.0}, 80.0)
    kin = _kin(LU_PSMA_617)
    with pytest.raises(KeyError, match="no VOI 'pancreas'"):
        kin.activity_fraction("pancreas", [1.0])
    with pytest.raises(ValueError, match=">= 0 h"):
        kin.activity_fraction("liver", [-1.0])
    with pytest.raises(ValueError, match="differ in shape"):
        ExponentialKinetics("Lu-177", {"x": ([1.0, 2.0], [0.1])})


def test_presets_cover_the_phantom_vois():
    from theranomics.simulate.phantom import LABELS
    for tracer in PET_TRACERS.values():
        for organ in LABELS:
            assert tracer.suv_of(organ) > 0
        assert tracer.nuclide in ("Ga-68", "F-18", "Cu-64")
    for agent in THERAPY_AGENTS.values():
        for organ in set(LABELS) - {"remainder"}:
            agent.tissue(organ)
