"""Sliding-window feature maps: consistency with extract_features on the window-shaped ROI, an
analytic map (window mean of a linear ramp), geometry, and bad input."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from theranomics.core import Geometry, Image, LabelMap
from theranomics.radiomics import extract_features, modality_defaults
from theranomics.radiomics.maps import feature_maps

SPACING = (2.0, 2.0, 3.0)


@pytest.fixture(scope="module")
def lesion():
    rng = np.random.default_rng(3)
    shape = (9, 12, 12)
    image = np.round(rng.normal(4.0, 1.5, size=shape), 2).clip(0.05, None)
    zz, yy, xx = np.meshgrid(*[np.arange(n) - (n - 1) / 2 for n in shape], indexing="ij")
    mask = ((zz / 4.2) ** 2 + (yy / 5.2) ** 2 + (xx / 5.2) ** 2 <= 1.0).astype(np.int32)
    geom = Geometry(shape, SPACING, origin_mm=(-10.0, 5.0, 30.0))
    settings = replace(modality_defaults("PET"), families=("statistics", "glcm", "glrlm", "ngldm"))
    return Image(image, geom, unit="SUVbw"), LabelMap(mask, geom, {1: "lesion"}), settings


@pytest.fixture(scope="module")
def maps(lesion):
    image, labels, settings = lesion
    return feature_maps(image, labels, settings, radius_voxels=1, families=("statistics", "glcm", "glrlm", "ngldm"),
                        step=2)


@pytest.mark.parametrize("centre", [(4, 6, 6), (2, 4, 6), (6, 8, 4)])
def test_map_equals_extract_on_window(lesion, maps, centre):
    """The map value at c is extract_features on the ROI (mask ∩ 3×3×3 cube around c), FBS bins."""
    image, labels, settings = lesion
    window = np.zeros(labels.shape, np.int32)
    window[tuple(slice(x - 1, x + 2) for x in centre)] = 1
    window &= labels.array
    ref = extract_features(image, LabelMap(window, labels.geometry), settings).iloc[0]
    box_start = [int(np.flatnonzero(labels.array.any(axis=tuple(a for a in range(3) if a != ax)))[0]) for ax in range(3)]
    local = tuple(c - s for c, s in zip(centre, box_start))
    compared = 0
    for tag in ("stat_mean", "stat_var", "stat_kurt", "stat_p90", "cm_joint_entr_3D_comb", "cm_contrast_3D_avg",
                "rlm_sre_3D_comb", "ngl_hde_3D"):
        assert maps[tag].array[local] == pytest.approx(ref[tag], rel=1e-12, abs=1e-12), tag
        compared += 1
    assert compared == 8


def test_linear_ramp_mean_map():
    """Window mean of I = 2 + 0.5 i (i: x index) over a full 5×5×5 window is the centre value;
    the window variance is that of 5 equally spaced values: 0.5² (5² − 1)/12 = 0.5."""
    shape = (9, 9, 9)
    i = np.arange(9)
    image = np.broadcast_to(2.0 + 0.5 * i, shape).copy()
    geom = Geometry(shape, (1.0, 1.0, 1.0))
    labels = LabelMap(np.ones(shape, np.int32), geom)
    settings = replace(modality_defaults("PET"), families=("statistics",))
    out = feature_maps(Image(image, geom, unit="SUVbw"), labels, settings, radius_voxels=2, families=("statistics",))
    inner = (slice(2, 7),) * 3
    assert np.allclose(out["stat_mean"].array[inner], image[inner])
    assert np.allclose(out["stat_var"].array[inner], 0.5)
    assert out["stat_mean"].unit == "SUVbw" and out["stat_var"].unit == "1"
    # at the border the window is clipped: corner (0, 0, 0) averages i = 0, 1, 2
    assert out["stat_mean"].array[0, 0, 0] == pytest.approx(2.0 + 0.5 * 1.0)


def test_map_geometry_and_step(lesion, maps):
    image, labels, _ = lesion
    m = maps["stat_mean"]
    box = [np.flatnonzero(labels.array.any(axis=tuple(a for a in range(3) if a != ax))) for ax in range(3)]
    assert m.shape == tuple(int(b[-1] - b[0] + 1) for b in box)
    corner_world = image.geometry.index_to_world(np.array([b[0] for b in box[::-1]], float))
    assert np.allclose(m.geometry.origin_mm, corner_world) and m.spacing_mm == image.spacing_mm
    done = np.argwhere(np.isfinite(m.array))
    assert len(done) > 10 and np.all((done + [b[0] for b in box]) % 2 == 0)


@pytest.mark.parametrize("kwargs,message", [
    ({"families": ("morphology",)}, "cannot be mapped"),
    ({"radius_voxels": -1}, "radius_voxels"),
    ({"step": 0}, "step"),
    ({"label": 7}, "label 7 not found"),
])
def test_bad_input(lesion, kwargs, message):
    image, labels, settings = lesion
    with pytest.raises(ValueError, match=message):
        feature_maps(image, labels, settings, **kwargs)


def test_interpolation_refused(lesion):
    from theranomics.radiomics import ibsi_config
    image, labels, _ = lesion
    with pytest.raises(ValueError, match="interpolation is not supported"):
        feature_maps(image, labels, ibsi_config("C"))
