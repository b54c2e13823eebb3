"""Voxel-wise feature maps: IBSI features of a sliding cubic window around every ROI voxel.

For each centre voxel c of the intensity mask, the window ROI is the intensity mask inside the
cube of (2r + 1)³ voxels around c (r = ``radius_voxels``); its features are exactly those that
:func:`~theranomics.radiomics.extract_features` gives for that window-shaped ROI, provided the
discretisation does not depend on the ROI's own range: grey levels are computed once for the
whole ROI (so use fixed bin size, FBS, for maps; with FBN the bins span the whole ROI, not the
window).  Image processing (re-segmentation, rounding) is done once on the ROI; interpolation is
not supported here — resample the image first (``theranomics.io.sitk.resample_to``).

Cost: one feature computation per centre voxel (about 0.1–1 ms each), so a map of a 10⁴-voxel
ROI takes seconds; ``step`` > 1 computes the voxels whose image indices are multiples of ``step``.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..core import Geometry, Image, LabelMap
from .features import intensity_histogram, intensity_statistics
from .processing import discretise, process_roi
from .settings import RadiomicsSettings, TEXTURE_FAMILIES

__all__ = ["feature_maps", "MAP_FAMILIES"]

#: families a sliding-window map can hold
MAP_FAMILIES = ("statistics", "intensity_histogram") + TEXTURE_FAMILIES


def _mask_of(image: Image, mask: LabelMap | np.ndarray, label: int | None) -> np.ndarray:
    arr = mask.array if isinstance(mask, LabelMap) else np.asarray(mask)
    if isinstance(mask, LabelMap):
        image.geometry.require_same_grid(mask.geometry, "image and mask")
    elif arr.shape != image.shape:
        raise ValueError(f"mask shape {arr.shape} does not match image shape {image.shape} (nz, ny, nx)")
    if label is None:
        out = arr > 0
    else:
        out = arr == label
        if not out.any():
            raise ValueError(f"label {label} not found in the mask")
    if not out.any():
        raise ValueError("the mask is empty: no voxel is labelled")
    return out


def feature_maps(image: Image, mask: LabelMap | np.ndarray, settings: RadiomicsSettings | None = None, *,
                 radius_voxels: int = 2, families: tuple[str, ...] = ("statistics", "glcm"),
                 label: int | None = None, step: int = 1) -> dict[str, Image]:
    """Feature maps ``{tag: Image}`` on the bounding box of the ROI (NaN outside the ROI, between
    ``step`` samples, and where a texture window has fewer than two voxels).

    ``mask``: label map or array (``label`` picks one label; default: every labelled voxel).
    ``families``: any of :data:`MAP_FAMILIES`; ``settings.texture`` sets the texture parameters and
    ``settings.discretisation``/``resegmentation`` the processing (see the module docstring).
    Each map has the image's spacing and direction and its origin at the ROI box corner.
    """
    if not isinstance(image, Image):
        raise TypeError(f"image must be a theranomics Image, got {type(image).__name__}")
    settings = settings if settings is not None else RadiomicsSettings()
    if settings.interpolation.dims != "none":
        raise ValueError("feature_maps: interpolation is not supported (settings.interpolation.dims must be "
                         "'none'); resample the image and mask to the wanted grid first")
    if getattr(settings, "filter", None) is not None:
        raise ValueError("feature_maps: filtered images are not supported; filter the image first "
                         "(theranomics.radiomics.filters.apply_filter)")
    families = (families,) if isinstance(families, str) else tuple(families)
    bad = [f for f in families if f not in MAP_FAMILIES]
    if bad or not families:
        raise ValueError(f"feature_maps: families {bad or families!r} cannot be mapped; choose from {list(MAP_FAMILIES)}")
    for name, value in (("radius_voxels", radius_voxels), ("step", step)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < (0 if name == "radius_voxels" else 1):
            raise ValueError(f"feature_maps: {name} must be an integer >= {0 if name == 'radius_voxels' else 1}, "
                             f"got {value!r}")
    roi_mask = _mask_of(image, mask, label)
    settings_map = replace(settings, families=families)
    roi = process_roi(image.array, roi_mask, image.spacing_mm, settings_map, diagnostics=False)
    texture = [f for f in families if f in TEXTURE_FAMILIES]
    levels = n_levels = None
    if texture or "intensity_histogram" in families:
        levels, n_levels = discretise(roi.image, roi.int_mask, settings.discretisation, settings.resegmentation)
    if texture:
        from .texture import compute_all

    # crop everything to the ROI bounding box; windows are clipped at its border (outside is not ROI)
    from scipy import ndimage
    box = ndimage.find_objects(roi.morph_mask.view(np.uint8))[0]
    img, im, mm = roi.image[box], roi.int_mask[box], roi.morph_mask[box]
    lv = levels[box] if levels is not None else None
    start = tuple(c + b.start for c, b in zip(roi.crop_start, box))
    out: dict[str, np.ndarray] = {}
    r = int(radius_voxels)
    centres = np.argwhere(im)
    if step > 1:
        centres = centres[np.all(((centres + np.asarray(start)) % step) == 0, axis=1)]  # image-index parity
    for c in centres:
        win = tuple(slice(max(0, x - r), x + r + 1) for x in c)
        wm = im[win]
        values: dict[str, float] = {}
        if "statistics" in families:
            values.update(intensity_statistics(img[win][wm]))
        if "intensity_histogram" in families:
            values.update(intensity_histogram(lv[win][wm], n_levels))
        if texture:
            values.update(compute_all(lv[win], wm, n_levels, settings.texture, roi.spacing_mm,
                                      morph_mask=mm[win], families=texture))
        for tag, v in values.items():
            arr = out.get(tag)
            if arr is None:
                arr = out[tag] = np.full(im.shape, np.nan, dtype=np.float64)
            arr[tuple(c)] = v
    geom = image.geometry
    origin = geom.index_to_world(np.array([start[::-1]], dtype=float))[0]
    crop_geom = Geometry(im.shape, geom.spacing_mm, tuple(float(o) for o in origin), geom.direction)
    return {tag: Image(arr, crop_geom, unit=_unit(tag, image.unit), modality=image.modality,
                       meta={"feature_map": tag, "radius_voxels": r, "step": int(step)})
            for tag, arr in out.items()}


def _unit(tag: str, image_unit: str) -> str:
    """Maps of intensity-valued statistics keep the image unit; everything else is unitless."""
    same = ("stat_mean", "stat_median", "stat_min", "stat_max", "stat_p10", "stat_p90", "stat_iqr",
            "stat_range", "stat_mad", "stat_rmad", "stat_medad", "stat_rms")
    return image_unit if tag in same else "1"

