"""Lossless conversion between :class:`~theranomics.core.Image` / :class:`LabelMap` and SimpleITK."""
from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from ..core import Geometry, Image, LabelMap


def geometry_from_sitk(img: sitk.Image) -> Geometry:
    """Geometry of a 3-D SimpleITK image (SimpleITK sizes are (x, y, z); our shape is (z, y, x))."""
    if img.GetDimension() != 3:
        raise ValueError(f"expected a 3-D SimpleITK image, got {img.GetDimension()}-D")
    nx, ny, nz = img.GetSize()
    return Geometry((nz, ny, nx), img.GetSpacing(), img.GetOrigin(), img.GetDirection())


def apply_geometry(img: sitk.Image, geometry: Geometry) -> sitk.Image:
    img.SetSpacing(geometry.spacing_mm)
    img.SetOrigin(geometry.origin_mm)
    img.SetDirection(geometry.direction)
    return img


def to_sitk(image: Image | LabelMap) -> sitk.Image:
    """SimpleITK image with the same voxels (dtype kept) and geometry."""
    return apply_geometry(sitk.GetImageFromArray(np.ascontiguousarray(image.array)), image.geometry)


def from_sitk(img: sitk.Image, unit: str = "1", modality: str = "OT", meta=None) -> Image:
    return Image(sitk.GetArrayFromImage(img), geometry_from_sitk(img), unit, modality, dict(meta or {}))


def labelmap_from_sitk(img: sitk.Image, names=None, meta=None) -> LabelMap:
    return LabelMap(sitk.GetArrayFromImage(img), geometry_from_sitk(img), dict(names or {}), dict(meta or {}))


def resample_to(image: Image | LabelMap, reference: Geometry, default_value: float = 0.0,
                interpolator: str = "linear") -> Image | LabelMap:
    """Resample onto ``reference``'s grid.  Label maps always use nearest neighbour."""
    ref = apply_geometry(sitk.Image(*reversed(reference.shape), sitk.sitkUInt8), reference)
    if isinstance(image, LabelMap):
        interp = sitk.sitkNearestNeighbor
    else:
        interp = {"linear": sitk.sitkLinear, "nearest": sitk.sitkNearestNeighbor,
                  "bspline": sitk.sitkBSpline}[interpolator]
    out = sitk.Resample(to_sitk(image), ref, sitk.Transform(), interp, default_value)
    array = sitk.GetArrayFromImage(out)
    if isinstance(image, LabelMap):
        return LabelMap(array, reference, image.names, image.meta)
    return Image(array, reference, image.unit, image.modality, image.meta)
