"""Kernel generation from physics, checked against Lanconelli et al. 2012 Monte Carlo voxel S-values,
ESTAR ranges / stopping powers, xraylib μ_en and energy conservation."""
from __future__ import annotations

import time

import numpy as np
import pytest

from theranomics import nuclides
from theranomics.dosimetry.kernels import (KernelInputError, csda_range_g_cm2, material, point_kernel,
                                           voxel_s_kernel)
from theranomics.dosimetry.kernels import _photon_mc
from theranomics.dosimetry.kernels.materials import collision_stopping_power
from theranomics.nuclides import UnknownNuclideError

LANCONELLI = "dosimetry/voxel_s_values_lanconelli2012"
# file -> (nuclide, voxel mm, material, density g/cm³)
FILES = {
    "177Lu4.42mmsoft.txt": ("Lu-177", 4.42, "soft_tissue", 1.04),
    "177Lu6mmsoft.txt": ("Lu-177", 6.0, "soft_tissue", 1.04),
    "177Lu4.42mmbone.txt": ("Lu-177", 4.42, "bone_compact", 1.85),
    "177Lu6mmbone.txt": ("Lu-177", 6.0, "bone_compact", 1.85),
    "90Y4.42mmsoft.txt": ("Y-90", 4.42, "soft_tissue", 1.04),
    "90Y6mmsoft.txt": ("Y-90", 6.0, "soft_tissue", 1.04),
    "90Y4.42mmbone.txt": ("Y-90", 4.42, "bone_compact", 1.85),
    "90Y6mmbone.txt": ("Y-90", 6.0, "bone_compact", 1.85),
}
CLASSES = {"centre": (0, 0, 0), "face": (0, 0, 1), "edge": (0, 1, 1), "corner": (1, 1, 1)}
# The Lanconelli kernels contain β and photons (their tail beyond the β range is photon dose, see
# test_lanconelli_tail_is_photons) but no IE/Auger electrons: compare like with like.
INCLUDE = ("beta", "photons")


def read_lanconelli(path) -> dict[tuple[int, int, int], float]:
    table = np.loadtxt(path, skiprows=2)
    return {(int(i), int(j), int(k)): float(s) for i, j, k, s in table}


def _kernel(fname):
    nuclide, size, mat, rho = FILES[fname]
    return voxel_s_kernel(nuclide, size, include=INCLUDE, density_g_cm3=rho, material_name=mat, half_size=5)


@pytest.mark.parametrize("cls", list(CLASSES))
@pytest.mark.parametrize("fname", list(FILES))
def test_lanconelli(refdata, fname, cls):
    ref = read_lanconelli(refdata / LANCONELLI / fname)
    i, j, k = CLASSES[cls]
    ratio = _kernel(fname).s(i, j, k) / ref[(i, j, k)]
    if cls == "centre":
        # Absolute S with ICRP-107 emissions.  Lu-177: the reference carries 3.0-3.5 % more energy per
        # decay (test_lanconelli_energy_sums), so its centre is 3.0-3.4 % above ours; with that energy
        # matched the centres agree within 0.5 % (test_lanconelli_energy_matched).
        tol = 0.035 if fname.startswith("177Lu") else 0.03
    else:
        tol = 0.10
    assert abs(ratio - 1.0) <= tol, f"{fname} {cls}: ours/Lanconelli = {ratio:.4f}"


def _energy_sum_mev(ref: dict, voxel_mass_g: float) -> float:
    """Σ S·m over the full kernel (one octant stored, mirrored), MeV per decay."""
    mult = lambda i, j, k: (2 if i else 1) * (2 if j else 1) * (2 if k else 1)  # noqa: E731
    return sum(v * mult(*key) for key, v in ref.items()) * voxel_mass_g / 0.1602176634


@pytest.mark.parametrize("fname", list(FILES))
def test_lanconelli_energy_sums(refdata, fname):
    """Σ S·m inside the 11³ kernels: Y-90 equal to ICRP-107 within 0.5 %; the Lu-177 reference
    carries 3.0-3.5 % more energy per decay than ICRP-107 β + the photon energy absorbed in the cube
    (0.1417 vs 0.1371 MeV at 4.42 mm soft tissue): its β or electron data are not ICRP-107's."""
    ref = read_lanconelli(refdata / LANCONELLI / fname)
    kern = _kernel(fname)
    ratio = _energy_sum_mev(ref, kern.voxel_mass_g) / kern.energy_sum_mev()
    if fname.startswith("177Lu"):
        assert 1.029 < ratio < 1.036, ratio
    else:
        assert ratio == pytest.approx(1.0, abs=0.005)


@pytest.mark.parametrize("cls", list(CLASSES))
@pytest.mark.parametrize("fname", list(FILES))
def test_lanconelli_energy_matched(refdata, fname, cls):
    """Matched emissions: with our kernel scaled to the reference's energy per decay (Σ S·m over the
    same 11³ voxels), i.e. comparing the fraction of the emitted energy each voxel absorbs, the centre
    voxel is within 3 % and the first neighbours within 10 % for every file (Lu-177 centre within 0.5 %)."""
    ref = read_lanconelli(refdata / LANCONELLI / fname)
    kern = _kernel(fname)
    scale = _energy_sum_mev(ref, kern.voxel_mass_g) / kern.energy_sum_mev()
    i, j, k = CLASSES[cls]
    ratio = scale * kern.s(i, j, k) / ref[(i, j, k)]
    tol = (0.005 if fname.startswith("177Lu") else 0.03) if cls == "centre" else 0.10
    assert abs(ratio - 1.0) <= tol, f"{fname} {cls}: energy-matched ours/Lanconelli = {ratio:.4f}"


def test_lanconelli_tail_is_photons(refdata):
    """Beyond the Lu-177 β range (> 2 mm) the reference equals our photon-only kernel."""
    ref = read_lanconelli(refdata / LANCONELLI / "177Lu4.42mmsoft.txt")
    ph = voxel_s_kernel("Lu-177", 4.42, include="photons", density_g_cm3=1.04, half_size=5)
    for key in [(0, 0, 2), (0, 0, 3), (1, 2, 3), (0, 0, 5)]:
        assert ph.s(*key) / ref[key] == pytest.approx(1.0, abs=0.10), key


@pytest.mark.parametrize("nuclide", ["Lu-177", "Y-90"])
def test_beta_energy_sum(nuclide):
    """Σ S × voxel mass over a kernel larger than the β range = ICRP-107 mean β energy per decay."""
    kern = voxel_s_kernel(nuclide, 4.42, include="beta")
    expected = nuclides.mean_energy_per_decay_mev(nuclide, ("beta-", "beta+"))
    assert kern.energy_sum_mev() == pytest.approx(expected, rel=0.005)


def test_full_spectrum_energy_conservation():
    """β + IE + Auger + photons: electrons absorbed entirely; photons as in their own point kernel."""
    size, n = 4.42, 10
    full = voxel_s_kernel("Lu-177", size, include="all", half_size=n)
    electrons = nuclides.electron_energy_per_decay_mev("Lu-177")
    ph = point_kernel("Lu-177", include="photons", density_g_cm3=1.04)
    half_side_cm = (n + 0.5) * size / 10.0
    inscribed = float(ph.cumulative(half_side_cm))
    circumscribed = float(ph.cumulative(half_side_cm * np.sqrt(3.0)))
    photons_in_cube = full.energy_sum_mev() - electrons
    assert inscribed * 0.99 < photons_in_cube < circumscribed
    assert photons_in_cube < 0.6 * nuclides.photon_energy_per_decay_mev("Lu-177")   # photons escape


def test_auger_only_is_local_deposition():
    """Auger electrons (range ≪ voxel) deposit E/(ρV) in the source voxel."""
    kern = voxel_s_kernel("Lu-177", 4.0, include="auger", half_size=1)
    e = nuclides.mean_energy_per_decay_mev("Lu-177", "auger")
    expected = e / (0.4**3 * 1.04) * 0.1602176634
    assert kern.s(0, 0, 0) == pytest.approx(expected, rel=0.003)


def test_symmetry():
    kern = voxel_s_kernel("Y-90", 3.0, include="beta").values
    assert np.allclose(kern, kern[::-1, :, :]) and np.allclose(kern, kern[:, ::-1, :]) and np.allclose(kern, kern[:, :, ::-1])
    assert np.allclose(kern, kern.transpose(1, 0, 2)) and np.allclose(kern, kern.transpose(2, 1, 0))


def test_anisotropic_voxels():
    aniso = voxel_s_kernel("Y-90", (4.0, 4.0, 5.0), include="beta")
    c4 = voxel_s_kernel("Y-90", 4.0, include="beta").s(0, 0, 0)
    c5 = voxel_s_kernel("Y-90", 5.0, include="beta").s(0, 0, 0)
    assert c5 < aniso.s(0, 0, 0) < c4
    assert aniso.s(1, 0, 0) == pytest.approx(aniso.s(0, 1, 0), rel=1e-9)
    assert aniso.s(0, 0, 1) < aniso.s(1, 0, 0)       # farther neighbour along z
    v = aniso.values
    assert np.allclose(v, v[::-1, ::-1, ::-1])


@pytest.mark.parametrize("size_mm", [3.0, 4.42, 4.8])
def test_lu177_other_voxel_sizes(size_mm):
    """Self-dose ≈ E_β/m (ranges ≪ voxel) with absorbed fraction rising towards 1 with voxel size."""
    kern = voxel_s_kernel("Lu-177", size_mm, include="beta")
    e_over_m = nuclides.mean_energy_per_decay_mev("Lu-177", "beta-") / kern.voxel_mass_g * 0.1602176634
    phi = kern.s(0, 0, 0) / e_over_m
    # first-order escape from a cube: 3 x̄ / (2a), x̄ = energy-weighted mean β penetration (~0.15 mm)
    assert 1 - 3 * 0.25 / (2 * size_mm) < phi < 1 - 3 * 0.08 / (2 * size_mm)


def test_csda_range_against_estar():
    """CSDA ranges in water (g/cm²), NIST ESTAR: 0.01, 0.1, 1, 2 MeV."""
    estar = {0.01: 2.515e-4, 0.1: 1.431e-2, 1.0: 0.4367, 2.0: 0.9785}
    for e, ref in estar.items():
        assert csda_range_g_cm2("water", e, 1.0) == pytest.approx(ref, rel=0.015)


def test_stopping_power_against_estar():
    """Collision stopping power of water (MeV cm²/g), NIST ESTAR."""
    estar = {0.01: 22.56, 0.1: 4.115, 1.0: 1.849}
    water = material("water")
    for e, ref in estar.items():
        assert float(collision_stopping_power(water, e, 1.0)) == pytest.approx(ref, rel=0.01)


@pytest.mark.parametrize("energy_mev", [0.1, 0.2, 0.5])
def test_photon_kernel_primary_matches_mu_en(energy_mev):
    """Near the source the deposited energy per mean free path → μ_en/μ (xraylib Hubbell–Seltzer)."""
    water = material("water")
    table = _photon_mc.kernel_one_energy(water, energy_mev, 20000, np.random.default_rng(3))
    x = _photon_mc.X_EDGES
    slope = table[:20].sum() / x[20]
    p, c = _photon_mc.cross_sections_cm2_g(water, energy_mev)
    expected = float(_photon_mc.mu_en_cm2_g(water, energy_mev)[0] / (p + c)[0])
    assert slope == pytest.approx(expected, rel=0.06)
    assert table.sum() == pytest.approx(1.0, abs=0.01)          # infinite medium: all absorbed


def test_cache(tmp_path, monkeypatch):
    point_kernel("Lu-177", include="beta")           # universal tables already in memory
    monkeypatch.setenv("THERANOMICS_CACHE", str(tmp_path))
    first = voxel_s_kernel("Lu-177", 3.3, include="beta")
    files = list((tmp_path / "voxel_s").glob("*.npz"))
    assert len(files) == 1
    t0 = time.perf_counter()
    second = voxel_s_kernel("Lu-177", 3.3, include="beta")
    assert time.perf_counter() - t0 < 0.2
    assert np.array_equal(first.values, second.values)
    other = voxel_s_kernel("Lu-177", 3.3, include="beta", density_g_cm3=1.0)
    assert len(list((tmp_path / "voxel_s").glob("*.npz"))) == 2
    assert other.s(0, 0, 0) > first.s(0, 0, 0)


def test_metadata_states_what_is_included():
    kern = voxel_s_kernel("lu177", 4.42, include=("beta",))
    assert kern.meta["nuclide"] == "Lu-177" and kern.meta["include"] == ("beta",)
    assert kern.meta["density_g_cm3"] == 1.04 and kern.meta["voxel_mm"] == [4.42, 4.42, 4.42]
    assert kern.meta["emissions_icrp107"] == {"beta": ["beta-", "beta+"]}


@pytest.mark.parametrize("kwargs, match", [
    ({"voxel_mm": 0.0}, "voxel_mm"), ({"voxel_mm": -4.0}, "voxel_mm"), ({"voxel_mm": float("nan")}, "voxel_mm"),
    ({"voxel_mm": (4.0, 4.0)}, "voxel_mm"), ({"density_g_cm3": 0.0}, "density"), ({"density_g_cm3": -1.0}, "density"),
    ({"include": ("betas",)}, "emission group"), ({"material_name": "granite"}, "material"),
    ({"source": "line"}, "source"), ({"half_size": -1}, "half_size"),
])
def test_bad_inputs(kwargs, match):
    args = {"voxel_mm": 4.42, **kwargs}
    with pytest.raises(KernelInputError, match=match):
        voxel_s_kernel("Lu-177", args.pop("voxel_mm"), **args)


def test_unknown_nuclide():
    with pytest.raises(UnknownNuclideError):
        voxel_s_kernel("Xx-999", 4.42)
