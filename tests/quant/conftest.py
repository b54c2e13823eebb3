"""Small simulated PSMA patients written as DICOM, shared by the quantification tests."""
from __future__ import annotations

import dataclasses

import pytest

from theranomics.simulate import LesionSpec, PatientParameters, simulate_patient, write_patient

LESIONS = (LesionSpec("bone", 8.0, necrotic=False), LesionSpec("visceral_liver", 10.0, necrotic=False),
           LesionSpec("lymph_node_pelvic", 4.0), LesionSpec("visceral_lung", 4.0))
BASELINE = PatientParameters(patient_id="QBASE", n_lesions=0, lesions=LESIONS)


@pytest.fixture(scope="session")
def quant_patient(tmp_path_factory):
    """(patient folder, time-point folder) of a small PSMA-11 patient with four known lesions."""
    root = tmp_path_factory.mktemp("quant_patients")
    sim = simulate_patient(BASELINE, seed=21, tracer="psma-11", small=True)
    folder = write_patient(sim, root, dicom=True)
    return folder, folder / "cycle0" / sim.study.cycle(0).timepoints[0].label


@pytest.fixture(scope="session")
def followup_patient(tmp_path_factory):
    """The same patient after treatment: receptor expression halved (same seed → same anatomy and lesions)."""
    root = tmp_path_factory.mktemp("quant_followup")
    params = dataclasses.replace(BASELINE, patient_id="QFOLLOW", receptor_expression_scale=0.45)
    sim = simulate_patient(params, seed=21, tracer="psma-11", small=True)
    folder = write_patient(sim, root, dicom=True)
    return folder, folder / "cycle0" / sim.study.cycle(0).timepoints[0].label
