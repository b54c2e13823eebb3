"""Texture families on small ROIs with analytic answers, settings that the IBSI tables do not
cover (distance, asymmetry, alpha, norms), aggregation rules, invariances and bad input.

Every expected number below is worked out by hand from the IBSI 1 definitions (sections 3.6-3.11).
"""
from __future__ import annotations

import math
import warnings
from types import SimpleNamespace

import numpy as np
import pytest

from theranomics.radiomics.texture import (FAMILIES, TextureInputError, compute_all, compute_glcm,
                                           compute_gldzm, compute_glrlm, compute_glszm, compute_ngldm,
                                           compute_ngtdm, feature_tags)
from theranomics.radiomics.texture._common import neighbourhood


def settings(**kw):
    base = dict(distance=1, dims=("2d", "2.5d", "3d"), glcm_symmetric=True, ngldm_alpha=0, distance_norm="chebyshev")
    base.update(kw)
    return SimpleNamespace(**base)


def line(values, axis=2):
    """A 1-voxel-thick ROI along ``axis`` (default i) holding ``values``."""
    shape = [1, 1, 1]
    shape[axis] = len(values)
    levels = np.asarray(values, dtype=np.int32).reshape(shape)
    return levels, np.ones(shape, bool)


def approx(x, rel=1e-12):
    return pytest.approx(x, rel=rel, abs=1e-12)


# -- GLCM -----------------------------------------------------------------------------------

def test_glcm_symmetric_and_asymmetric_pair():
    levels, mask = line([1, 2])
    sym = compute_glcm(levels, mask, 2, settings(dims=("3d",)))
    # one pair (1, 2) counted both ways: p(1,2) = p(2,1) = 1/2
    assert sym["cm_joint_avg_3D_comb"] == approx(1.5)
    assert sym["cm_contrast_3D_comb"] == approx(1.0)
    assert sym["cm_joint_max_3D_comb"] == approx(0.5)
    assert sym["cm_joint_entr_3D_comb"] == approx(1.0)
    assert sym["cm_inv_diff_norm_3D_comb"] == approx(1.0 / (1.0 + 1.0 / 2.0))
    asym = compute_glcm(levels, mask, 2, settings(dims=("3d",), glcm_symmetric=False))
    # direction (0, 0, +1): voxel level 1 followed by level 2 -> p(1, 2) = 1
    assert asym["cm_joint_avg_3D_comb"] == approx(1.0)
    assert asym["cm_joint_max_3D_comb"] == approx(1.0)
    assert asym["cm_joint_entr_3D_comb"] == approx(0.0)


def test_glcm_normalised_inverse_difference_uses_n_levels():
    levels, mask = line([1, 2])
    for n_g in (2, 10):
        out = compute_glcm(levels, mask, n_g, settings(dims=("3d",)))
        assert out["cm_inv_diff_norm_3D_comb"] == approx(1.0 / (1.0 + 1.0 / n_g))
        assert out["cm_inv_diff_mom_norm_3D_comb"] == approx(1.0 / (1.0 + 1.0 / n_g ** 2))


def test_glcm_distance():
    levels, mask = line([1, 2, 1, 2, 1, 2])
    near = compute_glcm(levels, mask, 2, settings(dims=("3d",), distance=1))
    far = compute_glcm(levels, mask, 2, settings(dims=("3d",), distance=2))
    assert near["cm_contrast_3D_comb"] == approx(1.0)  # neighbours always differ
    assert far["cm_contrast_3D_comb"] == approx(0.0)   # two apart always equal
    assert far["cm_joint_avg_3D_comb"] == approx(1.5)  # pairs (1, 1) and (2, 2), twice each


def test_glcm_single_grey_level():
    levels = np.full((3, 3, 3), 4)
    out = compute_glcm(levels, np.ones_like(levels, bool), 5, settings())
    for dim in ("_2D_avg", "_2D_comb", "_2_5D_avg", "_2_5D_comb", "_3D_avg", "_3D_comb"):
        assert out["cm_joint_max" + dim] == approx(1.0)
        assert out["cm_joint_avg" + dim] == approx(4.0)
        assert out["cm_joint_entr" + dim] == approx(0.0)
        assert out["cm_energy" + dim] == approx(1.0)
        assert out["cm_auto_corr" + dim] == approx(16.0)
        assert math.isnan(out["cm_corr" + dim]) and math.isnan(out["cm_info_corr1" + dim])
        assert out["cm_info_corr2" + dim] == approx(0.0)


def test_glcm_matrices_without_pairs_are_left_out_of_averages():
    levels = np.zeros((2, 1, 2), np.int32)
    mask = np.zeros_like(levels, bool)
    levels[0, 0, :] = [1, 2]
    mask[0, 0, :] = True
    levels[1, 0, 0] = 1
    mask[1, 0, 0] = True  # a slice with one voxel: no pair in any direction
    out = compute_glcm(levels, mask, 2, settings(dims=("2d",)))
    # only slice 0, direction (0, 0, 1) has a pair: its contrast is 1
    assert out["cm_contrast_2D_avg"] == approx(1.0)
    assert out["cm_contrast_2D_comb"] == approx(1.0)


# -- GLRLM ----------------------------------------------------------------------------------

def test_glrlm_constant_line():
    n = 5
    levels, mask = line([3] * n)
    out = compute_glrlm(levels, mask, 3, settings())
    # along (0, 0, 1) one run of length 5; each of the other directions 5 runs of length 1
    assert out["rlm_sre_3D_avg"] == approx((1.0 / n ** 2 + 12.0) / 13.0)
    assert out["rlm_lre_3D_avg"] == approx((n ** 2 + 12.0) / 13.0)
    assert out["rlm_sre_3D_comb"] == approx((1.0 / n ** 2 + 12.0 * n) / (1 + 12 * n))
    assert out["rlm_r_perc_3D_avg"] == approx((1.0 / n + 12.0) / 13.0)
    assert out["rlm_r_perc_3D_comb"] == approx((1 + 12 * n) / (13.0 * n))
    assert out["rlm_sre_2D_avg"] == approx((1.0 / n ** 2 + 3.0) / 4.0)
    assert out["rlm_sre_2_5D_comb"] == approx((1.0 / n ** 2 + 3.0 * n) / (1 + 3 * n))
    assert out["rlm_hgre_3D_avg"] == approx(9.0)
    assert out["rlm_lgre_3D_avg"] == approx(1.0 / 9.0)
    assert out["rlm_gl_var_3D_comb"] == approx(0.0)


def test_glrlm_runs_split_by_level_and_by_roi():
    # along i: [1 1 2 | outside | 2 2]: runs (1, 2), (2, 1), (2, 2) in direction (0, 0, 1)
    levels = np.array([[[1, 1, 2, 9, 2, 2]]])
    mask = np.array([[[1, 1, 1, 0, 1, 1]]], bool)
    out = compute_glrlm(levels, mask, 2, settings(dims=("3d",)))
    # direction (0,0,1): lengths 2, 1, 2 -> sre = (1/4 + 1 + 1/4) / 3; others: 5 runs of 1 -> 1
    assert out["rlm_sre_3D_avg"] == approx(((0.25 + 1 + 0.25) / 3 + 12.0) / 13.0)
    # merged over 13 directions: level 1 has 1 + 12 * 2 runs, level 2 has 2 + 12 * 3
    assert out["rlm_glnu_3D_comb"] == approx((25 ** 2 + 38 ** 2) / 63)


# -- GLSZM / GLDZM ---------------------------------------------------------------------------

def checkerboard(n=4, slices=1, flip=True):
    k, j, i = np.indices((slices, n, n))
    levels = ((i + j + (k if flip else 0)) % 2 + 1).astype(np.int32)
    return levels, np.ones(levels.shape, bool)


def test_glszm_zones_are_8_and_26_connected():
    levels, mask = checkerboard(4, slices=2, flip=True)
    out = compute_glszm(levels, mask, 2, settings())
    # per slice the diagonal neighbours join each colour: 2 zones of 8 voxels
    assert out["szm_sze_2D"] == approx(1.0 / 64)
    assert out["szm_z_perc_2D"] == approx(2.0 / 16)
    assert out["szm_sze_2_5D"] == approx(1.0 / 64)
    assert out["szm_glnu_2_5D"] == approx((2 ** 2 + 2 ** 2) / 4.0)
    # in 3D the flipped second slice links each colour across slices: 2 zones of 16
    assert out["szm_sze_3D"] == approx(1.0 / 256)
    assert out["szm_lze_3D"] == approx(256.0)
    assert out["szm_z_perc_3D"] == approx(2.0 / 32)
    assert out["szm_zs_var_3D"] == approx(0.0)
    assert out["szm_gl_var_3D"] == approx(0.25)


def test_gldzm_distances():
    levels = np.ones((5, 5, 5), np.int32)
    levels[2, 2, 2] = 2
    mask = np.ones(levels.shape, bool)
    out = compute_gldzm(levels, mask, 2, settings())
    # 3D: the level-1 shell touches the edge (d = 1); the centre is 3 six-connected steps deep
    assert out["dzm_sde_3D"] == approx((1.0 + 1.0 / 9.0) / 2.0)
    assert out["dzm_lde_3D"] == approx((1.0 + 9.0) / 2.0)
    assert out["dzm_zd_var_3D"] == approx(1.0)
    # 2D: four slices with one zone at d = 1; the middle slice adds the centre at d = 3
    assert out["dzm_sde_2D"] == approx((4.0 + (1.0 + 1.0 / 9.0) / 2.0) / 5.0)
    assert out["dzm_sde_2_5D"] == approx((5.0 + 1.0 / 9.0) / 6.0)


def test_gldzm_distance_uses_the_morphological_mask():
    levels = np.ones((5, 5, 5), np.int32)
    morph = np.ones(levels.shape, bool)
    inner = np.zeros(levels.shape, bool)
    inner[1:4, 1:4, 1:4] = True  # re-segmentation left only the inner cube
    with_morph = compute_gldzm(levels, inner, 1, settings(dims=("3d",)), morph_mask=morph)
    without = compute_gldzm(levels, inner, 1, settings(dims=("3d",)))
    assert with_morph["dzm_lde_3D"] == approx(4.0)  # one zone, 2 steps from the morphological edge
    assert without["dzm_lde_3D"] == approx(1.0)     # the intensity mask's own edge


# -- NGTDM ----------------------------------------------------------------------------------

def test_ngtdm_two_voxels():
    levels, mask = line([1, 2])
    out = compute_ngtdm(levels, mask, 2, settings())
    # n = (1, 1), s = (1, 1), p = (1/2, 1/2)
    for dim in ("_2D", "_2_5D", "_3D"):
        assert out["ngt_coarseness" + dim] == approx(1.0)
        assert out["ngt_contrast" + dim] == approx(0.25)
        assert out["ngt_busyness" + dim] == approx(1.0)
        assert out["ngt_complexity" + dim] == approx(1.0)
        assert out["ngt_strength" + dim] == approx(1.0)


def test_ngtdm_uniform_roi():
    levels = np.full((3, 3, 3), 2)
    out = compute_ngtdm(levels, np.ones_like(levels, bool), 2, settings(dims=("3d",)))
    assert out == {"ngt_coarseness_3D": 1.0e6, "ngt_contrast_3D": 0.0, "ngt_busyness_3D": 0.0,
                   "ngt_complexity_3D": 0.0, "ngt_strength_3D": 0.0}


def test_ngtdm_neighbourhood_mean_excludes_outside():
    # centre 3 with ROI neighbours 1 and 2 only (a third voxel lies outside the mask)
    levels = np.array([[[1, 3, 2, 7]]])
    mask = np.array([[[1, 1, 1, 0]]], bool)
    out = compute_ngtdm(levels, mask, 3, settings(dims=("3d",)))
    # s_1 = |1-3| = 2, s_3 = |3 - 1.5| = 1.5, s_2 = |2-3| = 1; p = 1/3 each
    assert out["ngt_coarseness_3D"] == approx(1.0 / ((2 + 1.5 + 1) / 3))
    # sum over ordered pairs (p_i + p_j)(i - j)^2 = (2/3) * 2 * (1 + 4 + 1); sum s = 4.5
    assert out["ngt_strength_3D"] == approx((2 / 3) * 2 * (1 + 4 + 1) / 4.5)


# -- NGLDM ----------------------------------------------------------------------------------

def test_ngldm_alpha():
    levels, mask = line([1, 2, 3])
    strict = compute_ngldm(levels, mask, 3, settings(dims=("3d",), ngldm_alpha=0))
    assert strict["ngl_lde_3D"] == approx(1.0) and strict["ngl_hde_3D"] == approx(1.0)
    loose = compute_ngldm(levels, mask, 3, settings(dims=("3d",), ngldm_alpha=1))
    # dependences 2, 3, 2
    assert loose["ngl_hde_3D"] == approx((4 + 9 + 4) / 3)
    assert loose["ngl_lde_3D"] == approx((1 / 4 + 1 / 9 + 1 / 4) / 3)
    assert loose["ngl_dc_perc_3D"] == approx(1.0)
    assert loose["ngl_dc_energy_3D"] == approx(3 * (1 / 3) ** 2)  # three cells (1,2), (2,3), (3,2)


@pytest.mark.parametrize("norm, distance, count", [
    ("chebyshev", 1, 26), ("chebyshev", 2, 124), ("manhattan", 1, 6), ("manhattan", 2, 24),
    ("euclidean", 1, 6), ("euclidean", 2, 32)])
def test_neighbourhood_sizes_and_dependence(norm, distance, count):
    # lattice points with norm <= d, less the centre
    assert len(neighbourhood(distance, norm)) == count
    n = 2 * distance + 1
    levels = np.ones((n, n, n), np.int32)
    out = compute_ngldm(levels, np.ones_like(levels, bool), 1,
                        settings(dims=("3d",), distance=distance, distance_norm=norm))
    # the centre voxel sees all its neighbours: the highest dependence is count + 1
    assert out["ngl_hde_3D"] > 1.0
    k = 1 + np.array([len([o for o in neighbourhood(distance, norm)
                           if all(0 <= c + d < n for c, d in zip(v, o))]) for v in np.ndindex(n, n, n)])
    assert k.max() == count + 1
    assert out["ngl_hde_3D"] == approx(float(np.mean(k.astype(float) ** 2)))


# -- aggregation, invariance, consistency ----------------------------------------------------

@pytest.fixture(scope="module")
def random_roi():
    rng = np.random.default_rng(7)
    levels = rng.integers(1, 9, size=(6, 9, 8)).astype(np.int32)
    k, j, i = np.indices(levels.shape)
    mask = (k - 2.5) ** 2 / 9 + (j - 4) ** 2 / 16 + (i - 3.5) ** 2 / 12 <= 1.0
    return levels, mask


def test_compute_all_equals_the_families(random_roi):
    levels, mask = random_roi
    st = settings()
    everything = compute_all(levels, mask, 8, st)
    separate = {}
    for fn in (compute_glcm, compute_glrlm, compute_glszm, compute_gldzm, compute_ngtdm, compute_ngldm):
        separate.update(fn(levels, mask, 8, st))
    assert list(everything) == feature_tags(st)
    assert everything.keys() == separate.keys()
    np.testing.assert_allclose([everything[k] for k in everything], [separate[k] for k in everything], rtol=1e-12)
    assert set(compute_all(levels, mask, 8, st, families=["ngtdm", "glcm"])) == set(feature_tags(st, ["glcm", "ngtdm"]))


def test_invariant_to_in_plane_rotation_and_position(random_roi):
    levels, mask = random_roi
    st = settings()
    ref = compute_all(levels, mask, 8, st)
    rotated = compute_all(np.rot90(levels, axes=(1, 2)), np.rot90(mask, axes=(1, 2)), 8, st)
    flipped = compute_all(levels[::-1], mask[::-1], 8, settings(dims=("3d",)))
    big = np.full((12, 15, 14), -5.5)  # anything outside the ROI, even non-integers
    big_mask = np.zeros(big.shape, bool)
    big[3:9, 2:11, 5:13] = levels
    big_mask[3:9, 2:11, 5:13] = mask
    moved = compute_all(big, big_mask, 8, st)
    for key in ref:
        assert rotated[key] == approx(ref[key], rel=1e-9), key
        assert moved[key] == approx(ref[key], rel=1e-12), key
        if key in flipped:
            assert flipped[key] == approx(ref[key], rel=1e-9), key


@pytest.mark.parametrize("n_voxels", [0, 1])
def test_empty_and_single_voxel_roi_give_nan(n_voxels):
    levels = np.ones((3, 3, 3), np.int32)
    mask = np.zeros(levels.shape, bool)
    mask.flat[:n_voxels] = True
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = compute_all(levels, mask, 1, settings())
    assert list(out) == feature_tags(settings())
    assert all(math.isnan(v) for v in out.values())


def test_no_warnings_on_degenerate_rois():
    cases = [line([1, 1]), line([1, 2]), checkerboard(2), (np.ones((1, 1, 3), np.int32), np.array([[[1, 0, 1]]], bool))]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for levels, mask in cases:
            out = compute_all(levels, mask, 2, settings())
            assert len(out) == len(feature_tags(settings()))


def test_accepts_texture_and_radiomics_settings():
    from theranomics.radiomics.settings import RadiomicsSettings, TextureSettings
    levels, mask = line([1, 2, 2])
    a = compute_all(levels, mask, 2, TextureSettings(dims=("3d",)))
    b = compute_all(levels, mask, 2, RadiomicsSettings(texture=TextureSettings(dims=("3d",))))
    c = compute_all(levels, mask, 2, settings(dims=("3d",)))
    assert list(a) == list(b) == list(c)
    np.testing.assert_array_equal(list(a.values()), list(b.values()))
    np.testing.assert_array_equal(list(a.values()), list(c.values()))
    assert set(compute_all(levels, mask, 2, None)) == set(feature_tags(TextureSettings()))


# -- bad input ------------------------------------------------------------------------------

GOOD_LEVELS = np.ones((2, 3, 3), np.int32)
GOOD_MASK = np.ones((2, 3, 3), bool)


@pytest.mark.parametrize("kwargs, message", [
    (dict(levels=np.ones((3, 3))), "3-D"),
    (dict(mask=np.ones((2, 3, 4), bool)), "shape"),
    (dict(mask=np.full((2, 3, 3), 2)), "boolean"),
    (dict(levels=np.full((2, 3, 3), 7)), "1..n_levels=6"),
    (dict(levels=np.full((2, 3, 3), 7, np.int32)), "1..n_levels=6"),  # int32: checked in the compiled grid pass
    (dict(levels=np.zeros((2, 3, 3), np.int32)), "found 0..0"),
    (dict(levels=np.zeros((2, 3, 3))), "1..n_levels"),
    (dict(levels=np.full((2, 3, 3), 1.5)), "integer"),
    (dict(levels=np.full((2, 3, 3), np.nan)), "integer"),
    (dict(levels=np.full((2, 3, 3), "a")), "numeric"),
    (dict(n_levels=0), "n_levels"),
    (dict(n_levels=2.5), "n_levels"),
    (dict(morph_mask=np.zeros((2, 3, 3), bool)), "outside morph_mask"),
    (dict(spacing_mm=(1, 1)), "spacing_mm"),
    (dict(spacing_mm=(1, -1, 1)), "spacing_mm"),
    (dict(settings=SimpleNamespace(distance=1)), "'dims'"),
    (dict(settings=settings(dims=("4d",))), "settings.dims"),
    (dict(settings=settings(distance=0)), "settings.distance"),
    (dict(settings=settings(distance_norm="cosine")), "settings.distance_norm"),
    (dict(settings=settings(ngldm_alpha=-1)), "settings.ngldm_alpha"),
    (dict(settings=settings(glcm_symmetric="yes")), "settings.glcm_symmetric"),
    (dict(families=["glcm", "haralick"]), "haralick"),
])
def test_bad_input_is_named(kwargs, message):
    args = dict(levels=GOOD_LEVELS, mask=GOOD_MASK, n_levels=6, settings=settings())
    args.update(kwargs)
    with pytest.raises(TextureInputError, match=message.replace("(", r"\(").replace(".", r"\.")):
        compute_all(**args)
    assert issubclass(TextureInputError, ValueError)


@pytest.mark.parametrize("family", list(FAMILIES))
def test_each_family_validates_input(family):
    fn = getattr(FAMILIES[family], f"compute_{family}")
    with pytest.raises(TextureInputError, match="1..n_levels"):
        fn(np.full((2, 3, 3), 9), GOOD_MASK, 6, settings())
