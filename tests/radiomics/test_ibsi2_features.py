"""IBSI-2 phase 2: intensity statistics of filtered CT-phantom images, one test per reference row.

Reference: ibsi_2_reference_data/reference_feature_values/reference_values.csv (filter_id 1.A …
9.B; A = 2D, B = 3D; configurations of the IBSI 2 reference manual, arXiv:2006.05470, phase 2,
built by :func:`theranomics.radiomics.ibsi2_config`).  A value passes when
|x − consensus| ≤ tolerance (the rule of the IBSI-2 data set).

Each configuration is extracted once per test session; with pytest-xdist the workers share the
result through a JSON file under a file lock, so a configuration is never computed twice.
"""
from __future__ import annotations

import csv
import json
import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from theranomics.radiomics import extract_features, ibsi2_config

REF = Path("ibsi") / "ibsi_2_reference_data" / "reference_feature_values" / "reference_values.csv"
#: configurations that take more than ~5 s (3-D Gabor, level-2 wavelets, Simoncelli)
SLOW = {"5.B", "7.B", "8.B", "9.B"}
#: rows known to miss the reference (none: see the test's docstring for the Simoncelli boundary)
KNOWN_FAILURES: set[tuple[str, str]] = set()


def _rows() -> list[dict[str, str]]:
    env = os.environ.get("THERANOMICS_REFDATA")
    root = Path(env) if env else Path(__file__).resolve().parents[2].parent / "shared" / "data"
    path = root / REF
    if not path.is_file():
        return []
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh, delimiter=";"))


ROWS = _rows()


def _param(row: dict[str, str]):
    marks = [pytest.mark.slow] if row["filter_id"] in SLOW else []
    if (row["filter_id"], row["feature_tag"]) in KNOWN_FAILURES:
        marks.append(pytest.mark.xfail(strict=True, reason="Simoncelli with mirror boundary (see docstring)"))
    return pytest.param(row, id=f"{row['filter_id']}-{row['feature_tag']}", marks=marks)


def test_reference_table_found(refdata):
    assert (refdata / REF).is_file(), f"IBSI-2 reference table missing: {refdata / REF}"
    assert len(ROWS) == 18 * 18


@pytest.fixture(scope="session")
def ibsi2_features(ct_phantom_data, tmp_path_factory, worker_id):
    """filter_id -> {tag: value}, computed once per session (shared between xdist workers)."""
    image, labels = ct_phantom_data
    shared = tmp_path_factory.getbasetemp() if worker_id == "master" else tmp_path_factory.getbasetemp().parent
    memo: dict[str, dict[str, float]] = {}

    def compute(filter_id: str) -> dict[str, float]:
        df = extract_features(image, labels, ibsi2_config(filter_id))
        return {k: float(v) for k, v in df.iloc[0].items()}

    def get(filter_id: str) -> dict[str, float]:
        if filter_id in memo:
            return memo[filter_id]
        path = shared / f"ibsi2_{filter_id}.json"
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX: compute in each worker
            memo[filter_id] = compute(filter_id)
            return memo[filter_id]
        with open(shared / f"ibsi2_{filter_id}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if path.is_file():
                memo[filter_id] = json.loads(path.read_text())
            else:
                memo[filter_id] = compute(filter_id)
                path.write_text(json.dumps(memo[filter_id]))
        return memo[filter_id]

    return get


@pytest.fixture(scope="session")
def worker_id(request) -> str:
    """xdist worker name ("master" without xdist), also when the xdist plugin is absent."""
    return getattr(request.config, "workerinput", {}).get("workerid", "master")


@pytest.mark.parametrize("row", [_param(r) for r in ROWS])
def test_ibsi2_reference_value(row, ibsi2_features):
    """Filtered-image statistics within the IBSI-2 tolerance.

    Simoncelli (8.A–9.B) is applied on the image's own DFT grid (periodic, as the Fourier-domain
    reference implementation MIRP does): with the mirror padding the configuration table lists,
    9.B median (0.283 vs 0.233 ± 0.046) and minimum (−602.9 vs −605 ± 2) and 8.A quartile
    coefficient of dispersion (−393 vs −441 ± 29) miss the tolerance
    (:func:`test_simoncelli_mirror_padding_misses_the_consensus`).
    """
    if not row["consensus_value"]:
        pytest.skip(f"{row['filter_id']} {row['feature_tag']}: the reference table has no consensus value")
    x = ibsi2_features(row["filter_id"])[row["feature_tag"]]
    value, tol = float(row["consensus_value"]), float(row["tolerance"])
    assert np.isfinite(x) and abs(x - value) <= tol, (
        f"{row['filter_id']} {row['feature_tag']}: {x:.6g} vs {value:g} ± {tol:g}")


def test_crop_margin_equals_whole_image(ct_phantom_data):
    """The filtered response inside the ROI does not depend on where the crop ends: the pipeline's
    crop (ROI box + filter reach; the whole grid for the Fourier-domain Simoncelli filter) gives the
    same statistics as filtering the whole image."""
    from theranomics.radiomics.filters import filter_array
    from theranomics.radiomics.features import intensity_statistics

    image, labels = ct_phantom_data
    for fid in ("3.A", "4.A", "6.A", "8.A"):
        settings = ibsi2_config(fid)
        cropped = extract_features(image, labels, settings).iloc[0]
        whole = filter_array(np.round(image.array.astype(float)), settings.filter, spacing_mm=image.spacing_mm)
        roi = labels.array > 0
        roi &= (np.round(image.array) >= -1000) & (np.round(image.array) <= 400)
        reference = intensity_statistics(whole[roi])
        for tag in ("stat_mean", "stat_var", "stat_min", "stat_max", "stat_median"):
            assert cropped[tag] == pytest.approx(reference[tag], rel=1e-3, abs=1e-3 * np.sqrt(reference["stat_var"])), \
                f"{fid} {tag}"


def test_filter_settings_round_trip(tmp_path):
    """A filter in a settings file comes back identical; a bad filter key names the file."""
    from theranomics.radiomics import RadiomicsSettings, SettingsError, load_settings, save_settings

    settings = ibsi2_config("5.B")
    path = save_settings(settings, tmp_path / "s.yaml")
    assert load_settings(path) == settings
    bad = settings.to_dict()
    bad["filter"]["sigma"] = 2.0
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    with pytest.raises(SettingsError, match=r"bad\.json: filter: .*sigma"):
        load_settings(tmp_path / "bad.json")
    with pytest.raises(SettingsError, match="RadiomicsSettings.filter"):
        RadiomicsSettings(filter="log")
    with pytest.raises(SettingsError, match="9.C"):
        ibsi2_config("9.C")


def test_filter_changes_only_intensity_features(digital_phantom_data):
    """Morphology is computed on the mask and is unchanged by a filter; statistics are those of the
    response map (mean filter of a constant image = the constant, away from the border)."""
    from theranomics.core import Image
    from theranomics.radiomics import modality_defaults

    _, labels = digital_phantom_data
    flat = Image(np.full(labels.shape, 7.0), labels.geometry, unit="1")
    base = replace(modality_defaults("CT"), round_input=False, resegmentation=replace(
        modality_defaults("CT").resegmentation, range_min=None, range_max=None),
        families=("morphology", "statistics"))
    plain = extract_features(flat, labels, base).iloc[0]
    filtered = extract_features(flat, labels, replace(base, filter={"filter": "mean", "support_voxels": 3,
                                                                    "boundary": "nearest"})).iloc[0]
    assert filtered["morph_volume"] == plain["morph_volume"]
    assert filtered["stat_mean"] == pytest.approx(7.0) and filtered["stat_var"] == pytest.approx(0.0, abs=1e-20)


def test_long_table_names_the_filter(ct_phantom_data):
    """Features of a response map say so in the long table's parameter column (morphology not)."""
    from dataclasses import replace as _replace

    from theranomics.radiomics import to_long
    image, labels = ct_phantom_data
    df = extract_features(image, labels, _replace(ibsi2_config("3.A"), families=("morphology", "statistics")))
    long = to_long(df).set_index("feature_tag")
    assert long.loc["stat_mean", "parameter"] == "filter log (boundary=mirror, dims=2d, sigma_mm=1.5, truncate=4.0)"
    assert long.loc["morph_volume", "parameter"] == ""


@pytest.mark.slow
def test_simoncelli_mirror_padding_misses_the_consensus(ct_phantom_data):
    """Why ``ibsi2_config`` applies Simoncelli unpadded: with mirror padding, 8.A's quartile
    coefficient of dispersion leaves the IBSI-2 tolerance (−393 vs −441 ± 29)."""
    from dataclasses import replace

    image, labels = ct_phantom_data
    settings = ibsi2_config("8.A")
    assert settings.filter.boundary == "periodic"
    row = next(r for r in ROWS if r["filter_id"] == "8.A" and r["feature_tag"] == "stat_qcod")
    value, tol = float(row["consensus_value"]), float(row["tolerance"])
    periodic = extract_features(image, labels, settings).iloc[0]["stat_qcod"]
    mirror = extract_features(image, labels, replace(settings, filter=replace(settings.filter, boundary="mirror"))
                              ).iloc[0]["stat_qcod"]
    assert abs(periodic - value) <= tol < abs(mirror - value)
