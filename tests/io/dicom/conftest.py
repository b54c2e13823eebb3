"""Fixtures for the DICOM tests: reference-data paths and small synthetic images."""
from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import numpy as np
import pytest

from theranomics.core import Administration, Image, Patient

@pytest.fixture(scope="session")
def dro_root(refdata) -> Path:
    return refdata / "suv_dro" / "DRO"


@pytest.fixture(scope="session")
def ibsi_ct(refdata) -> Path:
    return refdata / "ibsi" / "ibsi_1_ct_radiomics_phantom"


@pytest.fixture
def dro_pet_copy(dro_root, tmp_path) -> Path:
    """A writable copy of DRO_0_0's 20 PET files."""
    out = tmp_path / "pet"
    shutil.copytree(dro_root / "DRO_0_0" / "PT", out)
    return out


@pytest.fixture
def patient() -> Patient:
    return Patient("TRX-007", weight_kg=72.5, height_cm=178.0, sex="M")


@pytest.fixture
def lu_administration() -> Administration:
    return Administration("[177Lu]Lu-PSMA-617", "Lu-177", 7400.0, dt.datetime(2024, 5, 6, 10, 0, 0))


@pytest.fixture
def ga_administration() -> Administration:
    return Administration("[68Ga]Ga-PSMA-11", "Ga-68", 150.0, dt.datetime(2024, 5, 6, 9, 15, 30))


def _make_image(unit: str, modality: str, shape=(6, 9, 11), spacing=(0.8, 1.1, 2.5),
               origin=(-123.4, 56.7, -890.1), direction=None, seed: int = 0, scale: float = 1000.0) -> Image:
    """A random non-negative (or HU-like for CT) test image on a non-trivial grid."""
    rng = np.random.default_rng(seed)
    if unit == "HU":
        array = np.round(rng.normal(0.0, 400.0, shape)).astype(np.int16)
    else:
        array = (rng.gamma(2.0, scale / 2.0, shape) * rng.uniform(0.1, 10.0, (shape[0], 1, 1))).astype(np.float32)
    return Image.from_array(array, spacing_mm=spacing, origin_mm=origin, direction=direction, unit=unit, modality=modality)


@pytest.fixture
def make_image():
    """Factory: ``make_image(unit, modality, shape=..., spacing=..., origin=..., direction=..., seed=...)``."""
    return _make_image
