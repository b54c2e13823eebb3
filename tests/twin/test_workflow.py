"""`theranomics plan` end to end on a patient simulated WITH the twin's own kinetics (known truth),
and the input checks of the plan workflow."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from theranomics.twin import PatientSpec, TumourSpec
from theranomics.twin.workflow import PlanError, load_plan_inputs, observations_from_tacs, plan_folder, twin_organ_of

LIG = "psma-617"
TRUE_KIDNEY_R = 28.0           # twice the default: personalisation must find it
#: simulator VOIs → twin organs (shares of the organ's activity); the rest of the body by rough volume
VOI_MAP = {**{k: ("rest", v) for k, v in {"remainder": 0.8, "lung": 0.05, "heart": 0.01, "blood_pool": 0.01,
                                           "aorta": 0.005, "bladder": 0.01, "bowel": 0.04, "bone": 0.04,
                                           "prostate": 0.001, "prostate_bed": 0.001, "lacrimal": 1e-4}.items()},
           "kidney_cortex": ("kidneys", 0.75), "kidney_medulla": ("kidneys", 0.25),
           "parotid": ("salivary_glands", 0.67), "submandibular": ("salivary_glands", 0.33)}


@pytest.fixture(scope="module")
def planned(tmp_path_factory):
    from theranomics.simulate import PatientParameters, simulate_patient, write_patient
    from theranomics.simulate.lesions import LesionSpec
    from theranomics.twin.kinetics import PBPKKinetics
    vols = (12.0, 8.0, 6.0)
    truth = PatientSpec(80.0, tumours=tuple(TumourSpec(f"lesion_{i + 1}", v) for i, v in enumerate(vols)),
                        overrides={"kidneys.receptor_density_nmol_l": TRUE_KIDNEY_R})
    kin = PBPKKinetics(LIG, truth, voi_map=VOI_MAP, activity_mbq=7400.0)
    specs = tuple(LesionSpec(r, v) for r, v in zip(("bone", "lymph_node_pelvic", "visceral_liver"), vols))
    sim = simulate_patient(PatientParameters(lesions=specs), seed=5, small=True, kinetics=kin)
    root = tmp_path_factory.mktemp("plan")
    pdir = write_patient(sim, root / "study", dicom=False)
    out = root / "out"
    from theranomics.cli.plan import add_parser
    import argparse
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers())
    args = parser.parse_args(["plan", str(pdir), "--out", str(out), "--registration", "none", "--spect-fwhm-mm", "12",
                              "--samples", "24", "--no-progress"])
    assert args.func(args) == 0
    return sim, pdir, out, json.loads((out / "plan.json").read_text())


@pytest.mark.slow
def test_plan_recovers_the_simulated_kidney_parameters(planned):
    _, _, _, plan = planned
    par = {p["parameter"]: p for p in plan["personalised_parameters"]}
    r = par["kidneys.receptor_density_nmol_l"]
    assert r["ci90_low"] <= TRUE_KIDNEY_R <= r["ci90_high"]
    rel = par["kidneys.lambda_rel_per_min"]
    assert rel["ci90_low"] <= 2.9e-4 <= rel["ci90_high"]          # the ligand file's value used to simulate


@pytest.mark.slow
def test_plan_tacs_follow_the_simulator_truth(planned):
    sim, _, out, _ = planned
    tacs = pd.read_csv(out / "tacs.csv").query("kind == 'measured' and organ == 'kidneys'")
    truth = sim.truth_activity.query("cycle == 1 and voi == 'kidneys'").set_index("time_h")["activity_mbq"]
    np.testing.assert_allclose(tacs["predicted_mbq"], truth.loc[tacs["time_h"]].to_numpy(), rtol=0.1)


@pytest.mark.slow
def test_plan_respects_every_limit_and_writes_every_output(planned):
    _, _, out, plan = planned
    assert plan["feasible"] and len(plan["recommended_activity_mbq"]) == 4
    b = plan["binding_constraint"]
    assert b["value_gy"] <= b["limit_gy"]
    cand = pd.read_csv(out / "candidates.csv.gz")
    best = cand.iloc[0]
    assert best["feasible"] and best["kidneys_bed_gy"] <= 40.0 and best["red_marrow_dose_gy"] <= 2.0
    assert best["salivary_glands_dose_gy"] <= 25.0
    assert best["objective_gy"] == cand.loc[cand["feasible"], "objective_gy"].max()
    doses = pd.read_csv(out / "doses.csv")
    assert (doses["dose_gy_p05"] <= doses["dose_gy"]).all() and (doses["dose_gy"] <= doses["dose_gy_p95"]).all()
    # the per-cycle kidney BEDs (median) add up to no more than the quantile the constraint was checked at
    assert doses.query("organ == 'kidneys'")["bed_gy"].sum() <= 40.0 + 1e-6
    html = (out / "report.html").read_text()
    for heading in ("Recommended schedule", "Predicted vs measured", "Dose per organ", "Trade-off", "binding constraint"):
        assert heading in html
    for name in ("parameters.csv", "tradeoff.csv", "tumour_sink.csv"):
        assert (out / name).stat().st_size > 0


def test_tac_table_maps_vois_to_twin_organs():
    tacs = pd.DataFrame({"voi": ["kidney_left", "kidney_right", "lesion_2", "parotid", "brain", "kidney_left"],
                         "cycle": [1, 1, 1, 1, 1, 2], "time_h": [4.0] * 6, "activity_mbq": [10.0, 20.0, 5.0, 1.0, 7.0, 3.0]})
    obs = observations_from_tacs(tacs).set_index("organ")["activity_mbq"]
    assert obs.to_dict() == {"kidneys": 30.0, "lesion_2": 5.0, "salivary_glands": 1.0}
    grouped = pd.concat([tacs, pd.DataFrame({"voi": ["kidneys"], "cycle": [1], "time_h": [4.0],
                                             "activity_mbq": [29.0]})])
    assert observations_from_tacs(grouped).set_index("organ").loc["kidneys", "activity_mbq"] == 29.0
    assert twin_organ_of("Submandibular_L") == "salivary_glands" and twin_organ_of("bone") is None


@pytest.mark.parametrize("frame, match", [
    (pd.DataFrame({"voi": ["kidneys"], "cycle": [1], "time_h": [4.0]}), "missing columns"),
    (pd.DataFrame({"voi": ["kidneys"], "cycle": [2], "time_h": [4.0], "activity_mbq": [1.0]}), "no cycle-1"),
    (pd.DataFrame({"voi": ["brain"], "cycle": [1], "time_h": [4.0], "activity_mbq": [1.0]}), "no VOI maps"),
    (pd.DataFrame({"voi": ["kidneys"], "cycle": [1], "time_h": ["x"], "activity_mbq": [1.0]}), "non-numeric"),
])
def test_bad_tac_tables_are_rejected(frame, match):
    with pytest.raises(PlanError, match=match):
        observations_from_tacs(frame, "tacs.csv")


def test_plan_inputs_from_analysis_outputs_and_their_errors(tmp_path):
    with pytest.raises(PlanError, match="does not exist"):
        load_plan_inputs(tmp_path / "nope")
    with pytest.raises(PlanError, match="neither a study folder"):
        load_plan_inputs(tmp_path)
    pd.DataFrame({"lesion_id": [1, 2], "volume_ml": [10.0, 0.3]}).to_csv(tmp_path / "lesions.csv", index=False)
    pd.DataFrame({"voi": ["kidney_left", "lesion_1", "lesion_2"] * 3, "cycle": 1,
                  "time_h": np.repeat([4.0, 24.0, 96.0], 3), "activity_mbq": np.arange(1.0, 10.0)}).to_csv(
        tmp_path / "tacs.csv", index=False)
    with pytest.raises(PlanError, match="administered activity"):
        load_plan_inputs(tmp_path)
    pd.DataFrame({"cycle": [1], "administered_activity_mbq": [7000.0]}).to_csv(tmp_path / "dosimetry.csv", index=False)
    inp = load_plan_inputs(tmp_path)
    assert inp.activity_mbq == 7000.0 and inp.weight_kg == 80.0 and "80 kg" in inp.sources["weight_kg"]
    assert list(inp.lesions["lesion_id"]) == [1]                       # 0.3 mL lesion left out, and said so
    assert "lesions_left_out" in inp.sources
    assert set(inp.observations["organ"]) == {"kidneys", "lesion_1"}
    pd.DataFrame({"lesion_id": [1], "volume": [10.0]}).to_csv(tmp_path / "lesions.csv", index=False)
    with pytest.raises(PlanError, match="volume_ml"):
        load_plan_inputs(tmp_path)


def test_cli_activity_grid_is_validated():
    from theranomics.cli.plan import _grid
    assert _grid("3000:10000:8")[-1] == 10000.0
    for bad in ("3000-10000", "10000:3000:5", "3000:10000:1"):
        with pytest.raises(ValueError, match="activity-grid"):
            _grid(bad)
