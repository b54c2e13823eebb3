"""From twin solutions to absorbed dose and BED per organ, tumour and cycle.

Absorbed dose D = S · Ã with Ã the time-integrated activity (MBq·h) and S the self-dose S-value
(Gy per MBq·h).  S-values come from a small interface (:class:`SValues`):

* :class:`ElectronSelfDose` (default): all ICRP-107 electron energy (β, IC, Auger;
  :func:`theranomics.nuclides.electron_energy_per_decay_mev`) absorbed locally, absorbed fraction 1,
  no cross-organ and no photon dose: S = E_e · 1.602e-13 J/MeV · 3.6e9 decays/(MBq·h) / m.
  For Lu-177 the photon contribution to organ self-dose is a few per cent, and electron
  absorbed fractions are ≥ 0.95 for organs and tumours above ~5 mL, so this approximation
  underestimates organ doses by a few per cent.
* :class:`SphereSelfDose`: uniformly filled spheres of the organ volume from
  :mod:`theranomics.dosimetry.spheres` (point kernels, absorbed fraction < 1 for small volumes).

BED (Dale 1985; Lea–Catcheside G of the cycle's activity curve, see :mod:`.model`):
BED_k = D_k (1 + G_k D_k / (α/β)), summed over cycles (full repair between cycles), with α/β
from :data:`theranomics.dosimetry.radiobiology.TISSUES` (kidneys, tumours, red marrow).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import pandas as pd

from .. import nuclides
from .params import is_tumour

#: 1 MeV in J (exact, SI 2019).
J_PER_MEV = 1.602176634e-13
#: decays in 1 MBq·h.
DECAYS_PER_MBQ_H = 3.6e9


class SValues(Protocol):
    """Self-dose S-value of an organ of given volume (Gy per MBq·h)."""

    def s_gy_per_mbq_h(self, organ: str, volume_l: float) -> float: ...


@dataclass(frozen=True)
class ElectronSelfDose:
    """S = E_electrons / m with absorbed fraction 1 (module docstring); density in g/mL."""

    nuclide: str = "Lu-177"
    density_g_ml: float = 1.0

    def s_gy_per_mbq_h(self, organ: str, volume_l: float) -> float:
        if not volume_l > 0:
            raise ValueError(f"organ {organ!r}: volume_l must be > 0 for an S-value, got {volume_l}")
        e_mev = nuclides.electron_energy_per_decay_mev(self.nuclide)
        return e_mev * J_PER_MEV * DECAYS_PER_MBQ_H / (volume_l * self.density_g_ml)


@dataclass
class SphereSelfDose:
    """Self-dose of a uniform sphere of the organ volume (:func:`theranomics.dosimetry.spheres.sphere_s_value`)."""

    nuclide: str = "Lu-177"
    include: tuple[str, ...] = ("beta", "ce", "auger")
    density_g_ml: float = 1.0
    _cache: dict = field(default_factory=dict, repr=False)

    def s_gy_per_mbq_h(self, organ: str, volume_l: float) -> float:
        key = round(float(volume_l), 9)
        if key not in self._cache:
            from ..dosimetry.spheres import sphere_s_value
            s_mgy_mbq_s = float(sphere_s_value(self.nuclide, volume_l * 1000.0, include=self.include,
                                               density_g_cm3=self.density_g_ml)[0])
            self._cache[key] = s_mgy_mbq_s * 3.6            # mGy/(MBq s) -> Gy/(MBq h)
        return self._cache[key]


def alpha_beta_gy(organ: str) -> float:
    """α/β of the organ's tissue (radiobiology defaults), NaN where no default exists."""
    from ..dosimetry.radiobiology import TISSUES
    if organ == "kidneys":
        return TISSUES["kidney"].alpha_beta_gy
    if is_tumour(organ):
        return TISSUES["tumour"].alpha_beta_gy
    if organ == "red_marrow":
        return TISSUES["red_marrow"].alpha_beta_gy
    return math.nan


def bed_gy(dose_gy, g, alpha_beta):
    """Dale: BED = D (1 + G D / (α/β)) (elementwise), :func:`theranomics.dosimetry.radiobiology.bed_from_g_gy`."""
    from ..dosimetry.radiobiology import bed_from_g_gy
    return bed_from_g_gy(dose_gy, g, alpha_beta)


def s_values_of(model, s_values: SValues | None = None) -> np.ndarray:
    """(B, m) S-values (Gy per MBq·h) of every organ of a model."""
    provider = s_values or ElectronSelfDose(model.ligand.nuclide)
    out = np.zeros((model.batch, model.n_organs))
    for b in range(model.batch):
        for j, organ in enumerate(model.organs):
            out[b, j] = provider.s_gy_per_mbq_h(organ, float(model.volume_l[b, j]))
    return out


def dose_table(solution, s_values: SValues | None = None) -> pd.DataFrame:
    """Per patient (batch row), cycle and organ: TIA (MBq·h), absorbed dose (Gy), G and BED (Gy)."""
    model = solution.model
    s = s_values_of(model, s_values)
    tia = solution.tia_h_per_mbq() * solution.activity_mbq[:, :, None]          # (B, K, m)
    g = solution.lea_catcheside_g()
    rows = []
    for b in range(model.batch):
        for k in range(tia.shape[1]):
            for j, organ in enumerate(model.organs):
                d = tia[b, k, j] * s[b, j]
                ab = alpha_beta_gy(organ)
                rows.append({"patient_id": model.patients[b].patient_id, "cycle": k + 1, "organ": organ,
                             "activity_mbq": float(solution.activity_mbq[b, k]),
                             "tia_mbq_h": float(tia[b, k, j]), "dose_gy": float(d),
                             "dose_gy_per_gbq": float(d / solution.activity_mbq[b, k] * 1000.0)
                             if solution.activity_mbq[b, k] > 0 else math.nan,
                             "lea_catcheside_g": float(g[b, k, j]),
                             "bed_gy": float(bed_gy(d, g[b, k, j], ab)) if math.isfinite(ab) else math.nan})
    return pd.DataFrame(rows)


__all__ = ["SValues", "ElectronSelfDose", "SphereSelfDose", "alpha_beta_gy", "bed_gy", "s_values_of", "dose_table",
           "J_PER_MEV", "DECAYS_PER_MBQ_H"]
