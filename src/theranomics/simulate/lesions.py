"""Lesions: slightly irregular ellipsoids grown inside their host tissue.

A lesion of requested volume V is the set of the n = round(V / v_voxel) host voxels with the
smallest wobbled-ellipsoid distance ρ from a chosen centre (host = bone and red marrow for
bone lesions, liver, lung, prostate, prostate bed, or soft-tissue remainder near the iliac
vessels / aorta / mediastinum / supraclavicular fossa for lymph nodes).  So the true
volume is n × v_voxel (within half a voxel of the request), the lesion lies in its host by
construction, lesions never overlap and never touch (one free voxel between them), and a
lesion is one 26-connected component.

Uptake inside a lesion is a smooth log-normal texture (white noise ⊗ Gaussian kernel) with
an optional necrotic core, normalised to mean 1 over the lesion, so the lesion's mean
uptake is exactly its nominal value.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy import ndimage

from ._shapes import Box, Wobble, box_around, ellipsoid_distance, polyline, rotation, smooth_field
from .phantom import Phantom

#: Lesion regions (the ``region`` column of lesions.csv) and their host organs.
REGIONS = ("bone", "lymph_node_pelvic", "lymph_node_extrapelvic", "visceral_liver", "visceral_lung",
           "prostate", "prostate_bed")
_HOSTS = {
    "bone": ("bone", "red_marrow"), "lymph_node_pelvic": ("remainder",), "lymph_node_extrapelvic": ("remainder",),
    "visceral_liver": ("liver",), "visceral_lung": ("lung",), "prostate": ("prostate",),
    "prostate_bed": ("prostate_bed", "remainder"),
}
_NODE_PATHS = {"lymph_node_pelvic": ("iliac_left", "iliac_right"),
               "lymph_node_extrapelvic": ("aorta", "mediastinum", "supraclavicular_left", "supraclavicular_right")}
_SITE_NAMES = {"aorta": "retroperitoneal", "mediastinum": "mediastinal", "supraclavicular_left": "supraclavicular",
               "supraclavicular_right": "supraclavicular",
               "iliac_left": "pelvic_left", "iliac_right": "pelvic_right"}


class LesionPlacementError(ValueError):
    """A requested lesion cannot be placed in this phantom."""


@dataclass(frozen=True)
class LesionSpec:
    """A requested lesion.  ``receptor_scale`` / ``necrotic`` ``None`` are drawn from the seed."""

    region: str
    volume_ml: float
    receptor_scale: float | None = None
    necrotic: bool | None = None

    def __post_init__(self) -> None:
        if self.region not in REGIONS:
            raise ValueError(f"lesion region must be one of {REGIONS}, got {self.region!r}")
        if not (0.05 <= self.volume_ml <= 500.0):
            raise ValueError(f"lesion volume_ml must be within 0.05–500 mL, got {self.volume_ml}")
        if self.receptor_scale is not None and not (self.receptor_scale > 0):
            raise ValueError(f"lesion receptor_scale must be positive, got {self.receptor_scale}")


@dataclass(frozen=True)
class Lesion:
    """A placed lesion (truth).  ``volume_ml`` = voxel count × voxel volume."""

    lesion_id: int
    site: str
    region: str
    host: str
    volume_ml: float
    requested_volume_ml: float
    n_voxels: int
    centroid_mm: tuple[float, float, float]
    receptor_scale: float
    necrotic: bool

    @property
    def voi(self) -> str:
        """Name of the lesion's VOI in kinetics and truth tables."""
        return f"lesion_{self.lesion_id}"


@dataclass(frozen=True, eq=False)
class LesionSet:
    """Lesion label array (lesion_id per voxel, 0 elsewhere) and uptake weights (mean 1 per lesion)."""

    lesions: tuple[Lesion, ...]
    labels: np.ndarray
    weights: np.ndarray


def random_lesion_specs(rng: np.random.Generator, n: int, phantom: Phantom, family: str,
                        median_volume_ml: float = 3.0, receptor_expression_scale: float = 1.0) -> list[LesionSpec]:
    """Draw ``n`` lesion specs: regions by the tracer family's usual pattern of spread, log-normal volumes.

    PSMA (prostate cancer): mostly bone and lymph nodes, the prostate or its bed; SSTR
    (neuroendocrine tumours): mostly liver, then nodes and bone.  Only regions whose host
    exists in the phantom are drawn.
    """
    if n < 0:
        raise ValueError(f"number of lesions must be >= 0, got {n}")
    if family not in ("psma", "sstr"):
        raise ValueError(f"tracer family must be 'psma' or 'sstr', got {family!r}")
    weights = ({"bone": 0.4, "lymph_node_pelvic": 0.25, "lymph_node_extrapelvic": 0.12, "prostate": 0.1,
                "prostate_bed": 0.1, "visceral_liver": 0.05, "visceral_lung": 0.05} if family == "psma" else
               {"visceral_liver": 0.5, "lymph_node_extrapelvic": 0.15, "lymph_node_pelvic": 0.05, "bone": 0.25,
                "visceral_lung": 0.05})
    available = {r: w for r, w in weights.items() if _region_available(phantom, r)}
    if n and not available:
        raise LesionPlacementError("no lesion host tissue in this phantom")
    regions = list(available)
    p = np.array([available[r] for r in regions])
    specs = []
    for _ in range(n):
        region = regions[rng.choice(len(regions), p=p / p.sum())]
        vol = float(np.clip(median_volume_ml * np.exp(0.8 * rng.standard_normal()), 0.5, 30.0))
        if region == "prostate":
            vol = min(vol, 0.3 * phantom.volume_ml("prostate"))
        specs.append(LesionSpec(region, round(vol, 2),
                                receptor_scale=float(receptor_expression_scale * np.exp(0.35 * rng.standard_normal()))))
    # one prostate(-bed) lesion at most
    seen, out = False, []
    for s in specs:
        if s.region in ("prostate", "prostate_bed"):
            if seen:
                s = LesionSpec("lymph_node_pelvic", s.volume_ml, s.receptor_scale)
            seen = True
        out.append(s)
    return out


def _region_available(phantom: Phantom, region: str) -> bool:
    organs = set(phantom.organs)
    if region in _NODE_PATHS:
        return "remainder" in organs and any(_path_in_grid(phantom, k) for k in _NODE_PATHS[region])
    return _HOSTS[region][0] in organs


def _path_in_grid(phantom: Phantom, key: str) -> bool:
    pts = phantom.landmarks.get(key)
    if pts is None:
        return False
    idx = phantom.geometry.world_to_index(pts)
    nz, ny, nx = phantom.geometry.shape
    return bool(np.any((idx[:, 2] >= 1) & (idx[:, 2] <= nz - 2)))


def _bone_site(phantom: Phantom, c: np.ndarray) -> str:
    hs = phantom.info.get("height_scale", 1.0)
    x, y, z = c / hs
    if abs(x) < 30 and y > 20 and z > 1040:
        return "spine"
    if z < 1060 and abs(x) > 80 and z < 950:
        return "femur"
    if z < 1060:
        return "pelvis"
    if z > 1560:
        return "skull"
    return "thorax"


def place_lesions(phantom: Phantom, specs: Sequence[LesionSpec], rng: np.random.Generator,
                  heterogeneity: float = 0.3, necrotic_fraction: float = 0.1, max_tries: int = 60,
                  receptor_expression_scale: float = 1.0) -> LesionSet:
    """Place the lesions of ``specs`` (in order) into ``phantom``; see the module docstring.

    A spec without ``receptor_scale`` gets ``receptor_expression_scale`` × a seeded log-normal draw.

    ``heterogeneity`` is the standard deviation of the log-uptake texture; necrotic cores
    (inner ~35 % of the radius) get ``necrotic_fraction`` of the viable uptake before the
    mean-1 normalisation.
    """
    if not (0.0 <= heterogeneity <= 1.0):
        raise ValueError(f"heterogeneity must be within 0–1, got {heterogeneity}")
    if not (0.0 <= necrotic_fraction <= 1.0):
        raise ValueError(f"necrotic_fraction must be within 0–1, got {necrotic_fraction}")
    geom = phantom.geometry
    vv = geom.voxel_volume_ml
    spacing = float(min(geom.spacing_mm))
    labels = np.zeros(geom.shape, np.int32)
    weights = np.zeros(geom.shape, np.float32)
    forbidden = np.zeros(geom.shape, bool)    # lesion voxels dilated by one voxel
    lesions: list[Lesion] = []
    struct = np.ones((3, 3, 3), bool)
    host_cache: dict[str, np.ndarray] = {}

    for lesion_id, spec in enumerate(specs, start=1):
        if not _region_available(phantom, spec.region):
            raise LesionPlacementError(f"lesion {lesion_id}: region {spec.region!r} has no host tissue in this "
                                       f"phantom (organs: {phantom.organs})")
        if spec.region not in host_cache:
            host_cache[spec.region] = np.isin(phantom.labels.array,
                                              [phantom.labels.label_of(h) for h in _HOSTS[spec.region]
                                               if h in phantom.organs])
        host = host_cache[spec.region]
        n_target = max(int(round(spec.volume_ml / vv)), 1)
        r_eq = (3.0 * n_target * vv * 1000.0 / (4.0 * np.pi)) ** (1.0 / 3.0)
        placed, node_site = None, None
        for _ in range(max_tries):
            center, node_site = _draw_center(phantom, spec.region, host & ~forbidden, r_eq, rng)
            if center is None:
                break
            placed = _grow(phantom, host & ~forbidden, center, n_target, r_eq, spacing, rng, struct)
            if placed is not None:
                break
        if placed is None:
            raise LesionPlacementError(
                f"lesion {lesion_id}: could not place a {spec.volume_ml} mL {spec.region} lesion in its host "
                f"({'+'.join(_HOSTS[spec.region])}) after {max_tries} tries; use a smaller volume or fewer lesions")
        box, sel, rho = placed
        necrotic = spec.necrotic if spec.necrotic is not None else bool(spec.volume_ml >= 8.0 and rng.random() < 0.5)
        receptor = (spec.receptor_scale if spec.receptor_scale is not None
                    else receptor_expression_scale * float(np.exp(0.35 * rng.standard_normal())))
        field = smooth_field(rng, sel.shape, sigma_vox=max(4.0 / spacing, 0.7))
        w = np.exp(heterogeneity * field - heterogeneity ** 2 / 2.0)
        if necrotic:
            core = sel & (rho <= 0.35 * rho[sel].max())
            if core.sum() >= 1 and core.sum() < sel.sum():
                w = np.where(core, w * necrotic_fraction, w)
            else:
                necrotic = False
        w = np.where(sel, w, 0.0)
        w /= w[sel].mean()
        labels[box.slices][sel] = lesion_id
        weights[box.slices][sel] = w[sel]
        _or_dilated(forbidden, box, sel, struct)
        kk, jj, ii = np.nonzero(sel)
        ijk = np.stack([ii + box.i0, jj + box.j0, kk + box.k0], axis=1).mean(0)
        centroid = tuple(float(v) for v in geom.index_to_world(ijk))
        n = int(sel.sum())
        site = _site(phantom, spec.region, np.asarray(centroid), node_site)
        lesions.append(Lesion(lesion_id, site, spec.region, _HOSTS[spec.region][0], n * vv, float(spec.volume_ml),
                              n, centroid, float(receptor), bool(necrotic)))
    return LesionSet(tuple(lesions), labels, weights)


def _site(phantom: Phantom, region: str, c: np.ndarray, placed_site: str | None) -> str:
    if region == "bone":
        return _bone_site(phantom, c)
    if region in _NODE_PATHS and placed_site:
        return placed_site
    return {"visceral_liver": "liver", "visceral_lung": "lung", "prostate": "prostate",
            "prostate_bed": "prostate_bed"}.get(region, region)


def _draw_center(phantom: Phantom, region: str, host: np.ndarray, r_eq: float,
                 rng: np.random.Generator) -> tuple[np.ndarray | None, str | None]:
    """A candidate centre (world mm) for a lesion of equivalent radius ``r_eq``, and the node site name."""
    geom = phantom.geometry
    if region in _NODE_PATHS:
        keys = [k for k in _NODE_PATHS[region] if _path_in_grid(phantom, k)]
        key = keys[rng.integers(len(keys))]
        pts = polyline(phantom.landmarks[key], 2.0)
        if key == "aorta":   # retroperitoneal: below the diaphragm
            pts = pts[pts[:, 2] < pts[:, 2].min() + 0.55 * np.ptp(pts[:, 2])]
        idx = geom.world_to_index(pts)
        nz = geom.shape[0]
        pts = pts[(idx[:, 2] >= 0) & (idx[:, 2] <= nz - 1)]
        if len(pts) == 0:
            return None, None
        p = pts[rng.integers(len(pts))]
        d = rng.normal(size=3)
        d[2] *= 0.3
        d /= np.linalg.norm(d)
        c = p + d * (r_eq + rng.uniform(8.0, 16.0))
        return c, _SITE_NAMES[key]
    if region == "prostate_bed":
        c = np.argwhere(phantom.mask("prostate_bed")).mean(0)
        return geom.index_to_world(c[::-1]) + rng.normal(0, 2.0, 3), None
    if region == "bone":   # bone metastases seed in the red marrow
        marrow = phantom.mask("red_marrow") & host
        cand = np.argwhere(marrow)
    else:
        cand = _deep_voxels(host, r_eq / float(min(geom.spacing_mm)))
    if len(cand) == 0:
        return None, None
    k, j, i = cand[rng.integers(len(cand))]
    return geom.index_to_world(np.array([i, j, k], float)), None


def _or_dilated(target: np.ndarray, box: Box, sel: np.ndarray, struct: np.ndarray) -> None:
    """target |= (sel dilated by one voxel), with ``sel`` given in ``box`` (clipped at the grid edge)."""
    grown = ndimage.binary_dilation(np.pad(sel, 1), struct)
    src, dst = [], []
    for lo, hi, n in ((box.k0 - 1, box.k1 + 1, target.shape[0]), (box.j0 - 1, box.j1 + 1, target.shape[1]),
                      (box.i0 - 1, box.i1 + 1, target.shape[2])):
        a, b = max(lo, 0), min(hi, n)
        dst.append(slice(a, b))
        src.append(slice(a - lo, b - lo))
    target[tuple(dst)] |= grown[tuple(src)]


def _deep_voxels(host: np.ndarray, r_vox: float) -> np.ndarray:
    """Host voxels at least ~0.7 r (or the deepest available depth) from the host boundary."""
    nz = np.nonzero(host)
    if len(nz[0]) == 0:
        return np.zeros((0, 3), int)
    lo = [max(int(a.min()) - 1, 0) for a in nz]
    hi = [int(a.max()) + 2 for a in nz]
    sub = host[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]]
    edt = ndimage.distance_transform_edt(sub)
    need = min(0.7 * r_vox, 0.8 * edt.max())
    return np.argwhere(edt >= need) + np.array(lo)


def _grow(phantom: Phantom, host: np.ndarray, center: np.ndarray, n_target: int, r_eq: float, spacing: float,
          rng: np.random.Generator, struct: np.ndarray):
    """The ``n_target`` host voxels nearest ``center`` in wobbled-ellipsoid distance, or None if not compact."""
    geom = phantom.geometry
    aspect = np.exp(rng.normal(0.0, 0.15, 3))
    semi = r_eq * aspect / np.prod(aspect) ** (1.0 / 3.0)
    reach = 3.0 * r_eq + 2 * spacing
    box = box_around(geom, center - reach, center + reach)
    if box.empty:
        return None
    sub_host = host[box.slices]
    if sub_host.sum() < n_target:
        return None
    rho = ellipsoid_distance(geom, box, center, semi, rotation(rng.uniform(0, np.pi, 3)),
                             Wobble.random(rng, 0.12))
    values = np.where(sub_host, rho, np.inf).ravel()
    order = np.argpartition(values, n_target - 1)[:n_target]
    if not np.all(np.isfinite(values[order])):
        return None
    sel = np.zeros(values.shape, bool)
    sel[order] = True
    sel = sel.reshape(sub_host.shape)
    if rho[sel].max() > 2.2 and n_target > 8:      # host too thin here: not a compact lesion
        return None
    lab, n = ndimage.label(sel, struct)
    if n != 1:
        return None
    return box, sel, rho
