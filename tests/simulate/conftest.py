"""Shared small simulated patients (built once per test session)."""
from __future__ import annotations

import pytest

from theranomics.simulate import LesionSpec, PatientParameters, simulate_patient

SMALL_PARAMS = PatientParameters(
    n_lesions=0,
    lesions=(LesionSpec("bone", 6.0, necrotic=False), LesionSpec("visceral_liver", 12.0, necrotic=True),
             LesionSpec("lymph_node_pelvic", 2.0), LesionSpec("prostate", 3.0), LesionSpec("visceral_lung", 1.5)),
)


@pytest.fixture(scope="session")
def small_params():
    return SMALL_PARAMS


@pytest.fixture(scope="session")
def sim_small():
    return simulate_patient(SMALL_PARAMS, seed=11, tracer="psma-11", small=True)
