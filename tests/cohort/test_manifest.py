"""Manifest files: CSV and YAML round trips, time point rows, and every malformed-file error."""
from __future__ import annotations

from pathlib import Path

import pytest

from theranomics.cohort import ManifestError, PatientEntry, TimepointEntry, read_manifest, write_manifest


def _entries(root: Path) -> list[PatientEntry]:
    return [
        PatientEntry("A1", root / "studies" / "A1", "C0", "scanner-x", (), {"age_y": 70.5, "prior_treatments": 2},
                     {"response": 1}),
        PatientEntry("B2", None, "C1", None,
                     (TimepointEntry(0, "1h", pet=root / "b2" / "pet", ct=root / "b2" / "ct.nii.gz"),
                      TimepointEntry(1, "24h", spect=root / "b2" / "spect")),
                     {"age_y": 61.0, "prior_treatments": 0}, {"response": 0}),
    ]


@pytest.mark.parametrize("suffix", [".csv", ".yaml"])
def test_round_trip(tmp_path, suffix):
    entries = _entries(tmp_path)
    path = write_manifest(entries, tmp_path / f"manifest{suffix}")
    m = read_manifest(path)
    assert [e.patient_id for e in m] == ["A1", "B2"]
    for got, want in zip(m, entries):
        assert got.study_dir == want.study_dir
        assert (got.centre, got.scanner) == (want.centre, want.scanner)
        assert got.timepoints == want.timepoints
        assert dict(got.clinical) == dict(want.clinical)
        assert dict(got.outcomes) == dict(want.outcomes)
    assert m.source == path


def test_csv_paths_relative_to_manifest(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "m.csv").write_text("patient_id,study_dir,centre,outcome:os_event\nX,../data/X,C0,1\n")
    e = read_manifest(tmp_path / "sub" / "m.csv").patient("X")
    assert e.study_dir == tmp_path / "sub" / ".." / "data" / "X"
    assert dict(e.outcomes) == {"os_event": 1} and dict(e.clinical) == {}


@pytest.mark.parametrize("text, match", [
    ("study_dir,centre\na,C0\n", "missing column 'patient_id'"),
    ("patient_id,study_dir\nX,a\nX,b\n", "different 'study_dir' values"),
    ("patient_id,study_dir,cycle\nX,a,0\n", "both columns 'cycle' and 'timepoint'"),
    ("patient_id,cycle,timepoint,pet\nX,zero,1h,p\n", "field 'cycle' must be an integer"),
    ("patient_id,centre\nX,C0\n", "needs 'study_dir' or time point paths"),
    ("patient_id,study_dir\n../X,a\n", "cannot be a folder name"),
])
def test_csv_errors(tmp_path, text, match):
    path = tmp_path / "m.csv"
    path.write_text(text)
    with pytest.raises(ManifestError, match=match) as exc:
        read_manifest(path)
    assert str(path) in str(exc.value)


def test_duplicate_patient(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text("patients:\n  - {patient_id: X, study_dir: a}\n  - {patient_id: X, study_dir: b}\n")
    with pytest.raises(ManifestError, match=r"more than once: \['X'\]"):
        read_manifest(path)


@pytest.mark.parametrize("text, match", [
    ("- a\n", "expected a mapping with a list 'patients'"),
    ("patients:\n  - {patient_id: X, study_dir: a, colour: red}\n", r"patients\[1\]: unknown field\(s\) \['colour'\]"),
    ("patients:\n  - {patient_id: X, study_dir: a, clinical: 3}\n", "'clinical' must be a mapping"),
    ("patients:\n  - {patient_id: X, timepoints: [{cycle: 0}]}\n", r"timepoints\[1\]: time point needs field 'timepoint'"),
    ("patients:\n  - {patient_id: X, timepoints: [{cycle: 0, timepoint: 1h, mri: a}]}\n", r"unknown time point field\(s\) \['mri'\]"),
    ("patients: [\n", "not a readable YAML manifest"),
])
def test_yaml_errors(tmp_path, text, match):
    path = tmp_path / "m.yaml"
    path.write_text(text)
    with pytest.raises(ManifestError, match=match):
        read_manifest(path)


def test_missing_and_unknown_format(tmp_path):
    with pytest.raises(ManifestError, match="manifest file not found"):
        read_manifest(tmp_path / "nope.csv")
    (tmp_path / "m.txt").write_text("x")
    with pytest.raises(ManifestError, match="unknown manifest format '.txt'"):
        read_manifest(tmp_path / "m.txt")
