"""Red-marrow formulas (Hindorf 2010) against hand calculation with ICRP-107 energies."""
import pytest

from theranomics import nuclides
from theranomics.dosimetry.marrow import (MarrowError, blood_based_marrow_tia_mbq_h, image_based_marrow_tia_mbq_h,
                                          marrow_dose, marrow_self_s_value, red_marrow_mass_g)


def test_self_s_value_is_local_electron_energy_over_mass():
    e = nuclides.electron_energy_per_decay_mev("Lu-177")
    expected = e * 1.602176634e-13 * 3.6e9 / 1.170          # Gy per MBq·h for 1170 g
    assert marrow_self_s_value("Lu-177", 1170.0) == pytest.approx(expected, rel=1e-12)
    assert marrow_self_s_value("Lu-177", 1170.0, 0.8) == pytest.approx(0.8 * expected, rel=1e-12)


def test_masses_and_tias():
    assert red_marrow_mass_g("M", 73.0) == pytest.approx(1170.0)
    assert red_marrow_mass_g("F", 90.0) == pytest.approx(900.0 * 1.5)
    assert red_marrow_mass_g("F", scale="none") == 900.0
    assert blood_based_marrow_tia_mbq_h(0.02, 1000.0) == pytest.approx(20.0)         # RMBLR 1
    assert blood_based_marrow_tia_mbq_h(0.02, 1000.0, rmblr=0.36) == pytest.approx(7.2)
    assert image_based_marrow_tia_mbq_h(50.0, 100.0, 1000.0) == pytest.approx(500.0)


def test_dose_components():
    s_self = marrow_self_s_value("Lu-177", 1000.0)
    d = marrow_dose("blood_based", 20.0, 1000.0, "Lu-177", cross={"remainder": (5e4, 1e-6), "lesion_1": (100.0, 1e-5)})
    assert d.self_dose_gy == pytest.approx(20.0 * s_self)
    assert d.dose_gy == pytest.approx(20.0 * s_self + 5e4 * 1e-6 + 100.0 * 1e-5)
    assert "no_cross_dose" in marrow_dose("image_based", 1.0, 1000.0, "Lu-177").flags


def test_errors():
    with pytest.raises(MarrowError, match="sex"):
        red_marrow_mass_g(None, 70.0)
    with pytest.raises(MarrowError, match="weight_kg"):
        red_marrow_mass_g("M")
    with pytest.raises(MarrowError, match="rmblr"):
        blood_based_marrow_tia_mbq_h(0.01, 1000.0, rmblr=0.0)
    with pytest.raises(MarrowError, match="<= 1"):
        marrow_self_s_value("Lu-177", 1000.0, 1.5)
    with pytest.raises(MarrowError, match="TIA"):
        marrow_dose("x", 1.0, 1000.0, "Lu-177", cross={"remainder": (float("nan"), 1e-6)})
