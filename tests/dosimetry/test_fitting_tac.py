"""TimeActivityCurve / VoxelTACStack validation and conversions."""
import numpy as np
import pytest
import radioactivedecay as rd

from theranomics.core.image import Geometry, Image, LabelMap
from theranomics.dosimetry.tac import TACError, TimeActivityCurve, VoxelTACStack


def test_valid_tac_and_decay_correction_undone_against_radioactivedecay():
    tac = TimeActivityCurve([4, 24, 96], [50.0, 40.0, 20.0], sigma_mbq=2.0, voi="kidney", nuclide="177Lu",
                            decay_corrected=True)
    assert tac.nuclide == "Lu-177" and tac.n_points == 3
    assert np.array_equal(tac.sigma_mbq, [2.0, 2.0, 2.0])
    measured = tac.as_measured()
    for t, a_dc, a in zip(tac.time_h, tac.activity_mbq, measured.activity_mbq):
        remaining = rd.Inventory({"Lu-177": 1.0}, "Bq").decay(t, "h").activities("Bq")["Lu-177"]
        assert a == pytest.approx(a_dc * remaining, rel=1e-10)
    assert measured.sigma_mbq[2] == pytest.approx(2.0 * measured.activity_mbq[2] / 20.0, rel=1e-12)
    assert not measured.decay_corrected and measured.as_measured() is measured


@pytest.mark.parametrize("times, match", [
    ([1, 4, 4, 24], r"#1 \(4 h\) -> #2 \(4 h\)"),
    ([1, 24, 4], r"#1 \(24 h\) -> #2 \(4 h\)"),
    ([-1, 4, 24], r"time point\(s\) \[0\].*-1"),
    ([1, np.nan, 24], r"finite.*\[1\]"),
    ([], r"at least one time point"),
    ([[1, 2, 3]], r"1-D"),
])
def test_bad_times_name_the_points(times, match):
    n = len(np.ravel(times))
    with pytest.raises(TACError, match=match):
        TimeActivityCurve(times, np.ones(n) if np.ndim(times) == 1 else np.ones((1, 3)), voi="liver")


@pytest.mark.parametrize("activity, match", [
    ([10.0, np.nan, 5.0], r"'liver'.*#1 \(24 h\) is nan"),
    ([10.0, -0.5, 5.0], r"#1 \(24 h\) is negative"),
    ([10.0, np.inf, 5.0], r"#1 \(24 h\) is inf"),
    ([10.0, 5.0], r"shape \(2,\) but time_h has \(3,\)"),
])
def test_bad_activities_name_the_time_point(activity, match):
    with pytest.raises(TACError, match=match):
        TimeActivityCurve([4, 24, 96], activity, voi="liver")


def test_bad_sigma_nuclide_and_decay_flag():
    with pytest.raises(TACError, match=r"sigma_mbq at time point #2 \(96 h\)"):
        TimeActivityCurve([4, 24, 96], [3, 2, 1], sigma_mbq=[1, 1, 0])
    with pytest.raises(TACError, match="sigma_mbq has shape"):
        TimeActivityCurve([4, 24, 96], [3, 2, 1], sigma_mbq=[1, 1])
    with pytest.raises(TACError, match="cannot parse nuclide"):
        TimeActivityCurve([4, 24, 96], [3, 2, 1], nuclide="Lutetium")
    with pytest.raises(TACError, match="decay_corrected=True needs the nuclide"):
        TimeActivityCurve([4, 24, 96], [3, 2, 1], decay_corrected=True)
    single = TimeActivityCurve([24.0], [5.0])
    assert single.n_points == 1 and single.physical_decay_constant_per_h is None


def _images(values_bq_per_ml, spacing=(2.0, 2.0, 2.5)):
    return [Image.from_array(np.asarray(v, dtype=float), spacing_mm=spacing, unit="Bq/mL") for v in values_bq_per_ml]


def test_stack_from_images_converts_concentration_to_mbq_and_back():
    rng = np.random.default_rng(0)
    arrays = [rng.uniform(0, 1e5, (3, 4, 5)) for _ in range(3)]
    mask = np.zeros((3, 4, 5), bool)
    mask[1, 1:3, 2:4] = True
    stack = VoxelTACStack.from_images(_images(arrays), [4, 24, 96], mask=mask, nuclide="Lu-177")
    voxel_ml = 2.0 * 2.0 * 2.5 / 1000.0
    assert stack.n_voxels == 4 and stack.n_points == 3
    assert np.allclose(stack.activity_mbq[1], arrays[1][mask] * voxel_ml * 1e-6)
    image = stack.to_image(np.arange(4.0), unit="MBq*h")
    assert image.unit == "MBq*h" and np.array_equal(image.array[mask], np.arange(4.0))
    assert image.array[~mask].sum() == 0
    labels = LabelMap(mask.astype(np.int32), Geometry((3, 4, 5), (2.0, 2.0, 2.5)), {1: "lesion"})
    by_label = VoxelTACStack.from_images(_images(arrays), [4, 24, 96], mask=labels)
    assert np.array_equal(by_label.activity_mbq, stack.activity_mbq)
    mbq = [Image.from_array(a, unit="MBq") for a in arrays]
    assert np.array_equal(VoxelTACStack.from_images(mbq, [4, 24, 96]).activity_mbq[0], arrays[0].ravel())


def test_stack_decay_corrected_images_are_decayed():
    arrays = [np.full((1, 1, 2), 1e6)] * 2
    stack = VoxelTACStack.from_images(_images(arrays, (10, 10, 10)), [0.0, 159.528], nuclide="Lu-177",
                                      decay_corrected=True)
    half = rd.Inventory({"Lu-177": 1.0}, "Bq").decay(159.528, "h").activities("Bq")["Lu-177"]
    assert stack.activity_mbq[1, 0] == pytest.approx(stack.activity_mbq[0, 0] * half, rel=1e-9)


def test_stack_errors():
    arrays = [np.ones((2, 2, 2))] * 2
    with pytest.raises(TACError, match="unit 'SUVbw'"):
        VoxelTACStack.from_images([Image.from_array(a, unit="SUVbw") for a in arrays], [1, 2])
    with pytest.raises(TACError, match=r"image #1 \(2 h\) is not on the grid"):
        VoxelTACStack.from_images([Image.from_array(arrays[0], unit="Bq/mL"),
                                   Image.from_array(arrays[1], spacing_mm=(2, 2, 2), unit="Bq/mL")], [1, 2])
    with pytest.raises(TACError, match="2 images but 3 times"):
        VoxelTACStack.from_images(_images(arrays), [1, 2, 3])
    with pytest.raises(TACError, match="mask shape"):
        VoxelTACStack.from_images(_images(arrays), [1, 2], mask=np.ones((2, 2, 3), bool))
    with pytest.raises(TACError, match="decay_corrected=True needs the nuclide"):
        VoxelTACStack.from_images(_images(arrays), [1, 2], decay_corrected=True)
    with pytest.raises(TACError, match=r"non-finite values at time point #1 \(2 h\): 1 voxels"):
        VoxelTACStack([1, 2], np.array([[1.0, 2.0], [np.nan, 1.0]]))
    with pytest.raises(TACError, match=r"must be \(n_times=2, n_voxels\)"):
        VoxelTACStack([1, 2], np.ones((3, 4)))
    with pytest.raises(TACError, match="strictly increasing"):
        VoxelTACStack([2, 1], np.ones((2, 4)))
    with pytest.raises(TACError, match="no geometry"):
        VoxelTACStack([1, 2], np.ones((2, 4))).to_image(np.ones(4))
