"""Validation on simulated patients with known kinetics (issue 5, "done when"): TIAs from the noisy,
blurred SPECT against the simulator's true (unblurred) VOI activity integrals after recovery
correction, and dose plausibility on the therapy presets, on the whole-body phantom and on the real
patient-15 anatomy (``../shared/data/anatomy/lu177_dotatate_patient15``).

Reference values: the simulator's ``truth_tia`` (analytic integrals of its kinetics); plausibility
ranges from the issue (clinical dosimetry series: kidneys 0.4–0.9 and salivary glands 0.5–2 Gy/GBq
for [177Lu]Lu-PSMA-617; kidneys 0.3–1.0 Gy/GBq for [177Lu]Lu-DOTATATE; red marrow < 0.1 Gy/GBq).
The per-VOI table is printed (``pytest -s``) and kept in ``benchmarks/results/dosimetry.md``.
"""
from __future__ import annotations

import pytest

from theranomics.dosimetry.workflow import DosimetrySettings, run_cycle_dosimetry
from theranomics.simulate import PatientParameters, simulate_patient

#: Organ-level run: the SPECT FWHM the simulator used, no patient motion, no dose map.
SETTINGS = DosimetrySettings(spect_fwhm_mm=12.0, registration="none", voxel_dose=False)
GROUP_TRUTH = {"kidneys": ("kidney_cortex", "kidney_medulla", "kidney_left", "kidney_right"),
               "salivary_glands": ("parotid", "submandibular")}


def _run(sim):
    vois = [sim.study.cycle(1).timepoints[0].masks["organs"], sim.lesion_truth]
    res = run_cycle_dosimetry(sim.study, 1, settings=SETTINGS, vois=vois)
    truth = sim.truth_tia.set_index("voi")["tia_mbq_h"].to_dict()
    for g, members in GROUP_TRUTH.items():
        present = [m for m in members if m in truth]
        if present:
            truth[g] = sum(truth[m] for m in present)
    tab = res.table.set_index("voi")
    tab["truth_mbq_h"] = [truth.get(v, float("nan")) for v in tab.index]
    tab["error"] = tab["tia_mbq_h"] / tab["truth_mbq_h"] - 1
    tab["error_uncorrected"] = tab["tia_uncorrected_mbq_h"] / tab["truth_mbq_h"] - 1
    print("\n" + tab[["volume_ml", "truth_mbq_h", "error", "error_uncorrected", "recovery_method",
                      "dose_gy_per_gbq"]].to_string(float_format=lambda x: f"{x:.3g}"))
    return tab


def _check_tias(tab, organs):
    for voi in organs:
        assert abs(tab.loc[voi, "error"]) < 0.10, (voi, tab.loc[voi, "error"])
    lesions = [v for v in tab.index if v.startswith("lesion_")]
    for voi in lesions:
        if tab.loc[voi, "volume_ml"] >= 10.0:
            assert abs(tab.loc[voi, "error"]) < 0.20, (voi, tab.loc[voi, "error"])
        # smaller lesions: no accuracy target, but the correction must move the TIA towards the truth
        assert abs(tab.loc[voi, "error"]) < abs(tab.loc[voi, "error_uncorrected"]), voi
    return lesions


@pytest.mark.slow
def test_whole_body_phantom_psma617():
    """[177Lu]Lu-PSMA-617 on the whole-body phantom (salivary glands in the field of view)."""
    sim = simulate_patient(PatientParameters(n_lesions=3, median_lesion_volume_ml=12.0), seed=5, tracer="psma-11")
    assert sim.agent.key == "lu177-psma-617"
    tab = _run(sim)
    lesions = _check_tias(tab, ("liver", "spleen", "kidneys", "kidney_cortex", "parotid", "salivary_glands"))
    assert sum(tab.loc[v, "volume_ml"] >= 10.0 for v in lesions) >= 2
    assert 0.4 <= tab.loc["kidneys", "dose_gy_per_gbq"] <= 0.9
    assert 0.5 <= tab.loc["salivary_glands", "dose_gy_per_gbq"] <= 2.0
    for key in ("red_marrow_blood_based", "red_marrow_image_based"):
        assert 0 < tab.loc[key, "dose_gy_per_gbq"] < 0.1


@pytest.mark.slow
@pytest.mark.parametrize("tracer, agent, kidney_range", [("dotatate-ga68", "lu177-dotatate", (0.3, 1.0)),
                                                          ("psma-11", "lu177-psma-617", (0.4, 0.9))])
def test_patient15_real_anatomy(refdata, tracer, agent, kidney_range):
    """Real CT anatomy and expert contours of patient 15 (three tumours of 3.7–6.3 mL, below the 10 mL
    accuracy target: checked only to improve with recovery correction).  No marrow or blood VOI
    exists in this anatomy, so no marrow dose is reported for it."""
    sim = simulate_patient(PatientParameters(), seed=5, tracer=tracer, anatomy="patient15", refdata=refdata)
    assert sim.agent.key == agent
    tab = _run(sim)
    lesions = _check_tias(tab, ("liver", "spleen", "kidney_left", "kidney_right", "kidneys"))
    assert len(lesions) == 3
    lo, hi = kidney_range
    assert lo <= tab.loc["kidneys", "dose_gy_per_gbq"] <= hi
    assert not any(v.startswith("red_marrow") for v in tab.index)
