"""Biomarkers against analytic values on synthetic objects."""
import numpy as np
import pandas as pd
import pytest

from theranomics.core import Geometry, Image, LabelMap
from theranomics.quant.biomarkers import (PEAK_SPHERE_RADIUS_MM, lesion_table, per_region, sphere_kernel,
                                           whole_body)


def test_peak_radius_is_one_millilitre():
    assert 4 / 3 * np.pi * (PEAK_SPHERE_RADIUS_MM / 10) ** 3 == pytest.approx(1.0)


def test_uniform_cube_and_peak_of_a_gradient():
    shape = (30, 30, 30)
    geom = Geometry(shape, (2.0, 2.0, 2.0), (-30.0, -30.0, -30.0))
    z, y, x = np.indices(shape, dtype=float)
    arr = 1.0 + 0.5 * x  # linear ramp along x: the sphere mean equals the centre value
    lesions = np.zeros(shape, np.int32)
    lesions[10:20, 10:20, 10:20] = 1
    t = lesion_table(Image(arr, geom, "SUVbw"), LabelMap(lesions, geom), liver_mean=2.0)
    row = t.iloc[0]
    assert row.n_voxels == 1000 and row.volume_ml == pytest.approx(8.0)
    assert row.suv_max == pytest.approx(1 + 0.5 * 19) and row.suv_min == pytest.approx(1 + 0.5 * 10)
    assert row.suv_mean == pytest.approx(1 + 0.5 * 14.5)
    # a symmetric sphere on a linear ramp: mean = value at the centre; max voxel at x index 19
    assert row.suv_peak == pytest.approx(1 + 0.5 * 19)
    assert row.suv_peak_global == pytest.approx(row.suv_peak)
    assert row.tlu == pytest.approx(8.0 * row.suv_mean)
    assert row.tlr_max == pytest.approx(row.suv_max / 2.0)
    # centroid of index 14.5 → world -30 + 2*14.5
    assert row.centroid_x_mm == pytest.approx(-1.0) and row.max_x_mm == pytest.approx(8.0)


def test_local_vs_global_peak_differ_for_a_lone_hot_voxel():
    shape = (20, 20, 20)
    geom = Geometry(shape, (2.0, 2.0, 2.0))
    arr = np.ones(shape)
    arr[5:15, 5:15, 5:15] = 4.0
    arr[5, 5, 5] = 40.0  # a noise spike on the lesion's corner
    lesions = (arr > 2).astype(np.int32)
    row = lesion_table(Image(arr, geom, "SUVbw"), LabelMap(lesions, geom)).iloc[0]
    k = sphere_kernel((2.0, 2.0, 2.0))
    # centred on the corner spike, the sphere half-reaches the background: the local peak is lower
    assert row.suv_peak_global > row.suv_peak and row.suv_peak_global >= 4.0
    # lattice points with |v|^2 <= (6.204/2)^2 = 9.62: 1 + 6 + 12 + 8 + 6 + 24 + 24 + 12 + 30 = 123
    assert k.sum() == 123


def test_whole_body_definitions():
    t = pd.DataFrame({"volume_ml": [10.0, 30.0], "suv_mean": [5.0, 10.0], "suv_max": [8.0, 20.0],
                      "suv_peak": [7.0, 15.0], "tlu": [50.0, 300.0], "region": ["bone", "lymph_node_pelvic"]})
    wb = whole_body(t, liver_mean=5.0)
    assert wb["ttv_ml"] == 40 and wb["tlu_total"] == 350
    assert wb["suv_mean_wb"] == pytest.approx(350 / 40)
    assert wb["tlq"] == pytest.approx(40 / (350 / 40))
    assert wb["suv_max_lowest"] == 8 and wb["suv_max_highest"] == 20
    assert wb["tlr_wb"] == pytest.approx(70.0)
    assert per_region(t).set_index("region").loc["bone", "tlu"] == 50


def test_empty_segmentation_is_flagged_not_an_error():
    wb = whole_body(pd.DataFrame(columns=["volume_ml", "suv_mean", "suv_max", "suv_peak", "tlu"]))
    assert wb["lesion_count"] == 0 and wb["empty"] and np.isnan(wb["tlq"])


def test_mismatched_grid_is_an_error():
    geom = Geometry((4, 4, 4))
    with pytest.raises(ValueError, match="different voxel grids"):
        lesion_table(Image(np.ones((4, 4, 4)), geom, "SUVbw"), LabelMap(np.ones((4, 4, 5), np.int32), Geometry((4, 4, 5))))
