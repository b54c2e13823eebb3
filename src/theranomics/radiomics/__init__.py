"""IBSI-1 radiomics: processing (chapter 2), feature families (chapter 3) and batch extraction.

Public API::

    from theranomics.radiomics import extract_features, to_long, ibsi_config, feature_catalogue
    df = extract_features(image, labelmap, ibsi_config("C"), n_jobs=2)
    maps = feature_maps(image, labelmap, settings, radius_voxels=2)     # sliding-window maps

Texture families live in :mod:`theranomics.radiomics.texture`, IBSI-2 filters in
:mod:`theranomics.radiomics.filters`.
"""
from .settings import (DiscretisationSettings, InterpolationSettings, IVHSettings, RadiomicsSettings,
                       ResegmentationSettings, SettingsError, TextureSettings, digital_phantom, ibsi2_config,
                       ibsi_config, load_settings, modality_defaults, save_settings)


def __getattr__(name: str):
    # extraction and the catalogue import the feature modules; load them on first use so that
    # ``theranomics.radiomics.settings`` stays light for the texture and filter packages
    import importlib
    if name in ("extract_features", "to_long", "extract_roi"):
        return getattr(importlib.import_module(".extract", __name__), name)
    if name == "feature_maps":
        return importlib.import_module(".maps", __name__).feature_maps
    if name in ("load_image_and_mask",):
        return importlib.import_module(".inputs", __name__).load_image_and_mask
    if name in ("feature_catalogue", "feature_info"):
        module = importlib.import_module(".catalogue", __name__)
        return getattr(module, "catalogue" if name == "feature_catalogue" else name)
    raise AttributeError(f"module 'theranomics.radiomics' has no attribute {name!r}")


__all__ = ["DiscretisationSettings", "InterpolationSettings", "IVHSettings", "RadiomicsSettings",
           "ResegmentationSettings", "SettingsError", "TextureSettings", "digital_phantom", "ibsi_config", "ibsi2_config",
           "load_settings", "modality_defaults", "save_settings", "extract_features", "to_long", "extract_roi",
           "feature_catalogue", "feature_info", "feature_maps", "load_image_and_mask"]
