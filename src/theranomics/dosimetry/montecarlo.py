"""The seam for a Monte Carlo dose engine (GATE, OpenDose, …) — none ships with Theranomics.

A Monte Carlo engine plugs into the voxel-dose interface :class:`~theranomics.dosimetry.voxel.DoseBackend`
through :class:`MonteCarloBackend`, which validates inputs and outputs the same way as the
analytic methods (source in MBq·h → dose in Gy on the same grid; density in g/mL).  An engine is
any object with::

    name: str
    def simulate(self, source_mbq_h: np.ndarray, density_g_ml: np.ndarray, spacing_mm, nuclide: str,
                 *, n_primaries: int, seed: int) -> np.ndarray   # dose in Gy, same shape

Engines installed as packages register under the entry-point group ``theranomics.montecarlo``
(``name = "module:Factory"``) and are found by :func:`load_engine`; nothing is imported until used
and no global registry is kept.  GATE 10 itself cannot run offline (it downloads Geant4 data),
so the workflow's default is the kernel convolution.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from .. import nuclides
from ..core.image import Image
from .voxel import REFERENCE_DENSITY

ENTRY_POINT_GROUP = "theranomics.montecarlo"


class MonteCarloError(RuntimeError):
    """No engine, or an engine that failed or returned something unusable."""


@runtime_checkable
class MonteCarloEngine(Protocol):
    name: str

    def simulate(self, source_mbq_h: np.ndarray, density_g_ml: np.ndarray, spacing_mm, nuclide: str, *,
                 n_primaries: int, seed: int) -> np.ndarray: ...


def available_engines() -> list[str]:
    """Names of the engines installed under the ``theranomics.montecarlo`` entry-point group."""
    from importlib.metadata import entry_points
    return sorted(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP))


def load_engine(name: str, **kwargs) -> MonteCarloEngine:
    """Instantiate an installed engine by entry-point name."""
    from importlib.metadata import entry_points
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == name:
            return ep.load()(**kwargs)
    raise MonteCarloError(f"no Monte Carlo engine {name!r} is installed (entry-point group {ENTRY_POINT_GROUP!r} "
                          f"has {available_engines() or 'none'}); use method 'lde', 'dpk' or 'vsv', or install an "
                          "engine package")


@dataclass(frozen=True)
class MonteCarloBackend:
    """A :class:`~theranomics.dosimetry.voxel.DoseBackend` that delegates to a Monte Carlo engine."""

    engine: MonteCarloEngine
    n_primaries: int = 10_000_000
    seed: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.engine, MonteCarloEngine):
            raise MonteCarloError(f"engine {type(self.engine).__name__} does not implement simulate(...) and name")
        if self.n_primaries < 1:
            raise MonteCarloError(f"n_primaries must be >= 1, got {self.n_primaries}")

    def dose(self, source: Image, nuclide: str, density: Image | None = None) -> Image:
        if source.unit != "MBq*h":
            raise MonteCarloError(f"Monte Carlo source must be a TIA map in 'MBq*h', got {source.unit!r}")
        values = np.asarray(source.array, dtype=float)
        if not np.all(np.isfinite(values)) or np.any(values < 0):
            raise MonteCarloError("Monte Carlo source must be finite and >= 0 MBq·h")
        if density is None:
            rho = np.full(source.shape, REFERENCE_DENSITY)
        else:
            source.geometry.require_same_grid(density.geometry, "source and density images")
            rho = np.asarray(density.array, dtype=float)
        nuc = nuclides.normalise_name(nuclide)
        try:
            out = self.engine.simulate(values, rho, source.geometry.spacing_mm, nuc,
                                       n_primaries=self.n_primaries, seed=self.seed)
        except MonteCarloError:
            raise
        except Exception as exc:  # an engine's own failure, reported with its name
            raise MonteCarloError(f"Monte Carlo engine {self.engine.name!r} failed: {exc}") from exc
        out = np.asarray(out, dtype=float)
        if out.shape != source.shape or not np.all(np.isfinite(out)) or np.any(out < 0):
            raise MonteCarloError(f"Monte Carlo engine {self.engine.name!r} returned an unusable dose map "
                                  f"(shape {out.shape}, expected {source.shape}, finite and >= 0)")
        return source.with_array(out, unit="Gy", dose_method=f"montecarlo:{self.engine.name}", nuclide=nuc,
                                 n_primaries=self.n_primaries, seed=self.seed)


__all__ = ["ENTRY_POINT_GROUP", "MonteCarloError", "MonteCarloEngine", "MonteCarloBackend", "available_engines",
           "load_engine"]
