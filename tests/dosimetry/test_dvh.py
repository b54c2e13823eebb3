"""DVH metrics against analytic dose distributions and hand-counted voxel sets."""
import math

import numpy as np
import pytest

from theranomics.core.image import Geometry, Image, LabelMap
from theranomics.dosimetry.dvh import DVHError, dose_volume_histogram


def test_hand_counted_ten_voxels():
    dose = Image.from_array(np.arange(1.0, 11.0).reshape(1, 2, 5), spacing_mm=(10, 10, 10), unit="Gy")
    dvh = dose_volume_histogram(dose, np.ones((1, 2, 5), bool))
    assert dvh.dx_gy(10) == 10 and dvh.dx_gy(50) == 6 and dvh.dx_gy(100) == 1 and dvh.dx_gy(0) == 10
    assert dvh.dx_gy(2) == 10 and dvh.dx_gy(98) == 1 and dvh.dx_gy(55) == 5
    assert dvh.vx_percent(5) == 60 and dvh.vx_percent(5.5) == 50 and dvh.vx_percent(20) == 0
    assert dvh.vx_percent(0) == 100 and dvh.vx_ml(5) == pytest.approx(6.0)
    assert dvh.dmean_gy == 5.5 and dvh.dmax_gy == 10 and dvh.dmin_gy == 1 and dvh.volume_ml == 10
    doses, volume = dvh.curve(bin_width_gy=1.0)
    assert np.array_equal(doses, np.arange(0.0, 11.0)) and np.array_equal(volume, [100, 100, 90, 80, 70, 60, 50,
                                                                                    40, 30, 20, 10])


def test_linear_cone_in_sphere_matches_analytic_dvh():
    """D(r) = D0 (1 − r/R) in a sphere: V(D) = (1 − D/D0)³, D_x = D0 (1 − (x/100)^{1/3}), Dmean = D0/4."""
    n, radius, d0 = 81, 40.0, 60.0
    k, j, i = np.indices((n, n, n)) - n // 2
    r = np.sqrt(i ** 2 + j ** 2 + k ** 2).astype(float)
    inside = r <= radius
    dose = Image.from_array(np.where(inside, d0 * (1 - r / radius), 0.0), unit="Gy")
    dvh = dose_volume_histogram(dose, inside)
    assert dvh.volume_ml == pytest.approx(4 / 3 * math.pi * radius ** 3 / 1000, rel=0.01)
    assert dvh.dmean_gy == pytest.approx(d0 / 4, rel=0.01)
    assert dvh.dmax_gy == d0
    for x in (2, 50, 98):
        assert dvh.dx_gy(x) == pytest.approx(d0 * (1 - (x / 100) ** (1 / 3)), abs=0.01 * d0)
    assert dvh.vx_percent(20) == pytest.approx(100 * (1 - 20 / d0) ** 3, abs=0.5)
    m = dvh.metrics()
    assert m["d98_gy"] == dvh.dx_gy(98) and m["v20_percent"] == dvh.vx_percent(20)


def test_mgy_and_label_map():
    arr = np.zeros((2, 2, 2))
    arr[0] = 3000.0
    arr[1] = 1000.0
    dose = Image.from_array(arr, unit="mGy")
    labels = LabelMap(np.array([[[1, 1], [1, 1]], [[2, 2], [2, 0]]]), Geometry((2, 2, 2)), {1: "kidney", 2: "tumour"})
    assert dose_volume_histogram(dose, labels, "kidney").dmean_gy == pytest.approx(3.0)
    tumour = dose_volume_histogram(dose, labels, 2)
    assert tumour.n_voxels == 3 and tumour.dmax_gy == pytest.approx(1.0)
    assert dose_volume_histogram(dose, labels).n_voxels == 7


def test_dvh_errors():
    dose = Image.from_array(np.ones((2, 2, 2)), unit="Gy")
    with pytest.raises(DVHError, match="unit is 'MBq'"):
        dose_volume_histogram(Image.from_array(np.ones((2, 2, 2)), unit="MBq"), np.ones((2, 2, 2), bool))
    with pytest.raises(DVHError, match="mask is empty"):
        dose_volume_histogram(dose, np.zeros((2, 2, 2), bool))
    with pytest.raises(DVHError, match="mask shape"):
        dose_volume_histogram(dose, np.ones((2, 2, 3), bool))
    with pytest.raises(DVHError, match="boolean array or a LabelMap"):
        dose_volume_histogram(dose, np.ones((2, 2, 2)))
    with pytest.raises(DVHError, match="must be a theranomics Image"):
        dose_volume_histogram(np.ones((2, 2, 2)), np.ones((2, 2, 2), bool))
    bad = np.ones((2, 2, 2))
    bad[0, 0, 0] = np.nan
    with pytest.raises(DVHError, match="1 non-finite voxels"):
        dose_volume_histogram(Image.from_array(bad, unit="Gy"), np.ones((2, 2, 2), bool))
    labels = LabelMap(np.ones((2, 2, 2), np.int32), Geometry((2, 2, 2)), {1: "kidney"})
    with pytest.raises(DVHError, match="no label named 'liver'"):
        dose_volume_histogram(dose, labels, "liver")
    with pytest.raises(DVHError, match="not on the dose image's grid"):
        dose_volume_histogram(dose, LabelMap(np.ones((2, 2, 2), np.int32), Geometry((2, 2, 2), (2, 2, 2))))
    dvh = dose_volume_histogram(dose, np.ones((2, 2, 2), bool))
    with pytest.raises(DVHError, match="volume_percent must be in"):
        dvh.dx_gy(120)
    with pytest.raises(DVHError, match="dose_gy must be finite"):
        dvh.vx_percent(math.nan)
    with pytest.raises(DVHError, match="bin_width_gy must be > 0"):
        dvh.curve(bin_width_gy=0)
