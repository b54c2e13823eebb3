import numpy as np
import pytest
from scipy import ndimage

from theranomics.simulate.phantom import LABELS, ORGAN_NAMES, build_phantom


@pytest.fixture(scope="module")
def full():
    return build_phantom(rng=np.random.default_rng(5))


def test_organ_names_and_exclusive_labels(full):
    assert set(full.organs) <= set(ORGAN_NAMES) and "body" in ORGAN_NAMES
    # every organ of the brief is present in the full-size male phantom (prostate, not its bed)
    expected = set(LABELS) - {"prostate_bed"}
    assert set(full.organs) == expected
    body = full.mask("body")
    organs = sum(full.mask(n).astype(int) for n in full.organs if n != "remainder")
    assert organs.max() == 1                                      # labels are exclusive
    np.testing.assert_array_equal(full.mask("remainder"), body & (organs == 0))


def test_anatomical_layout(full):
    """Positions in LPS: liver on the patient's right (x < 0), spleen left, heart above liver, etc."""
    g = full.geometry

    def centroid(name):
        return g.index_to_world(np.argwhere(full.mask(name)).mean(0)[::-1])
    liver, spleen, heart, bladder = (centroid(n) for n in ("liver", "spleen", "heart", "bladder"))
    assert liver[0] < 0 < spleen[0]
    assert heart[2] > liver[2] > bladder[2]
    assert centroid("parotid")[2] > heart[2]
    assert centroid("prostate")[2] < bladder[2]
    # red marrow lies inside bone: every 6-neighbour of a marrow voxel is marrow or bone
    marrow = full.mask("red_marrow")
    assert marrow.sum() > 1000
    assert not np.any(marrow & ~ndimage.binary_erosion(marrow | full.mask("bone")))


def test_organ_volumes_near_icrp89_reference(full):
    """ICRP Publication 89 adult male reference masses (g ≈ mL): liver 1800, kidneys 310 (both),
    spleen 150, parotids 50 (both); accept ±30 %."""
    ref = {"liver": 1800.0, "spleen": 150.0, "parotid": 50.0}
    for organ, ml in ref.items():
        assert full.volume_ml(organ) == pytest.approx(ml, rel=0.3), organ
    kidneys = full.volume_ml("kidney_cortex") + full.volume_ml("kidney_medulla")
    assert kidneys == pytest.approx(310.0, rel=0.3)


def test_liver_right_lobe_fits_3cm_sphere(full):
    liver = full.mask("liver")
    edt = ndimage.distance_transform_edt(liver, sampling=full.geometry.spacing_mm[::-1])
    k, j, i = np.unravel_index(np.argmax(edt), edt.shape)
    assert edt.max() >= 15.0
    assert full.geometry.index_to_world(np.array([i, j, k]))[0] < 0        # on the patient's right


def test_small_variant_and_prostate_bed():
    ph = build_phantom(rng=np.random.default_rng(1), small=True, prostate="bed")
    assert ph.geometry.spacing_mm == (6.0, 6.0, 6.0)
    assert "prostate_bed" in ph.organs and "prostate" not in ph.organs
    assert "parotid" not in ph.organs                       # short axial extent: no head
    female = build_phantom(sex="F", prostate="none", height_cm=163, weight_kg=60, small=True)
    assert "prostate" not in female.organs and "prostate_bed" not in female.organs


def test_seed_changes_shapes_only_slightly():
    a = build_phantom(rng=np.random.default_rng(1), small=True)
    b = build_phantom(rng=np.random.default_rng(2), small=True)
    assert not np.array_equal(a.labels.array, b.labels.array)
    assert a.volume_ml("liver") == pytest.approx(b.volume_ml("liver"), rel=0.25)


@pytest.mark.parametrize("kwargs, match", [
    ({"sex": "F", "prostate": "present"}, "female phantom has no prostate"),
    ({"sex": "X"}, "sex must be"),
    ({"prostate": "maybe"}, "prostate must be"),
    ({"height_cm": 20}, "height_cm"),
    ({"weight_kg": 900}, "weight_kg"),
    ({"spacing_mm": 0.1}, "spacing_mm"),
])
def test_bad_phantom_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        build_phantom(small=True, **kwargs)
