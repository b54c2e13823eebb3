"""Fast paths of the texture machinery give exactly what the generic code gives."""
from __future__ import annotations

import numpy as np
import pytest

from theranomics.radiomics.texture import _neighbours
from theranomics.radiomics.texture._common import RoiGrid


@pytest.mark.parametrize("seed", range(3))
def test_chebyshev1_box_sums_equal_generic_loop(seed):
    rng = np.random.default_rng(seed)
    for _ in range(30):
        shape = tuple(int(s) for s in rng.integers(1, 10, size=3))
        levels = rng.integers(1, 6, size=shape)
        mask = rng.random(shape) < rng.uniform(0.2, 1.0)
        if not mask.any():
            continue
        roi = RoiGrid(levels, mask, 5, pad=1)
        fast = _neighbours._chebyshev1(roi)
        slow = _neighbours._generic(roi, 1, "chebyshev", 0)
        for dims3 in (False, True):
            for f, s in zip(fast[dims3], slow[dims3]):
                assert f.shape == s.shape and np.array_equal(f, s)
