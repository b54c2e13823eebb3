"""Texture families against the IBSI 1 reference values, one test per reference row.

Reference: shared/data/ibsi/ibsi_1_reference_values/ibsi_1_reference_values.csv (IBSI 1 consensus
values, Zwanenburg et al., arXiv:1612.07003, chapter 5).  A value x passes when
|round(x, 3 significant digits) - value| <= tolerance.

* digital phantom: no processing; the phantom's values inside the mask are the grey levels and
  the manual sets N_g = 6 (levels 2 and 5 absent).
* CT phantom config A: 2D, no interpolation, re-segmentation [-500, 400] HU, FBS 25 HU from -500
  after rounding to integers; config B adds in-plane bilinear interpolation to 2 mm and FBN 32.
  Both use ``theranomics.radiomics.processing``; without its ``discretise`` config A falls back to
  :func:`_fbs_levels` and config B is skipped.
"""
from __future__ import annotations

import csv
import functools
import os
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import SimpleITK as sitk

from theranomics.radiomics.texture import FAMILIES, FEATURES, compute_all, feature_tags

TEXTURE_FAMILIES = {
    "Grey level co-occurrence based features": "glcm",
    "Grey level run length based features": "glrlm",
    "Grey level size zone based features": "glszm",
    "Grey level distance zone based features": "gldzm",
    "Neighbourhood grey tone difference based features": "ngtdm",
    "Neighbouring grey level dependence based features": "ngldm",
}
CSV_PATH = Path("ibsi", "ibsi_1_reference_values", "ibsi_1_reference_values.csv")
CT_DIR = Path("ibsi", "ibsi_1_ct_radiomics_phantom", "nifti")
PHANTOM_DIR = Path("ibsi", "ibsi_1_digital_phantom", "nifti")
ALL_DIMS = SimpleNamespace(distance=1, dims=("2d", "2.5d", "3d"), glcm_symmetric=True, ngldm_alpha=0,
                           distance_norm="chebyshev")
CT_DIMS = SimpleNamespace(distance=1, dims=("2d", "2.5d"), glcm_symmetric=True, ngldm_alpha=0,
                          distance_norm="chebyshev")


def _collection_root() -> Path:
    """Reference data folder for building the parameter lists (same rule as the refdata fixture);
    ``test_every_reference_row_is_collected`` checks that nothing was lost here."""
    env = os.environ.get("THERANOMICS_REFDATA")
    return Path(env) if env else Path(__file__).resolve().parents[2].parent / "shared" / "data"


def _read_rows(root: Path) -> list[dict]:
    path = root / CSV_PATH
    if not path.is_file():
        return []
    with open(path, newline="") as handle:
        return [r for r in csv.DictReader(handle) if r["family"] in TEXTURE_FAMILIES]


ROWS = _read_rows(_collection_root())


def _params(data_set: str) -> list:
    return [pytest.param(r, id=r["tag"]) for r in ROWS if r["data_set"] == data_set]


def _check(value: float, row: dict) -> None:
    ref, tol = float(row["value"]), float(row["tolerance"])
    rounded = float(f"{value:.3g}")
    assert abs(rounded - ref) <= tol + 1e-12 * max(1.0, abs(ref)), (
        f"{row['tag']} ({row['feature']}, {row['ibsi_code']}): {value!r} -> {rounded} vs reference {ref} ± {tol}")


def test_every_reference_row_is_collected(refdata):
    rows = _read_rows(refdata)
    per_set = {s: sum(r["data_set"] == s for r in rows) for s in ("digital_phantom", "config_A", "config_B")}
    assert per_set == {"digital_phantom": 408, "config_A": 272, "config_B": 272}
    assert [r["tag"] for r in rows] == [r["tag"] for r in ROWS]


def test_feature_names_and_codes_match_reference(refdata):
    ref = {}
    for r in _read_rows(refdata):
        base = r["tag"]
        for suffix in ("_2D_avg", "_2D_comb", "_2_5D_avg", "_2_5D_comb", "_3D_avg", "_3D_comb", "_2D", "_2_5D", "_3D"):
            if base.endswith(suffix):
                base = base[: -len(suffix)]
                break
        ref[base] = (r["feature"], r["ibsi_code"], TEXTURE_FAMILIES[r["family"]])
    assert {k: v[:2] for k, v in ref.items()} == FEATURES
    for name, module in FAMILIES.items():
        assert set(module.FEATURES) == {k for k, v in ref.items() if v[2] == name}


# -- digital phantom --------------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def _phantom(root: str) -> tuple[np.ndarray, np.ndarray]:
    image = sitk.GetArrayFromImage(sitk.ReadImage(str(Path(root, PHANTOM_DIR, "image", "phantom.nii.gz"))))
    mask = sitk.GetArrayFromImage(sitk.ReadImage(str(Path(root, PHANTOM_DIR, "mask", "mask.nii.gz")))) > 0
    return image, mask


@functools.lru_cache(maxsize=None)
def _phantom_features(root: str) -> dict[str, float]:
    image, mask = _phantom(root)
    return compute_all(image, mask, 6, ALL_DIMS, spacing_mm=(2.0, 2.0, 2.0))


def test_digital_phantom_grey_levels(refdata):
    image, mask = _phantom(str(refdata))
    # IBSI 1 chapter 5: the phantom is already discretised, N_g = 6 (levels 2 and 5 are absent)
    assert sorted(np.unique(image[mask]).tolist()) == [1, 3, 4, 6]
    assert mask.sum() == 74
    assert set(_phantom_features(str(refdata))) == set(feature_tags(ALL_DIMS))


@pytest.mark.parametrize("row", _params("digital_phantom"))
def test_digital_phantom(refdata, row):
    _check(_phantom_features(str(refdata))[row["tag"]], row)


# -- CT phantom -------------------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def _ct(root: str) -> tuple[np.ndarray, np.ndarray, tuple[float, float, float]]:
    image = sitk.ReadImage(str(Path(root, CT_DIR, "image", "phantom.nii.gz")))
    mask = sitk.GetArrayFromImage(sitk.ReadImage(str(Path(root, CT_DIR, "mask", "mask.nii.gz")))) > 0
    return sitk.GetArrayFromImage(image), mask, image.GetSpacing()


def _processing():
    """The pipeline's process_roi/discretise/ibsi_config, or None naming what is missing."""
    try:
        from theranomics.radiomics import processing, settings
    except ImportError as exc:
        return None, f"theranomics.radiomics.processing cannot be imported ({exc})"
    missing = [n for n in ("process_roi", "discretise") if not hasattr(processing, n)]
    if missing or not hasattr(settings, "ibsi_config"):
        return None, f"theranomics.radiomics.processing lacks {missing or ['settings.ibsi_config']}"
    return (processing, settings), ""


def _fbs_levels(image: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Config A without the pipeline (IBSI 2.6, 2.7.2): round, keep [-500, 400] HU, then
    level = floor((HU + 500) / 25) + 1; N_g = highest level present."""
    hu = np.round(image.astype(float))
    int_mask = mask & (hu >= -500) & (hu <= 400)
    levels = np.zeros(hu.shape, np.int32)
    levels[int_mask] = np.floor((hu[int_mask] + 500.0) / 25.0).astype(np.int32) + 1
    return levels, int_mask, int(levels.max())


@functools.lru_cache(maxsize=None)
def _ct_features(root: str, config: str) -> dict[str, float]:
    image, mask, spacing = _ct(root)
    mods, reason = _processing()
    if mods is None:
        if config != "A":
            pytest.skip(f"config {config} needs interpolation: {reason}")
        levels, int_mask, n_levels = _fbs_levels(image, mask)
        return compute_all(levels, int_mask, n_levels, CT_DIMS, morph_mask=mask)
    processing, settings = mods
    cfg = settings.ibsi_config(config)
    roi = processing.process_roi(image, mask, spacing, cfg)
    levels, n_levels = processing.discretise(roi.image, roi.int_mask, cfg.discretisation, cfg.resegmentation)
    return compute_all(levels, roi.int_mask, n_levels, cfg.texture, roi.spacing_mm, morph_mask=roi.morph_mask)


def test_config_a_discretisation_matches_helper(refdata):
    """The pipeline's config-A levels equal the documented helper (N_g = 36 bins of 25 HU)."""
    mods, reason = _processing()
    if mods is None:
        pytest.skip(reason)
    processing, settings = mods
    image, mask, spacing = _ct(str(refdata))
    cfg = settings.ibsi_config("A")
    roi = processing.process_roi(image, mask, spacing, cfg)
    levels, n_levels = processing.discretise(roi.image, roi.int_mask, cfg.discretisation, cfg.resegmentation)
    ref_levels, ref_mask, ref_n = _fbs_levels(image, mask)
    assert n_levels == ref_n == 36
    assert np.array_equal(np.sort(levels[roi.int_mask]), np.sort(ref_levels[ref_mask]))


@pytest.mark.parametrize("row", _params("config_A"))
def test_ct_config_a(refdata, row):
    _check(_ct_features(str(refdata), "A")[row["tag"]], row)


@pytest.mark.parametrize("row", _params("config_B"))
def test_ct_config_b(refdata, row):
    _check(_ct_features(str(refdata), "B")[row["tag"]], row)
