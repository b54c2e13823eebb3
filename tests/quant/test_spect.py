"""SPECT counts → Bq/mL against a hand computation; decay within the acquisition against quadrature."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.integrate import quad

from theranomics import nuclides
from theranomics.core.image import Image
from theranomics.quant.spect import counts_to_bq_per_ml, frame_decay_factor


def counts_image(values=None, unit="counts", spacing=(4.0, 4.0, 5.0)):
    array = np.full((3, 4, 5), 1200.0) if values is None else values
    return Image.from_array(array, spacing_mm=spacing, unit=unit, modality="NM")


def test_hand_computation():
    # 1200 counts in 1800 s at 10 cps/MBq: 1200 / 18000 = 0.0666… MBq = 66666.7 Bq in a 0.08 mL voxel
    out = counts_to_bq_per_ml(counts_image(), 10.0, 1800.0)
    assert out.unit == "Bq/mL"
    np.testing.assert_allclose(out.array, 66666.666666 / 0.08, rtol=1e-9)
    assert out.geometry == counts_image().geometry
    assert out.meta["calibration_cps_per_mbq"] == 10.0


def test_total_activity_conserved():
    rng = np.random.default_rng(3)
    counts = rng.poisson(50.0, size=(3, 4, 5)).astype(float)
    out = counts_to_bq_per_ml(counts_image(counts), 12.5, 900.0)
    total_mbq = out.array.sum() * out.geometry.voxel_volume_ml / 1e6
    assert total_mbq == pytest.approx(counts.sum() / 900.0 / 12.5, rel=1e-12)


@pytest.mark.parametrize("nuclide, duration_s", [("Lu-177", 1800.0), ("Ga-68", 3600.0), ("Tc-99m", 1200.0)])
def test_decay_during_acquisition_against_quadrature(nuclide, duration_s):
    lam = math.log(2) / nuclides.half_life_s(nuclide)
    mean_fraction, _ = quad(lambda t: math.exp(-lam * t), 0.0, duration_s, epsabs=0, epsrel=1e-13)
    expected = duration_s / mean_fraction  # A(0) / mean A over the frame
    assert frame_decay_factor(lam, duration_s) == pytest.approx(expected, rel=1e-10)
    plain = counts_to_bq_per_ml(counts_image(), 10.0, duration_s)
    corrected = counts_to_bq_per_ml(counts_image(), 10.0, duration_s, decay_during_acquisition_nuclide=nuclide)
    np.testing.assert_allclose(corrected.array, plain.array * expected, rtol=1e-10)
    assert corrected.meta["decay_during_acquisition"]["nuclide"] == nuclide


def test_frame_decay_factor_limits():
    assert frame_decay_factor(0.0, 100.0) == 1.0
    assert frame_decay_factor(1e-12, 100.0) == pytest.approx(1.0 + 5e-11, rel=1e-15)
    with pytest.raises(ValueError, match="duration_s must be a positive number"):
        frame_decay_factor(1e-3, 0.0)
    with pytest.raises(ValueError, match="decay_constant_per_s must be a non-negative number"):
        frame_decay_factor(-1e-3, 10.0)


@pytest.mark.parametrize("cal, duration, name", [(0.0, 100.0, "calibration_cps_per_mbq"),
                                                 (-3.0, 100.0, "calibration_cps_per_mbq"),
                                                 (float("nan"), 100.0, "calibration_cps_per_mbq"),
                                                 (10.0, 0.0, "acquisition_duration_s"),
                                                 (10.0, float("inf"), "acquisition_duration_s"),
                                                 (10.0, "900", "acquisition_duration_s")])
def test_rejects_bad_calibration_or_duration(cal, duration, name):
    with pytest.raises(ValueError, match=f"{name} must be a positive finite number"):
        counts_to_bq_per_ml(counts_image(), cal, duration)


def test_rejects_negative_counts():
    values = np.full((3, 4, 5), 10.0)
    values[1, 2, 3] = -1.0
    with pytest.raises(ValueError, match="negative counts"):
        counts_to_bq_per_ml(counts_image(values), 10.0, 100.0)


def test_rejects_nan_counts():
    values = np.full((3, 4, 5), 10.0)
    values[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite"):
        counts_to_bq_per_ml(counts_image(values), 10.0, 100.0)


def test_rejects_wrong_unit():
    with pytest.raises(ValueError, match="unit is 'Bq/mL'; expected 'counts'"):
        counts_to_bq_per_ml(counts_image(unit="Bq/mL"), 10.0, 100.0)


def test_rejects_non_image():
    with pytest.raises(TypeError, match="needs a theranomics Image"):
        counts_to_bq_per_ml(np.ones((2, 2, 2)), 10.0, 100.0)


def test_rejects_unknown_nuclide():
    with pytest.raises(nuclides.UnknownNuclideError):
        counts_to_bq_per_ml(counts_image(), 10.0, 100.0, decay_during_acquisition_nuclide="Xx-999")
