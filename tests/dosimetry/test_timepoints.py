"""Quantification of SPECT time points and VOI measurement with counting uncertainty."""
import datetime as dt
import json

import numpy as np
import pytest

from theranomics.core import Administration, Cycle, Geometry, Image, LabelMap, TimePoint
from theranomics.dosimetry.deadtime import deadtime_correction_factor
from theranomics.dosimetry.timepoints import (Calibration, TimePointError, measure_vois, quantify_cycle,
                                              quantify_spect)
from theranomics.io.nifti import read_nifti, write_nifti

G = Geometry((6, 7, 8), (4.0, 4.0, 5.0))
RNG = np.random.default_rng(0)
COUNTS = RNG.poisson(200.0, G.shape).astype(float)
CAL = {"calibration_cps_per_mbq": 10.0, "acquisition_duration_s": 1800.0}


def _counts(**meta):
    return Image(COUNTS, G, "counts", "NM", meta)


def test_counts_to_bq_per_ml_by_hand():
    conc, cal = quantify_spect(_counts(), CAL)
    expected = COUNTS / (1800.0 * 10.0) * 1e6 / G.voxel_volume_ml
    np.testing.assert_allclose(conc.array, expected, rtol=1e-12)
    assert conc.unit == "Bq/mL" and cal.deadtime_factor == 1.0


def test_deadtime_applied():
    cal = {**CAL, "deadtime_tau_s": 3e-6, "deadtime_model": "paralysable", "observed_count_rate_cps": 1e5}
    conc, _ = quantify_spect(_counts(), cal)
    f = deadtime_correction_factor(1e5, 3e-6, "paralysable")
    assert f > 1.3
    np.testing.assert_allclose(conc.array, COUNTS / 18000.0 * 1e6 / G.voxel_volume_ml * f, rtol=1e-12)


def test_vendor_quantitative_input():
    img = Image(COUNTS * 3.0, G, "kBq/mL")
    conc, cal = quantify_spect(img)
    assert cal is None and conc.unit == "Bq/mL"
    np.testing.assert_allclose(conc.array, COUNTS * 3000.0)


def test_calibration_json_beside_the_file(tmp_path):
    path = write_nifti(_counts(), tmp_path / "spect" / "spect.nii.gz")
    img = read_nifti(path)
    with pytest.raises(TimePointError, match="calibration.json"):
        quantify_spect(img)
    (tmp_path / "spect" / "calibration.json").write_text(json.dumps({"calibration_cps_per_mbq": 10.0}))
    with pytest.raises(TimePointError, match="acquisition_duration_s"):
        quantify_spect(img)
    (tmp_path / "spect" / "calibration.json").write_text(json.dumps(CAL))
    conc, _ = quantify_spect(img)
    assert conc.array.sum() == pytest.approx(COUNTS.sum() / 18000.0 * 1e6 / G.voxel_volume_ml)


@pytest.mark.parametrize("values,unit,match", [
    (np.full(G.shape, np.nan), "counts", "NaN"),
    (-np.ones(G.shape), "Bq/mL", "negative"),
    (-np.ones(G.shape), "counts", "negative"),
    (np.ones(G.shape), "SUVbw", "unit"),
])
def test_bad_images(values, unit, match):
    with pytest.raises((TimePointError, ValueError), match=match):
        quantify_spect(Image(values, G, unit), CAL)


def test_bad_calibration_value():
    with pytest.raises(TimePointError, match="calibration_cps_per_mbq"):
        Calibration(0.0, 1800.0)


def test_voi_sigma_is_poisson_of_the_voi_counts():
    lab = np.zeros(G.shape, np.int32)
    lab[1:4, 2:5, 2:6] = 1
    lab[4:, :, :] = 2
    labels = LabelMap(lab, G, {1: "a", 2: "b"})
    conc, cal = quantify_spect(_counts(), CAL)
    meas = measure_vois(conc, labels, cal, groups={"ab": ("a", "b")})
    n_a = COUNTS[lab == 1].sum()
    assert meas["a"].counts == pytest.approx(n_a, rel=1e-12)
    assert meas["a"].activity_mbq == pytest.approx(n_a / 18000.0, rel=1e-12)
    assert meas["a"].sigma_mbq == pytest.approx(meas["a"].activity_mbq / np.sqrt(n_a), rel=1e-12)
    assert meas["ab"].activity_mbq == pytest.approx(COUNTS[lab > 0].sum() / 18000.0, rel=1e-12)
    other = LabelMap(lab, Geometry(G.shape, (2.0, 2.0, 2.0)), labels.names)
    with pytest.raises(TimePointError, match="different grids"):
        measure_vois(conc, other, cal)


def test_time_points_out_of_order_and_missing_ct():
    admin = Administration("x", "Lu-177", 7400.0, dt.datetime(2026, 1, 1, 8))
    tp = lambda label, h: TimePoint(label, admin.time + dt.timedelta(hours=h), {"spect": _counts(**CAL)})
    with pytest.raises(ValueError, match="strictly increasing"):
        Cycle(1, admin, (tp("24h", 24), tp("4h", 4)))
    cyc = Cycle(1, admin, (tp("4h", 4), tp("24h", 24)))
    with pytest.raises(TimePointError, match="needs a CT"):
        quantify_cycle(cyc, registration="rigid")
    q = quantify_cycle(cyc, registration="none")
    assert [x.time_h for x in q] == [4.0, 24.0]
