"""Red-marrow formulas (Hindorf 2010) against hand calculation with ICRP-107 energies; the photon
self absorbed fraction against analytic bounds from xraylib attenuation coefficients."""
import math

import numpy as np
import pytest
import xraylib

from theranomics import nuclides
from theranomics.dosimetry.kernels.point import emission_lines
from theranomics.dosimetry.marrow import (RED_MARROW_DENSITY_G_CM3, MarrowError, blood_based_marrow_tia_mbq_h,
                                          image_based_marrow_tia_mbq_h, marrow_dose, marrow_photon_absorbed_fraction,
                                          marrow_self_s_value, red_marrow_mass_g)


def test_self_s_value_is_local_electron_energy_over_mass():
    e = nuclides.electron_energy_per_decay_mev("Lu-177")
    expected = e * 1.602176634e-13 * 3.6e9 / 1.170          # Gy per MBq·h for 1170 g
    assert marrow_self_s_value("Lu-177", 1170.0, photon_absorbed_fraction=0.0) == pytest.approx(expected, rel=1e-12)
    assert marrow_self_s_value("Lu-177", 1170.0, 0.8, 0.0) == pytest.approx(0.8 * expected, rel=1e-12)


def test_self_s_value_adds_photon_energy_times_absorbed_fraction():
    e_e = nuclides.electron_energy_per_decay_mev("Lu-177")
    e_g = nuclides.photon_energy_per_decay_mev("Lu-177")
    expected = (e_e + 0.2 * e_g) * 1.602176634e-13 * 3.6e9 / 1.170
    assert marrow_self_s_value("Lu-177", 1170.0, photon_absorbed_fraction=0.2) == pytest.approx(expected, rel=1e-12)
    phi = marrow_photon_absorbed_fraction("Lu-177", 1170.0)
    default = (e_e + phi * e_g) * 1.602176634e-13 * 3.6e9 / 1.170
    assert marrow_self_s_value("Lu-177", 1170.0) == pytest.approx(default, rel=1e-12)
    assert marrow_dose("image_based", 1.0, 1170.0, "Lu-177").parameters["photon_absorbed_fraction"] == phi


def _uniform_sphere_escape(x):
    """Escape probability of a photon born uniformly in a sphere of optical radius x = μR (first-flight escape; Case, de Hoffmann & Placzek 1953)."""
    return 3.0 / (8.0 * x ** 3) * (2.0 * x ** 2 - 1.0 + (1.0 + 2.0 * x) * np.exp(-2.0 * x))


@pytest.mark.parametrize("mass_g", [100.0, 1170.0, 5000.0])
def test_photon_absorbed_fraction_between_analytic_bounds(mass_g):
    """φ_γ of a marrow-mass sphere lies between the no-build-up estimate (energy absorbed at the first
    interaction with μ_en) and the upper bound (all energy of every interacting photon absorbed, μ)."""
    rho = RED_MARROW_DENSITY_G_CM3
    radius_cm = (3.0 * mass_g / rho / (4.0 * math.pi)) ** (1.0 / 3.0)
    e, y = emission_lines("Lu-177", "photons")
    kev = np.maximum(np.asarray(e) * 1000.0, 1.01)
    mu_en = np.array([xraylib.CS_Energy_CP("Tissue, Soft (ICRP)", k) for k in kev]) * rho
    mu = np.array([xraylib.CS_Total_CP("Tissue, Soft (ICRP)", k) for k in kev]) * rho
    w = np.asarray(e) * np.asarray(y)
    lower = float(np.dot(w, 1 - _uniform_sphere_escape(mu_en * radius_cm)) / w.sum())
    upper = float(np.dot(w, 1 - _uniform_sphere_escape(mu * radius_cm)) / w.sum())
    phi = marrow_photon_absorbed_fraction("Lu-177", mass_g)
    assert lower < phi < upper
    assert phi < 1.5 * lower                 # build-up adds tens of percent, not multiples, at these sizes


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
    with pytest.raises(MarrowError, match="photon_absorbed_fraction"):
        marrow_self_s_value("Lu-177", 1000.0, 1.0, -0.1)
    with pytest.raises(MarrowError, match="TIA"):
        marrow_dose("x", 1.0, 1000.0, "Lu-177", cross={"remainder": (float("nan"), 1e-6)})
