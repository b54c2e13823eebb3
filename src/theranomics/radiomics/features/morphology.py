"""Morphological features (IBSI-1 section 3.1): mesh, voxel, PCA and hull based shape descriptors."""
from __future__ import annotations

import functools
import math

import numpy as np
from scipy import ndimage, signal, special
from skimage import measure

from ._mesh_kernels import shape_measures

__all__ = ["FEATURES", "morphology", "mesh", "mesh_measures", "hull_candidates", "convex_hull_measures",
           "moran_geary"]

FEATURES: dict[str, tuple[str, str]] = {
    "morph_volume": ("Volume (mesh)", "RNU0"),
    "morph_vol_approx": ("Volume (voxel counting)", "YEKZ"),
    "morph_area_mesh": ("Surface area (mesh)", "C0JK"),
    "morph_av": ("Surface to volume ratio", "2PR5"),
    "morph_comp_1": ("Compactness 1", "SKGS"),
    "morph_comp_2": ("Compactness 2", "BQWJ"),
    "morph_sph_dispr": ("Spherical disproportion", "KRCK"),
    "morph_sphericity": ("Sphericity", "QCFX"),
    "morph_asphericity": ("Asphericity", "25C7"),
    "morph_com": ("Centre of mass shift", "KLMA"),
    "morph_diam": ("Maximum 3D diameter", "L0JK"),
    "morph_pca_maj_axis": ("Major axis length", "TDIC"),
    "morph_pca_min_axis": ("Minor axis length", "P9VJ"),
    "morph_pca_least_axis": ("Least axis length", "7J51"),
    "morph_pca_elongation": ("Elongation", "Q3CK"),
    "morph_pca_flatness": ("Flatness", "N17B"),
    "morph_vol_dens_aabb": ("Volume density (axis-aligned bounding box)", "PBX1"),
    "morph_area_dens_aabb": ("Area density (axis-aligned bounding box)", "R59B"),
    "morph_vol_dens_aee": ("Volume density (approximate enclosing ellipsoid)", "6BDE"),
    "morph_area_dens_aee": ("Area density (approximate enclosing ellipsoid)", "RDD2"),
    "morph_vol_dens_conv_hull": ("Volume density (convex hull)", "R3ER"),
    "morph_area_dens_conv_hull": ("Area density (convex hull)", "7T7F"),
    "morph_integ_int": ("Integrated intensity", "99N0"),
    "morph_moran_i": ("Moran's I index", "N365"),
    "morph_geary_c": ("Geary's C measure", "NPT7"),
}
#: Features that cost O(N log N) FFTs over twice the ROI box; off unless asked for.
SLOW_FEATURES = ("morph_moran_i", "morph_geary_c")


def mesh(mask: np.ndarray, spacing_mm: tuple[float, float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Marching-cubes surface (iso-level 0.5) of ``mask`` padded by one voxel; vertices in mm (k, j, i)."""
    padded = np.pad(np.asarray(mask, dtype=float), 1)
    verts, faces, _, _ = measure.marching_cubes(padded, level=0.5, spacing=tuple(spacing_mm[::-1]))
    return verts.astype(np.float64), faces


@functools.lru_cache(maxsize=1)
def _cell_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Marching-cubes triangles of each of the 256 binary 2×2×2 cell configurations.

    Configuration bit b = 4·dk + 2·dj + di is set when corner (dk, dj, di) is inside.  The
    triangles are those scikit-image's marching cubes (Lewiner, level 0.5) makes for the cell on
    its own — the same as inside a whole volume, since each cell is triangulated from its own 8
    values.  Returns (triangle corners (T, 3, 3) in cell units, config of each triangle (T,),
    c0[config] = Σ u0·(u1 × u2), n[config] = Σ (u1 × u2 + u2 × u0 + u0 × u1)).
    """
    tris, owner = [], []
    for cfg in range(1, 255):
        cell = np.array([(cfg >> b) & 1 for b in range(8)], float).reshape(2, 2, 2)
        verts, faces, _, _ = measure.marching_cubes(cell, level=0.5)
        tris.append(verts[faces])
        owner.append(np.full(len(faces), cfg))
    t = np.concatenate(tris)
    own = np.concatenate(owner)
    u0, u1, u2 = t[:, 0], t[:, 1], t[:, 2]
    c0 = np.bincount(own, weights=np.einsum("ij,ij->i", u0, _cross(u1, u2)), minlength=256)
    nv = _cross(u1, u2) + _cross(u2, u0) + _cross(u0, u1)
    n = np.stack([np.bincount(own, weights=nv[:, a], minlength=256) for a in range(3)], axis=1)
    return t, own, c0, n


@functools.lru_cache(maxsize=32)
def _cell_areas(spacing_kji: tuple[float, float, float]) -> np.ndarray:
    """Mesh area of each cell configuration on a grid of ``spacing_kji`` (mm²)."""
    t, own, _, _ = _cell_tables()
    t = t * np.asarray(spacing_kji)
    cr = _cross(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0])
    return np.bincount(own, weights=0.5 * np.sqrt(np.einsum("ij,ij->i", cr, cr)), minlength=256)


def mesh_measures(mask: np.ndarray, spacing_mm: tuple[float, float, float]
                  ) -> tuple[float, float, np.ndarray]:
    """Volume (mm³) and area (mm²) of the marching-cubes mesh (level 0.5) of a binary ``mask``,
    and its vertices (mm, axes k, j, i), without building the mesh.

    Per 2×2×2 cell the configuration indexes precomputed triangles (:func:`_cell_tables`):
    area = Σ_cells A[config]; volume by the divergence theorem, Σ_faces a·(b × c)/6, which for
    a cell at integer origin o is det(S)·(c0[config] + o·n[config])/6 with S = diag(spacing).
    Vertices: the midpoints of the edges between an inside and an outside voxel (for a binary
    mask at level 0.5 that is where marching cubes puts them).  Equal to :func:`mesh` followed by
    the face sums, to round-off (tests/radiomics/test_morphology_fast.py).
    """
    volume, area, lattice = _mesh_lattice(np.asarray(mask, dtype=bool), spacing_mm)
    return volume, area, lattice * (np.asarray(spacing_mm[::-1], dtype=float) / 2.0)


def _mesh_lattice(mask: np.ndarray, spacing_mm) -> tuple[float, float, np.ndarray]:
    """:func:`mesh_measures` with the vertices as int64 on the half-voxel lattice (2·index)."""
    from ._mesh_kernels import mesh_cells
    sk = tuple(float(x) for x in spacing_mm[::-1])
    m = np.pad(mask, 1).view(np.uint8)
    _, _, c0, n = _cell_tables()
    signed, area, lattice = mesh_cells(m, c0, n, _cell_areas(sk))
    return abs(float(signed)) * sk[0] * sk[1] * sk[2] / 6.0, float(area), lattice


def _cross(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Row-wise cross product (faster than np.cross for (N, 3) arrays)."""
    return np.stack([u[:, 1] * v[:, 2] - u[:, 2] * v[:, 1],
                     u[:, 2] * v[:, 0] - u[:, 0] * v[:, 2],
                     u[:, 0] * v[:, 1] - u[:, 1] * v[:, 0]], axis=1)


def hull_candidates(points: np.ndarray, spacing_mm: tuple[float, float, float] | None = None) -> np.ndarray:
    """The points that can be convex-hull vertices of a marching-cubes vertex set.

    Along any line only its two end points can be hull vertices (a point between two others on
    a segment is not a vertex), so along each grid axis the interior points of every
    line are dropped.  Lines are found exactly on the half-voxel lattice of the vertices (points
    in mm, axes k, j, i, on a grid of ``spacing_mm`` (x, y, z)).  The hull, its volume, area and
    diameter are unchanged.
    """
    from ._mesh_kernels import line_ends
    pts = np.asarray(points, dtype=float)
    if spacing_mm is None or len(pts) < 16:
        return pts
    q = np.rint(2.0 * pts / np.asarray(spacing_mm[::-1], dtype=float)).astype(np.int64)
    q -= q.min(axis=0)
    return pts[np.sort(line_ends(q))]


def convex_hull_measures(lattice: np.ndarray, spacing_mm: tuple[float, float, float]
                         ) -> tuple[float, float, float]:
    """(volume mm³, area mm², maximum diameter mm) of the convex hull of mesh vertices given on
    the half-voxel lattice (int64, 2·index; see :func:`_mesh_lattice`).

    Exact Quickhull on integers (:func:`._mesh_kernels.convex_hull`) after the exact pre-filters
    of :func:`hull_candidates` and :func:`._mesh_kernels.plane_hull_vertices` (vertices of the 2-D
    hull of each lattice plane); volume and area are NaN for a flat point set (no hull volume),
    whose diameter is still the largest vertex distance.  Equal to Qhull to round-off
    (tests/radiomics/test_morphology_fast.py).
    """
    from ._mesh_kernels import convex_hull, hull_measures, line_ends, max_distance, plane_hull_vertices
    half = np.asarray(spacing_mm[::-1], dtype=float) / 2.0
    q = np.ascontiguousarray(lattice - lattice.min(axis=0), dtype=np.int64)
    cand = np.ascontiguousarray(q[plane_hull_vertices(q, line_ends(q))])
    faces = convex_hull(cand)
    if faces.shape[0] == 0:
        return float("nan"), float("nan"), float(max_distance(cand, np.arange(len(cand)), half))
    volume, area, diam = hull_measures(cand, faces, half)
    return float(volume), float(area), float(diam)


def _ellipsoid_area(a: float, b: float, c: float, terms: int = 20) -> float:
    """Surface of an ellipsoid with semi-axes a ≥ b ≥ c by the Legendre series of IBSI 3.1.19:
    A = 4π a b Σ_{ν=0}^{20} (αβ)^ν / (1 − 4ν²) P_ν((α² + β²)/(2αβ)), α = √(1 − b²/a²), β = √(1 − c²/a²)."""
    alpha = math.sqrt(max(0.0, 1.0 - b ** 2 / a ** 2))
    beta = math.sqrt(max(0.0, 1.0 - c ** 2 / a ** 2))
    if alpha * beta == 0.0:  # a = b: the series' argument diverges; use the closed form instead
        return _ellipsoid_area_numeric(a, b, c)
    x = (alpha ** 2 + beta ** 2) / (2.0 * alpha * beta)
    # Legendre polynomials by Bonnet's recursion (ν+1) P_{ν+1} = (2ν+1) x P_ν − ν P_{ν−1}
    p_prev, p_cur = 1.0, x
    total = 1.0 + alpha * beta / (1.0 - 4.0) * x
    for nu in range(1, terms):
        p_prev, p_cur = p_cur, ((2 * nu + 1) * x * p_cur - nu * p_prev) / (nu + 1)
        total += (alpha * beta) ** (nu + 1) / (1.0 - 4.0 * (nu + 1) ** 2) * p_cur
    return 4.0 * math.pi * a * b * total


def _ellipsoid_area_numeric(a: float, b: float, c: float) -> float:
    """Ellipsoid surface area by Carlson's elliptic-integral form (for degenerate series cases)."""
    a, b, c = sorted((a, b, c), reverse=True)
    if a == c:
        return 4.0 * math.pi * a * a
    phi = math.acos(c / a)
    k2 = (a ** 2 * (b ** 2 - c ** 2)) / (b ** 2 * (a ** 2 - c ** 2)) if b > 0 else 0.0
    e = special.ellipeinc(phi, k2)
    f = special.ellipkinc(phi, k2)
    return 2 * math.pi * c ** 2 + 2 * math.pi * a * b / math.sin(phi) * (e * math.sin(phi) ** 2 + f * math.cos(phi) ** 2)


def moran_geary(image: np.ndarray, mask: np.ndarray, spacing_mm: tuple[float, float, float]) -> tuple[float, float]:
    """Moran's I and Geary's C with weights w_ij = 1/‖r_i − r_j‖ (mm), i ≠ j (IBSI 3.1.24–25).

    I = N/W · Σ w_ij d_i d_j / Σ d_i²,  C = (N − 1)/(2W) · Σ w_ij (X_i − X_j)² / Σ d_i², d = X − μ,
    W = Σ w_ij.  The double sums over voxel pairs are evaluated exactly as FFT convolutions of the
    masked fields with the 1/r kernel (O(M log M) instead of O(N²)).
    """
    m = np.asarray(mask, dtype=bool)
    x = np.asarray(image, dtype=float)
    n = int(m.sum())
    if n < 2:
        return float("nan"), float("nan")
    box = ndimage.find_objects(m.astype(np.uint8))[0]
    m, x = m[box], x[box]
    d = np.where(m, x - x[m].mean(), 0.0)
    sk = np.asarray(spacing_mm[::-1], dtype=float)
    axes = [np.arange(-(s - 1), s) * h for s, h in zip(m.shape, sk)]
    zz, yy, xx = np.meshgrid(*axes, indexing="ij")
    r = np.sqrt(zz ** 2 + yy ** 2 + xx ** 2)
    kernel = np.zeros_like(r)
    kernel[r > 0] = 1.0 / r[r > 0]
    mf = m.astype(float)

    def pair_sum(a: np.ndarray, b: np.ndarray) -> float:
        """Σ_i Σ_j w(r_i − r_j) a_i b_j."""
        return float(np.sum(a * signal.fftconvolve(b, kernel, mode="same")))

    w_total = pair_sum(mf, mf)
    s2 = float(np.sum(d ** 2))
    if s2 == 0.0:
        return float("nan"), float("nan")
    moran = n / w_total * pair_sum(d, d) / s2
    # Σ w (d_i − d_j)² = 2 Σ_i d_i² (K*m)_i − 2 Σ d_i (K*d)_i
    km = signal.fftconvolve(mf, kernel, mode="same")
    geary_num = 2.0 * float(np.sum(d ** 2 * km)) - 2.0 * pair_sum(d, d)
    geary = (n - 1) / (2.0 * w_total) * geary_num / s2
    return float(moran), float(geary)


def morphology(morph_mask: np.ndarray, int_mask: np.ndarray, image: np.ndarray,
               spacing_mm: tuple[float, float, float], spatial_autocorrelation: bool = False) -> dict[str, float]:
    """IBSI morphological features of one ROI (mm, mm², mm³).

    Mesh volume V = |Σ_faces a·(b × c)|/6 and area A = Σ |(b − a) × (c − a)|/2 on the
    marching-cubes mesh of the morphological mask (evaluated per cell, :func:`mesh_measures`); shape ratios from V and A (IBSI 3.1.3–3.1.9);
    centre-of-mass shift between the morphological mask's centre and the intensity-weighted
    centre of the intensity mask; maximum diameter over convex-hull vertices; PCA (sample covariance, 1/(N − 1)) of the
    morphological-mask voxel positions (axes 4√λ); AABB, approximate enclosing ellipsoid
    (semi-axes 2√λ) and convex-hull densities; integrated intensity = mean intensity × V.
    """
    morph = np.asarray(morph_mask, dtype=bool)
    intm = np.asarray(int_mask, dtype=bool)
    if not morph.any():
        raise ValueError("morphology: the morphological mask is empty")
    if intm.shape != morph.shape or np.shape(image) != morph.shape:
        raise ValueError(f"morphology: masks and image must have one shape, got {morph.shape}, {intm.shape} "
                         f"and {np.shape(image)}")
    sk = np.asarray(spacing_mm[::-1], dtype=float)
    _, _, c0, nvec = _cell_tables()
    (signed, area, n_vox, centre, cov, n_int, w_sum, w_centre, hull_volume, hull_area, diam,
     ext) = shape_measures(np.ascontiguousarray(morph), np.ascontiguousarray(intm),
                           np.ascontiguousarray(image, dtype=float), sk, c0, nvec,
                           _cell_areas(tuple(float(x) for x in sk)))
    volume = abs(float(signed)) * float(np.prod(sk)) / 6.0
    out: dict[str, float] = {
        "morph_volume": volume,
        "morph_vol_approx": n_vox * float(np.prod(sk)),
        "morph_area_mesh": area,
        "morph_av": area / volume,
        "morph_comp_1": volume / (math.sqrt(math.pi) * area ** 1.5),
        "morph_comp_2": 36.0 * math.pi * volume ** 2 / area ** 3,
        "morph_sph_dispr": area / (36.0 * math.pi * volume ** 2) ** (1.0 / 3.0),
        "morph_sphericity": (36.0 * math.pi * volume ** 2) ** (1.0 / 3.0) / area,
        "morph_asphericity": (area ** 3 / (36.0 * math.pi * volume ** 2)) ** (1.0 / 3.0) - 1.0,
    }
    if n_int:
        out["morph_com"] = (math.dist(centre.tolist(), (w_centre / w_sum).tolist()) if w_sum != 0
                            else float("nan"))
        out["morph_integ_int"] = w_sum / n_int * volume
    else:
        out["morph_com"] = out["morph_integ_int"] = float("nan")
    out["morph_diam"] = float(diam)
    out["morph_vol_dens_conv_hull"] = volume / hull_volume
    out["morph_area_dens_conv_hull"] = area / hull_area
    lam = sorted((max(0.0, v) for v in np.linalg.eigvalsh(cov).tolist()), reverse=True) if n_vox > 1 else [0.0] * 3
    out["morph_pca_maj_axis"] = 4.0 * math.sqrt(lam[0])
    out["morph_pca_min_axis"] = 4.0 * math.sqrt(lam[1])
    out["morph_pca_least_axis"] = 4.0 * math.sqrt(lam[2])
    out["morph_pca_elongation"] = math.sqrt(lam[1] / lam[0]) if lam[0] > 0 else float("nan")
    out["morph_pca_flatness"] = math.sqrt(lam[2] / lam[0]) if lam[0] > 0 else float("nan")
    out["morph_vol_dens_aabb"] = volume / float(np.prod(ext))
    out["morph_area_dens_aabb"] = area / float(2.0 * (ext[0] * ext[1] + ext[0] * ext[2] + ext[1] * ext[2]))
    sa, sb, sc = (2.0 * math.sqrt(v) for v in lam)
    if sc > 0:
        out["morph_vol_dens_aee"] = volume / (4.0 * math.pi / 3.0 * sa * sb * sc)
        out["morph_area_dens_aee"] = area / _ellipsoid_area(sa, sb, sc)
    else:
        out["morph_vol_dens_aee"] = out["morph_area_dens_aee"] = float("nan")
    if spatial_autocorrelation:
        out["morph_moran_i"], out["morph_geary_c"] = moran_geary(image, intm, spacing_mm)
    return {tag: out[tag] for tag in FEATURES if tag in out}
