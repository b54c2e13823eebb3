"""The table-driven mesh measures and the hull pre-filter equal the direct computation on the
scikit-image marching-cubes mesh (the reference the IBSI morphology tests were validated with)."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage, spatial

from theranomics.radiomics.features.morphology import (_mesh_lattice, convex_hull_measures, hull_candidates, mesh,
                                                       mesh_measures)


def _masks(n: int, seed: int):
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < n:
        shape = tuple(int(s) for s in rng.integers(2, 13, size=3))
        m = ndimage.gaussian_filter(rng.normal(size=shape), rng.uniform(0, 2)) > rng.uniform(-0.6, 0.6)
        if m.any():
            out.append((m, tuple(float(s) for s in rng.uniform(0.4, 5.0, size=3))))
    return out


@pytest.mark.parametrize("case", range(4))
def test_mesh_measures_equal_marching_cubes(case):
    for m, spacing in _masks(40, case):
        verts, faces = mesh(m, spacing)
        a, b, c = verts[faces[:, 0]], verts[faces[:, 1]], verts[faces[:, 2]]
        volume = abs(np.einsum("ij,ij->", a, np.cross(b, c))) / 6.0
        area = np.linalg.norm(np.cross(b - a, c - a), axis=1).sum() / 2.0
        v, s, pts = mesh_measures(m, spacing)
        assert v == pytest.approx(volume, rel=1e-12) and s == pytest.approx(area, rel=1e-12)
        # our vertices are the marching-cubes vertices (Lewiner adds cell-interior ones, never extreme)
        ours = {tuple(p) for p in np.round(pts, 6)}
        assert ours <= {tuple(p) for p in np.round(verts, 6)}
        assert np.allclose(pts.max(0) - pts.min(0), verts.max(0) - verts.min(0))
        try:
            h_ref = spatial.ConvexHull(verts)
        except spatial.QhullError:
            continue
        cand = hull_candidates(pts, spacing)
        h = spatial.ConvexHull(cand)
        assert h.volume == pytest.approx(h_ref.volume, rel=1e-12) and h.area == pytest.approx(h_ref.area, rel=1e-12)
        assert spatial.distance.pdist(cand[h.vertices]).max() == pytest.approx(
            spatial.distance.pdist(verts[h_ref.vertices]).max(), rel=1e-14)
        # the exact integer Quickhull gives Qhull's volume, area and diameter
        hv, ha, diam = convex_hull_measures(_mesh_lattice(m, spacing)[2], spacing)
        assert hv == pytest.approx(h_ref.volume, rel=1e-12) and ha == pytest.approx(h_ref.area, rel=1e-12)
        assert diam == pytest.approx(spatial.distance.pdist(verts[h_ref.vertices]).max(), rel=1e-14)


@pytest.mark.parametrize("radius", [3, 8, 15])
def test_convex_hull_of_lattice_ball_equals_qhull(radius):
    """Highly degenerate input (thousands of coplanar lattice vertices): same hull as Qhull."""
    r = radius
    z, y, x = np.mgrid[-r - 1:r + 2, -r - 1:r + 2, -r - 1:r + 2]
    ball = (x / 1.1) ** 2 + y ** 2 + (z / 0.8) ** 2 <= r * r
    spacing = (2.0, 2.0, 3.5)
    _, _, verts = mesh_measures(ball, spacing)
    ref = spatial.ConvexHull(verts)
    hv, ha, diam = convex_hull_measures(_mesh_lattice(ball, spacing)[2], spacing)
    assert hv == pytest.approx(ref.volume, rel=1e-12) and ha == pytest.approx(ref.area, rel=1e-12)
    assert diam == pytest.approx(spatial.distance.pdist(verts[ref.vertices]).max(), rel=1e-14)


def test_flat_point_set_has_no_hull_volume():
    """Coplanar lattice points: hull volume and area NaN, diameter the largest distance."""
    pts = np.array([[0, 0, 0], [0, 4, 0], [0, 0, 6], [0, 4, 6], [0, 2, 3]], dtype=np.int64)
    hv, ha, diam = convex_hull_measures(pts, (1.0, 1.0, 1.0))
    assert np.isnan(hv) and np.isnan(ha) and diam == pytest.approx(np.hypot(2.0, 3.0))


def test_sphere_volume_converges():
    """Mesh volume of a voxelised sphere of radius 20 voxels is within 1 % of 4/3 π r³."""
    r = 20
    z, y, x = np.mgrid[-r - 1:r + 2, -r - 1:r + 2, -r - 1:r + 2]
    v, s, _ = mesh_measures(x ** 2 + y ** 2 + z ** 2 <= r * r, (1.0, 1.0, 1.0))
    assert v == pytest.approx(4.0 / 3.0 * np.pi * r ** 3, rel=0.01)


def test_morphology_names_mismatched_shapes():
    from theranomics.radiomics.features import morphology
    mask = np.ones((3, 3, 3), bool)
    with pytest.raises(ValueError, match="masks and image must have one shape"):
        morphology(mask, mask[:2], np.ones((3, 3, 3)), (1.0, 1.0, 1.0))
    with pytest.raises(ValueError, match="morphological mask is empty"):
        morphology(~mask, ~mask, np.ones((3, 3, 3)), (1.0, 1.0, 1.0))
