"""Scaled point kernels of monoenergetic electrons from a condensed-history CSDA random walk.

Model (a continuous-slowing-down random walk, class-I condensed history):

* steps of fixed mean fractional energy loss ``f`` (2.5 %); path length ``s = ΔE / S(E_mid)`` with
  the ICRU 37 collision stopping power (:mod:`.materials`);
* energy-loss straggling: the loss in a step is Gamma-distributed with mean ΔE and the variance of
  free-electron (Møller, small-transfer) collisions up to T/2, ``Ω² = π r_e² mc² n_e T s / β²``;
* angular deflection at the step midpoint (random hinge), sampled from a Henyey–Greenstein law
  whose mean cosine is the Goudsmit–Saunderson value ``⟨cos θ⟩ = exp(−s/λ₁)`` with λ₁ the
  screened-Rutherford transport mean free path; azimuth uniform;
* the energy lost in a step is deposited at its midpoint (δ-rays local, bremsstrahlung neglected).

The result is the universal scaled kernel of Berger (1971, MIRD Pamphlet 7):
``Φ(x, E₀)`` = fraction of E₀ deposited within ``r = x · r₀(E₀)``, with r₀ the CSDA range, so
that the dose at r from a point source in a medium of density ρ is
``E₀ · Φ'(r/r₀) / (4π ρ r² r₀)``.  Tables are deterministic (fixed seed) and cached on disk.
"""
from __future__ import annotations

import numpy as np

from .materials import (CLASSICAL_ELECTRON_RADIUS_CM, ELECTRON_MASS_MEV, AVOGADRO, Material,
                        collision_stopping_power, csda_range_g_cm2, transport_cross_section)

#: Version of the model: bump when the physics changes so that cached tables are rebuilt.
MODEL_VERSION = 2
X_EDGES = np.linspace(0.0, 1.6, 321)          # r / r0 bin edges of the tabulated kernel
ENERGIES_MEV = np.logspace(np.log10(1e-2), np.log10(5.0), 17)  # 6.3 per decade
FRACTIONAL_LOSS = 0.025
CUTOFF_FRACTION = 0.01


def _rotate(u: np.ndarray, cos_t: np.ndarray, phi: np.ndarray) -> np.ndarray:
    """Rotate unit vectors ``u`` (n, 3) by polar angle acos(cos_t) and azimuth phi."""
    sin_t = np.sqrt(np.clip(1.0 - cos_t**2, 0.0, None))
    ux, uy, uz = u[:, 0], u[:, 1], u[:, 2]
    cp, sp = np.cos(phi), np.sin(phi)
    den = np.sqrt(np.clip(1.0 - uz**2, 0.0, None))
    small = den < 1e-8
    den_safe = np.where(small, 1.0, den)
    nx = np.where(small, sin_t * cp, ux * cos_t + sin_t * (ux * uz * cp - uy * sp) / den_safe)
    ny = np.where(small, sin_t * sp, uy * cos_t + sin_t * (uy * uz * cp + ux * sp) / den_safe)
    nz = np.where(small, np.sign(uz + (uz == 0)) * cos_t, uz * cos_t - sin_t * cp * den)
    out = np.empty_like(u)
    out[:, 0], out[:, 1], out[:, 2] = nx, ny, nz
    out /= np.sqrt(np.einsum("ij,ij->i", out, out))[:, None]
    return out


def _henyey_greenstein(g: np.ndarray, xi: np.ndarray) -> np.ndarray:
    """cos θ from the Henyey–Greenstein law with mean cosine g (g → 0 gives isotropic)."""
    g = np.clip(g, 1e-6, 1.0 - 1e-9)
    frac = (1.0 - g * g) / (1.0 - g + 2.0 * g * xi)
    return np.clip((1.0 + g * g - frac * frac) / (2.0 * g), -1.0, 1.0)


def scaled_kernel_one_energy(mat: Material, e0_mev: float, n_histories: int, rng: np.random.Generator) -> np.ndarray:
    """Fraction of E₀ deposited per x-bin (``X_EDGES``) for electrons of energy E₀ in ``mat`` (unit density)."""
    rho = 1.0
    r0 = float(csda_range_g_cm2(mat, e0_mev, rho))
    grid = np.logspace(np.log10(e0_mev * CUTOFF_FRACTION * 0.5), np.log10(e0_mev * 1.001), 200)
    stop_tab = collision_stopping_power(mat, grid, rho)
    inv_l1_tab = transport_cross_section(mat, grid)
    lg = np.log(grid)
    n_e = AVOGADRO * mat.z_over_a * rho
    strag_k = np.pi * CLASSICAL_ELECTRON_RADIUS_CM**2 * ELECTRON_MASS_MEV * n_e

    e_cut = e0_mev * CUTOFF_FRACTION
    energy = np.full(n_histories, e0_mev)
    pos = np.zeros((n_histories, 3))
    v = rng.normal(size=(n_histories, 3))
    u = v / np.linalg.norm(v, axis=1, keepdims=True)
    nbins = len(X_EDGES) - 1
    hist = np.zeros(nbins)
    dx = X_EDGES[1] - X_EDGES[0]

    def deposit(points: np.ndarray, amount: np.ndarray) -> None:
        x = np.sqrt(np.einsum("ij,ij->i", points, points)) / r0
        idx = np.minimum((x / dx).astype(np.int64), nbins - 1)
        hist[:] += np.bincount(idx, weights=amount, minlength=nbins)

    while energy.size:
        de_mean = FRACTIONAL_LOSS * energy
        e_mid = energy - 0.5 * de_mean
        le = np.log(e_mid)
        stop = np.interp(le, lg, stop_tab)
        s = de_mean / stop
        tau = e_mid / ELECTRON_MASS_MEV
        beta2 = 1.0 - 1.0 / (tau + 1.0) ** 2
        var = strag_k * e_mid * s / beta2
        shape = de_mean**2 / var
        de = rng.gamma(shape, de_mean / shape)
        de = np.minimum(de, energy)
        inv_l1 = np.interp(le, lg, inv_l1_tab)
        g = np.exp(-s * inv_l1)
        half = 0.5 * s[:, None]
        pos = pos + u * half
        deposit(pos, de)
        cos_t = _henyey_greenstein(g, rng.random(energy.size))
        u = _rotate(u, cos_t, 2.0 * np.pi * rng.random(energy.size))
        pos = pos + u * half
        energy = energy - de
        done = energy <= e_cut
        if done.any():
            # residual energy: deposited over its own (tiny) residual range ~ locally
            deposit(pos[done], energy[done])
            keep = ~done
            energy, pos, u = energy[keep], pos[keep], u[keep]
    return hist / (e0_mev * n_histories)


def scaled_kernel_table(mat: Material, n_histories: int = 20000, seed: int = 20120517) -> np.ndarray:
    """Table (len(ENERGIES_MEV), len(X_EDGES)-1) of deposited energy fraction per x-bin."""
    rng = np.random.default_rng(seed)
    return np.stack([scaled_kernel_one_energy(mat, float(e), n_histories, rng) for e in ENERGIES_MEV])
