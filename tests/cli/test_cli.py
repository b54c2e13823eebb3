"""The command line: simulate, info, demo, and errors printed as one line with exit status 2."""
import json
import subprocess
import sys

import pytest

from theranomics.cli.main import main


def test_simulate_then_info(tmp_path, capsys):
    assert main(["simulate", "--out", str(tmp_path), "--seed", "5", "--small", "--n-lesions", "2"]) == 0
    patient = tmp_path / "SIM0005"
    assert (patient / "study.json").is_file() and (patient / "truth" / "tia.csv").is_file()
    capsys.readouterr()
    assert main(["info", str(patient)]) == 0
    out = capsys.readouterr().out
    assert "study SIM0005" in out and "cycle 1" in out
    assert "PT" in out and "CT" in out and "NM" in out  # the DICOM series found
    # deterministic: the same seed writes the same study description
    other = tmp_path / "again"
    assert main(["simulate", "--out", str(other), "--seed", "5", "--small", "--n-lesions", "2", "--no-dicom"]) == 0
    assert json.loads((other / "SIM0005" / "study.json").read_text()) == json.loads((patient / "study.json").read_text())


def test_errors_are_one_line(tmp_path, capsys):
    assert main(["info", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert "no such file or folder" in err and "Traceback" not in err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["quantify", str(empty), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert str(empty) in err and "no DICOM files found" in err and "Traceback" not in err


def test_entry_point_installed():
    out = subprocess.run([sys.executable, "-m", "theranomics.cli.main", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("theranomics ")
