"""Anthropomorphic torso phantom (head to upper thighs) from analytic shapes.

The phantom is built in world LPS mm (x to the patient's left, y posterior, z superior;
z is the height above the floor of a standing patient, scaled by ``height_cm``) on an
axis-aligned isotropic grid.  Shapes are ellipsoids, elliptic cylinders and tubes with
small seeded deformations; positions and sizes follow an adult reference male of
178 cm (organ volumes near ICRP Publication 89 reference values: liver ≈ 1.8 L, kidneys
≈ 150 mL each, spleen ≈ 150 mL, parotids ≈ 20 mL each) scaled by ``height_cm``; the
subcutaneous fat layer grows with the body-mass index.

Every voxel of the body carries exactly one organ label (:data:`LABELS`); ``remainder``
is the body minus all organs, and ``body`` is the union of all labels.  A tissue code
per voxel (:data:`TISSUES`) drives the CT.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np
from scipy import ndimage

from ..core import Geometry, LabelMap
from ._shapes import Box, Wobble, box_around, ellipsoid, rotation, tube, world_coords

#: Organ label values of the phantom label map (0 = outside the body).
LABELS: dict[str, int] = {
    "remainder": 1, "lung": 2, "heart": 3, "blood_pool": 4, "aorta": 5, "liver": 6, "spleen": 7,
    "kidney_cortex": 8, "kidney_medulla": 9, "bladder": 10, "bowel": 11, "parotid": 12,
    "submandibular": 13, "lacrimal": 14, "bone": 15, "red_marrow": 16, "prostate": 17, "prostate_bed": 18,
}
#: Every organ name the simulator knows; ``body`` is the union of all labels.
ORGAN_NAMES = ("body",) + tuple(LABELS)

#: Tissue codes of the per-voxel tissue map (the CT is drawn from these).
TISSUES: dict[str, int] = {
    "air": 0, "fat": 1, "soft_tissue": 2, "lung": 3, "blood": 4, "liver": 5, "kidney": 6,
    "cortical_bone": 7, "trabecular_bone": 8, "urine": 9, "spleen": 10, "bowel": 11,
    "lesion_soft": 12, "lesion_bone": 13,
}

REFERENCE_HEIGHT_CM = 178.0
REFERENCE_BMI = 25.0

# Lean body outline of the reference male: (z mm above floor, semi-axis x, semi-axis y, centre y,
# weight of the subcutaneous fat layer).  Above 1660 mm the skull cap closes the head.
_PROFILE = np.array([
    (850, 160, 85, 8, 1.0), (880, 160, 88, 8, 1.0), (960, 155, 92, 8, 1.0), (1050, 135, 90, 0, 1.0),
    (1150, 140, 92, 0, 1.0), (1250, 150, 97, 0, 1.0), (1350, 160, 97, 5, 1.0), (1410, 175, 95, 10, 1.0),
    (1440, 130, 85, 10, 0.7), (1470, 52, 55, 12, 0.4), (1520, 50, 55, 10, 0.3), (1560, 62, 75, -5, 0.2),
    (1600, 70, 88, 0, 0.15), (1660, 72, 92, 5, 0.15),
], dtype=float)
_HEAD_TOP = 1750.0
_CROTCH = 850.0
_BOTTOM = 740.0
#: axial extent (reference mm) of the ``small=True`` variant: lung bases to prostate.
_SMALL_RANGE = (860.0, 1300.0)


@dataclass(frozen=True, eq=False)
class Phantom:
    """Organ label map, tissue map and landmarks of one virtual patient.

    ``labels`` holds the exclusive organ labels of :data:`LABELS` present in this patient;
    ``tissue`` the :data:`TISSUES` codes on the same grid (``ct_hu`` a real CT instead, for real
    anatomy); ``landmarks`` named polylines and
    points (world mm), e.g. ``iliac_left`` or ``aorta``, used to place lymph nodes.
    """

    labels: LabelMap
    tissue: np.ndarray
    landmarks: Mapping[str, np.ndarray] = field(default_factory=dict)
    info: Mapping[str, Any] = field(default_factory=dict)
    ct_hu: np.ndarray | None = None     # a real CT (HU) for real anatomy; None: drawn from ``tissue``

    @property
    def geometry(self) -> Geometry:
        return self.labels.geometry

    @property
    def organs(self) -> list[str]:
        """Names of the organ labels present (``body`` excluded)."""
        return [self.labels.names[v] for v in sorted(self.labels.names)]

    def mask(self, name: str) -> np.ndarray:
        """Boolean mask of an organ by name; ``'body'`` is the union of all labels."""
        if name == "body":
            return self.labels.array > 0
        if name not in self.labels.names.values():
            raise KeyError(f"phantom has no organ {name!r}; it has body and {self.organs}")
        return self.labels.mask(name)

    def volume_ml(self, name: str) -> float:
        return float(self.mask(name).sum()) * self.geometry.voxel_volume_ml


def _profile_at(z_ref: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Lean semi-axes, centre y and fat weight of the body outline at reference heights."""
    zp = _PROFILE[:, 0]
    ax = np.interp(z_ref, zp, _PROFILE[:, 1])
    ay = np.interp(z_ref, zp, _PROFILE[:, 2])
    cy = np.interp(z_ref, zp, _PROFILE[:, 3])
    fw = np.interp(z_ref, zp, _PROFILE[:, 4])
    cap = z_ref > zp[-1]
    shrink = np.sqrt(np.clip(1.0 - ((z_ref - zp[-1]) / (_HEAD_TOP - zp[-1])) ** 2, 0.0, 1.0))
    ax = np.where(cap, ax * shrink, ax)
    ay = np.where(cap, ay * shrink, ay)
    return ax, ay, cy, fw


class _Painter:
    """Paints shapes into the label and tissue arrays (later shapes overwrite earlier ones)."""

    def __init__(self, geometry: Geometry):
        self.geometry = geometry
        self.labels = np.zeros(geometry.shape, np.uint8)
        self.tissue = np.zeros(geometry.shape, np.uint8)

    def paint(self, box: Box, mask: np.ndarray, organ: str | None, tissue: str | None = None) -> None:
        if box.empty or not mask.any():
            return
        if organ is not None:
            self.labels[box.slices][mask] = LABELS[organ]
        if tissue is not None:
            self.tissue[box.slices][mask] = TISSUES[tissue]


def build_phantom(*, sex: str = "M", height_cm: float = 178.0, weight_kg: float = 80.0,
                  prostate: str = "present", rng: np.random.Generator | None = None, small: bool = False,
                  spacing_mm: float | None = None, deformation: float = 0.06,
                  progress: Callable[[str], None] | None = None) -> Phantom:
    """Build the phantom.

    ``prostate`` is ``'present'``, ``'bed'`` (prostatectomy: a small soft-tissue prostate bed)
    or ``'none'`` (required for ``sex='F'``).  ``small=True`` gives a 6 mm grid covering lung
    bases to prostate only (no head glands), for tests.  ``deformation`` is the relative
    amplitude of the seeded random organ deformations.
    """
    if sex not in ("M", "F"):
        raise ValueError(f"sex must be 'M' or 'F', got {sex!r}")
    if prostate not in ("present", "bed", "none"):
        raise ValueError(f"prostate must be 'present', 'bed' or 'none', got {prostate!r}")
    if sex == "F" and prostate != "none":
        raise ValueError(f"a female phantom has no prostate: pass prostate='none' (got {prostate!r})")
    if not (120.0 <= height_cm <= 220.0):
        raise ValueError(f"height_cm must be within 120–220 cm for the phantom, got {height_cm}")
    if not (30.0 <= weight_kg <= 250.0):
        raise ValueError(f"weight_kg must be within 30–250 kg for the phantom, got {weight_kg}")
    if not (0.0 <= deformation <= 0.2):
        raise ValueError(f"deformation must be within 0–0.2, got {deformation}")
    rng = rng if rng is not None else np.random.default_rng(0)
    spacing = float(spacing_mm if spacing_mm is not None else (6.0 if small else 3.0))
    if not (1.0 <= spacing <= 8.0):
        raise ValueError(f"spacing_mm must be within 1–8 mm, got {spacing}")
    note = progress or (lambda msg: None)

    hs = height_cm / REFERENCE_HEIGHT_CM
    bmi = weight_kg / (height_cm / 100.0) ** 2
    fat_mm = float(np.clip(20.0 * (bmi / REFERENCE_BMI) ** 1.5, 5.0, 70.0))

    def P(x, y, z):  # reference coordinates -> world mm
        return np.array([x * hs, y * hs, z * hs], float)

    def S(*semi):
        return np.array(semi, float) * hs

    def W(scale=1.0):
        return Wobble.random(rng, deformation * scale)

    # -- grid --------------------------------------------------------------------------------
    z_lo, z_hi = (_SMALL_RANGE if small else (_BOTTOM, _HEAD_TOP + 6.0))
    max_ax = (_PROFILE[:, 1].max() * hs + fat_mm) + 2 * spacing
    y_lo = (-(_PROFILE[:, 2] - _PROFILE[:, 3]).max() * hs - fat_mm) - 2 * spacing
    y_hi = ((_PROFILE[:, 2] + _PROFILE[:, 3]).max() * hs + fat_mm) + 2 * spacing
    nx = int(np.ceil(2 * max_ax / spacing)) + 1
    ny = int(np.ceil((y_hi - y_lo) / spacing)) + 1
    nz = int(np.ceil((z_hi - z_lo) * hs / spacing)) + 1
    origin = (-(nx - 1) * spacing / 2.0, y_lo, z_lo * hs)
    geom = Geometry((nz, ny, nx), (spacing,) * 3, origin)
    pt = _Painter(geom)
    full = Box(0, nz, 0, ny, 0, nx)
    x, y, z = world_coords(geom, full)
    z_ref = z[:, 0, 0] / hs
    note("body outline")

    # -- body outline: lean ellipse + fat layer; two legs below the crotch ------------------
    ax, ay, cy, fw = _profile_at(z_ref)
    fat = fat_mm * fw
    ax_l, ay_l, cy_w = (ax * hs)[:, None, None], (ay * hs)[:, None, None], (cy * hs)[:, None, None]
    fat3 = fat[:, None, None]
    trunk = z_ref[:, None, None] >= _CROTCH
    top = z_ref[:, None, None] <= _HEAD_TOP

    def ell(cx, cyy, a, b):
        a, b = np.maximum(a, 1e-6), np.maximum(b, 1e-6)
        return ((x - cx) / a) ** 2 + ((y - cyy) / b) ** 2 <= 1.0

    body = trunk & top & ell(0.0, cy_w, ax_l + fat3, ay_l + fat3)
    lean = trunk & top & ell(0.0, cy_w, ax_l, ay_l)
    leg_c = 85.0 * hs
    leg_a, leg_b = 70.0 * hs, 75.0 * hs
    legs = ~trunk & (ell(-leg_c, 8 * hs, leg_a + fat_mm, leg_b + fat_mm) | ell(leg_c, 8 * hs, leg_a + fat_mm, leg_b + fat_mm))
    legs_lean = ~trunk & (ell(-leg_c, 8 * hs, leg_a, leg_b) | ell(leg_c, 8 * hs, leg_a, leg_b))
    body = body | legs
    lean = lean | legs_lean
    pt.labels[body] = LABELS["remainder"]
    pt.tissue[body] = TISSUES["fat"]
    pt.tissue[lean] = TISSUES["soft_tissue"]
    del legs, legs_lean, lean

    # -- lungs ---------------------------------------------------------------------------------
    note("thorax")
    for side in (-1, 1):
        zc = 1310 + (8 if side < 0 else 0)
        b, m = ellipsoid(geom, P(80 * side, 15, zc), S(58, 75, 125), rotation((0, 0, 0.1 * side)), W())
        pt.paint(b, m, "lung", "lung")

    # -- bowel: colon frame, rectum and a tortuous small bowel -----------------------------------
    note("abdomen")
    colon = [P(-95, 0, 1000), P(-100, -10, 1080), P(-95, -40, 1125), P(-40, -60, 1135), P(20, -62, 1140),
             P(80, -40, 1140), P(105, 10, 1120), P(100, 20, 1040), P(80, 10, 980), P(35, 25, 960),
             P(5, 55, 935), P(0, 60, 880)]
    b, m = tube(geom, colon, 17 * hs)
    pt.paint(b, m, "bowel", "bowel")
    t = np.linspace(0, 1, 240)
    ph = rng.uniform(0, 2 * np.pi, 6)
    sb = np.stack([
        55 * np.sin(2 * np.pi * (3 * t) + ph[0]) + 15 * np.sin(2 * np.pi * 11 * t + ph[1]),
        -30 + 25 * np.sin(2 * np.pi * (5 * t) + ph[2]) + 8 * np.sin(2 * np.pi * 13 * t + ph[3]),
        1075 - 95 * t + 12 * np.sin(2 * np.pi * 7 * t + ph[4]),
    ], axis=1)
    b, m = tube(geom, [P(*p) for p in sb], 11 * hs)
    pt.paint(b, m, "bowel", "bowel")

    # -- vessels: aorta (labelled) and iliac arteries (landmarks for pelvic nodes) -------------------
    aorta = [P(10, -15, 1265), P(8, -10, 1330), P(3, 5, 1372), P(15, 28, 1365), P(26, 32, 1325),
             P(28, 28, 1200), P(28, 25, 1045)]
    b, m = tube(geom, aorta, np.array([14, 14, 13, 13, 12, 11, 10]) * hs)
    pt.paint(b, m, "aorta", "blood")
    iliac = {side: np.array([P(28 if side > 0 else 20, 25, 1045), P(55 * side, 20, 985), P(78 * side, -5, 925),
                             P(88 * side, -25, 880)]) for side in (-1, 1)}

    # -- heart: myocardium and the ventricular blood pool ---------------------------------------
    rot_h = rotation((0.15, -0.25, 0.55))
    b, m = ellipsoid(geom, P(15, -25, 1255), S(55, 48, 58), rot_h, W(0.5))
    pt.paint(b, m, "heart", "soft_tissue")
    b, m = ellipsoid(geom, P(15, -25, 1255), S(38, 32, 42), rot_h)
    pt.paint(b, m, "blood_pool", "blood")

    # -- liver, spleen, kidneys, bladder, prostate -----------------------------------------------
    b, m = ellipsoid(geom, P(-55, -5, 1190), S(80, 78, 72), rotation((0, 0.2, -0.15)), W(1.3))
    pt.paint(b, m, "liver", "liver")
    b, m = ellipsoid(geom, P(90, 35, 1185), S(25, 35, 42), rotation((0.2, 0, -0.5)), W())
    pt.paint(b, m, "spleen", "spleen")
    kidney_rot = {s: rotation((0.15, 0.25 * s, -0.45 * s)) for s in (-1, 1)}
    for side in (-1, 1):
        c = P(75 * side, 50, 1090 - (15 if side < 0 else 0))
        w = W(0.6)
        b, m = ellipsoid(geom, c, S(25, 28, 52), kidney_rot[side], w)
        pt.paint(b, m, "kidney_cortex", "kidney")
        b, m = ellipsoid(geom, c, S(25, 28, 52) * 0.62, kidney_rot[side], w)
        pt.paint(b, m, "kidney_medulla", "kidney")
    b, m = ellipsoid(geom, P(0, -35, 932), S(42, 36, 34), None, W(0.5))
    pt.paint(b, m, "bladder", "urine")
    if prostate == "present":
        b, m = ellipsoid(geom, P(0, -10, 885), S(22, 16, 18), None, W(0.5))
        pt.paint(b, m, "prostate", "soft_tissue")
    elif prostate == "bed":
        b, m = ellipsoid(geom, P(0, -15, 890), S(12, 9, 10), None, W(1.5))
        pt.paint(b, m, "prostate_bed", "soft_tissue")

    # -- skeleton ----------------------------------------------------------------------------------
    note("skeleton")
    shell = max(2.5, spacing)   # cortical shell at least one voxel thick, so marrow is enclosed

    def bone_with_marrow(center, semi, rot=None, marrow: str | None = "red_marrow"):
        b, m = ellipsoid(geom, center, semi, rot)
        pt.paint(b, m, "bone", "cortical_bone")
        inner = np.asarray(semi) - shell
        if marrow and np.all(inner > 0.5 * spacing):
            b, m = ellipsoid(geom, center, inner, rot)
            pt.paint(b, m, marrow if marrow != "yellow" else "bone", "trabecular_bone")

    def vertebral_body(zc, half_h, rx, ry, yc):
        c = P(0, yc, zc)
        b = box_around(geom, c - (S(rx, ry, 0) + [0, 0, half_h * hs]), c + (S(rx, ry, 0) + [0, 0, half_h * hs]))
        if b.empty:
            return
        xx, yy, zz = world_coords(geom, b)
        r2 = (xx / (rx * hs)) ** 2 + ((yy - c[1]) / (ry * hs)) ** 2
        m = (r2 <= 1.0) & (np.abs(zz - c[2]) <= half_h * hs)
        pt.paint(b, m, "bone", "cortical_bone")
        irx, iry, ih = rx * hs - shell, ry * hs - shell, half_h * hs - shell
        if min(irx, iry, ih) > 0.5 * spacing:
            m = ((xx / irx) ** 2 + ((yy - c[1]) / iry) ** 2 <= 1.0) & (np.abs(zz - c[2]) <= ih)
            pt.paint(b, m, "red_marrow", "trabecular_bone")
        # posterior elements: arch, transverse and spinous processes (compact bone)
        for cc, ss in (((0, yc + ry + 8, zc), (rx * 0.7, 7, half_h * 0.7)),
                       ((0, yc + ry + 6, zc), (rx + 16, 5, half_h * 0.45)),
                       ((0, yc + ry + 22, zc - half_h * 0.3), (4.5, 14, half_h * 0.5))):
            b2, m2 = ellipsoid(geom, P(*cc), S(*ss))
            pt.paint(b2, m2, "bone", "cortical_bone")

    levels = ([(1540 - 12 * i, 5.0, 9, 8, 15) for i in range(7)]                      # cervical
              + [(1450 - 23.5 * i, 9.5, 14 + 0.5 * i, 12 + 0.4 * i, 52) for i in range(12)]   # thoracic
              + [(1172 - 28 * i, 11.5, 21, 17, 52) for i in range(5)])                 # lumbar
    for zc, half_h, rx, ry, yc in levels:
        vertebral_body(zc, half_h, rx, ry, yc)
    bone_with_marrow(P(0, 78, 985), S(45, 18, 55), rotation((-0.45, 0, 0)))            # sacrum
    for side in (-1, 1):
        bone_with_marrow(P(100 * side, 40, 1005), S(16, 55, 55), rotation((0.2, 0, -0.6 * side)))   # ilium
        bone_with_marrow(P(50 * side, -35, 902), S(42, 12, 13), rotation((0, 0, 0.5 * side)))       # pubis
        bone_with_marrow(P(60 * side, 25, 880), S(14, 24, 20))                                     # ischium
        bone_with_marrow(P(95 * side, 10, 925), S(24, 24, 24))                                     # femoral head
        b, m = tube(geom, [P(95 * side, 10, 925), P(118 * side, 14, 890), P(108 * side, 20, 735)], 14 * hs)
        pt.paint(b, m, "bone", "cortical_bone")
        b, m = tube(geom, [P(118 * side, 14, 890), P(108 * side, 20, 735)], 14 * hs - shell)
        pt.paint(b, m, "bone", "trabecular_bone")
        b, m = tube(geom, [P(25 * side, -72, 1440), P(80 * side, -60, 1450), P(150 * side, -20, 1458)], 7 * hs)
        pt.paint(b, m, "bone", "cortical_bone")                                                    # clavicle
        bone_with_marrow(P(100 * side, 78, 1370), S(45, 8, 70), rotation((0, 0, -0.35 * side)), None)  # scapula
    # ribs: 12 pairs from the spine around the chest wall, descending anteriorly
    for n in range(12):
        z_post = 1432 - 22.5 * n
        _, ayl, cyl, _ = (float(v[0]) for v in _profile_at(np.array([z_post - 30])))
        axl = float(_profile_at(np.array([z_post - 30]))[0][0])
        theta_end = np.deg2rad([-80, -82, -84, -86, -86, -85, -80, -55, -35, -15, 15, 35][n])
        th = np.linspace(np.deg2rad(85), theta_end, 24)
        for side in (-1, 1):
            pts = [P(side * (axl - 14) * np.cos(a), cyl + (ayl - 12) * np.sin(a),
                     z_post - 55 * (1 - np.sin(a)) / 2) for a in th]
            b, m = tube(geom, pts, 5 * hs)
            pt.paint(b, m, "bone", "cortical_bone")
    b = box_around(geom, P(-15, -92, 1245), P(15, -78, 1380))
    if not b.empty:
        pt.paint(b, np.ones((b.k1 - b.k0, b.j1 - b.j0, b.i1 - b.i0), bool), "bone", "cortical_bone")  # sternum
    # skull (cranial vault) and mandible
    b, m_out = ellipsoid(geom, P(0, 5, 1665), S(68, 88, 82))
    if not b.empty:
        _, m_in = ellipsoid(geom, P(0, 5, 1665), S(68, 88, 82) - 7 * hs)
        b_in = ellipsoid(geom, P(0, 5, 1665), S(68, 88, 82) - 7 * hs)[0]
        inner = np.zeros_like(m_out)
        if not b_in.empty:
            inner[b_in.k0 - b.k0:b_in.k1 - b.k0, b_in.j0 - b.j0:b_in.j1 - b.j0, b_in.i0 - b.i0:b_in.i1 - b.i0] = m_in
        _, _, zz = world_coords(geom, b)
        pt.paint(b, m_out & ~inner & (zz > 1600 * hs), "bone", "cortical_bone")
    b, m = tube(geom, [P(-48, 5, 1575), P(-45, -10, 1540), P(-30, -50, 1528), P(0, -62, 1522),
                       P(30, -50, 1528), P(45, -10, 1540), P(48, 5, 1575)], 7 * hs)
    pt.paint(b, m, "bone", "cortical_bone")

    # -- glands of the head and neck ------------------------------------------------------------
    note("head and neck")
    for side in (-1, 1):
        b, m = ellipsoid(geom, P(50 * side, 10, 1585), S(13, 18, 22), rotation((0.2, 0, 0)), W())
        pt.paint(b, m, "parotid", "soft_tissue")
        b, m = ellipsoid(geom, P(38 * side, -35, 1535), S(10, 12, 10), None, W())
        pt.paint(b, m, "submandibular", "soft_tissue")
        b, m = ellipsoid(geom, P(32 * side, -68, 1665), S(7, 4, 5), rotation((0, 0, 0.4 * side)))
        pt.paint(b, m, "lacrimal", "soft_tissue")

    # -- clip to the body; marrow not enclosed by bone (where shapes intersect) becomes cortical bone --
    pt.labels[~body] = 0
    pt.tissue[~body] = TISSUES["air"]
    marrow = pt.labels == LABELS["red_marrow"]
    exposed = marrow & ~ndimage.binary_erosion(marrow | (pt.labels == LABELS["bone"]))
    pt.labels[exposed] = LABELS["bone"]
    pt.tissue[exposed] = TISSUES["cortical_bone"]
    present = {v for v in np.unique(pt.labels) if v}
    names = {v: n for n, v in LABELS.items() if v in present}
    labels = LabelMap(pt.labels, geom, names, {"source": "theranomics.simulate.phantom"})
    landmarks = {"aorta": np.array(aorta), "iliac_right": iliac[-1], "iliac_left": iliac[1],
                 "mediastinum": np.array([P(0, -5, 1330), P(10, 0, 1300), P(-15, -10, 1290)]),
                 "supraclavicular_right": np.array([P(-65, -20, 1445), P(-45, -30, 1455)]),
                 "supraclavicular_left": np.array([P(45, -30, 1455), P(65, -20, 1445)])}
    info = {"sex": sex, "height_cm": height_cm, "weight_kg": weight_kg, "bmi": bmi, "fat_mm": fat_mm,
            "prostate": prostate, "small": small, "spacing_mm": spacing, "height_scale": hs,
            "deformation": deformation}
    return Phantom(labels, pt.tissue, landmarks, info)
