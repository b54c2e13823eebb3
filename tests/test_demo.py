"""The README's first command: `theranomics demo` writes its report (small patient, for speed)."""
import json

import pytest

from theranomics.cli.main import main


@pytest.mark.slow
def test_demo_writes_report(tmp_path):
    assert main(["demo", "--out", str(tmp_path), "--small"]) == 0
    html = (tmp_path / "report.html").read_text()
    for heading in ("Diagnostic PET", "PET quantification", "Dosimetry", "SPECT per time point", "digital twin",
                    "Provenance"):
        assert heading in html, heading
    assert html.count("data:image/png;base64") >= 5  # MIPs are drawn, not only printed
    prov = json.loads((tmp_path / "demo_provenance.json").read_text())
    assert prov["version"] and prov["seed"] == 7
    assert (tmp_path / "quantify" / "lesions.csv").is_file()
    assert (tmp_path / "dosimetry" / "dosimetry.csv").is_file()
    assert json.loads((tmp_path / "plan" / "plan.json").read_text())["recommended_activity_mbq"]
