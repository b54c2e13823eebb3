"""Lesion and organ segmentation on PET (and CT): thresholds, isocontours, gradient
watershed, exclusion masks, reference regions, and a seam for learned models."""
from .components import label_components
from .exclusion import (PSMA_PHYSIOLOGIC, SSTR_PHYSIOLOGIC, ct_body_mask, ct_bone_mask, ct_lung_mask,
                        organ_exclusion_mask)
from .gradient import gradient_watershed
from .model import SegmentationModel, load_model, register_model
from .reference import (ReferenceRegion, ReferenceRegionError, blood_pool_reference, liver_reference,
                        organ_reference, sphere_mask)
from .threshold import (fixed_threshold, percist_threshold, qpsma_like, qpsma_liver_threshold,
                        relative_isocontour)

__all__ = [
    "label_components", "PSMA_PHYSIOLOGIC", "SSTR_PHYSIOLOGIC", "ct_body_mask", "ct_bone_mask", "ct_lung_mask",
    "organ_exclusion_mask", "gradient_watershed", "SegmentationModel", "load_model", "register_model",
    "ReferenceRegion", "ReferenceRegionError", "blood_pool_reference", "liver_reference", "organ_reference",
    "sphere_mask", "fixed_threshold", "percist_threshold", "qpsma_like", "qpsma_liver_threshold",
    "relative_isocontour",
]
