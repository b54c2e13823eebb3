"""Private geometry helpers: analytic shapes rasterised inside their bounding box only.

Every shape is an implicit function ``f(x) <= 1`` of world coordinates (LPS mm); it is
evaluated only on the voxels of its bounding box, so the cost of a shape is proportional
to its size, not to the volume.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter
from scipy.spatial import cKDTree

from ..core import Geometry


@dataclass(frozen=True)
class Box:
    """Index-space box ``[k0:k1, j0:j1, i0:i1]`` of a grid (half-open)."""

    k0: int
    k1: int
    j0: int
    j1: int
    i0: int
    i1: int

    @property
    def slices(self) -> tuple[slice, slice, slice]:
        return slice(self.k0, self.k1), slice(self.j0, self.j1), slice(self.i0, self.i1)

    @property
    def empty(self) -> bool:
        return self.k1 <= self.k0 or self.j1 <= self.j0 or self.i1 <= self.i0


def box_around(geometry: Geometry, lo_mm, hi_mm) -> Box:
    """Index box (clipped to the grid) holding the world box ``[lo_mm, hi_mm]`` (x, y, z).

    The simulator only uses axis-aligned (identity-direction) grids.
    """
    lo = geometry.world_to_index(np.asarray(lo_mm, float))
    hi = geometry.world_to_index(np.asarray(hi_mm, float))
    a = np.floor(np.minimum(lo, hi)).astype(int)
    b = np.ceil(np.maximum(lo, hi)).astype(int) + 1
    nz, ny, nx = geometry.shape
    a = np.maximum(a, 0)
    b = np.minimum(b, (nx, ny, nz))
    return Box(a[2], b[2], a[1], b[1], a[0], b[0])


def world_coords(geometry: Geometry, box: Box) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Broadcastable world x (1,1,ni), y (1,nj,1), z (nk,1,1) of the voxel centres in ``box``."""
    sx, sy, sz = geometry.spacing_mm
    ox, oy, oz = geometry.origin_mm
    x = ox + sx * np.arange(box.i0, box.i1)
    y = oy + sy * np.arange(box.j0, box.j1)
    z = oz + sz * np.arange(box.k0, box.k1)
    return x[None, None, :], y[None, :, None], z[:, None, None]


def rotation(angles_rad) -> np.ndarray:
    """Rotation matrix R = Rz(c) Ry(b) Rx(a) for angles (a, b, c) in radians."""
    a, b, c = angles_rad
    rx = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    ry = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
    rz = np.array([[np.cos(c), -np.sin(c), 0], [np.sin(c), np.cos(c), 0], [0, 0, 1]])
    return rz @ ry @ rx


@dataclass(frozen=True)
class Wobble:
    """A smooth random radial deformation δ(u) = ε Σ_m c_m cos(n_m π u·v_m + φ_m) of unit directions u."""

    amplitude: float
    vectors: np.ndarray     # (m, 3) unit vectors
    orders: np.ndarray      # (m,)
    phases: np.ndarray      # (m,)
    weights: np.ndarray     # (m,)

    @classmethod
    def random(cls, rng: np.random.Generator, amplitude: float, n_terms: int = 4) -> "Wobble":
        v = rng.normal(size=(n_terms, 3))
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        w = rng.uniform(0.5, 1.0, n_terms)
        return cls(float(amplitude), v, rng.integers(1, 4, n_terms).astype(float),
                   rng.uniform(0, 2 * np.pi, n_terms), w / w.sum())

    def __call__(self, ux, uy, uz) -> np.ndarray:
        out = 0.0
        for v, n, ph, w in zip(self.vectors, self.orders, self.phases, self.weights):
            out = out + w * np.cos(n * np.pi * (ux * v[0] + uy * v[1] + uz * v[2]) + ph)
        return self.amplitude * out


def ellipsoid_distance(geometry: Geometry, box: Box, center_mm, semi_mm, rot: np.ndarray | None = None,
                       wobble: Wobble | None = None) -> np.ndarray:
    """Normalised ellipsoidal distance ρ(x) = |R^T (x − c) / s| / (1 + δ(u)) in ``box`` (ρ ≤ 1 inside)."""
    x, y, z = world_coords(geometry, box)
    dx, dy, dz = x - center_mm[0], y - center_mm[1], z - center_mm[2]
    if rot is not None:
        r = np.asarray(rot)
        dx, dy, dz = (r[0, 0] * dx + r[1, 0] * dy + r[2, 0] * dz,
                      r[0, 1] * dx + r[1, 1] * dy + r[2, 1] * dz,
                      r[0, 2] * dx + r[1, 2] * dy + r[2, 2] * dz)
    px, py, pz = dx / semi_mm[0], dy / semi_mm[1], dz / semi_mm[2]
    rho = np.sqrt(px * px + py * py + pz * pz)
    if wobble is not None and wobble.amplitude:
        safe = np.maximum(rho, 1e-9)
        rho = rho / (1.0 + wobble(px / safe, py / safe, pz / safe))
    return rho


def ellipsoid_box(geometry: Geometry, center_mm, semi_mm, margin: float = 1.35) -> Box:
    r = np.max(semi_mm) * margin
    c = np.asarray(center_mm, float)
    return box_around(geometry, c - r, c + r)


def ellipsoid(geometry: Geometry, center_mm, semi_mm, rot=None, wobble: Wobble | None = None,
              ) -> tuple[Box, np.ndarray]:
    """(box, boolean mask in box) of a (rotated, wobbled) ellipsoid."""
    box = ellipsoid_box(geometry, center_mm, semi_mm, 1.05 + (wobble.amplitude if wobble else 0.0))
    if box.empty:
        return box, np.zeros((0, 0, 0), bool)
    return box, ellipsoid_distance(geometry, box, center_mm, semi_mm, rot, wobble) <= 1.0


def polyline(points_mm, step_mm: float) -> np.ndarray:
    """Resample a polyline densely (points ≤ ``step_mm`` apart)."""
    pts = np.asarray(points_mm, float)
    out = [pts[:1]]
    for a, b in zip(pts[:-1], pts[1:]):
        n = max(int(np.ceil(np.linalg.norm(b - a) / step_mm)), 1)
        t = np.arange(1, n + 1)[:, None] / n
        out.append(a + t * (b - a))
    return np.concatenate(out)


def tube(geometry: Geometry, centerline_mm, radius_mm) -> tuple[Box, np.ndarray]:
    """(box, mask in box) of all voxels within ``radius_mm`` (scalar or per point) of a polyline."""
    step = min(geometry.spacing_mm) / 3.0
    pts = polyline(centerline_mm, step)
    radius = np.broadcast_to(np.asarray(radius_mm, float), (len(centerline_mm),))
    # interpolate the radius along the dense line by arc length
    seg = np.linalg.norm(np.diff(np.asarray(centerline_mm, float), axis=0), axis=1)
    s_ctrl = np.concatenate([[0], np.cumsum(seg)])
    s_dense = np.concatenate([[0], np.cumsum(np.linalg.norm(np.diff(pts, axis=0), axis=1))])
    r_dense = np.interp(s_dense, s_ctrl, radius)
    rmax = float(r_dense.max())
    box = box_around(geometry, pts.min(0) - rmax, pts.max(0) + rmax)
    if box.empty:
        return box, np.zeros((0, 0, 0), bool)
    x, y, z = world_coords(geometry, box)
    xyz = np.stack(np.broadcast_arrays(x, y, z), axis=-1).reshape(-1, 3)
    dist, idx = cKDTree(pts).query(xyz, distance_upper_bound=rmax + step)
    inside = np.zeros(len(xyz), bool)
    ok = np.isfinite(dist)
    inside[ok] = dist[ok] <= r_dense[idx[ok]]
    return box, inside.reshape(box.k1 - box.k0, box.j1 - box.j0, box.i1 - box.i0)


def smooth_field(rng: np.random.Generator, shape, sigma_vox: float) -> np.ndarray:
    """Zero-mean, unit-variance smooth Gaussian random field (white noise ⊗ Gaussian kernel)."""
    noise = rng.standard_normal(shape)
    field = gaussian_filter(noise, sigma=max(sigma_vox, 1e-6), mode="wrap")
    sd = field.std()
    return field / sd if sd > 0 else field
