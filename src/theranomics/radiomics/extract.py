"""Batch IBSI feature extraction: every label of a label map in one pass, optionally in parallel.

One :func:`scipy.ndimage.find_objects` pass gives every label's bounding box; each lesion is
cropped once (with the margin that interpolation and the 1 cm³ peak sphere need) and processed
on its own, so the cost grows with lesion size, not with the volume.
"""
from __future__ import annotations

import inspect
import logging
import os
from concurrent.futures import ProcessPoolExecutor
from importlib import metadata
from typing import Any

import numpy as np
import pandas as pd
from scipy import ndimage

from ..core import Image, LabelMap
from . import catalogue as _catalogue
from .features import (intensity_histogram, intensity_statistics, intensity_volume_histogram,
                       local_intensity, morphology)
from .processing import discretise, process_roi, source_slices
from .settings import RadiomicsSettings, ResegmentationSettings, TEXTURE_FAMILIES

__all__ = ["extract_features", "extract_roi", "to_long"]

log = logging.getLogger(__name__)


def _version() -> str:
    try:
        return metadata.version("theranomics")
    except metadata.PackageNotFoundError:  # pragma: no cover - source checkout without install
        return "unknown"


def _texture_functions(settings: RadiomicsSettings) -> tuple[dict[str, Any], list[str]]:
    funcs, skipped = {}, []
    for family in TEXTURE_FAMILIES:
        if family not in settings.families:
            continue
        module = _catalogue.texture_module(family)
        fn = getattr(module, f"compute_{family}", None) if module is not None else None
        if fn is None:
            skipped.append(family)
            log.warning("texture family %s skipped: theranomics.radiomics.texture.%s (compute_%s) is not available",
                        family, family, family)
        else:
            funcs[family] = fn
    return funcs, skipped


def _texture(levels, int_mask, morph_mask, n_levels, settings, spacing_mm, functions) -> dict[str, float]:
    """All requested texture families on one shared cropped grid (zones and neighbourhoods are
    computed once for GLSZM/GLDZM and NGTDM/NGLDM); falls back to the per-family functions."""
    try:
        from .texture import FAMILIES, compute_all
    except ImportError:
        compute_all = None
    if compute_all is not None and all(f in FAMILIES for f in functions):
        return compute_all(levels, int_mask, n_levels, settings.texture, spacing_mm, morph_mask=morph_mask,
                           families=list(functions))
    out: dict[str, float] = {}
    for fn in functions.values():
        kwargs = {"morph_mask": morph_mask} if "morph_mask" in inspect.signature(fn).parameters else {}
        out.update(fn(levels, int_mask, n_levels, settings.texture, spacing_mm, **kwargs))
    return out


def extract_roi(array: np.ndarray, mask: np.ndarray, spacing_mm: tuple[float, float, float],
                settings: RadiomicsSettings, box=None, full_shape=None, origin=(0, 0, 0),
                include_diagnostics: bool = False, texture_functions: dict[str, Any] | None = None
                ) -> dict[str, float]:
    """All requested features of one ROI (see :func:`~theranomics.radiomics.processing.process_roi`
    for ``box``/``full_shape``/``origin``); returns tag -> value."""
    roi = process_roi(array, mask, spacing_mm, settings, box=box, full_shape=full_shape, origin=origin,
                      diagnostics=include_diagnostics)
    fams = settings.families
    out: dict[str, float] = {}
    if "morphology" in fams:
        out.update(morphology(roi.morph_mask, roi.int_mask, roi.image, roi.spacing_mm, settings.morphology_spatial))
    if not roi.int_mask.any():
        log.warning("intensity mask is empty after re-segmentation; intensity and texture features are NaN")
    else:
        if "local_intensity" in fams:
            out.update(local_intensity(roi.image, roi.int_mask, roi.spacing_mm))
        if "statistics" in fams:
            out.update(intensity_statistics(roi.values))
        # a response map has its own intensity range: FBS bins start at its minimum, not at the
        # re-segmentation bound of the unfiltered image (unless discretisation.lower_bound is set)
        reseg = settings.resegmentation if settings.filter is None else ResegmentationSettings()
        need_levels = "intensity_histogram" in fams or any(f in fams for f in TEXTURE_FAMILIES)
        if need_levels:
            levels, n_levels = discretise(roi.image, roi.int_mask, settings.discretisation, reseg)
            if "intensity_histogram" in fams:
                out.update(intensity_histogram(levels[roi.int_mask], n_levels))
        if "ivh" in fams:
            out.update(intensity_volume_histogram(roi.values, settings.ivh, reseg))
        if texture_functions is None:
            texture_functions, _ = _texture_functions(settings)
        if texture_functions:  # the texture grid crops itself to the masks' bounding box
            out.update(_texture(levels, roi.int_mask, roi.morph_mask, n_levels, settings, roi.spacing_mm,
                                texture_functions))
    if include_diagnostics:
        out.update(roi.diagnostics)
    return out


def _worker_init() -> None:
    """One BLAS/OpenMP thread per worker process (parallelism is over lesions)."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"
    try:
        from threadpoolctl import threadpool_limits
        threadpool_limits(1)
    except ImportError:
        pass


def _warm_up() -> None:
    """Build the lazily cached lookup tables (marching-cubes cells) before forking workers."""
    from .features.morphology import _cell_tables
    _cell_tables()


def _job(args: tuple) -> dict[str, float]:
    return extract_roi(*args[:-1], **args[-1])


def _as_labels(image: Image, labels: LabelMap | np.ndarray) -> tuple[np.ndarray, dict[int, str]]:
    if isinstance(labels, LabelMap):
        image.geometry.require_same_grid(labels.geometry, "image and label map")
        return labels.array, dict(labels.names)
    arr = np.asarray(labels)
    if arr.shape != image.shape:
        raise ValueError(f"mask shape {arr.shape} does not match image shape {image.shape} (nz, ny, nx)")
    if arr.dtype == bool:
        return arr.astype(np.int32), {}
    if not np.issubdtype(arr.dtype, np.integer):
        if not np.all(np.equal(np.mod(arr, 1), 0)):
            raise ValueError("mask must be boolean or integer labels; got non-integer values")
        arr = arr.astype(np.int32)
    if arr.size and arr.min() < 0:
        raise ValueError("mask labels must be >= 0 (0 is background)")
    return arr, {}


def extract_features(image: Image, labels: LabelMap | np.ndarray, settings: RadiomicsSettings | None = None, *,
                     label_ids: list[int] | None = None, n_jobs: int = 1,
                     include_diagnostics: bool = False) -> pd.DataFrame:
    """IBSI features of every label (or ``label_ids``) of ``labels`` on ``image``.

    Returns a wide DataFrame: index ``label``, one column per feature tag (see
    :func:`~theranomics.radiomics.catalogue.catalogue`).  ``df.attrs`` holds the provenance:
    ``settings`` (dict), ``theranomics_version``, ``image_unit``, ``label_names`` and
    ``skipped_families``.  ``n_jobs`` > 1 processes lesions in that many worker processes.
    """
    if not isinstance(image, Image):
        raise TypeError(f"image must be a theranomics Image, got {type(image).__name__}")
    settings = settings if settings is not None else RadiomicsSettings()
    if not isinstance(settings, RadiomicsSettings):
        raise TypeError(f"settings must be a RadiomicsSettings, got {type(settings).__name__}")
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs < 1:
        raise ValueError(f"n_jobs must be a positive integer, got {n_jobs!r}")
    arr, names = _as_labels(image, labels)
    boxes = ndimage.find_objects(arr)
    present = [i + 1 for i, b in enumerate(boxes) if b is not None]
    if label_ids is None:
        label_ids = present
    missing = sorted(set(int(x) for x in label_ids) - set(present))
    if missing:
        raise ValueError(f"label(s) {missing} not found in the label map; present: {present}")
    if not label_ids:
        raise ValueError("the label map has no labels (all voxels are 0)")
    funcs, skipped = _texture_functions(settings)
    full_shape = image.shape
    spacing = image.spacing_mm
    jobs = []
    for lab in label_ids:
        box = boxes[lab - 1]
        sl = source_slices(box, full_shape, spacing, settings)
        jobs.append((image.array[sl].copy(), arr[sl] == lab, spacing, settings,
                     {"box": box, "full_shape": full_shape, "origin": tuple(s.start for s in sl),
                      "include_diagnostics": include_diagnostics, "texture_functions": funcs}))
    if n_jobs == 1 or len(jobs) == 1:
        results = [_job(job) for job in jobs]
    else:
        workers = min(n_jobs, len(jobs))
        _warm_up()  # tables built once here are inherited by forked workers
        with ProcessPoolExecutor(max_workers=workers, initializer=_worker_init) as pool:
            # a few lesions per task: per-task pickling/dispatch costs about as much as a small lesion
            results = list(pool.map(_job, jobs, chunksize=max(1, len(jobs) // (4 * workers))))
    df = pd.DataFrame(results, index=pd.Index([int(x) for x in label_ids], name="label"))
    order = [t for t in _catalogue.catalogue(settings, include_diagnostics=True).tag if t in df.columns]
    df = df[order + [c for c in df.columns if c not in order]]
    df.attrs.update({
        "settings": settings.to_dict(),
        "theranomics_version": _version(),
        "image_unit": image.unit,
        "image_modality": image.modality,
        "label_names": {int(k): v for k, v in names.items() if k in label_ids},
        "skipped_families": skipped,
    })
    return df


def to_long(df: pd.DataFrame) -> pd.DataFrame:
    """Long table: label, feature_tag, feature_name, ibsi_code, family, aggregation, parameter, value."""
    settings = RadiomicsSettings.from_dict(df.attrs["settings"]) if "settings" in df.attrs else None
    cat = _catalogue.catalogue(settings, include_diagnostics=True).rename(columns={"tag": "feature_tag"})
    index_name = df.index.name or "label"
    long = df.reset_index().rename(columns={index_name: "label"}).melt(
        id_vars="label", var_name="feature_tag", value_name="value")
    long = long.merge(cat, on="feature_tag", how="left")
    unknown = long.feature_name.isna()
    if unknown.any():
        raise ValueError(f"columns not in the feature catalogue: {sorted(long.feature_tag[unknown].unique())}")
    cols = ["label", "feature_tag", "feature_name", "ibsi_code", "family", "aggregation", "parameter", "value"]
    return long[cols].reset_index(drop=True)
