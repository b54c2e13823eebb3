"""IBSI 2 phase 1: response maps of the digital phantoms against the reference maps,
plus analytic checks and the error cases of theranomics.radiomics.filters.

Configurations: IBSI 2 reference manual (arXiv:2006.05470), phase 1 tests 1.a.1 … 10.b.1.
A response map passes when every voxel is within 1 % of the reference map's range.
"""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from theranomics.core import Image
from theranomics.io.nifti import read_nifti
from theranomics.radiomics.filters import (
    FilterSettings, apply_filter, filter_array, gabor_filter, laws_filter, log_filter, mean_filter,
    riesz_transform, simoncelli_filter, wavelet_filter,
)

PI = math.pi

#: test id -> (phantom, filter settings), IBSI 2 reference manual, phase 1 configuration table.
PHASE1 = {
    "1_a_1": ("checkerboard", dict(filter="mean", support_voxels=15, boundary="zero")),
    "1_a_2": ("checkerboard", dict(filter="mean", support_voxels=15, boundary="nearest")),
    "1_a_3": ("checkerboard", dict(filter="mean", support_voxels=15, boundary="periodic")),
    "1_a_4": ("checkerboard", dict(filter="mean", support_voxels=15, boundary="mirror")),
    "1_b_1": ("impulse", dict(filter="mean", support_voxels=15, boundary="zero", dims="2d")),
    "2_a": ("impulse", dict(filter="log", sigma_mm=3.0, truncate=4.0, boundary="zero")),
    "2_b": ("checkerboard", dict(filter="log", sigma_mm=5.0, truncate=4.0, boundary="mirror")),
    "2_c": ("checkerboard", dict(filter="log", sigma_mm=5.0, truncate=4.0, boundary="mirror", dims="2d")),
    "3_a_1": ("impulse", dict(filter="laws", kernel="E5L5S5", rotation_invariance=False, boundary="zero")),
    "3_a_2": ("impulse", dict(filter="laws", kernel="E5L5S5", rotation_invariance=True, pooling="max",
                              boundary="zero")),
    "3_a_3": ("impulse", dict(filter="laws", kernel="E5L5S5", rotation_invariance=True, pooling="max",
                              energy_distance=7, boundary="zero")),
    "3_b_1": ("checkerboard", dict(filter="laws", kernel="E3W5R5", rotation_invariance=False, boundary="mirror")),
    "3_b_2": ("checkerboard", dict(filter="laws", kernel="E3W5R5", rotation_invariance=True, pooling="max",
                                   boundary="mirror")),
    "3_b_3": ("checkerboard", dict(filter="laws", kernel="E3W5R5", rotation_invariance=True, pooling="max",
                                   energy_distance=7, boundary="mirror")),
    "3_c_1": ("checkerboard", dict(filter="laws", kernel="L5S5", rotation_invariance=False, boundary="mirror",
                                   dims="2d")),
    "3_c_2": ("checkerboard", dict(filter="laws", kernel="L5S5", rotation_invariance=True, pooling="max",
                                   boundary="mirror", dims="2d")),
    "3_c_3": ("checkerboard", dict(filter="laws", kernel="L5S5", rotation_invariance=True, pooling="max",
                                   energy_distance=7, boundary="mirror", dims="2d")),
    "4_a_1": ("impulse", dict(filter="gabor", sigma_mm=10.0, wavelength_mm=4.0, gamma=0.5, theta_rad=PI / 3,
                              boundary="zero")),
    "4_a_2": ("impulse", dict(filter="gabor", sigma_mm=10.0, wavelength_mm=4.0, gamma=0.5, theta_rad=0.0,
                              rotation_invariance=True, theta_step_rad=PI / 4, pooling="average",
                              orthogonal_planes=True, boundary="zero")),
    "4_b_1": ("sphere", dict(filter="gabor", sigma_mm=20.0, wavelength_mm=8.0, gamma=2.5, theta_rad=5 * PI / 4,
                             boundary="mirror")),
    "4_b_2": ("sphere", dict(filter="gabor", sigma_mm=20.0, wavelength_mm=8.0, gamma=2.5, theta_rad=0.0,
                             rotation_invariance=True, theta_step_rad=PI / 8, pooling="average",
                             orthogonal_planes=True, boundary="mirror")),
    "5_a_1": ("impulse", dict(filter="wavelet", wavelet="db2", response="LHL", level=1, boundary="zero")),
    "5_a_2": ("impulse", dict(filter="wavelet", wavelet="db2", response="LHL", level=1, rotation_invariance=True,
                              pooling="average", boundary="zero")),
    "6_a_1": ("sphere", dict(filter="wavelet", wavelet="coif1", response="HHL", level=1, boundary="periodic")),
    "6_a_2": ("sphere", dict(filter="wavelet", wavelet="coif1", response="HHL", level=1, rotation_invariance=True,
                             pooling="average", boundary="periodic")),
    "7_a_1": ("checkerboard", dict(filter="wavelet", wavelet="haar", response="LLL", level=2,
                                   rotation_invariance=True, pooling="average", boundary="mirror")),
    "7_a_2": ("checkerboard", dict(filter="wavelet", wavelet="haar", response="HHH", level=2,
                                   rotation_invariance=True, pooling="average", boundary="mirror")),
    "8_a_1": ("checkerboard", dict(filter="simoncelli", level=1, boundary="periodic")),
    "8_a_2": ("checkerboard", dict(filter="simoncelli", level=2, boundary="periodic")),
    "8_a_3": ("checkerboard", dict(filter="simoncelli", level=3, boundary="periodic")),
    "9_a": ("impulse", dict(filter="log", sigma_mm=3.0, truncate=4.0, riesz_order=(1, 0, 0), boundary="zero")),
    "9_b_1": ("sphere", dict(filter="log", sigma_mm=3.0, truncate=4.0, riesz_order=(0, 2, 0), boundary="zero")),
    "10_b_1": ("pattern_1", dict(filter="simoncelli", level=1, riesz_order=(0, 2, 0), boundary="nearest")),
}


def _phantom(refdata, name: str) -> Image:
    return read_nifti(refdata / "ibsi" / "ibsi_2_digital_phantom" / "nifti" / name / "image" / f"{name}.nii.gz",
                      unit="1")


def _reference(refdata, test_id: str) -> Image:
    return read_nifti(refdata / "ibsi" / "ibsi_2_reference_data" / "reference_response_maps"
                      / f"{test_id}-ValidCRM.nii.gz", unit="1")


@pytest.mark.parametrize("test_id", list(PHASE1))
def test_phase1_response_map(refdata, test_id):
    phantom, params = PHASE1[test_id]
    image = _phantom(refdata, phantom)
    reference = _reference(refdata, test_id)
    response = apply_filter(image, FilterSettings(**params))
    assert response.geometry.same_grid(image.geometry)
    ref = reference.array.astype(float)
    tolerance = 0.01 * (ref.max() - ref.min())
    worst = np.max(np.abs(response.array - ref))
    assert worst <= tolerance, f"{test_id}: max deviation {worst:.4g} > 1 % of range ({tolerance:.4g})"


def test_phase1_covers_every_reference_map(refdata):
    folder = refdata / "ibsi" / "ibsi_2_reference_data" / "reference_response_maps"
    ids = {p.name.removesuffix("-ValidCRM.nii.gz") for p in folder.glob("*-ValidCRM.nii.gz")}
    assert ids == set(PHASE1)


# ----------------------------------------------------------------- analytic checks
def test_mean_filter_boundaries_on_constant_image():
    ones = np.ones((5, 6, 7))
    for boundary in ("nearest", "periodic", "mirror"):
        np.testing.assert_allclose(mean_filter(ones, 3, boundary), 1.0, rtol=1e-12)
    zero = mean_filter(ones, 3, "zero")
    assert zero[0, 0, 0] == pytest.approx((2 / 3) ** 3)          # 8 of 27 neighbours inside
    assert zero[2, 2, 3] == pytest.approx(1.0)
    assert mean_filter(ones, 3, "zero", dims="2d")[0, 0, 0] == pytest.approx((2 / 3) ** 2)


def test_log_of_quadratic_is_two():
    # d²/dk² (k - 20)² = 2; the truncated discrete Gaussian derivative kernels are within 1 % of it.
    k = np.arange(40.0)[:, None, None] * np.ones((40, 12, 12))
    response = log_filter((k - 20.0) ** 2, sigma_mm=3.0, spacing_mm=(1, 1, 1), boundary="mirror")
    np.testing.assert_allclose(response[15:25, 6, 6], 2.0, rtol=0.01)


def test_laws_normalisation_and_energy_on_constant_image():
    # L5 sums to 16/sqrt(70): the L5L5L5 response (and its energy) of a constant c is c·(16/sqrt(70))³.
    c = 3.0
    expected = c * (16 / math.sqrt(70)) ** 3
    response = laws_filter(np.full((9, 9, 9), c), "L5L5L5", energy_distance=2, rotation_invariance=False,
                           boundary="periodic")
    np.testing.assert_allclose(response, expected, rtol=1e-12)


def test_laws_rotation_invariant_response_commutes_with_rotation():
    rng = np.random.default_rng(1)
    f = rng.normal(size=(12, 12, 12))
    pooled = laws_filter(f, "E5L5S5", energy_distance=None, rotation_invariance=True, boundary="periodic")
    rotated = laws_filter(np.rot90(f, 1, axes=(0, 2)), "E5L5S5", energy_distance=None,
                          rotation_invariance=True, boundary="periodic")
    np.testing.assert_allclose(rotated, np.rot90(pooled, 1, axes=(0, 2)), atol=1e-10)
    plain = laws_filter(f, "E5L5S5", energy_distance=None, rotation_invariance=False, boundary="periodic")
    assert np.all(pooled >= plain - 1e-12)                       # max pooling includes the identity


@pytest.mark.parametrize("spacing_x_mm", [1.0, 0.5])
def test_gabor_modulus_of_matched_plane_wave(spacing_x_mm):
    # f = cos(2π x / λ): |h * f| = ½ · Σ envelope = ½ · 2π σ (σ/γ) / (Δx Δy) (Poisson summation; the
    # mirrored frequency term exp(-8π²σ²/λ²) is negligible).
    sigma_mm, wavelength_mm, gamma = 6.0, 8.0, 0.8
    x_mm = np.arange(32) * spacing_x_mm
    f = np.cos(2 * np.pi * x_mm / wavelength_mm)[None, None, :] * np.ones((2, 32, 1))
    response = gabor_filter(f, sigma_mm, wavelength_mm, gamma=gamma, spacing_mm=(spacing_x_mm, 1.0, 1.0),
                            boundary="periodic")
    expected = 0.5 * 2 * np.pi * sigma_mm * (sigma_mm / gamma) / (spacing_x_mm * 1.0)
    np.testing.assert_allclose(response, expected, rtol=1e-3)


def test_haar_highpass_of_ramp():
    # dec_hi = (-1, 1)/sqrt(2) along x on f = i gives -1/sqrt(2); L along y, z of a constant gives sqrt(2) each.
    ramp = np.arange(10.0)[None, None, :] * np.ones((6, 6, 1))
    response = wavelet_filter(ramp, "haar", "HLL", level=1, boundary="nearest")
    np.testing.assert_allclose(response[3, 3, :-1], -math.sqrt(2), rtol=1e-12)
    level2 = wavelet_filter(ramp, "haar", "HLL", level=2, boundary="nearest")
    # level 2: the level-1 low-pass turns the ramp into one of slope sqrt(2)·sqrt(2)·sqrt(2)² = 2·sqrt(2); the
    # upsampled high-pass (-1, 0, 1, 0)/sqrt(2) gives -2·slope/sqrt(2) = -4, times sqrt(2)² from L along y, z.
    np.testing.assert_allclose(level2[3, 3, 1:-4], -8.0, rtol=1e-12)


def test_riesz_of_cosine_is_hilbert_pair():
    x = np.arange(32)
    f = np.cos(2 * np.pi * x / 8)[None, None, :] * np.ones((4, 6, 1))
    np.testing.assert_allclose(riesz_transform(f, (1, 0, 0)), np.broadcast_to(np.sin(2 * np.pi * x / 8), f.shape),
                               atol=1e-12)
    np.testing.assert_allclose(riesz_transform(f, (2, 0, 0)), -f, atol=1e-12)
    np.testing.assert_allclose(riesz_transform(f, (0, 1, 0)), 0.0, atol=1e-12)


def test_simoncelli_removes_constant_and_keeps_shape():
    f = np.full((16, 16, 16), 7.0)
    for level in (1, 2, 3):
        np.testing.assert_allclose(simoncelli_filter(f, level), 0.0, atol=1e-9)
    assert simoncelli_filter(np.ones((5, 16, 16)), 1, boundary="mirror", dims="2d").shape == (5, 16, 16)


# ------------------------------------------------------------ settings and Image
def test_settings_json_round_trip(tmp_path):
    for _, params in PHASE1.values():
        settings = FilterSettings(**params)
        assert FilterSettings.from_json(settings.to_json()) == settings
    settings = FilterSettings(**PHASE1["10_b_1"][1])
    path = tmp_path / "filter.json"
    settings.to_json(path)
    assert FilterSettings.from_json(path) == settings
    assert FilterSettings.from_json(str(path)) == settings
    assert json.loads(path.read_text())["riesz_order"] == [0, 2, 0]


def test_apply_filter_keeps_geometry_and_sets_unit():
    image = Image.from_array(np.arange(4 * 5 * 6, dtype=float).reshape(4, 5, 6), spacing_mm=(2, 3, 4),
                             origin_mm=(1, 2, 3), unit="SUVbw")
    mean = apply_filter(image, {"filter": "mean", "support_voxels": 3, "boundary": "mirror"})
    assert mean.unit == "SUVbw" and mean.geometry == image.geometry
    np.testing.assert_allclose(mean.array, mean_filter(image.array, 3, "mirror"))
    log = apply_filter(image, FilterSettings("log", sigma_mm=4.0, boundary="nearest"))
    assert log.unit == "1" and log.meta["source_unit"] == "SUVbw"
    assert log.meta["filter"] == {"filter": "log", "sigma_mm": 4.0, "boundary": "nearest", "dims": "3d"}
    np.testing.assert_allclose(log.array, filter_array(image.array, log.meta["filter"], spacing_mm=(2, 3, 4)))


# ------------------------------------------------------------------- bad input
BAD_CALLS = {
    "even support": (lambda: mean_filter(np.ones((3, 3, 3)), 4), "support_voxels"),
    "unknown boundary": (lambda: mean_filter(np.ones((3, 3, 3)), 3, "reflective"), "boundary"),
    "bad dims": (lambda: mean_filter(np.ones((3, 3, 3)), 3, dims="2.5d"), "dims"),
    "2-D array": (lambda: mean_filter(np.ones((3, 3)), 3), "3-D array"),
    "NaN voxel": (lambda: log_filter(np.full((3, 3, 3), np.nan), 1.0), "NaN"),
    "text array": (lambda: mean_filter(np.full((3, 3, 3), "a"), 3), "numeric"),
    "sigma <= 0": (lambda: log_filter(np.ones((3, 3, 3)), 0.0), "sigma_mm"),
    "spacing": (lambda: log_filter(np.ones((3, 3, 3)), 1.0, spacing_mm=(1, -1, 1)), "spacing_mm"),
    "Laws name": (lambda: laws_filter(np.ones((3, 3, 3)), "E5L5X5"), "kernel"),
    "Laws 2-D name in 3-D": (lambda: laws_filter(np.ones((3, 3, 3)), "L5S5"), "kernel"),
    "energy distance": (lambda: laws_filter(np.ones((3, 3, 3)), "L5S5E5", energy_distance=-1), "energy_distance"),
    "pooling": (lambda: laws_filter(np.ones((3, 3, 3)), "L5S5E5", pooling="median"), "pooling"),
    "Gabor step": (lambda: gabor_filter(np.ones((3, 3, 3)), 2.0, 2.0, rotation_invariance=True),
                   "theta_step_rad"),
    "wavelet name": (lambda: wavelet_filter(np.ones((3, 3, 3)), "db99"), "wavelet"),
    "wavelet response": (lambda: wavelet_filter(np.ones((3, 3, 3)), "db2", "LH"), "response"),
    "wavelet level": (lambda: wavelet_filter(np.ones((3, 3, 3)), "db2", "LLH", level=0), "level"),
    "Simoncelli level": (lambda: simoncelli_filter(np.ones((4, 4, 4)), 0), "level"),
    "Simoncelli axis": (lambda: simoncelli_filter(np.ones((1, 4, 4)), 1), "at least 2 voxels"),
    "Riesz order": (lambda: riesz_transform(np.ones((4, 4, 4)), (1, 0)), "riesz_order"),
    "Riesz zero order": (lambda: riesz_transform(np.ones((4, 4, 4)), (0, 0, 0)), "riesz_order"),
    "unknown filter": (lambda: FilterSettings("median"), "unknown filter"),
    "missing parameter": (lambda: FilterSettings("log"), "sigma_mm: required"),
    "foreign parameter": (lambda: FilterSettings("mean", support_voxels=3, sigma_mm=1.0), "not a parameter"),
    "Gabor dims": (lambda: FilterSettings("gabor", sigma_mm=1.0, wavelength_mm=2.0, dims="2d"), "orthogonal_planes"),
    "unknown field": (lambda: FilterSettings.from_dict({"filter": "mean", "suport_voxels": 3}), "suport_voxels"),
    "no filter field": (lambda: FilterSettings.from_dict({"support_voxels": 3}), "'filter' is missing"),
    "bad JSON": (lambda: FilterSettings.from_json('{"filter": "mean",'), "not valid JSON"),
}


@pytest.mark.parametrize("case", list(BAD_CALLS))
def test_bad_input_gives_a_clear_error(case):
    call, message = BAD_CALLS[case]
    with pytest.raises(ValueError, match=message):
        call()


def test_bad_settings_file_names_the_file(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"filter": "laws"}')
    with pytest.raises(ValueError, match=r"bad\.json.*kernel: required"):
        FilterSettings.from_json(path)
    with pytest.raises(FileNotFoundError, match="missing.json"):
        FilterSettings.from_json(tmp_path / "missing.json")


def test_apply_filter_refuses_arrays():
    with pytest.raises(TypeError, match="filter_array"):
        apply_filter(np.ones((3, 3, 3)), FilterSettings("mean", support_voxels=3))
