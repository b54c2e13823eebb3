"""Voxel S-value kernels by deterministic integration of a radial point kernel over voxel pairs.

For a uniform source in voxel 0 and a target voxel at offset (i, j, k), the source-to-target
vector is ``d = (i aₓ + tₓ, j a_y + t_y, k a_z + t_z)`` with each ``t`` distributed as the
difference of two uniform variables, i.e. triangular on [−a, a] (MIRD Pamphlet 17 geometry).
With the point kernel written as cumulative energy C(r) (MeV per decay within r):

    S(i,j,k) = ⟨D(|d|)⟩ = (1/ρ) ∫ w_ijk(r) dC(r),   w_ijk(r) = spherical mean of p_ijk(r n̂)

where p_ijk is the product of the three triangular densities (1/cm³).  ``w`` is finite at r = 0
(the 1/r² singularity cancels exactly), so short-range emissions (Auger) give the local-deposition
limit ``E/(ρ V)``.  Near voxels (all |offsets| ≤ 2) use this radial form with a Gauss–Legendre ×
trapezoid direction quadrature; farther voxels, where D is smooth, use a tensor Gauss quadrature
of D(|d|) against the triangular densities.  ``source='point'`` replaces the triangles by boxes
(point source at the voxel centre, averaged over the target voxel): a dose-point-kernel (DPK)
sampling of the same physics.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .point import PointKernel

MEV_PER_G_TO_MGY_PER_MBQ_S = 1.602176634e-13 * 1e3 * 1e6 * 1e3   # MeV/g per decay → mGy/(MBq·s)
NEAR = 2


def _directions(n_mu: int = 48, n_phi: int = 96) -> tuple[np.ndarray, np.ndarray]:
    mu, wmu = np.polynomial.legendre.leggauss(n_mu)
    phi = (np.arange(n_phi) + 0.5) * 2.0 * np.pi / n_phi
    s = np.sqrt(1.0 - mu**2)
    dirs = np.stack([np.outer(s, np.cos(phi)), np.outer(s, np.sin(phi)), np.outer(mu, np.ones(n_phi))], axis=-1).reshape(-1, 3)
    weights = np.outer(wmu, np.full(n_phi, 1.0 / n_phi)).ravel() / 2.0   # sums to 1
    return dirs, weights


def _density_1d(t: np.ndarray, a: float, source: str) -> np.ndarray:
    if source == "voxel":
        return np.clip(1.0 - np.abs(t) / a, 0.0, None) / a
    return np.where(np.abs(t) <= 0.5 * a, 1.0 / a, 0.0)


def _gauss_1d(a: float, source: str, m: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights of ∫ f(t) p(t) dt for the triangular (voxel) or box (point) density."""
    x, w = np.polynomial.legendre.leggauss(m)
    if source == "voxel":
        left = -a * (1 - (x + 1) / 2)           # [-a, 0]
        right = a * (x + 1) / 2                 # [0, a]
        nodes = np.concatenate([left, right])
        weights = np.concatenate([w * a / 2, w * a / 2]) * _density_1d(nodes, a, source)
    else:
        nodes = x * a / 2
        weights = w / 2
    return nodes, weights / weights.sum()


@dataclass(frozen=True, eq=False)
class VoxelSKernel:
    """Voxel S-values ``values[k, j, i]`` (mGy/(MBq·s)) for offsets ``-n..n`` on each axis.

    ``meta`` states what the kernel is: nuclide, emissions included, material, density,
    voxel size, source model, physics model versions.
    """

    values: np.ndarray
    voxel_mm: tuple[float, float, float]
    nuclide: str
    include: tuple[str, ...]
    material: str
    density_g_cm3: float
    source: str = "voxel"
    meta: dict = field(default_factory=dict)
    unit: str = "mGy/(MBq*s)"

    @property
    def half_size(self) -> tuple[int, int, int]:
        """Largest offset along (x, y, z)."""
        nz, ny, nx = self.values.shape
        return (nx // 2, ny // 2, nz // 2)

    def s(self, i: int, j: int, k: int) -> float:
        """S-value for offset (i, j, k) along (x, y, z), mGy/(MBq·s)."""
        hx, hy, hz = self.half_size
        return float(self.values[k + hz, j + hy, i + hx])

    @property
    def voxel_mass_g(self) -> float:
        return float(np.prod(self.voxel_mm)) * 1e-3 * self.density_g_cm3

    def energy_sum_mev(self) -> float:
        """Σ S × voxel mass: energy per decay absorbed within the kernel (MeV)."""
        return float(self.values.sum()) * self.voxel_mass_g / MEV_PER_G_TO_MGY_PER_MBQ_S

    def per_mbq_h_gy(self) -> np.ndarray:
        """Values in Gy/(MBq·h)."""
        return self.values * 3.6


def integrate_voxel_s(kernel: PointKernel, voxel_mm, half_size, source: str = "voxel") -> np.ndarray:
    """Octant of S-values (MeV/g per decay), array [k, j, i] for i, j, k = 0..n."""
    a = np.asarray(voxel_mm, dtype=float) / 10.0            # cm, (x, y, z)
    n = np.asarray(half_size, dtype=int)
    rho = kernel.density_g_cm3
    out = np.zeros((n[2] + 1, n[1] + 1, n[0] + 1))
    # radial grid for the near voxels
    r_top = float(np.sqrt(np.sum(((np.minimum(n, NEAR) + 1) * a) ** 2)))
    step = float(a.min()) / 60.0
    edges = np.unique(np.concatenate([[0.0], np.geomspace(step * 1e-4, step, 12), np.arange(step, r_top + step, step)]))
    dc = np.diff(kernel.cumulative(edges))
    mids = 0.5 * (edges[1:] + edges[:-1])
    use = dc > 0
    mids, dc = mids[use], dc[use]
    dirs, dw = _directions()
    cubic = bool(np.allclose(a, a[0]))
    for k in range(min(n[2], NEAR) + 1):
        for j in range(min(n[1], NEAR) + 1):
            for i in range(min(n[0], NEAR) + 1):
                if cubic and not (i <= j <= k):
                    continue
                off = np.array([i, j, k]) * a
                lo = np.sqrt(np.sum(np.clip(np.abs(off) - (a if source == "voxel" else a / 2), 0, None) ** 2))
                hi = np.sqrt(np.sum((np.abs(off) + (a if source == "voxel" else a / 2)) ** 2))
                sel = np.nonzero((mids >= lo * 0.999) & (mids <= hi * 1.001))[0]
                total = 0.0
                for chunk in np.array_split(sel, max(1, sel.size // 128 + 1)):
                    if chunk.size == 0:
                        continue
                    pts = mids[chunk, None, None] * dirs[None, :, :] - off        # (r, dir, 3)
                    p = (_density_1d(pts[..., 0], a[0], source) * _density_1d(pts[..., 1], a[1], source)
                         * _density_1d(pts[..., 2], a[2], source))
                    total += float(np.dot(p @ dw, dc[chunk]))
                out[k, j, i] = total / rho
    if cubic:
        m = min(int(n.min()), NEAR)
        for k in range(m + 1):
            for j in range(m + 1):
                for i in range(m + 1):
                    srt = sorted((i, j, k))
                    out[k, j, i] = out[srt[2], srt[1], srt[0]]
    # far voxels: tensor Gauss quadrature of the point-kernel dose
    nodes = [_gauss_1d(a[ax], source) for ax in range(3)]
    kk, jj, ii = np.meshgrid(np.arange(n[2] + 1), np.arange(n[1] + 1), np.arange(n[0] + 1), indexing="ij")
    far = (np.maximum(np.maximum(ii, jj), kk) > NEAR)
    if far.any():
        idx = np.stack([ii[far], jj[far], kk[far]], axis=1)
        tx, wx = nodes[0]
        ty, wy = nodes[1]
        tz, wz = nodes[2]
        wgrid = (wz[:, None, None] * wy[None, :, None] * wx[None, None, :]).ravel()
        tgrid = np.stack(np.meshgrid(tz, ty, tx, indexing="ij"), axis=-1).reshape(-1, 3)[:, ::-1]  # (x, y, z)
        vals = np.empty(len(idx))
        for start in range(0, len(idx), 2048):
            block = idx[start:start + 2048]
            pts = block[:, None, :] * a + tgrid[None, :, :]
            dose = kernel.dose_mev_g(np.linalg.norm(pts, axis=-1))
            vals[start:start + 2048] = dose @ wgrid
        out[kk[far], jj[far], ii[far]] = vals
    return out


def mirror_octant(octant: np.ndarray) -> np.ndarray:
    """Full symmetric kernel [-n..n]³ from the octant [0..n]³."""
    full = np.concatenate([octant[:0:-1], octant], axis=0)
    full = np.concatenate([full[:, :0:-1], full], axis=1)
    return np.concatenate([full[:, :, :0:-1], full], axis=2)
