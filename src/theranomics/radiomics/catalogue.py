"""One table of every feature the engine outputs: tag, IBSI name and code, family, aggregation, parameter.

Non-texture families come from :mod:`theranomics.radiomics.features`; texture families from the
``FEATURES: dict[base_tag, (feature_name, ibsi_code)]`` table of each module in
``theranomics.radiomics.texture`` (imported lazily; a missing module is skipped with a log line).
Texture tags are ``base_tag + suffix`` with the suffixes of the IBSI/MIRP reference tables.
"""
from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass
from types import ModuleType

import pandas as pd

from .features.histogram import FEATURES as _HISTOGRAM
from .features.ivh import FEATURES as _IVH
from .features.local_intensity import FEATURES as _LOCAL
from .features.morphology import FEATURES as _MORPHOLOGY, SLOW_FEATURES as _SLOW
from .features.statistics import FEATURES as _STATISTICS
from .settings import RadiomicsSettings, TEXTURE_FAMILIES

__all__ = ["FeatureInfo", "FAMILY_NAMES", "AGGREGATIONS", "catalogue", "feature_info", "texture_module",
           "PYRADIOMICS_ALIASES"]

log = logging.getLogger(__name__)

#: family key -> IBSI family name (as in the IBSI reference tables).
FAMILY_NAMES = {
    "morphology": "Morphological features",
    "local_intensity": "Local intensity features",
    "statistics": "Intensity-based statistical features",
    "intensity_histogram": "Intensity histogram features",
    "ivh": "Intensity-volume histogram features",
    "glcm": "Grey level co-occurrence based features",
    "glrlm": "Grey level run length based features",
    "glszm": "Grey level size zone based features",
    "gldzm": "Grey level distance zone based features",
    "ngtdm": "Neighbourhood grey tone difference based features",
    "ngldm": "Neighbouring grey level dependence based features",
    "diagnostics": "Diagnostic features",
}

#: texture dims -> [(tag suffix, IBSI aggregation)] for matrix families that average or merge.
_MATRIX_AGG = {
    "2d": [("_2D_avg", "2D, averaged"), ("_2D_comb", "2D, slice-merged")],
    "2.5d": [("_2_5D_avg", "2.5D, direction-merged"), ("_2_5D_comb", "2.5D, merged")],
    "3d": [("_3D_avg", "3D, averaged"), ("_3D_comb", "3D, merged")],
}
#: ... and for the zone/neighbourhood families (one matrix per dims).
_ZONE_AGG = {"2d": [("_2D", "2D")], "2.5d": [("_2_5D", "2.5D")], "3d": [("_3D", "3D")]}
AGGREGATIONS = {"glcm": _MATRIX_AGG, "glrlm": _MATRIX_AGG, "glszm": _ZONE_AGG, "gldzm": _ZONE_AGG,
                "ngtdm": _ZONE_AGG, "ngldm": _ZONE_AGG}

#: PyRadiomics feature names for tags whose definitions agree with IBSI (same formula, same
#: input).  Left out on purpose: PyRadiomics' kurtosis (not excess), Energy/TotalEnergy (voxel-
#: volume scaled), percentiles/entropy on its own binning, and every texture feature whose
#: PyRadiomics matrix is built differently by default (e.g. GLCM averaged over 3D directions only).
PYRADIOMICS_ALIASES = {
    "morph_volume": "original_shape_MeshVolume",
    "morph_vol_approx": "original_shape_VoxelVolume",
    "morph_area_mesh": "original_shape_SurfaceArea",
    "morph_av": "original_shape_SurfaceVolumeRatio",
    "morph_sphericity": "original_shape_Sphericity",
    "morph_diam": "original_shape_Maximum3DDiameter",
    "morph_pca_maj_axis": "original_shape_MajorAxisLength",
    "morph_pca_min_axis": "original_shape_MinorAxisLength",
    "morph_pca_least_axis": "original_shape_LeastAxisLength",
    "morph_pca_elongation": "original_shape_Elongation",
    "morph_pca_flatness": "original_shape_Flatness",
    "stat_mean": "original_firstorder_Mean",
    "stat_var": "original_firstorder_Variance",
    "stat_skew": "original_firstorder_Skewness",
    "stat_median": "original_firstorder_Median",
    "stat_min": "original_firstorder_Minimum",
    "stat_p10": "original_firstorder_10Percentile",
    "stat_p90": "original_firstorder_90Percentile",
    "stat_max": "original_firstorder_Maximum",
    "stat_iqr": "original_firstorder_InterquartileRange",
    "stat_range": "original_firstorder_Range",
    "stat_mad": "original_firstorder_MeanAbsoluteDeviation",
    "stat_rmad": "original_firstorder_RobustMeanAbsoluteDeviation",
    "stat_rms": "original_firstorder_RootMeanSquared",
}

_DIAGNOSTIC_TAGS = [
    f"{p}_{q}_{stage}_roi"
    for stage in ("init", "interp", "reseg")
    for p, qs in (("int_mask", ("dim_x", "dim_y", "dim_z", "bb_dim_x", "bb_dim_y", "bb_dim_z", "vox_count",
                                "mean_int", "min_int", "max_int")),
                  ("morph_mask", ("dim_x", "dim_y", "dim_z", "bb_dim_x", "bb_dim_y", "bb_dim_z", "vox_count")))
    for q in qs
]


@dataclass(frozen=True)
class FeatureInfo:
    """One output column: ``tag`` as in the IBSI/MIRP reference tables."""

    tag: str
    feature_name: str
    ibsi_code: str
    family: str
    aggregation: str
    parameter: str


def texture_module(family: str) -> ModuleType | None:
    """The texture module of ``family`` (e.g. "glcm"), or None (logged) when it is not installed."""
    if family not in TEXTURE_FAMILIES:
        raise KeyError(f"{family!r} is not a texture family; expected one of {list(TEXTURE_FAMILIES)}")
    name = f"theranomics.radiomics.texture.{family}"
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        log.info("texture family %s skipped: module %s is not importable (%s)", family, name, exc)
        return None


def _texture_parameter(family: str, settings: RadiomicsSettings) -> str:
    t = settings.texture
    if family == "glcm":
        return f"d={t.distance}, {t.distance_norm}, {'symmetric' if t.glcm_symmetric else 'asymmetric'}"
    if family in ("ngtdm",):
        return f"d={t.distance}, {t.distance_norm}"
    if family == "ngldm":
        return f"d={t.distance}, {t.distance_norm}, alpha={t.ngldm_alpha}"
    if family == "glrlm":
        return ""
    return "linkage 1" if family == "glszm" else ""


def _filter_parameter(settings: RadiomicsSettings) -> str:
    """"filter <name> (k=v, ...)" for features of an IBSI-2 response map, "" without a filter."""
    f = getattr(settings, "filter", None)
    if f is None:
        return ""
    d = f.to_dict()
    name = d.pop("filter")
    return f"filter {name} (" + ", ".join(f"{k}={v}" for k, v in d.items()) + ")"


def _discretisation_parameter(settings: RadiomicsSettings) -> str:
    d = settings.discretisation
    if d.method == "fbn":
        return f"FBN {d.n_bins} bins"
    if d.method == "fbs":
        return f"FBS {d.bin_width:g}"
    return "none"


def catalogue(settings: RadiomicsSettings | None = None, include_diagnostics: bool = False) -> pd.DataFrame:
    """Table of the features ``settings`` produce (all families and dims when None)."""
    from .settings import ALL_FAMILIES, TextureSettings
    if settings is None:
        settings = RadiomicsSettings(texture=TextureSettings(dims=("2d", "2.5d", "3d")), families=ALL_FAMILIES,
                                     morphology_spatial=True)
    rows: list[FeatureInfo] = []
    fams = settings.families
    flt = _filter_parameter(settings)
    if "morphology" in fams:
        for tag, (name, code) in _MORPHOLOGY.items():
            if tag in _SLOW and not settings.morphology_spatial:
                continue
            rows.append(FeatureInfo(tag, name, code, "morphology", "3D", ""))
    if "local_intensity" in fams:
        rows += [FeatureInfo(t, n, c, "local_intensity", "3D", "1 cm3 sphere") for t, (n, c) in _LOCAL.items()]
    if "statistics" in fams:
        rows += [FeatureInfo(t, n, c, "statistics", "3D", "") for t, (n, c) in _STATISTICS.items()]
    if "intensity_histogram" in fams:
        par = _discretisation_parameter(settings)
        rows += [FeatureInfo(t, n, c, "intensity_histogram", "3D", par) for t, (n, c) in _HISTOGRAM.items()]
    if "ivh" in fams:
        rows += [FeatureInfo(t, n, c, "ivh", "3D", p) for t, (n, c, p) in _IVH.items()]
    for family in TEXTURE_FAMILIES:
        if family not in fams:
            continue
        module = texture_module(family)
        if module is None:
            continue
        par = _texture_parameter(family, settings)
        disc = _discretisation_parameter(settings)
        par = f"{par}; {disc}" if par else disc
        for dims in settings.texture.dims:
            for suffix, agg in AGGREGATIONS[family][dims]:
                rows += [FeatureInfo(base + suffix, n, c, family, agg, par) for base, (n, c) in module.FEATURES.items()]
    if flt:
        rows = [r if r.family == "morphology" else
                FeatureInfo(r.tag, r.feature_name, r.ibsi_code, r.family, r.aggregation,
                            f"{flt}; {r.parameter}" if r.parameter else flt) for r in rows]
    if include_diagnostics:
        rows += [FeatureInfo(t, t, "", "diagnostics", "", "") for t in _DIAGNOSTIC_TAGS]
    return pd.DataFrame([r.__dict__ for r in rows],
                        columns=["tag", "feature_name", "ibsi_code", "family", "aggregation", "parameter"])


def feature_info(tag: str, settings: RadiomicsSettings | None = None) -> FeatureInfo:
    """Catalogue entry of one tag; KeyError naming the tag when unknown."""
    table = catalogue(settings, include_diagnostics=True)
    hit = table[table.tag == tag]
    if hit.empty:
        raise KeyError(f"unknown feature tag {tag!r}")
    return FeatureInfo(**hit.iloc[0].to_dict())
