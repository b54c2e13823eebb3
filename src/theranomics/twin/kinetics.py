"""The simulator's per-VOI kinetics protocol, implemented by the PBPK twin.

:class:`PBPKKinetics` has the methods of ``theranomics.simulate.kinetics.VoiKinetics``
(``vois``, ``activity_fraction(voi, t_h)``, ``tia_fraction_h(voi)``) without importing the
simulator (duck typing), so the simulator can draw diagnostic uptake and Lu-177 kinetics from
the same receptor and kidney parameters.  A VOI is a model organ, ``plasma``, or a simulator VOI
mapped to a share of a model organ (``voi_map={"kidney_left": ("kidneys", 0.5), …}``).
"""
from __future__ import annotations

from typing import Mapping, Protocol, runtime_checkable

import numpy as np
from scipy.interpolate import PchipInterpolator

from .model import PBPKModel, Schedule
from .params import PatientSpec


@runtime_checkable
class VoiKineticsLike(Protocol):
    @property
    def vois(self) -> tuple[str, ...]: ...

    def activity_fraction(self, voi: str, t_h) -> np.ndarray: ...

    def tia_fraction_h(self, voi: str) -> float: ...


class PBPKKinetics:
    """Fraction of one injection's activity per VOI from a PBPK solve (decay included)."""

    def __init__(self, ligand: str, patient: PatientSpec, *, ligand_nmol: float = 100.0,
                 activity_mbq: float = 7400.0, voi_map: Mapping[str, tuple[str, float]] | None = None,
                 t_max_h: float = 2000.0, n_grid: int = 300):
        self.model = PBPKModel(ligand, patient)
        self.grid_h = np.concatenate([[0.0], np.geomspace(1e-3, t_max_h, n_grid)])
        self.solution = self.model.solve(Schedule([0.0], [activity_mbq], [ligand_nmol]), self.grid_h)
        self.voi_map = dict(voi_map or {})
        for voi, (organ, share) in self.voi_map.items():
            if organ not in self.model.organs or not (0 < share <= 1):
                raise ValueError(f"voi_map[{voi!r}] = ({organ!r}, {share}): organ must be one of "
                                 f"{list(self.model.organs)} and share in (0, 1]")
        self._tia = dict(zip(self.model.organs, self.solution.tia_h_per_mbq()[0, 0]))
        self._curves = {}

    @property
    def vois(self) -> tuple[str, ...]:
        return tuple(self.model.organs) + ("plasma",) + tuple(self.voi_map)

    def _organ_curve(self, organ: str) -> np.ndarray:
        if organ not in self._curves:
            if organ == "plasma":
                h = self.solution.tag_per_mbq()[0, :, 0, self.model.plasma_index]
            else:
                h = self.solution.organ_activity_per_mbq(organ)[0, :, 0]
            self._curves[organ] = h
        return self._curves[organ]

    def _resolve(self, voi: str) -> tuple[str, float]:
        if voi in self.voi_map:
            return self.voi_map[voi]
        if voi in self.model.organs or voi == "plasma":
            return voi, 1.0
        raise KeyError(f"kinetics has no VOI {voi!r}; it has {list(self.vois)}")

    def activity_fraction(self, voi: str, t_h) -> np.ndarray:
        """Fraction of the injected activity in ``voi`` at ``t_h`` (PCHIP between solver output times)."""
        organ, share = self._resolve(voi)
        t = np.asarray(t_h, float)
        if np.any(~np.isfinite(t)) or np.any(t < 0) or np.any(t > self.grid_h[-1]):
            raise ValueError(f"times must be within 0-{self.grid_h[-1]:g} h, got {t_h}")
        return share * PchipInterpolator(self.grid_h, self._organ_curve(organ))(t)

    def tia_fraction_h(self, voi: str) -> float:
        """∫0^∞ activity_fraction dt (h): the ODE accumulator plus the physical-decay tail."""
        organ, share = self._resolve(voi)
        if organ == "plasma":
            return share * float(np.trapezoid(self._organ_curve(organ), self.grid_h))
        return share * float(self._tia[organ])


__all__ = ["PBPKKinetics", "VoiKineticsLike"]
