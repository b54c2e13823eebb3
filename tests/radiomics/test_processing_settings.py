"""Radiomics settings: presets against IBSI table 5.1, file round trips, and clear errors."""
from __future__ import annotations

import json

import pytest

from theranomics.radiomics import (DiscretisationSettings, InterpolationSettings, RadiomicsSettings, SettingsError,
                                   TextureSettings, digital_phantom, ibsi_config, load_settings, modality_defaults,
                                   save_settings)


def test_presets_match_ibsi_table():
    a, b, c, d, e = (ibsi_config(x) for x in "ABCDE")
    assert a.interpolation.dims == "none" and a.discretisation.method == "fbs" and a.discretisation.bin_width == 25
    assert (a.resegmentation.range_min, a.resegmentation.range_max) == (-500, 400)
    assert b.interpolation.dims == "2d" and b.interpolation.new_spacing_mm[:2] == (2, 2)
    assert b.discretisation.n_bins == 32 and b.texture.dims == ("2d", "2.5d")
    assert c.interpolation.dims == "3d" and c.resegmentation.range_min == -1000 and c.ivh.bin_width == 2.5
    assert d.resegmentation.outlier_sigma == 3 and d.resegmentation.range_min is None
    assert e.interpolation.interpolator == "cubic" and e.resegmentation.outlier_sigma == 3
    assert e.ivh.method == "fbn" and e.ivh.n_bins == 1000
    assert all(s.round_input for s in (a, b, c, d, e))
    p = digital_phantom()
    assert p.discretisation.method == "none" and p.texture.dims == ("2d", "2.5d", "3d")
    assert modality_defaults("PET").discretisation.lower_bound == 0.0
    assert modality_defaults("dose").discretisation.method == "fbs"


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
@pytest.mark.parametrize("config", ["A", "B", "C", "D", "E", "phantom"])
def test_settings_file_round_trip(tmp_path, suffix, config):
    s = digital_phantom() if config == "phantom" else ibsi_config(config)
    path = save_settings(s, tmp_path / f"settings{suffix}")
    assert load_settings(path) == s


def test_partial_file_takes_defaults(tmp_path):
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"discretisation": {"method": "fbs", "bin_width": 0.5, "n_bins": None}}))
    s = load_settings(path)
    assert s.discretisation == DiscretisationSettings("fbs", None, 0.5) and s.texture == TextureSettings()


@pytest.mark.parametrize("content,message", [
    ({"interpolaton": {}}, "unknown setting"),
    ({"texture": {"distanse": 1}}, "unknown key"),
    ({"texture": {"dims": ["4d"]}}, "TextureSettings.dims"),
    ({"texture": {"distance": 0}}, "TextureSettings.distance"),
    ({"discretisation": {"method": "fbs", "n_bins": None}}, "bin_width is required"),
    ({"discretisation": {"method": "kmeans"}}, "DiscretisationSettings.method"),
    ({"interpolation": {"dims": "3d"}}, "new_spacing_mm is required"),
    ({"interpolation": {"dims": "3d", "new_spacing_mm": [2, -1, 2]}}, "three positive numbers"),
    ({"resegmentation": {"range_min": 400, "range_max": -500}}, "must be below"),
    ({"resegmentation": {"outlier_sigma": "three"}}, "finite number"),
    ({"families": ["glcm", "shape"]}, "unknown"),
    ({"texture": "3d"}, "must be a mapping"),
])
def test_invalid_settings_file(tmp_path, content, message):
    path = tmp_path / "bad.yaml"
    import yaml
    path.write_text(yaml.safe_dump(content))
    with pytest.raises(SettingsError, match=message) as info:
        load_settings(path)
    assert str(path) in str(info.value)


def test_file_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="settings file not found"):
        load_settings(tmp_path / "missing.yaml")
    bad = tmp_path / "s.yaml"
    bad.write_text("interpolation: [unclosed")
    with pytest.raises(SettingsError, match="not a valid YAML"):
        load_settings(bad)
    with pytest.raises(SettingsError, match=r"\.yaml, \.yml or \.json"):
        save_settings(RadiomicsSettings(), tmp_path / "s.txt")
    with pytest.raises(SettingsError, match="unknown IBSI configuration"):
        ibsi_config("F")
    with pytest.raises(SettingsError, match="no defaults for modality"):
        modality_defaults("MR")
    with pytest.raises(SettingsError, match="roi_partial_volume_threshold"):
        InterpolationSettings(roi_partial_volume_threshold=1.5)
