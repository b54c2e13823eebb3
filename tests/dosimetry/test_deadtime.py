"""Dead-time models against their closed forms and an independent root finder."""
import math

import numpy as np
import pytest
from scipy.optimize import brentq

from theranomics.dosimetry.deadtime import (DeadTimeError, deadtime_correction_factor, fit_deadtime_tau,
                                            observed_count_rate_cps, true_count_rate_cps)

TAU = 2e-6


@pytest.mark.parametrize("model", ["paralysable", "non_paralysable"])
@pytest.mark.parametrize("n_true", [1e3, 5e4, 2e5, 4e5])
def test_inverse_recovers_true_rate(model, n_true):
    m = observed_count_rate_cps(n_true, TAU, model)
    assert true_count_rate_cps(m, TAU, model) == pytest.approx(n_true, rel=1e-10)


def test_paralysable_against_brentq():
    m = 1.5e5
    n_ref = brentq(lambda n: n * math.exp(-n * TAU) - m, m, 1.0 / TAU)   # physical branch n·τ < 1
    assert true_count_rate_cps(m, TAU, "paralysable") == pytest.approx(n_ref, rel=1e-10)


def test_non_paralysable_closed_form():
    m = 1e5
    assert deadtime_correction_factor(m, TAU, "non_paralysable") == pytest.approx(1 / (1 - m * TAU), rel=1e-12)
    assert deadtime_correction_factor(0.0, TAU) == 1.0


@pytest.mark.parametrize("model", ["paralysable", "non_paralysable"])
def test_fit_tau_from_decaying_source(model):
    r = np.exp(-np.linspace(0, 3, 8))          # relative true rate of a decaying source
    m = observed_count_rate_cps(3e5 * r, TAU, model)
    tau, k = fit_deadtime_tau(r, m, model)
    assert tau == pytest.approx(TAU, rel=1e-4)
    assert k == pytest.approx(3e5, rel=1e-4)


def test_errors():
    with pytest.raises(DeadTimeError, match="1/e"):
        true_count_rate_cps(0.5 / TAU, TAU, "paralysable")
    with pytest.raises(DeadTimeError, match="< 1"):
        true_count_rate_cps(1.0 / TAU, TAU, "non_paralysable")
    with pytest.raises(DeadTimeError, match="model"):
        true_count_rate_cps(10.0, TAU, "extendable")
    with pytest.raises(DeadTimeError, match="tau"):
        true_count_rate_cps(10.0, -1.0)
    with pytest.raises(DeadTimeError, match="observed_count_rate"):
        true_count_rate_cps(float("nan"), TAU)
