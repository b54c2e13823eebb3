"""Up-front validation: each kind of problem is found and named, before any stage runs."""
from __future__ import annotations

import shutil

import pydicom
import pytest

from theranomics.cohort import Manifest, PatientEntry, TimepointEntry, validate_manifest, validate_patient


def _only(problems, severity="error"):
    found = [p for p in problems if p.severity == severity]
    assert len(found) == 1, found
    return found[0]


def _pet_dir(study_dir):
    return study_dir / "cycle0" / "1h" / "pet" / "dicom"


def _copy_pet(src, dst, edit):
    """Copy the PET DICOM folder, applying ``edit(ds)`` to every file."""
    dst.mkdir(parents=True)
    for f in sorted(src.iterdir()):
        ds = pydicom.dcmread(f)
        edit(ds)
        ds.save_as(dst / f.name)
    return dst


def test_valid_cohort_has_no_problems(virtual_cohort):
    for thorough in (False, True):
        report = validate_manifest(virtual_cohort, thorough=thorough)
        assert report.ok and report.problems == () and report.n_patients == 3
        assert report.summary().startswith("3 patients: 3 valid, 0 with errors, 0 warnings")


def test_missing_folder_and_wrong_patient(virtual_cohort, tmp_path):
    good = virtual_cohort.patients[0]
    p = _only(validate_patient(PatientEntry("X", tmp_path / "nowhere", "C0")))
    assert (p.field, p.message, p.path) == ("study_dir", "missing folder", str(tmp_path / "nowhere"))
    p = _only(validate_patient(PatientEntry("ZZZ", good.study_dir, "C0")))
    assert p.field == "study.json" and f"patient_id is '{good.patient_id}', manifest says 'ZZZ'" in p.message
    (tmp_path / "empty").mkdir()
    p = _only(validate_patient(PatientEntry("X", tmp_path / "empty", "C0")))
    assert "no study.json" in p.message


@pytest.mark.parametrize("thorough", [False, True])
def test_corrupt_series_is_named(virtual_cohort, tmp_path, thorough):
    good = virtual_cohort.patients[0]
    study = shutil.copytree(good.study_dir, tmp_path / good.patient_id)
    files = sorted(_pet_dir(study).iterdir())
    files[len(files) // 2].write_bytes(b"\x00" * 64 + b"garbage")
    p = _only(validate_patient(PatientEntry(good.patient_id, study, "C0"), thorough=thorough))
    assert p.field == "cycle0/1h/pet" and p.message.startswith("unreadable series")
    assert files[len(files) // 2].name in p.message


def test_missing_weight_dose_and_modality(virtual_cohort, tmp_path):
    good = virtual_cohort.patients[0]
    src = _pet_dir(good.study_dir)

    def no_weight(ds):
        del ds.PatientWeight

    def no_dose(ds):
        del ds.RadiopharmaceuticalInformationSequence[0].RadionuclideTotalDose

    cases = [(_copy_pet(src, tmp_path / "w", no_weight), "missing PatientWeight (0010,1030)"),
             (_copy_pet(src, tmp_path / "d", no_dose), "RadionuclideTotalDose"),
             (good.study_dir / "cycle0" / "1h" / "ct" / "dicom", "no PT series (found modality ['CT'])"),
             (good.study_dir / "cycle0" / "1h" / "pet" / "pet.nii.gz", "no administered activity")]
    for pet, message in cases:
        entry = PatientEntry("X", None, "C0", timepoints=(TimepointEntry(0, "1h", pet=pet),))
        errors = [p for p in validate_patient(entry) if p.severity == "error"]
        assert errors and all(p.field == "cycle0/1h/pet" for p in errors)
        assert any(message in p.message for p in errors), errors


def test_missing_nifti_and_centre_warning(virtual_cohort, tmp_path):
    entry = PatientEntry("X", None, None, timepoints=(
        TimepointEntry(0, "1h", pet=_pet_dir(virtual_cohort.patients[0].study_dir), ct=tmp_path / "ct.nii.gz"),))
    problems = validate_patient(entry)
    p = _only(problems)
    assert (p.field, p.message) == ("cycle0/1h/ct", "missing file")
    assert _only(problems, "warning").field == "centre"


def test_report_lists_every_patient(virtual_cohort, tmp_path):
    bad = PatientEntry("BAD", tmp_path / "nowhere", "C9")
    report = validate_manifest(Manifest(virtual_cohort.patients + (bad,)))
    assert report.invalid_patients == {"BAD"} and not report.ok
    frame = report.to_frame()
    assert list(frame.patient_id) == ["BAD"] and "ERROR   BAD: study_dir: missing folder" in report.summary()


def test_truncated_nifti_is_found_up_front(virtual_cohort, tmp_path):
    """A truncated organ mask (SimpleITK would read it as zeros) is a validation error naming it."""
    good = virtual_cohort.patients[0]
    study = shutil.copytree(good.study_dir, tmp_path / good.patient_id)
    mask = study / "cycle0" / "1h" / "masks" / "organs.nii.gz"
    mask.write_bytes(mask.read_bytes()[:-200])
    p = _only(validate_patient(PatientEntry(good.patient_id, study, "C0")))
    assert (p.field, p.path) == ("cycle0/1h/organs", str(mask))
    assert p.message.startswith("truncated") and "the header describes" in p.message
