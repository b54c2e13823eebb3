"""Recovery coefficients against the closed-form blurred sphere and exact spill-in/out."""
import math

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.ndimage import gaussian_filter
from scipy.special import erf

from theranomics.dosimetry.recovery import (RecoveryCurve, RecoveryError, geometric_transfer_matrix, gtm_correct,
                                            mask_recovery_coefficient, sphere_recovery_curve)


def rc_ball(volume_ml, fwhm_mm):
    """Fraction of a uniform ball ⊗ isotropic Gaussian that stays inside the ball (closed-form profile)."""
    r0 = (3 * volume_ml * 1000 / (4 * math.pi)) ** (1 / 3)
    s = fwhm_mm / (2 * math.sqrt(2 * math.log(2)))

    def f(r):
        r = max(r, 1e-9)
        return (0.5 * (erf((r0 - r) / (math.sqrt(2) * s)) + erf((r0 + r) / (math.sqrt(2) * s)))
                + s / (r * math.sqrt(2 * math.pi)) * (math.exp(-(r0 + r) ** 2 / (2 * s * s))
                                                      - math.exp(-(r0 - r) ** 2 / (2 * s * s))))
    return 3 / r0 ** 3 * quad(lambda r: f(r) * r * r, 0, r0)[0]


def test_sphere_curve_matches_closed_form_at_fine_voxels():
    curve = sphere_recovery_curve(12.0, 1.5, [4.0, 30.0], supersample=2, n_offsets=2)
    for v, rc in zip(curve.volumes_ml, curve.rc):
        assert rc == pytest.approx(rc_ball(v, 12.0), rel=0.02)


def test_sphere_curve_monotone_and_interpolates():
    curve = sphere_recovery_curve(12.0, 4.42, [1.0, 10.0, 100.0], n_offsets=2)
    assert np.all(np.diff(curve.rc) > 0) and curve.rc[-1] < 1
    mid = curve.rc_at(math.sqrt(10.0 * 100.0))
    assert mid == pytest.approx((curve.rc[1] + curve.rc[2]) / 2, rel=1e-12)   # linear in log V
    assert curve.correct(5.0, 10.0) == pytest.approx(5.0 / curve.rc[1])
    assert not curve.in_range(1000.0)


def test_mask_rc_of_a_ball():
    z, y, x = np.mgrid[:61, :61, :61]
    ball = (x - 30) ** 2 + (y - 30) ** 2 + (z - 30) ** 2 <= 20 ** 2
    vol = ball.sum() * 1e-3
    assert mask_recovery_coefficient(ball, 1.0, 12.0) == pytest.approx(rc_ball(vol, 12.0), rel=0.01)


def test_gtm_recovers_true_activities():
    shape = (40, 40, 60)
    a = np.zeros(shape, bool)
    b = np.zeros(shape, bool)
    a[10:30, 10:30, 8:25] = True
    b[12:28, 12:28, 27:50] = True
    true = {"a": 100.0, "b": 30.0}
    img = (a * true["a"] / a.sum() + b * true["b"] / b.sum())
    sigma = 10.0 / (2 * math.sqrt(2 * math.log(2))) / 2.0
    blurred = gaussian_filter(img, sigma, mode="constant")
    measured = {"a": blurred[a].sum(), "b": blurred[b].sum()}
    gtm = geometric_transfer_matrix({"a": a, "b": b}, 2.0, 10.0)
    got = gtm_correct(measured, gtm)
    assert got["a"] == pytest.approx(100.0, rel=1e-6) and got["b"] == pytest.approx(30.0, rel=1e-6)
    assert measured["b"] / 30.0 < 0.9                                    # there was something to correct


def test_errors(tmp_path):
    with pytest.raises(RecoveryError, match="fwhm_mm"):
        sphere_recovery_curve(-1.0, 4.0)
    with pytest.raises(RecoveryError, match="\\(0, 1\\]"):
        RecoveryCurve([1.0, 2.0], [0.5, 1.5])
    p = tmp_path / "rc.csv"
    p.write_text("volume,rc\n1,0.5\n")
    with pytest.raises(RecoveryError, match="volume_ml"):
        RecoveryCurve.from_csv(p)
    p.write_text("volume_ml,rc\n1,0.5\n10,0.7\n")
    assert RecoveryCurve.from_csv(p).rc_at(1.0) == 0.5
    with pytest.raises(RecoveryError, match="empty"):
        mask_recovery_coefficient(np.zeros((3, 3, 3), bool), 1.0, 5.0)
    m = np.ones((4, 4, 4), bool)
    with pytest.raises(RecoveryError, match="overlaps"):
        geometric_transfer_matrix({"a": m, "b": m}, 1.0, 5.0)
