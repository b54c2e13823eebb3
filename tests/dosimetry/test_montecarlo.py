"""The Monte Carlo seam: an engine plugged in behaves like any dose backend; failures are clear."""
import numpy as np
import pytest

from theranomics.core import Geometry, Image
from theranomics.dosimetry.montecarlo import MonteCarloBackend, MonteCarloError, load_engine
from theranomics.dosimetry.voxel import LocalDeposition


class LocalEngine:
    """A stand-in 'Monte Carlo' engine: local deposition of electron energy."""

    name = "local"

    def simulate(self, source_mbq_h, density_g_ml, spacing_mm, nuclide, *, n_primaries, seed):
        g = Geometry(source_mbq_h.shape, spacing_mm)
        return LocalDeposition().dose(Image(source_mbq_h, g, "MBq*h"), nuclide,
                                      Image(density_g_ml, g, "g/mL")).array


def _src():
    g = Geometry((4, 5, 6), (4.0, 4.0, 4.0))
    return Image(np.random.default_rng(1).uniform(0, 10, g.shape), g, "MBq*h")


def test_engine_through_the_seam_matches_direct_backend():
    src = _src()
    mc = MonteCarloBackend(LocalEngine(), n_primaries=1000).dose(src, "lu177")
    ref = LocalDeposition().dose(src, "Lu-177")
    np.testing.assert_allclose(mc.array, ref.array, rtol=1e-12)
    assert mc.unit == "Gy" and mc.meta["dose_method"] == "montecarlo:local"


def test_errors():
    with pytest.raises(MonteCarloError, match="no Monte Carlo engine 'gate'"):
        load_engine("gate")
    with pytest.raises(MonteCarloError, match="simulate"):
        MonteCarloBackend(object())

    class Broken(LocalEngine):
        def simulate(self, *a, **k):
            return np.zeros((1, 1, 1))

    with pytest.raises(MonteCarloError, match="unusable"):
        MonteCarloBackend(Broken()).dose(_src(), "Lu-177")
    src = _src()
    with pytest.raises(MonteCarloError, match="MBq\\*h"):
        MonteCarloBackend(LocalEngine()).dose(src.with_array(src.array, unit="MBq"), "Lu-177")
