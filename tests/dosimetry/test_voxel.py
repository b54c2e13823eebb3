"""Voxel dosimetry: LDE exactness, convolution vs LDE under charged-particle equilibrium, density
scaling, CT calibration, kernel orientation, units and bad inputs."""
from __future__ import annotations

import numpy as np
import pytest

from theranomics import nuclides
from theranomics.core.image import GeometryError, Image
from theranomics.dosimetry.kernels import KernelInputError, voxel_s_kernel
from theranomics.dosimetry.voxel import (DoseBackend, KernelConvolution, LocalDeposition, absorbed_dose,
                                         density_from_ct)

MEV_J = 1.602176634e-13


def _image(array, spacing=(4.42, 4.42, 4.42), unit="MBq*h"):
    return Image.from_array(np.asarray(array, dtype=float), spacing_mm=spacing, unit=unit)


def test_lde_uniform_field_exact():
    tia = _image(np.full((4, 5, 6), 2.5))
    dose = absorbed_dose(tia, "Lu-177", method="lde", include="electrons")
    e_mev = nuclides.electron_energy_per_decay_mev("Lu-177")
    mass_kg = 0.442**3 * 1.04 * 1e-3
    expected = 2.5 * 3.6e9 * e_mev * MEV_J / mass_kg
    assert dose.unit == "Gy"
    assert np.allclose(dose.array, expected, rtol=1e-12)


def test_lde_with_photons_and_density():
    tia = _image(np.ones((2, 2, 2)))
    rho = tia.with_array(np.full((2, 2, 2), 2.08), unit="g/mL")
    no_ph = absorbed_dose(tia, "Lu-177", method="lde", include="electrons", density=rho).array
    with_ph = absorbed_dose(tia, "Lu-177", method="lde", include="all", density=rho).array
    ratio = (nuclides.electron_energy_per_decay_mev("Lu-177") + nuclides.photon_energy_per_decay_mev("Lu-177")) \
        / nuclides.electron_energy_per_decay_mev("Lu-177")
    assert np.allclose(with_ph / no_ph, ratio)
    ref = absorbed_dose(tia, "Lu-177", method="lde", include="electrons").array
    assert np.allclose(no_ph, ref * 1.04 / 2.08)


@pytest.mark.parametrize("method", ["voxel_s", "dpk"])
@pytest.mark.parametrize("nuclide", ["Lu-177", "Y-90"])
def test_uniform_field_convolution_equals_lde(method, nuclide):
    """Charged-particle equilibrium: inside a uniform field, electron kernel dose = LDE."""
    tia = _image(np.ones((11, 11, 11)), spacing=(4.0, 4.0, 4.0))
    conv = absorbed_dose(tia, nuclide, method=method, include="electrons").array
    lde = absorbed_dose(tia, nuclide, method="lde", include="electrons").array
    assert conv[5, 5, 5] == pytest.approx(lde[5, 5, 5], rel=0.005)
    assert conv[5, 5, 0] < lde[5, 5, 0]      # edge of the field: energy escapes


def test_point_source_orientation_and_units():
    """A unit source reproduces the kernel: S × 3.6 Gy per MBq·h, axes kept (anisotropic voxels)."""
    spacing = (4.0, 4.0, 5.0)        # x, y, z; array is [k, j, i]
    arr = np.zeros((7, 9, 9))
    arr[3, 4, 4] = 1.0
    kern = voxel_s_kernel("Y-90", spacing, include="beta")
    dose = absorbed_dose(_image(arr, spacing), "Y-90", method="voxel_s", include="beta").array
    assert dose[3, 4, 4] == pytest.approx(kern.s(0, 0, 0) * 3.6, rel=1e-9)
    assert dose[4, 4, 4] == pytest.approx(kern.s(0, 0, 1) * 3.6, rel=1e-6)     # along z
    assert dose[3, 4, 5] == pytest.approx(kern.s(1, 0, 0) * 3.6, rel=1e-6)     # along x
    assert dose[4, 4, 4] < dose[3, 4, 5]
    rate = absorbed_dose(_image(arr, spacing, unit="MBq"), "Y-90", method="voxel_s", include="beta")
    assert rate.unit == "Gy/h" and np.allclose(rate.array, dose)


def test_density_scaling_from_ct():
    tia = _image(np.ones((5, 5, 5)))
    ct = tia.with_array(np.full((5, 5, 5), 1400.0), unit="HU")
    ref = absorbed_dose(tia, "Lu-177", method="voxel_s", include="beta").array
    bone = absorbed_dose(tia, "Lu-177", method="voxel_s", include="beta", ct=ct).array
    assert np.allclose(bone, ref * 1.04 / 1.85)


def test_ct_calibration_curve():
    ct = _image(np.array([-1000.0, -500.0, 0.0, 700.0, 1400.0, 5000.0]).reshape(1, 1, 6), unit="HU")
    rho = density_from_ct(ct)
    assert rho.unit == "g/mL"
    assert np.allclose(rho.array.ravel(), [0.0012, 0.5006, 1.0, 1.425, 1.85, 1.0 + 3071 * 0.85 / 1400], atol=1e-9)
    custom = density_from_ct(ct, calibration=[(-1000, 0.001), (1000, 2.0)])
    assert custom.array[0, 0, 2] == pytest.approx(1.0005)


def test_backend_seam():
    assert isinstance(LocalDeposition(), DoseBackend) and isinstance(KernelConvolution(), DoseBackend)

    class Constant:
        def dose(self, source, nuclide, density=None):
            return source.with_array(np.full(source.shape, 7.0), unit="Gy")

    out = absorbed_dose(_image(np.ones((2, 2, 2))), "Lu-177", backend=Constant())
    assert np.all(out.array == 7.0)


@pytest.mark.parametrize("array, unit, match", [
    (-np.ones((3, 3, 3)), "MBq*h", "negative"),
    (np.full((3, 3, 3), np.nan), "MBq*h", "NaN"),
    (np.ones((3, 3, 3)), "Bq/mL", "unit"),
])
def test_bad_source(array, unit, match):
    with pytest.raises(KernelInputError, match=match):
        absorbed_dose(_image(array, unit=unit), "Lu-177", method="lde")


def test_bad_density_and_method():
    tia = _image(np.ones((3, 3, 3)))
    with pytest.raises(KernelInputError, match="density"):
        absorbed_dose(tia, "Lu-177", density=tia.with_array(np.zeros((3, 3, 3)), unit="g/mL"), method="lde")
    with pytest.raises(KernelInputError, match="g/mL"):
        absorbed_dose(tia, "Lu-177", density=tia.with_array(np.ones((3, 3, 3)), unit="HU"), method="lde")
    with pytest.raises(GeometryError):
        absorbed_dose(tia, "Lu-177", density=_image(np.ones((3, 3, 4)), unit="g/mL"), method="lde")
    with pytest.raises(KernelInputError, match="HU"):
        density_from_ct(tia)
    with pytest.raises(KernelInputError, match="calibration"):
        density_from_ct(tia.with_array(np.zeros((3, 3, 3)), unit="HU"), calibration=[(0, 1.0)])
    with pytest.raises(KernelInputError, match="method"):
        absorbed_dose(tia, "Lu-177", method="monte_carlo")
    with pytest.raises(nuclides.UnknownNuclideError):
        absorbed_dose(tia, "Qq-12", method="lde")
