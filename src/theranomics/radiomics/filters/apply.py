"""Dispatcher: apply a :class:`FilterSettings` to an array or an :class:`~theranomics.core.Image`."""
from __future__ import annotations

from functools import partial
from typing import Any, Mapping

import numpy as np

from ...core import Image
from .gabor import gabor_filter
from .laws import laws_filter
from .log import log_filter
from .mean import mean_filter
from .riesz import riesz_filter
from .settings import FilterSettings
from .simoncelli import _simoncelli_periodic, check_level, simoncelli_filter
from .wavelet import wavelet_filter


def _settings(settings: FilterSettings | Mapping[str, Any]) -> FilterSettings:
    if isinstance(settings, FilterSettings):
        return settings
    return FilterSettings.from_dict(settings)


def _kwargs(s: FilterSettings, *names: str) -> dict[str, Any]:
    return {n: getattr(s, n) for n in names if getattr(s, n) is not None}


def filter_array(array: np.ndarray, settings: FilterSettings | Mapping[str, Any],
                 spacing_mm=(1.0, 1.0, 1.0)) -> np.ndarray:
    """Response map of ``array`` (indexed [k, j, i]; ``spacing_mm`` in (x, y, z) order)."""
    s = _settings(settings)
    common = {"dims": s.dims}
    if s.boundary is not None:
        common["boundary"] = s.boundary
    if s.filter == "mean":
        return mean_filter(array, s.support_voxels, **common)
    if s.filter == "laws":
        return laws_filter(array, s.kernel, energy_distance=s.energy_distance,
                           rotation_invariance=bool(s.rotation_invariance),
                           **_kwargs(s, "pooling"), **common)
    if s.filter == "wavelet":
        return wavelet_filter(array, s.wavelet, s.response, rotation_invariance=bool(s.rotation_invariance),
                              **_kwargs(s, "level", "pooling"), **common)
    if s.filter == "gabor":
        return gabor_filter(array, s.sigma_mm, s.wavelength_mm, spacing_mm=spacing_mm,
                            rotation_invariance=bool(s.rotation_invariance),
                            orthogonal_planes=bool(s.orthogonal_planes),
                            **_kwargs(s, "gamma", "theta_rad", "theta_step_rad", "pooling", "truncate", "boundary"))
    if s.filter == "log":
        log = partial(log_filter, sigma_mm=s.sigma_mm, spacing_mm=spacing_mm, **_kwargs(s, "truncate"), **common)
        if s.riesz_order is None:
            return log(array)
        return riesz_filter(array, s.riesz_order, log, boundary=s.boundary or "zero", dims=s.dims)
    if s.filter == "simoncelli":
        if s.riesz_order is None:
            return simoncelli_filter(array, **_kwargs(s, "level"), **common)
        level = check_level(s.level if s.level is not None else 1)
        axes = (0, 1, 2) if s.dims == "3d" else (1, 2)
        return riesz_filter(array, s.riesz_order, lambda a: _simoncelli_periodic(a, level, axes),
                            boundary=s.boundary or "periodic", dims=s.dims)
    raise AssertionError(f"unhandled filter {s.filter!r}")  # FilterSettings validates the name


def apply_filter(image: Image, settings: FilterSettings | Mapping[str, Any]) -> Image:
    """Filtered image on the same grid.

    The mean filter keeps the image's unit; every other response map is returned
    with unit "1" (its physical unit depends on the kernel).  ``meta`` records the
    settings (``filter``) and the unit of the input (``source_unit``).
    """
    if not isinstance(image, Image):
        raise TypeError(f"image: expected a theranomics Image, got {type(image).__name__}; "
                        "use filter_array() for numpy arrays")
    s = _settings(settings)
    response = filter_array(image.array, s, spacing_mm=image.spacing_mm)
    unit = image.unit if s.filter == "mean" else "1"
    return image.with_array(response.astype(np.float64), unit=unit, filter=s.to_dict(), source_unit=image.unit)
