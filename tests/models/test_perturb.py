"""Perturbation generators on core Image/LabelMap and per-feature robustness ICC."""
from __future__ import annotations

import numpy as np
import pytest

from theranomics.core import Geometry, Image, LabelMap
from theranomics.models.perturb import (Perturbation, add_noise, change_contour, first_order_features,
                                        resample_spacing, robustness_table)


def _cubes(n_lesions=20, side=3, seed=0, spacing=(2.0, 2.0, 2.0)):
    rng = np.random.default_rng(seed)
    per_row = 5
    shape = (side + 4, (side + 3) * ((n_lesions + per_row - 1) // per_row) + 3, (side + 3) * per_row + 3)
    arr = np.zeros(shape, np.int32)
    img = np.zeros(shape, float)
    means = 10 + 2 * rng.standard_normal(n_lesions)
    for lab in range(n_lesions):
        r, c = divmod(lab, per_row)
        sl = (slice(2, 2 + side), slice(3 + r * (side + 3), 3 + r * (side + 3) + side),
              slice(3 + c * (side + 3), 3 + c * (side + 3) + side))
        arr[sl] = lab + 1
        img[sl] = means[lab]
    g = Geometry(shape, spacing)
    return Image(img, g, "Bq/mL", "PT"), LabelMap(arr, g), means


def test_noise_icc_matches_variance_components():
    # lesion mean over N voxels with additive noise sd s: ICC(3,1) = var_between / (var_between + s²/N)
    image, labels, means = _cubes()
    frac = 0.5
    s = frac * image.array[labels.array > 0].mean()
    expected = np.var(means, ddof=1) / (np.var(means, ddof=1) + s**2 / 27)
    long, tab = robustness_table(image, labels, feature_fn=first_order_features, n_perturbations=8,
                                 kinds=("noise",), noise_fraction=frac, seed=1)
    row = tab.set_index("feature").loc["mean"]
    assert row.ci_low <= expected <= row.ci_high and row.icc == pytest.approx(expected, abs=0.08)
    assert row.n_subjects == 20 and row.n_raters == 9
    assert set(long.perturbation) >= {"original"}


def test_contour_dilation_erosion_voxel_counts():
    g = Geometry((9, 9, 9))
    arr = np.zeros(g.shape, np.int32)
    arr[2:7, 2:7, 2:7] = 1
    lab = LabelMap(arr, g)
    assert (change_contour(lab, 1).array == 1).sum() == 125 + 6 * 25  # 6-connected one-voxel shell
    assert (change_contour(lab, -1).array == 1).sum() == 27
    assert change_contour(lab, 0) is lab


def test_dilation_never_overwrites_another_lesion():
    g = Geometry((3, 3, 6))
    arr = np.zeros(g.shape, np.int32)
    arr[1, 1, 1], arr[1, 1, 2] = 1, 2
    out = change_contour(LabelMap(arr, g), 1).array
    assert out[1, 1, 1] == 1 and out[1, 1, 2] == 2


def test_resampling_keeps_extent_and_volume():
    g = Geometry((30, 30, 30), (2.0, 2.0, 2.0), (-10.0, 5.0, 3.0))
    k, j, i = np.indices(g.shape)
    sphere = ((i - 14.5) ** 2 + (j - 14.5) ** 2 + (k - 14.5) ** 2) * 4 <= 20.0**2
    image = Image(np.where(sphere, 5.0, 1.0), g, "Bq/mL")
    img2, lab2 = resample_spacing(image, LabelMap(sphere.astype(np.int32), g), 1.5)
    assert img2.spacing_mm == (3.0, 3.0, 3.0) and img2.shape == (20, 20, 20)
    centre = lambda geo: geo.index_to_world((np.asarray(geo.size_xyz) - 1) / 2)  # noqa: E731
    assert centre(img2.geometry) == pytest.approx(centre(g))
    vol = lambda lab: (lab.array > 0).sum() * lab.geometry.voxel_volume_ml  # noqa: E731
    assert vol(lab2) == pytest.approx(4 / 3 * np.pi * 2.0**3, rel=0.1)  # 20 mm radius sphere, 33.5 mL


def test_noise_sd_and_reproducibility():
    image, labels, _ = _cubes(seed=2)
    a = add_noise(image, labels, 0.1, seed=7)
    b = add_noise(image, labels, 0.1, seed=7)
    assert np.array_equal(a.array, b.array)
    assert np.std(a.array - image.array) == pytest.approx(0.1 * image.array[labels.array > 0].mean(), rel=0.05)
    assert Perturbation(noise_seed=3, noise_fraction=0.1, spacing_factor=1.1, contour_voxels=-1).name == "R1.100_N0.1s3_C-1"


def test_robustness_with_the_ibsi_extractor():
    radiomics = pytest.importorskip("theranomics.radiomics")
    settings = radiomics.RadiomicsSettings(families=("statistics",))
    image, labels, _ = _cubes(n_lesions=8, side=4)
    _, tab = robustness_table(image, labels, feature_fn=lambda i, lab: radiomics.extract_features(i, lab, settings),
                              n_perturbations=3, seed=0)
    tab = tab.set_index("feature").dropna(subset=["icc"])
    assert len(tab) > 10 and tab.icc.between(-1, 1).all()
    # same perturbations, plain numpy mean: the IBSI mean intensity must give the same ICC
    _, ref = robustness_table(image, labels, feature_fn=first_order_features, n_perturbations=3, seed=0)
    mean_tag = [t for t in tab.index if t.startswith("stat_mean")][0]
    assert tab.loc[mean_tag, "icc"] == pytest.approx(ref.set_index("feature").loc["mean", "icc"], abs=1e-6)


def test_robustness_errors():
    image, labels, _ = _cubes(n_lesions=1)
    with pytest.raises(ValueError, match=">= 2 lesions"):
        robustness_table(image, labels, feature_fn=first_order_features)
    image, labels, _ = _cubes(n_lesions=3)
    with pytest.raises(ValueError, match="unknown perturbation"):
        robustness_table(image, labels, feature_fn=first_order_features, kinds=("blur",))
    with pytest.raises(TypeError, match="Image and LabelMap"):
        robustness_table(image.array, labels, feature_fn=first_order_features)
