"""Fixtures for the IBSI-1 radiomics tests: phantoms, the IBSI pass rule, one extraction per data set."""
from __future__ import annotations

import math
from decimal import Decimal
from pathlib import Path

import pytest



IBSI_DIR = Path("ibsi")
REF_CSV = IBSI_DIR / "ibsi_1_reference_values" / "ibsi_1_reference_values.csv"
PHANTOM_IMAGE = IBSI_DIR / "ibsi_1_digital_phantom" / "nifti" / "image" / "phantom.nii.gz"
PHANTOM_MASK = IBSI_DIR / "ibsi_1_digital_phantom" / "nifti" / "mask" / "mask.nii.gz"
CT_IMAGE = IBSI_DIR / "ibsi_1_ct_radiomics_phantom" / "nifti" / "image" / "phantom.nii.gz"
CT_MASK = IBSI_DIR / "ibsi_1_ct_radiomics_phantom" / "nifti" / "mask" / "mask.nii.gz"


def significant_digits(text: str) -> int:
    """Significant digits written in a reference value such as '125256.000' (6) or '0.0946' (3)."""
    d = Decimal(text.strip()).normalize()
    return max(len(d.as_tuple().digits), 1)


def round_sig(x: float, digits: int) -> float:
    if x == 0 or not math.isfinite(x):
        return x
    return round(x, digits - int(math.floor(math.log10(abs(x)))) - 1)


def within_tolerance(x: float, value_text: str, tolerance_text: str) -> bool:
    """IBSI rule: |round(x, 3 significant digits) − value| ≤ tolerance.

    Reference values written with more than 3 significant digits (diagnostic voxel counts such as
    125256 with tolerance 0) are compared at the precision they are written with.
    """
    value, tol = float(value_text), float(tolerance_text)
    digits = max(3, significant_digits(value_text))
    return abs(round_sig(float(x), digits) - value) <= tol + 1e-12 * max(1.0, abs(value))


@pytest.fixture(scope="session")
def ibsi_tolerance():
    """The IBSI pass rule (see :func:`within_tolerance`)."""
    return within_tolerance


@pytest.fixture(scope="session")
def digital_phantom_data(refdata):
    from theranomics.io.nifti import read_labelmap, read_nifti
    return read_nifti(refdata / PHANTOM_IMAGE, unit="1"), read_labelmap(refdata / PHANTOM_MASK)


@pytest.fixture(scope="session")
def ct_phantom_data(refdata):
    from theranomics.io.nifti import read_labelmap, read_nifti
    return read_nifti(refdata / CT_IMAGE, unit="HU"), read_labelmap(refdata / CT_MASK)


@pytest.fixture(scope="session")
def ibsi_features(digital_phantom_data, ct_phantom_data):
    """data_set -> {tag: value}: every family incl. Moran/Geary and diagnostics, computed once."""
    from dataclasses import replace

    from theranomics.radiomics import digital_phantom, extract_features, ibsi_config
    from theranomics.radiomics.processing import image_diagnostics

    cache: dict[str, dict[str, float]] = {}

    def get(data_set: str) -> dict[str, float]:
        if data_set not in cache:
            if data_set == "digital_phantom":
                image, labels = digital_phantom_data
                settings = digital_phantom()
            else:
                image, labels = ct_phantom_data
                settings = ibsi_config(data_set.split("_")[1])
            settings = replace(settings, morphology_spatial=True)
            df = extract_features(image, labels, settings, include_diagnostics=True)
            values = df.iloc[0].to_dict()
            values.update(image_diagnostics(image.array, image.spacing_mm, settings))
            cache[data_set] = values
        return cache[data_set]

    return get
