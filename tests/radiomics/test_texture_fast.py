"""The compiled texture kernels give exactly what a direct (brute-force) evaluation of the IBSI
definitions gives: neighbourhood sums, zones, edge distances, run lengths and co-occurrences."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import ndimage
from skimage.measure import label

from theranomics.radiomics.texture import _neighbours, _zones
from theranomics.radiomics.texture._common import RoiGrid
from theranomics.radiomics.texture.glcm import _counts
from theranomics.radiomics.texture.glrlm import run_matrices


def _rois(seed: int, n: int = 25, pad: int = 1):
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < n:
        shape = tuple(int(s) for s in rng.integers(1, 10, size=3))
        levels = rng.integers(1, 6, size=shape)
        morph = rng.random(shape) < rng.uniform(0.3, 1.0)
        mask = morph & (rng.random(shape) < 0.9)
        if mask.any():
            out.append((levels, mask, morph, RoiGrid(levels, mask, 5, pad=pad, morph_mask=morph)))
    return out


def _offsets(distance: int, norm: str, dims3: bool):
    r = range(-distance, distance + 1)
    out = []
    for o in itertools.product(r, r, r):
        a = np.abs(o)
        length = {"chebyshev": a.max(), "manhattan": a.sum(), "euclidean": np.sqrt((a ** 2).sum())}[norm]
        if o != (0, 0, 0) and length <= distance + 1e-9 and (dims3 or o[0] == 0):
            out.append(o)
    return out


@pytest.mark.parametrize("seed", range(2))
@pytest.mark.parametrize("distance,norm,alpha", [(1, "chebyshev", 0.0), (2, "euclidean", 1.0), (1, "manhattan", 2.0)])
def test_neighbour_sums_equal_brute_force(seed, distance, norm, alpha):
    for levels, mask, _, roi in _rois(seed, n=12, pad=distance):
        p = distance
        g = np.pad(np.where(mask, levels, 0), p)
        pts = np.argwhere(mask) + p
        for dims3 in (False, True):
            offs = np.array(_offsets(distance, norm, dims3))
            total, count, close = _neighbours.neighbour_stats(roi, distance, norm, alpha, dims3)
            for n, (k, j, i) in enumerate(pts):  # roi.idx is in raster order, as argwhere
                nb = g[k + offs[:, 0], j + offs[:, 1], i + offs[:, 2]]
                nb = nb[nb > 0]
                assert total[n] == nb.sum() and count[n] == nb.size
                assert close[n] == np.count_nonzero(np.abs(nb - g[k, j, i]) <= alpha)


@pytest.mark.parametrize("seed", range(3))
def test_zones_and_edge_distance_equal_scipy(seed):
    for levels, mask, morph, roi in _rois(seed):
        g = np.where(mask, levels, 0)
        for dims3 in (False, True):
            slc, lev, size, dist = _zones.zones(roi, dims3)
            # reference zones: scikit-image labelling per level (26- or in-slice 8-connectivity)
            ref = []
            metric = ndimage.generate_binary_structure(3, 1) if dims3 else np.pad(
                ndimage.generate_binary_structure(2, 1)[None], ((1, 1), (0, 0), (0, 0)))
            edge = ndimage.distance_transform_cdt(np.pad(morph, 1), metric=metric)[1:-1, 1:-1, 1:-1]
            for value in range(1, 6):
                for k0 in ([None] if dims3 else range(g.shape[0])):
                    sel = (g == value) if dims3 else np.where(np.arange(g.shape[0])[:, None, None] == k0, g == value, False)
                    lab = label(sel, connectivity=3 if dims3 else 2) if dims3 else np.stack(
                        [label(s, connectivity=2) for s in sel])
                    for z in range(1, lab.max() + 1):
                        ref.append((value, int((lab == z).sum()), int(edge[lab == z].min())))
            assert sorted(zip(lev.tolist(), size.tolist(), dist.tolist())) == sorted(ref)


@pytest.mark.parametrize("seed", range(2))
def test_runs_and_pairs_equal_brute_force(seed):
    dirs = [(0, 0, 1), (0, 1, 1), (0, 1, 0), (0, 1, -1)] + [(1, dj, di) for dj in (-1, 0, 1) for di in (-1, 0, 1)]
    for levels, mask, _, roi in _rois(seed):
        g = np.pad(np.where(mask, levels, 0), 1)
        code = {v: c for c, v in enumerate(roi.level_values.tolist())}
        runs = run_matrices(roi, True)
        pairs = _counts(roi, True, 1, False)
        for d, (a, b, c) in enumerate(dirs):
            ref_runs = np.zeros(runs.shape[1:])
            ref_pairs = np.zeros(pairs.shape[1:])
            for k, j, i in np.argwhere(g > 0):
                v = g[k, j, i]
                w = g[k + a, j + b, i + c]
                if w > 0:
                    ref_pairs[code[v], code[w]] += 1
                if g[k - a, j - b, i - c] != v:  # a run starts here
                    n = 1
                    while g[k + n * a, j + n * b, i + n * c] == v:
                        n += 1
                    ref_runs[code[v], n - 1] += 1
            assert np.array_equal(runs[d], ref_runs) and np.array_equal(pairs[d], ref_pairs)
