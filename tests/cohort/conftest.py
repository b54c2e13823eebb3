"""A small virtual multi-centre cohort (3 small simulated patients, DICOM + NIfTI, a diagnostic PET
and four therapy SPECT/CT time points each) and one full local-pool run of every stage, shared by
the cohort tests."""
from __future__ import annotations

import pytest

N_PATIENTS = 3
#: Dosimetry settings that keep the tests fast: the simulator does not move the patient between
#: time points (no registration needed), organ-level MIRD only, no recovery correction.
FAST_SETTINGS = {"dosimetry": {"registration": "none", "voxel_dose": False, "write_report": False,
                               "recovery": "none"}}


@pytest.fixture(scope="session")
def virtual_cohort(tmp_path_factory):
    """Manifest of 3 small simulated patients in 2+ centres (simulated in this process)."""
    from theranomics.cohort import simulate_cohort

    root = tmp_path_factory.mktemp("virtual_cohort")
    return simulate_cohort(N_PATIENTS, root, n_centres=2, seed=3, small=True, workers=0, progress=False,
                           max_lesions=4)


@pytest.fixture(scope="session")
def fast_settings() -> dict:
    return {k: dict(v) for k, v in FAST_SETTINGS.items()}


@pytest.fixture(scope="session")
def local_run(virtual_cohort, tmp_path_factory):
    """Every stage (quantify, radiomics, dosimetry, plan) on the local process pool (2 workers)."""
    from theranomics.cohort import run_cohort

    out = tmp_path_factory.mktemp("local_run")
    return run_cohort(virtual_cohort, out, workers=2, progress=False, settings=FAST_SETTINGS)
