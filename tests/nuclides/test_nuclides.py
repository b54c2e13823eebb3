"""Nuclide data against radioactivedecay and ICRP-107 directly (independent look-ups)."""
import datetime as dt

import numpy as np
import pytest
import radioactivedecay as rd

from theranomics import nuclides

NAMES = {"F-18": ["f18", "18F", "F18"], "Ga-68": ["ga68", "68Ga"], "Cu-64": ["Cu64"], "Sc-44": ["44Sc"],
         "In-111": ["In111"], "Tc-99m": ["99mTc", "tc99m", "Tc99m"], "Lu-177": ["177Lu", "lu-177", "^177^Lu"],
         "Y-90": ["90Y"], "I-131": ["131I"], "Tb-161": ["161Tb"], "Ac-225": ["225Ac"]}


@pytest.mark.parametrize("canonical", list(NAMES))
def test_names_and_half_lives(canonical):
    for alias in NAMES[canonical]:
        assert nuclides.normalise_name(alias) == canonical
    assert nuclides.half_life_s(canonical) == rd.Nuclide(canonical).half_life("s")


def test_decay_correction_against_radioactivedecay():
    t0 = dt.datetime(2026, 1, 1, 23, 30)
    t1 = dt.datetime(2026, 1, 2, 1, 15)  # across midnight
    for nuc in ("F-18", "Ga-68", "Lu-177"):
        inv = rd.Inventory({nuc: 1000.0}, "Bq").decay((t1 - t0).total_seconds(), "s")
        expected = inv.activities("Bq")[nuc] / 1000.0
        assert nuclides.decay_factor(nuc, t0, t1) == pytest.approx(expected, rel=1e-10)
        assert nuclides.decay_factor(nuc, t1, t0) == pytest.approx(1.0 / expected, rel=1e-10)
        assert nuclides.decay_correct(500.0, nuc, t1, t0) == pytest.approx(500.0 / expected, rel=1e-10)


def test_lu177_emissions_match_icrp107():
    # ICRP-107 Lu-177: mean beta energy 133.6 keV per decay; 208 keV gamma yield 10.4-11 %
    assert nuclides.mean_energy_per_decay_mev("Lu-177", "beta-") == pytest.approx(0.1333, abs=0.001)
    e, y = nuclides.photon_lines("Lu-177", min_yield=0.05)
    assert np.allclose(e, [0.11295, 0.208366]) and np.all(y > 0.06)


def test_ac225_chain_contains_daughters():
    chain = nuclides.decay_chain("Ac-225")
    for d in ("Fr-221", "At-217", "Bi-213", "Po-213", "Tl-209", "Pb-209"):
        assert d in chain
    assert chain[0] == "Ac-225"


def test_bad_names_and_times():
    with pytest.raises(nuclides.UnknownNuclideError, match="cannot parse"):
        nuclides.normalise_name("lutetium")
    with pytest.raises(nuclides.UnknownNuclideError, match="not in the radioactivedecay"):
        nuclides.normalise_name("Xx-999")
    with pytest.raises(TypeError, match="mix"):
        nuclides.decay_factor("F-18", dt.datetime(2026, 1, 1), 3600.0)
