"""Planning: linear pricing vs full solves, constraints, trade-off curve, uncertainty."""
from __future__ import annotations

import math
import time

import numpy as np
import pytest

from theranomics import nuclides
from theranomics.dosimetry.radiobiology import lea_catcheside_g
from theranomics.twin import (PBPKModel, PlanningConstraints, TwinParameterError, default_patient, plan_schedules,
                              unit_doses, verify_against_full)
from theranomics.twin.dosimetry import ElectronSelfDose, J_PER_MEV

LIG = "psma-617"


@pytest.fixture(scope="module")
def plan():
    m = PBPKModel(LIG, default_patient(LIG))
    return m, plan_schedules(m, n_cycles=4, interval_weeks=6.0, activity_grid_mbq=np.linspace(3000, 10000, 11),
                             ligand_grid_nmol=(100.0, 200.0))


def test_at_least_ten_thousand_schedules_in_under_a_minute():
    m = PBPKModel(LIG, default_patient(LIG))
    t0 = time.perf_counter()
    res = plan_schedules(m, n_cycles=4, activity_grid_mbq=np.linspace(3000, 10000, 11), ligand_grid_nmol=(100.0,))
    assert res.n_candidates >= 10 ** 4
    assert time.perf_counter() - t0 < 60.0


def test_planning_respects_every_constraint(plan):
    _, res = plan
    best = res.best
    assert best is not None
    for (organ, quantity), limit in res.constraints.limits().items():
        assert best[f"{organ}_{quantity}"] <= limit
    feas = res.candidates[res.candidates["feasible"]]
    assert best["objective_gy"] == feas["objective_gy"].max()
    assert res.constraints.limits()[("kidneys", "bed_gy")] == 40.0
    assert PlanningConstraints(risk_factors=True).limits()[("kidneys", "bed_gy")] == 28.0


def test_linear_pricing_matches_full_solves_within_one_percent(plan):
    m, res = plan
    rng = np.random.default_rng(3)
    acts = res.candidates.sample(1, random_state=1)[[f"activity_mbq_c{i + 1}" for i in range(4)]].to_numpy()
    acts = np.vstack([acts, np.array(res.best_activity_mbq)])
    p = int(np.flatnonzero(res.unit.ligand_grid_nmol == 100.0)[0])
    cmp = verify_against_full(m, res.unit, acts, p=p, rtol=1e-4)
    np.testing.assert_allclose(cmp["dose_linear_gy"], cmp["dose_full_gy"], rtol=0.01)
    ok = cmp["bed_full_gy"].notna()
    np.testing.assert_allclose(cmp.loc[ok, "bed_linear_gy"], cmp.loc[ok, "bed_full_gy"], rtol=0.01)
    del rng


def test_tradeoff_curve_is_monotone(plan):
    _, res = plan
    curve = res.tradeoff_curve()
    assert len(curve) > 3
    assert np.all(np.diff(curve["kidneys_bed_gy"].to_numpy()) >= 0)
    assert np.all(np.diff(curve["best_objective_gy"].to_numpy()) > 0)


def test_reasons_name_the_binding_constraint(plan):
    _, res = plan
    assert any("binding constraint" in r for r in res.reasons)


def test_uncertainty_quantile_makes_the_plan_more_cautious():
    base = default_patient(LIG, n_tumours=1)
    samples = [base.with_values({"kidneys.receptor_density_nmol_l": r}) for r in (8.0, 14.0, 25.0, 40.0)]
    m = PBPKModel(LIG, samples)
    grid = np.linspace(3000, 12000, 10)
    median = plan_schedules(m, n_cycles=3, activity_grid_mbq=grid, constraints=PlanningConstraints())
    strict = plan_schedules(m, n_cycles=3, activity_grid_mbq=grid, unit=median.unit,
                            constraints=PlanningConstraints(constraint_quantile=0.95))
    assert sum(strict.best_activity_mbq) <= sum(median.best_activity_mbq)


def test_lea_catcheside_accumulator_matches_closed_form():
    """For an exponential curve the ODE accumulator G equals λ/(λ+μ) (Dale), cf. radiobiology."""
    m = PBPKModel(LIG, default_patient(LIG, n_tumours=1))
    unit = unit_doses(m, [0.0], [100.0])
    j = m.organs.index("lesion_1")
    # late-phase check on the closed form: a single exponential has G = λ/(λ+μ)
    lam, mu = 0.01, np.log(2) / 1.5
    assert lea_catcheside_g([1.0], [lam], 1.5) == pytest.approx(lam / (lam + mu))
    assert 0 < unit.g[0, 0, 0, j] < 1


def test_electron_s_value_is_energy_over_mass():
    s = ElectronSelfDose("Lu-177").s_gy_per_mbq_h("kidneys", 0.3)
    e = nuclides.electron_energy_per_decay_mev("Lu-177")
    assert s == pytest.approx(e * J_PER_MEV * 3.6e9 / 0.3, rel=1e-12)
    assert s == pytest.approx(2.84e-4, rel=0.01)          # 0.1479 MeV × 3.6e9 / 0.3 kg


def test_planning_input_errors():
    m = PBPKModel(LIG, default_patient(LIG))
    with pytest.raises(TwinParameterError, match="objective"):
        plan_schedules(m, n_cycles=1, objective="max_fun")
    with pytest.raises(TwinParameterError, match="labelled ligand"):
        plan_schedules(m, n_cycles=1, activity_grid_mbq=[7400.0], ligand_grid_nmol=(5.0,))
    with pytest.raises(TwinParameterError, match="constraint_quantile"):
        PlanningConstraints(constraint_quantile=1.5)
    with pytest.raises(TwinParameterError, match="tumour"):
        plan_schedules(PBPKModel(LIG, default_patient(LIG, n_tumours=0)), n_cycles=1)


def test_bed_from_g_matches_dale_mono_exponential_closed_form():
    """BED from (D, G) equals the radiobiology module's Dale mono-exponential BED (G = λ/(λ+μ))."""
    from theranomics.dosimetry.radiobiology import RadiobiologyError, bed_from_g_gy, bed_mono_exp_gy
    lam, t_rep = math.log(2) / 50.0, 2.8
    g = lam / (lam + math.log(2) / t_rep)
    assert bed_from_g_gy(20.0, g, 2.6) == pytest.approx(bed_mono_exp_gy(20.0, 50.0, "kidney"), rel=1e-12)
    np.testing.assert_allclose(bed_from_g_gy(np.array([0.0, 10.0]), 1.0, 2.0), [0.0, 60.0])
    for args, match in (((-1.0, 0.5, 3.0), "dose_gy"), ((1.0, 1.5, 3.0), "g_factor"), ((1.0, 0.5, 0.0), "alpha_beta")):
        with pytest.raises(RadiobiologyError, match=match):
            bed_from_g_gy(*args)
