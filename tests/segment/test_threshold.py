"""Segmentation on synthetic spheres with analytic answers."""
import numpy as np
import pytest
from scipy import ndimage

from theranomics.core import Geometry, Image, LabelMap
from theranomics.segment import (fixed_threshold, gradient_watershed, label_components, liver_reference,
                                 percist_threshold, qpsma_liver_threshold, relative_isocontour)

SPACING = 2.0


def _spheres(radii_mm=(12.0, 8.0), values=(10.0, 6.0), background=1.0, fwhm_mm=0.0, shape=(60, 60, 80)):
    z, y, x = np.indices(shape, dtype=float) * SPACING
    arr = np.full(shape, background)
    truth = np.zeros(shape, np.int32)
    centres = [(60.0, 60.0, 45.0), (60.0, 60.0, 115.0)]
    for n, (r, v, c) in enumerate(zip(radii_mm, values, centres), start=1):
        inside = (z - c[0]) ** 2 + (y - c[1]) ** 2 + (x - c[2]) ** 2 <= r ** 2
        arr[inside] = v
        truth[inside] = n
    if fwhm_mm:
        arr = ndimage.gaussian_filter(arr, fwhm_mm / 2.3548 / SPACING)
    geom = Geometry(shape, (SPACING,) * 3)
    return Image(arr, geom, "SUVbw", "PT"), truth


def _dice(a, b):
    return 2 * (a & b).sum() / (a.sum() + b.sum())


def test_fixed_threshold_recovers_sharp_spheres_and_orders_by_suvmax():
    img, truth = _spheres()
    labels = fixed_threshold(img, 3.0)
    assert labels.labels == [1, 2]
    np.testing.assert_array_equal(labels.array == 1, truth == 1)  # hottest first
    np.testing.assert_array_equal(labels.array == 2, truth == 2)


def test_min_volume_drops_small_components():
    img, truth = _spheres()
    small_vol = (truth == 2).sum() * SPACING ** 3 / 1000
    labels = fixed_threshold(img, 3.0, min_volume_ml=small_vol + 0.01)
    assert labels.labels == [1]


def test_exclusion_mask_removes_voxels():
    img, truth = _spheres()
    labels = fixed_threshold(img, 3.0, exclude=truth == 1)
    assert labels.labels == [1] and np.array_equal(labels.array == 1, truth == 2)


@pytest.mark.parametrize("method, tolerance", [("iso50", 0.06), ("gradient", 0.10)])
def test_blurred_large_sphere_volume(method, tolerance):
    """A sphere much larger than the PSF: the 50 % isocontour of its (un-degraded) maximum and the
    steepest gradient both sit on the true edge, so the volume is recovered to well within half a voxel
    shell (a half-voxel shift of the surface of a 20 mm sphere on a 2 mm grid is 15 % of its volume)."""
    img, truth = _spheres(radii_mm=(20.0, 14.0), values=(10.0, 8.0), background=1.0, fwhm_mm=6.0, shape=(60, 60, 90))
    cand = fixed_threshold(img, 3.0)
    if method == "iso50":
        # background-corrected 50 % level: boundary of a blurred step at (max+bg)/2
        seg = relative_isocontour(img, cand, 0.5, background_suv=1.0)
    else:
        seg = gradient_watershed(img, cand)
    true_vol = (truth == 1).sum()
    assert abs((seg.array == 1).sum() / true_vol - 1) < tolerance
    assert _dice(seg.array == 1, truth == 1) > 0.93


def test_isocontour_41_is_inside_40():
    img, _ = _spheres(fwhm_mm=6.0)
    cand = fixed_threshold(img, 2.5)
    v40 = (relative_isocontour(img, cand, 0.40).array == 1).sum()
    v50 = (relative_isocontour(img, cand, 0.50).array == 1).sum()
    assert v40 > v50 > 0


def test_thresholds_formulae():
    assert percist_threshold(2.0, 0.3) == pytest.approx(3.6)
    assert qpsma_liver_threshold(5.0, 1.0) == pytest.approx(4.30 / 5.0 * 6.0)
    with pytest.raises(ValueError, match="mean > 0"):
        percist_threshold(0.0, 0.1)


def test_liver_reference_sphere_inside_right_lobe():
    shape = (50, 60, 80)
    z, y, x = np.indices(shape, dtype=float) * 3.0
    liver = ((x - 120) / 90) ** 2 + ((y - 90) / 50) ** 2 + ((z - 75) / 50) ** 2 <= 1
    rng = np.random.default_rng(1)
    arr = np.where(liver, 5.0, 1.0) + rng.normal(0, 0.2, shape)
    geom = Geometry(shape, (3.0, 3.0, 3.0))
    img = Image(arr, geom, "SUVbw")
    organs = LabelMap(liver.astype(np.int32), geom, {1: "liver"})
    ref = liver_reference(img, organs)
    assert ref.mean == pytest.approx(5.0, abs=0.05)
    assert ref.sd == pytest.approx(0.2, abs=0.03)
    assert ref.volume_ml == pytest.approx(4 / 3 * np.pi * 1.5 ** 3, rel=0.15)
    assert ref.centre_mm[0] < 120.0  # patient right = smaller x in LPS


def test_bad_inputs():
    img, truth = _spheres()
    with pytest.raises(ValueError, match="SUV image"):
        fixed_threshold(Image(img.array, img.geometry, "Bq/mL"), 3.0)
    with pytest.raises(ValueError, match="exclusion mask shape"):
        fixed_threshold(img, 3.0, exclude=np.zeros((2, 2, 2), bool))
    with pytest.raises(ValueError, match="positive"):
        fixed_threshold(img, 0.0)
    empty = label_components(np.zeros(img.shape, bool), img.geometry)
    assert empty.labels == []
