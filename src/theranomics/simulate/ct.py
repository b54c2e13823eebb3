"""CT in Hounsfield units from the phantom's tissue map.

HU per tissue (typical values): air −1000, lung −850, fat −100, soft tissue 40, blood 40,
liver 60, spleen 45, kidney 30, bowel 20, urine 10, trabecular bone 400, cortical bone 1000,
soft-tissue lesion 45, sclerotic bone lesion 700; plus white Gaussian noise (``noise_hu``).
"""
from __future__ import annotations

import numpy as np

from ..core import Geometry, Image
from .phantom import TISSUES

#: HU of each tissue of :data:`~.phantom.TISSUES`.
TISSUE_HU: dict[str, float] = {
    "air": -1000.0, "fat": -100.0, "soft_tissue": 40.0, "lung": -850.0, "blood": 40.0, "liver": 60.0,
    "kidney": 30.0, "cortical_bone": 1000.0, "trabecular_bone": 400.0, "urine": 10.0, "spleen": 45.0,
    "bowel": 20.0, "lesion_soft": 45.0, "lesion_bone": 700.0,
}


def ct_from_tissue(tissue: np.ndarray, geometry: Geometry, rng: np.random.Generator, noise_hu: float = 10.0,
                   meta=None) -> Image:
    """CT image (int16 HU): tissue HU + N(0, noise_hu²), clipped to [−1024, 3071]."""
    if noise_hu < 0:
        raise ValueError(f"noise_hu must be >= 0, got {noise_hu}")
    lut = np.zeros(max(TISSUES.values()) + 1, np.float32)
    for name, code in TISSUES.items():
        lut[code] = TISSUE_HU[name]
    if tissue.max(initial=0) >= len(lut):
        raise ValueError(f"tissue map holds unknown tissue code {int(tissue.max())}")
    hu = lut[tissue]
    if noise_hu:
        hu = hu + rng.normal(0.0, noise_hu, hu.shape).astype(np.float32)
    return Image(np.clip(np.rint(hu), -1024, 3071).astype(np.int16), geometry, "HU", "CT", dict(meta or {}))
