"""IBSI chapter-2 processing and the non-texture feature maths against analytic references."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import ndimage

from theranomics.radiomics import (DiscretisationSettings, InterpolationSettings, IVHSettings, RadiomicsSettings,
                                   ResegmentationSettings, ibsi_config)
from theranomics.radiomics.features import intensity_histogram, intensity_statistics, local_intensity, moran_geary
from theranomics.radiomics.features.ivh import intensity_volume_histogram
from theranomics.radiomics.features.morphology import _ellipsoid_area, _ellipsoid_area_numeric, morphology
from theranomics.radiomics.processing import (discretise, discretise_fbn, discretise_fbs, interpolation_grid,
                                              process_roi, resegment, source_slices)


def _settings(**interp):
    return RadiomicsSettings(interpolation=InterpolationSettings(**interp))


def test_grid_origin_formula():
    # n_b = ceil(n_a s_a / s_b); offset = ((n_a - 1) - (n_b - 1) s_b / s_a) / 2 (IBSI 2.4)
    g = interpolation_grid((4, 5, 5), (1.0, 1.0, 1.0), InterpolationSettings("3d", (2.0, 2.0, 2.0)))
    assert g.shape == (2, 3, 3)
    assert g.offset == pytest.approx((0.5, 0.0, 0.0))
    assert g.step == pytest.approx((2.0, 2.0, 2.0))
    g2 = interpolation_grid((60, 201, 204), (0.977, 0.977, 3.0), InterpolationSettings("2d", (2.0, 2.0, 2.0)))
    assert g2.shape == (60, 99, 100) and g2.offset[0] == 0.0 and g2.step[0] == 1.0
    assert g2.offset[2] == pytest.approx((203 - 99 * 2 / 0.977) / 2)


def test_linear_interpolation_reproduces_a_ramp():
    kk, jj, ii = np.meshgrid(np.arange(20), np.arange(22), np.arange(24), indexing="ij")
    spacing = (1.5, 1.25, 2.5)
    ramp = 3.0 * ii * spacing[0] - 2.0 * jj * spacing[1] + 0.5 * kk * spacing[2]
    mask = np.zeros(ramp.shape, bool)
    mask[8:12, 9:13, 10:14] = True
    s = _settings(dims="3d", new_spacing_mm=(1.0, 1.0, 1.0), interpolator="linear")
    roi = process_roi(ramp, mask, spacing, s)
    g = interpolation_grid(ramp.shape, spacing, s.interpolation)
    k0, j0, i0 = roi.crop_start
    # analytic value of the ramp at the output grid positions
    pos = [g.offset[a] + (np.arange(n) + start) * g.step[a]
           for a, (n, start) in enumerate(zip(roi.image.shape, roi.crop_start))]
    kz, jy, ix = np.meshgrid(*pos, indexing="ij")
    inside = (kz >= 0) & (kz <= 19) & (jy >= 0) & (jy <= 21) & (ix >= 0) & (ix <= 23)
    expected = 3.0 * ix * spacing[0] - 2.0 * jy * spacing[1] + 0.5 * kz * spacing[2]
    np.testing.assert_allclose(roi.image[inside], expected[inside], atol=1e-9)


@pytest.mark.parametrize("interpolator", ["linear", "cubic"])
def test_cropped_processing_equals_whole_volume(interpolator):
    """Processing only the ROI box gives the whole-volume result (scipy map_coordinates on the full grid)."""
    rng = np.random.default_rng(1)
    img = ndimage.gaussian_filter(rng.normal(size=(30, 40, 44)), 1.5) * 100
    mask = np.zeros(img.shape, bool)
    mask[12:18, 15:25, 20:27] = True
    spacing = (0.9, 0.9, 2.5)
    s = _settings(dims="3d", new_spacing_mm=(2.0, 2.0, 2.0), interpolator=interpolator)
    roi = process_roi(img, mask, spacing, s)
    g = interpolation_grid(img.shape, spacing, s.interpolation)
    coords = [g.offset[a] + np.arange(g.shape[a]) * g.step[a] for a in range(3)]
    full = ndimage.map_coordinates(img, np.meshgrid(*coords, indexing="ij"), order=1 if interpolator == "linear" else 3,
                                   mode="nearest")
    sl = tuple(slice(c, c + n) for c, n in zip(roi.crop_start, roi.image.shape))
    np.testing.assert_allclose(roi.image, full[sl], atol=1e-6 * np.abs(img).max())


def test_crop_with_source_slices_matches(ct_phantom_data):
    image, labels = ct_phantom_data
    s = ibsi_config("B")
    mask = labels.array > 0
    box = ndimage.find_objects(mask.astype(np.uint8))[0]
    sl = source_slices(box, image.shape, image.spacing_mm, s)
    whole = process_roi(image.array, mask, image.spacing_mm, s)
    part = process_roi(image.array[sl], mask[sl], image.spacing_mm, s, box=box, full_shape=image.shape,
                       origin=tuple(x.start for x in sl))
    np.testing.assert_array_equal(whole.image, part.image)
    np.testing.assert_array_equal(whole.int_mask, part.int_mask)
    with pytest.raises(ValueError, match="does not contain the region"):
        process_roi(image.array[sl][2:], mask[sl][2:], image.spacing_mm, s, box=box, full_shape=image.shape,
                    origin=(sl[0].start + 2, sl[1].start, sl[2].start))


def test_discretisation_formulas():
    # FBN: floor(Ng (X - Xmin)/(Xmax - Xmin)) + 1, Xmax -> Ng
    np.testing.assert_array_equal(discretise_fbn(np.array([0.0, 0.49, 0.5, 1.0]), 2), [1, 1, 2, 2])
    np.testing.assert_array_equal(discretise_fbn(np.array([3.0, 3.0]), 8), [1, 1])
    # FBS: floor((X - Xmin)/w) + 1 with Xmin the re-segmentation minimum
    np.testing.assert_array_equal(discretise_fbs(np.array([-500, -476, -475, 377.0]), 25.0, -500.0), [1, 1, 2, 36])
    img = np.array([[[-500.0, -475.0, 400.0]]])
    levels, ng = discretise(img, np.ones_like(img, bool), DiscretisationSettings("fbs", None, 25.0),
                            ResegmentationSettings(-500.0, 400.0))
    assert levels.tolist() == [[[1, 2, 37]]] and ng == 37


def test_discretisation_errors():
    with pytest.raises(ValueError, match="below the lower bound"):
        discretise_fbs(np.array([-600.0]), 25.0, -500.0)
    img = np.array([[[0.5, 2.0]]])
    with pytest.raises(ValueError, match="integer grey levels"):
        discretise(img, np.ones_like(img, bool), DiscretisationSettings("none", None), ResegmentationSettings())


def test_resegmentation_range_and_outliers():
    vals = np.concatenate([np.zeros(99), [1000.0]]).reshape(1, 10, 10)
    mask = np.ones_like(vals, bool)
    # mean 10, sd = sqrt(0.99*100 + 0.01*990^2) = 99.499 -> 1000 is > mean + 3 sd = 308.5
    out = resegment(vals, mask, ResegmentationSettings(outlier_sigma=3.0))
    assert out.sum() == 99 and not out.ravel()[-1]
    out2 = resegment(vals, mask, ResegmentationSettings(range_min=-1.0, range_max=500.0))
    assert out2.sum() == 99


def test_roi_partial_volume_threshold_counts_half():
    """A grid point half-way between ROI and background (value 0.5) belongs to the ROI (IBSI: >= 0.5)."""
    img = np.zeros((1, 1, 8))
    mask = np.zeros((1, 1, 8), bool)
    mask[0, 0, 2:5] = True
    s = _settings(dims="3d", new_spacing_mm=(2.0, 1.0, 1.0), interpolator="linear")
    roi = process_roi(img, mask, (3.0, 1.0, 1.0), s)
    # 3 mm -> 2 mm: output points at -1/6 + 2m/3 (input index); ROI support [1.5, 4.5] holds
    # 1.833, 2.5, 3.167, 3.833 and 4.5 (the last exactly half-way, value 0.5): 5 points
    assert roi.morph_mask.sum() == 5


def test_process_roi_errors():
    img = np.zeros((3, 3, 3))
    with pytest.raises(ValueError, match="ROI is empty"):
        process_roi(img, np.zeros_like(img, bool), (1, 1, 1), RadiomicsSettings())
    bad = img.copy()
    bad[1, 1, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        process_roi(bad, bad == bad, (1, 1, 1), RadiomicsSettings())
    with pytest.raises(ValueError, match="one shape"):
        process_roi(img, np.ones((2, 2, 2), bool), (1, 1, 1), RadiomicsSettings())


def test_statistics_and_histogram_analytic():
    x = np.array([1.0, 2.0, 3.0, 4.0, 10.0])
    st = intensity_statistics(x)
    mu = 4.0
    m2 = np.mean((x - mu) ** 2)
    assert st["stat_mean"] == pytest.approx(mu)
    assert st["stat_var"] == pytest.approx(m2)
    assert st["stat_skew"] == pytest.approx(np.mean((x - mu) ** 3) / m2 ** 1.5)
    assert st["stat_kurt"] == pytest.approx(np.mean((x - mu) ** 4) / m2 ** 2 - 3)
    assert st["stat_energy"] == pytest.approx(130.0)
    assert st["stat_medad"] == pytest.approx(np.mean(np.abs(x - 3.0)))
    ih = intensity_histogram(np.array([1, 1, 1, 3, 4]), 4)
    # H = [3, 0, 1, 1]; gradient [-3, -1, 0.5, 0]
    assert ih["ih_min_grad"] == -3 and ih["ih_min_grad_g"] == 1
    assert ih["ih_max_grad"] == 0.5 and ih["ih_max_grad_g"] == 3
    assert ih["ih_entropy"] == pytest.approx(-(0.6 * math.log2(0.6) + 2 * 0.2 * math.log2(0.2)))
    assert ih["ih_mode"] == 1
    with pytest.raises(ValueError, match="grey levels"):
        intensity_histogram(np.array([0, 1]))


def test_ivh_analytic():
    vals = np.arange(0.0, 101.0)  # 0..100 HU, one voxel each
    out = intensity_volume_histogram(vals, IVHSettings("none"), ResegmentationSettings())
    # gamma = X/100: V10 = fraction with X >= 10 = 91/101; I10 = lowest i with nu(i) <= 0.1: nu(91) = 10/101
    assert out["ivh_v10"] == pytest.approx(91 / 101)
    assert out["ivh_v90"] == pytest.approx(11 / 101)
    assert out["ivh_i10"] == 91 and out["ivh_i90"] == 11
    with pytest.raises(ValueError, match="integer intensities"):
        intensity_volume_histogram(vals + 0.5, IVHSettings("none"), ResegmentationSettings())


def test_local_intensity_constant_and_ramp():
    spacing = (1.0, 1.0, 1.0)
    img = np.full((21, 21, 21), 7.0)
    mask = np.zeros(img.shape, bool)
    mask[8:13, 8:13, 8:13] = True
    assert local_intensity(img, mask, spacing) == pytest.approx({"loc_peak_loc": 7.0, "loc_peak_glob": 7.0})
    ramp = np.broadcast_to(np.arange(21.0), img.shape).copy()
    # a sphere symmetric about its centre averages a linear ramp to the centre value
    out = local_intensity(ramp, mask, spacing)
    assert out["loc_peak_loc"] == pytest.approx(12.0) and out["loc_peak_glob"] == pytest.approx(12.0)


def test_moran_geary_fft_equals_pairwise_sum():
    rng = np.random.default_rng(3)
    img = rng.normal(size=(5, 6, 7))
    mask = rng.random(img.shape) > 0.4
    spacing = (0.8, 1.1, 2.0)
    pos = np.argwhere(mask) * np.array(spacing[::-1])
    x = img[mask]
    d = x - x.mean()
    dist = np.linalg.norm(pos[:, None] - pos[None], axis=-1)
    w = np.zeros_like(dist)
    w[dist > 0] = 1 / dist[dist > 0]
    n, wsum = x.size, w.sum()
    moran = n / wsum * (w * np.outer(d, d)).sum() / (d ** 2).sum()
    geary = (n - 1) / (2 * wsum) * (w * (x[:, None] - x[None]) ** 2).sum() / (d ** 2).sum()
    m, g = moran_geary(img, mask, spacing)
    assert m == pytest.approx(moran, rel=1e-8) and g == pytest.approx(geary, rel=1e-8)


def test_ellipsoid_area_series():
    """IBSI 3.1.19 defines the AEE area by a 20-term Legendre series; it is exact for a sphere and
    close to the exact area (elliptic integrals) for near-spherical ellipsoids."""
    assert _ellipsoid_area(3.0, 3.0, 3.0) == pytest.approx(4 * math.pi * 9)
    # exact prolate spheroid a > b = c: A = 2 pi b^2 (1 + a/(b e) asin e), e = sqrt(1 - b^2/a^2)
    a, b = 5.0, 2.0
    e = math.sqrt(1 - b * b / (a * a))
    assert _ellipsoid_area_numeric(a, b, b) == pytest.approx(2 * math.pi * b * b * (1 + a / (b * e) * math.asin(e)))
    assert _ellipsoid_area(1.05, 1.0, 0.95) == pytest.approx(_ellipsoid_area_numeric(1.05, 1.0, 0.95), rel=2e-3)


def test_morphology_of_a_ball():
    """Mesh volume of a voxelised ball of radius 20 mm is within 2 % of 4/3 π r³; marching cubes on a
    binary mask overestimates the area (staircase, about +8 % here), so the area bound is 10 %."""
    r, h = 20.0, 1.0
    ax = np.arange(-25, 26) * h
    zz, yy, xx = np.meshgrid(ax, ax, ax, indexing="ij")
    ball = zz ** 2 + yy ** 2 + xx ** 2 <= r ** 2
    out = morphology(ball, ball, ball.astype(float), (h, h, h))
    assert out["morph_volume"] == pytest.approx(4 / 3 * math.pi * r ** 3, rel=0.02)
    assert out["morph_area_mesh"] == pytest.approx(4 * math.pi * r ** 2, rel=0.10)
    assert out["morph_diam"] == pytest.approx(2 * r, rel=0.03)
    # PCA of a solid ball: variance r^2/5 per axis -> axis length 4 sqrt(r^2/5)
    assert out["morph_pca_maj_axis"] == pytest.approx(4 * math.sqrt(r * r / 5), rel=0.02)
    assert out["morph_pca_elongation"] == pytest.approx(1.0, abs=1e-3)
    assert out["morph_com"] == pytest.approx(0.0, abs=1e-9)
