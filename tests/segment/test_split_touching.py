"""Touching lesions are split; the hot spots on the rim of one necrotic lesion are not."""
import numpy as np
import pytest
from scipy import ndimage

from theranomics.core import Geometry
from theranomics.segment import label_components
from theranomics.segment.components import split_touching

SHAPE = (40, 48, 48)
GEO = Geometry(SHAPE, (4.0, 4.0, 4.0))
ZZ, YY, XX = np.mgrid[:SHAPE[0], :SHAPE[1], :SHAPE[2]]


def _split(img: np.ndarray, threshold: float = 3.0) -> tuple[int, int]:
    cands = label_components(img >= threshold, GEO, 0.0, img)
    return len(cands.labels), len(split_touching(img, cands, floor=threshold).labels)


@pytest.mark.parametrize("seed", range(8))
def test_two_touching_spheres_are_two_lesions(seed):
    img = np.zeros(SHAPE)
    for cx in (20, 27):
        img[((ZZ - 20) ** 2 + (YY - 24) ** 2 + (XX - cx) ** 2) <= 9] = 10.0
    img = ndimage.gaussian_filter(img, 1.2) + 0.5 + 0.4 * np.random.default_rng(seed).standard_normal(SHAPE)
    assert _split(img) == (1, 2)


@pytest.mark.parametrize("seed", range(8))
def test_necrotic_lesion_with_three_hot_spots_is_one_lesion(seed):
    """A shell (radius 3.5–6.5 voxels) with three hot arcs around a cold core: the watershed alone
    cuts it into three (the previous behaviour); the rim grouping keeps it whole."""
    r2 = (ZZ - 20) ** 2 + (YY - 24) ** 2 + (XX - 24) ** 2
    rim = (r2 <= 42) & (r2 > 12)
    arcs = np.cos(3 * np.arctan2(YY - 24, XX - 24)) > 0.3
    img = np.where(rim, 5.0 + 5.0 * arcs, 0.0) + np.where(r2 <= 12, 1.0, 0.0)
    img = ndimage.gaussian_filter(img, 1.0) + 0.5 + 0.4 * np.random.default_rng(seed).standard_normal(SHAPE)
    assert _split(img) == (1, 1)
