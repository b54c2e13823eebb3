"""Sphere self-dose model against its analytic limit and against the voxel kernel on a voxelised sphere."""
from __future__ import annotations

import numpy as np
import pytest

from theranomics import nuclides
from theranomics.core.image import Image
from theranomics.dosimetry.kernels import KernelInputError
from theranomics.dosimetry.spheres import sphere_absorbed_fraction, sphere_s_table, sphere_s_value
from theranomics.dosimetry.voxel import KernelConvolution


def test_large_sphere_limit_electrons():
    """φ → 1 and S → E/m for spheres much larger than the β range."""
    e = nuclides.mean_energy_per_decay_mev("Lu-177", "beta-")
    s = sphere_s_value("Lu-177", 1000.0)[0]
    assert s == pytest.approx(e / 1000.0 * 0.1602176634, rel=0.005)
    phi = sphere_absorbed_fraction("Y-90", [0.01, 0.1, 1.0, 10.0, 1000.0])
    assert np.all(np.diff(phi) > 0) and phi[-1] > 0.96 and phi[0] < 0.4


def test_photon_absorbed_fraction_partial():
    phi = sphere_absorbed_fraction("Lu-177", [10.0, 1000.0], include="photons")
    assert 0.0 < phi[0] < phi[1] < 0.5


def test_table_units():
    table = sphere_s_table("Lu-177", [1.0, 10.0])
    assert np.allclose(table["s_gy_per_mbq_h"], table["s_mgy_per_mbq_s"] * 3.6)
    assert np.allclose(table["mass_g"], table["volume_ml"])


def test_sphere_against_voxelised_sphere():
    """Mean dose of a voxelised Y-90 sphere from the voxel kernel = sphere model (same volume)."""
    size, radius_mm, n = 2.0, 12.0, 21
    c = (np.arange(n) - n // 2) * size
    z, y, x = np.meshgrid(c, c, c, indexing="ij")
    inside = x**2 + y**2 + z**2 <= radius_mm**2
    volume_ml = inside.sum() * size**3 / 1000.0
    tia = Image.from_array(inside / inside.sum(), spacing_mm=(size,) * 3, unit="MBq*h")   # 1 MBq·h total
    backend = KernelConvolution(method="voxel_s", include=("beta",), reference_density_g_cm3=1.0)
    mean_dose = backend.dose(tia, "Y-90").array[inside].mean()
    expected = sphere_s_value("Y-90", volume_ml, density_g_cm3=1.0)[0] * 3.6
    assert mean_dose == pytest.approx(expected, rel=0.03)


@pytest.mark.parametrize("volume", [0.0, -1.0, float("nan"), []])
def test_bad_volume(volume):
    with pytest.raises(KernelInputError, match="volume"):
        sphere_s_value("Lu-177", volume)
