import numpy as np
import pytest
from scipy import ndimage

from theranomics.simulate.lesions import (REGIONS, LesionPlacementError, LesionSpec, place_lesions,
                                          random_lesion_specs)
from theranomics.simulate.phantom import build_phantom

HOSTS = {"bone": {"bone", "red_marrow"}, "lymph_node_pelvic": {"remainder"}, "lymph_node_extrapelvic": {"remainder"},
         "visceral_liver": {"liver"}, "visceral_lung": {"lung"}, "prostate": {"prostate"}}


@pytest.fixture(scope="module")
def placed():
    ph = build_phantom(rng=np.random.default_rng(2), small=True)
    rng = np.random.default_rng(3)
    specs = random_lesion_specs(rng, 8, ph, "psma") + [
        LesionSpec("visceral_liver", 20.0, necrotic=True), LesionSpec("bone", 8.0),
        LesionSpec("visceral_lung", 2.0), LesionSpec("lymph_node_extrapelvic", 3.0), LesionSpec("prostate", 4.0)]
    return ph, specs, place_lesions(ph, specs, rng)


def test_lesions_in_host_tissue(placed):
    ph, specs, ls = placed
    for lesion in ls.lesions:
        under = {ph.labels.names[v] for v in np.unique(ph.labels.array[ls.labels == lesion.lesion_id])}
        assert under <= HOSTS[lesion.region], (lesion, under)
        assert lesion.region in REGIONS


def test_lesions_do_not_overlap_or_touch(placed):
    ph, specs, ls = placed
    for lesion in ls.lesions:
        m = ls.labels == lesion.lesion_id
        ring = ndimage.binary_dilation(m, np.ones((3, 3, 3), bool)) & ~m
        assert not np.any(ls.labels[ring] > 0), lesion.lesion_id
        assert ndimage.label(m, np.ones((3, 3, 3), bool))[1] == 1          # one connected lesion


def test_lesion_volumes_match_request_within_one_voxel_shell(placed):
    ph, specs, ls = placed
    s_mm = ph.geometry.spacing_mm[0]
    vv = ph.geometry.voxel_volume_ml
    for spec, lesion in zip(specs, ls.lesions):
        n = int((ls.labels == lesion.lesion_id).sum())
        assert lesion.n_voxels == n and lesion.volume_ml == pytest.approx(n * vv)
        r_mm = (3 * spec.volume_ml * 1000 / (4 * np.pi)) ** (1 / 3)
        shell_ml = 4 * np.pi * r_mm ** 2 * s_mm / 1000.0
        assert abs(lesion.volume_ml - spec.volume_ml) <= shell_ml
        assert abs(lesion.volume_ml - spec.volume_ml) <= 0.5 * vv + 1e-9       # construction: nearest voxel count


def test_centroid_and_texture(placed):
    ph, specs, ls = placed
    g = ph.geometry
    for lesion in ls.lesions:
        m = ls.labels == lesion.lesion_id
        c = g.index_to_world(np.argwhere(m).mean(0)[::-1])
        np.testing.assert_allclose(lesion.centroid_mm, c, atol=1e-6)
        assert ls.weights[m].mean() == pytest.approx(1.0, rel=1e-5)       # mean uptake = nominal exactly
        assert np.all(ls.weights[~(ls.labels > 0)] == 0)
    necrotic = [l for l in ls.lesions if l.necrotic]
    assert necrotic
    for lesion in necrotic:                                                   # the core is colder than the rim
        m = ls.labels == lesion.lesion_id
        core = m & ndimage.binary_erosion(m, iterations=1)
        assert ls.weights[m].min() < 0.5 * ls.weights[m].mean()


def test_placement_errors():
    ph = build_phantom(rng=np.random.default_rng(2), small=True)
    with pytest.raises(LesionPlacementError, match="prostate lesion"):
        place_lesions(ph, [LesionSpec("prostate", 100.0)], np.random.default_rng(0), max_tries=5)
    with pytest.raises(LesionPlacementError, match="no host tissue"):
        place_lesions(ph, [LesionSpec("prostate_bed", 1.0)], np.random.default_rng(0))
    with pytest.raises(ValueError, match="region must be one of"):
        LesionSpec("brain", 1.0)
    with pytest.raises(ValueError, match="volume_ml"):
        LesionSpec("bone", -1.0)
    with pytest.raises(ValueError, match="heterogeneity"):
        place_lesions(ph, [], np.random.default_rng(0), heterogeneity=3.0)
