"""Personalisation: fit to TACs, Laplace intervals, coverage over simulated patients; kinetics protocol."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from theranomics.twin import PBPKModel, Schedule, TwinParameterError, default_patient
from theranomics.twin.kinetics import PBPKKinetics, VoiKineticsLike
from theranomics.twin.personalise import TwinFit, fit_many, simulate_observations

LIG = "psma-617"
SCHED = Schedule([0.0], [7400.0], [100.0])
NAMES = ("kidneys.receptor_density_nmol_l", "kidneys.lambda_rel_per_min",
         "lesion_1.receptor_density_nmol_l", "lesion_1.lambda_rel_per_min")


@pytest.fixture(scope="module")
def base():
    return default_patient(LIG, n_tumours=1, total_tumour_ml=100.0)


def _truth(base, rng):
    m0 = PBPKModel(LIG, base)
    true0 = np.array([m0._param(base, *n.split(".")) for n in NAMES])
    return true0 * np.exp(0.3 * rng.standard_normal(len(NAMES)))


def test_noise_free_fit_recovers_the_truth(base):
    truth = _truth(base, np.random.default_rng(5))
    patient = base.with_values(dict(zip(NAMES, truth)))
    obs = simulate_observations(LIG, patient, SCHED, ["kidneys", "lesion_1"], sigma_log=1e-6)
    fit = TwinFit(LIG, NAMES, sigma_log=0.1).fit(base, SCHED, obs)
    np.testing.assert_allclose(fit.intervals_["estimate"], truth, rtol=2e-3)
    assert fit.identifiability_["identifiable"].all()
    pred = fit.predict([24.0], ["kidneys"])
    assert pred["kidneys"].iloc[0] == pytest.approx(obs.query("organ == 'kidneys' and time_h == 24")
                                                    ["true_activity_mbq"].iloc[0], rel=1e-3)


@pytest.mark.slow
def test_ninety_percent_intervals_cover_the_truth_over_30_patients(base):
    rng = np.random.default_rng(11)
    truths, obs = [], []
    for i in range(30):
        truth = _truth(base, rng)
        truths.append(truth)
        obs.append(simulate_observations(LIG, base.with_values(dict(zip(NAMES, truth))), SCHED,
                                         ["kidneys", "lesion_1"], seed=100 + i))
    fits = fit_many(LIG, base, SCHED, obs, NAMES, iterations=7)
    covered = np.array([(f["ci90_low"].to_numpy() <= t) & (t <= f["ci90_high"].to_numpy())
                        for f, t in zip(fits, truths)])
    assert covered.mean() >= 0.85, covered.mean(0)
    assert covered.mean(0).min() >= 0.75, covered.mean(0)


def test_update_after_a_cycle_adds_data_and_narrows_intervals(base):
    sched2 = Schedule.cycles(7400.0, 100.0, 2, 6.0)
    truth = _truth(base, np.random.default_rng(2))
    patient = base.with_values(dict(zip(NAMES, truth)))
    obs1 = simulate_observations(LIG, patient, sched2, ["kidneys", "lesion_1"], cycles=(1,), seed=1)
    obs2 = simulate_observations(LIG, patient, sched2, ["kidneys", "lesion_1"], cycles=(2,), seed=2)
    fit1 = TwinFit(LIG, NAMES).fit(base, sched2, obs1)
    fit2 = fit1.update(obs2)
    assert len(fit2.observations_) == len(obs1) + len(obs2)
    assert np.all(fit2.intervals_["relative_se"].to_numpy() < fit1.intervals_["relative_se"].to_numpy())


def test_posterior_samples_spread_like_the_covariance(base):
    obs = simulate_observations(LIG, base, SCHED, ["kidneys", "lesion_1"], seed=3)
    fit = TwinFit(LIG, NAMES).fit(base, SCHED, obs)
    samples = fit.sample_patients(400, seed=1)
    logs = np.log([[s.overrides[n] for n in NAMES] for s in samples])
    np.testing.assert_allclose(logs.std(0), fit.intervals_["relative_se"], rtol=0.15)


@pytest.mark.parametrize("frame, match", [
    (pd.DataFrame({"organ": ["kidneys"], "cycle": [1], "time_h": [4.0]}), "lacks columns"),
    (pd.DataFrame({"organ": ["heart"], "cycle": [1], "time_h": [4.0], "activity_mbq": [1.0]}), "organs"),
    (pd.DataFrame({"organ": ["kidneys"], "cycle": [1], "time_h": [4.0], "activity_mbq": [0.0]}), "> 0 MBq"),
    (pd.DataFrame({"organ": ["kidneys"], "cycle": [3], "time_h": [4.0], "activity_mbq": [1.0]}), "cycle"),
    (pd.DataFrame({"organ": ["kidneys"], "cycle": [1], "time_h": ["x"], "activity_mbq": [1.0]}), "non-numeric"),
])
def test_bad_observations_are_rejected(base, frame, match):
    with pytest.raises(TwinParameterError, match=match):
        TwinFit(LIG, NAMES).fit(base, SCHED, frame)


def test_too_few_observations_and_unfitted_use_are_rejected(base):
    obs = simulate_observations(LIG, base, SCHED, ["kidneys"], times_h=(4.0, 24.0))
    with pytest.raises(TwinParameterError, match="cannot determine"):
        TwinFit(LIG, NAMES).fit(base, SCHED, obs)
    with pytest.raises(TwinParameterError, match="not fitted"):
        TwinFit(LIG).predict([1.0])


def test_pbpk_kinetics_implements_the_simulator_protocol(base):
    kin = PBPKKinetics(LIG, base, voi_map={"kidney_left": ("kidneys", 0.5)})
    assert isinstance(kin, VoiKineticsLike)
    try:
        from theranomics.simulate.kinetics import VoiKinetics
    except ImportError:  # pragma: no cover - simulator not installed
        VoiKinetics = None
    if VoiKinetics is not None:
        assert isinstance(kin, VoiKinetics)
    # the interpolated curve integrates to the ODE accumulator (independent quadrature)
    t = np.concatenate([[0.0], np.geomspace(1e-3, 2000.0, 4000)])
    a = kin.activity_fraction("kidneys", t)
    tail = a[-1] / kin.model.lambda_phys_per_h
    assert np.trapezoid(a, t) + tail == pytest.approx(kin.tia_fraction_h("kidneys"), rel=5e-3)
    assert kin.tia_fraction_h("kidney_left") == pytest.approx(0.5 * kin.tia_fraction_h("kidneys"))
    # at t = 0 everything is in plasma
    assert kin.activity_fraction("plasma", 0.0) == pytest.approx(1.0)
    with pytest.raises(KeyError, match="no VOI"):
        kin.tia_fraction_h("brain")
    with pytest.raises(ValueError, match="within"):
        kin.activity_fraction("kidneys", [-1.0])
