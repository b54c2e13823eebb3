"""``theranomics dosimetry`` on DICOM: a simulated patient written with DICOM series, every NIfTI
deleted (organs as a DICOM SEG, lesions as an extra NIfTI outside the study), run as a study folder
and as a folder of plain DICOM series; TIAs against the simulator's truth; bad input."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pydicom
import pytest

from theranomics.cli.main import main
from theranomics.dosimetry.inputs import DosimetryInputError, read_dosimetry_inputs
from theranomics.dosimetry.outputs import read_rtdose
from theranomics.io.nifti import read_nifti

HOURS = (4.0, 24.0, 96.0)          # three time points: mono_exp without AICc


def _write_study(folder: Path) -> None:
    from theranomics.io import layout
    from theranomics.io.dicom import write_seg
    from theranomics.io.nifti import write_nifti
    from theranomics.simulate import PatientParameters, simulate_patient, write_patient

    sim = simulate_patient(PatientParameters(n_lesions=2, median_lesion_volume_ml=12.0, spect_hours=HOURS),
                           seed=7, small=True)
    pdir = write_patient(sim, folder, dicom=True)
    ref = sim.study.cycle(1).timepoints[0]
    write_seg(ref.masks["organs"], layout.dicom_dir(pdir, 1, ref.label, "ct"),
              layout.timepoint_dir(pdir, 1, ref.label) / "masks" / "organs_seg.dcm", series_description="organs")
    write_nifti(sim.lesion_truth, folder / "lesions.nii.gz")
    for p in pdir.rglob("*.nii*"):
        p.unlink()


@pytest.fixture(scope="module")
def study_root(once) -> Path:
    return once("dicom_study", _write_study, files=True)


@pytest.fixture(scope="module")
def pdir(study_root) -> Path:
    return study_root / "SIM0007"


@pytest.fixture(scope="module")
def plain(once, pdir) -> Path:
    """The same series as a plain DICOM tree: no study.json, no calibration.json, no truth."""
    return once("dicom_plain", lambda f: shutil.copytree(pdir, f / "plain", ignore=shutil.ignore_patterns(
        "*.json", "truth")), files=True) / "plain"


@pytest.fixture(scope="module")
def layout_run(once, pdir, study_root) -> Path:
    def run(out):
        assert main(["dosimetry", str(pdir), "--out", str(out), "--masks", str(study_root / "lesions.nii.gz")]) == 0
    return once("dicom_layout_run", run, files=True)


def _truth(pdir: Path) -> dict[str, float]:
    t = pd.read_csv(pdir / "truth" / "tia.csv").set_index("voi")["tia_mbq_h"].to_dict()
    t["kidneys"] = t["kidney_cortex"] + t["kidney_medulla"]
    return t


def _check_accuracy(table: pd.DataFrame, truth: dict[str, float]) -> None:
    tab = table.set_index("voi")
    for voi in ("liver", "spleen", "kidneys"):
        assert tab.loc[voi, "tia_mbq_h"] == pytest.approx(truth[voi], rel=0.10), voi
    lesions = [v for v in tab.index if v.startswith("lesion_")]
    assert lesions and all(tab.loc[v, "volume_ml"] >= 10 for v in lesions)
    for voi in lesions:
        assert tab.loc[voi, "tia_mbq_h"] == pytest.approx(truth[voi], rel=0.20), voi


def test_nifti_free_study_folder(pdir):
    assert not list(pdir.rglob("*.nii*"))
    assert list(pdir.rglob("spect/dicom/*.dcm")) and list(pdir.rglob("masks/organs_seg.dcm"))


@pytest.mark.slow
def test_study_folder_with_dicom_only(layout_run, pdir):
    """Accuracy against the truth, the 3-point fitting rule reported, FWHM from calibration.json, outputs."""
    table = pd.read_csv(layout_run / "dosimetry.csv")
    _check_accuracy(table, _truth(pdir))
    liver = table.set_index("voi").loc["liver"]
    assert liver["model"] == "mono_exp" and "mono_exp_without_aicc(N=3)" in liver["flags"]
    assert "physical_decay: not a candidate" in liver["excluded_models"]
    assert "uptake_physical_decay: AICc needs N > K + 1: N=3" in liver["excluded_models"]
    summary = json.loads((layout_run / "summary.json").read_text())
    assert summary["inputs"]["kind"] == "layout"
    assert all(v["spect"].endswith("spect/dicom") and v["ct"].endswith("ct/dicom")
               for v in summary["inputs"]["series"].values())
    rec = summary["recovery"]["1"]
    assert rec["spect_fwhm_mm"] == 12.0 and "calibration.json" in rec["spect_fwhm_source"]
    assert "physical_decay" in summary["model_selection"]["excluded_models"]["1"]["liver"]
    assert "N > K + 1" in summary["model_selection"]["rule"]
    dose = read_nifti(layout_run / "dose_cycle1.nii.gz")
    rt = read_rtdose(layout_run / "rtdose_cycle1.dcm")
    scaling = float(pydicom.dcmread(layout_run / "rtdose_cycle1.dcm", stop_before_pixels=True).DoseGridScaling)
    assert np.max(np.abs(rt.array - dose.array)) <= scaling / 2 * (1 + 1e-9)
    ct_for = pydicom.dcmread(next((pdir / "cycle1" / "4h" / "ct" / "dicom").glob("*.dcm")),
                             stop_before_pixels=True).FrameOfReferenceUID
    assert pydicom.dcmread(layout_run / "rtdose_cycle1.dcm", stop_before_pixels=True).FrameOfReferenceUID == ct_for
    html = (layout_run / "report.html").read_text()
    assert "Recovery correction: SPECT FWHM 12 mm" in html and "physical_decay" in html and "not a candidate" in html


@pytest.mark.slow
def test_plain_dicom_folder(plain, pdir, study_root, tmp_path, capsys):
    """Series discovered from headers, grouped into time points by acquisition time, administration from
    the NM header, calibration and FWHM from the command line; same accuracy."""
    out = tmp_path / "out"
    rc = main(["dosimetry", str(plain), "--out", str(out), "--masks", str(study_root / "lesions.nii.gz"),
               "--calibration-cps-per-mbq", "10", "--spect-fwhm-mm", "12", "--registration", "none",
               "--no-voxel-dose", "--no-report"])
    assert rc == 0
    assert "SPECT FWHM 12 mm (settings (--spect-fwhm-mm))" in capsys.readouterr().out
    table = pd.read_csv(out / "dosimetry.csv")
    _check_accuracy(table, _truth(pdir))
    summary = json.loads((out / "summary.json").read_text())
    assert summary["inputs"]["kind"] == "dicom_folder"
    assert sorted(summary["inputs"]["series"]) == ["cycle1/24h", "cycle1/4h", "cycle1/96h"]
    assert summary["inputs"]["calibration"]["cycle1/4h"]["source"] == "calibration_cps_per_mbq from command line; " \
        "acquisition_duration_s from DICOM ActualFrameDuration (0018,1242)"
    assert summary["inputs"]["calibration"]["cycle1/4h"]["acquisition_duration_s"] == 1800.0


def test_plain_dicom_folder_reads_study(plain):
    """The study built from headers: one cycle, three time points at the simulated hours, CT paired by
    frame of reference, the SEG found as the 4 h masks, administration from the NM header."""
    inputs = read_dosimetry_inputs(plain, calibration_cps_per_mbq=10.0)
    study = inputs.study
    assert [c.index for c in study.cycles] == [1]
    cyc = study.cycle(1)
    assert [tp.label for tp in cyc.timepoints] == ["4h", "24h", "96h"]
    np.testing.assert_allclose(cyc.hours, HOURS, atol=1e-6)
    assert cyc.administration.nuclide == "Lu-177" and cyc.administration.activity_mbq == pytest.approx(7400.0)
    assert all(set(tp.images) == {"spect", "ct"} for tp in cyc.timepoints)
    assert list(cyc.timepoints[0].masks) == ["organs"] and "liver" in cyc.timepoints[0].masks["organs"].names.values()
    assert cyc.timepoints[0].images["spect"].meta["calibration"]["calibration_cps_per_mbq"] == 10.0


def _error(argv, capsys) -> str:
    assert main(argv) == 2
    return capsys.readouterr().err


def test_missing_calibration_and_fwhm_are_errors(plain, study_root, tmp_path, capsys):
    masks = ["--masks", str(study_root / "lesions.nii.gz"), "--registration", "none", "--no-voxel-dose",
             "--no-report"]
    err = _error(["dosimetry", str(plain), "--out", str(tmp_path), "--spect-fwhm-mm", "12", *masks], capsys)
    assert "no calibration" in err and "--calibration-cps-per-mbq" in err
    err = _error(["dosimetry", str(plain), "--out", str(tmp_path), "--calibration-cps-per-mbq", "10", *masks], capsys)
    assert "SPECT system resolution" in err and "--spect-fwhm-mm" in err and "--recovery none" in err
    err = _error(["dosimetry", str(plain), "--out", str(tmp_path), "--calibration-cps-per-mbq", "-3", *masks], capsys)
    assert "calibration_cps_per_mbq must be a positive number" in err


def test_bad_folders_and_masks(plain, tmp_path, capsys):
    with pytest.raises(DosimetryInputError, match="not a folder"):
        read_dosimetry_inputs(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no DICOM files"):
        read_dosimetry_inputs(tmp_path / "empty")
    ct_only = tmp_path / "ct_only"
    shutil.copytree(plain / "cycle1" / "4h" / "ct", ct_only)
    with pytest.raises(DosimetryInputError, match="no reconstructed SPECT"):
        read_dosimetry_inputs(ct_only)
    # a second patient's SPECT in the folder
    two = tmp_path / "two"
    shutil.copytree(plain / "cycle1" / "4h", two / "a")
    nm = next((plain / "cycle1" / "24h" / "spect" / "dicom").glob("*.dcm"))
    ds = pydicom.dcmread(nm)
    ds.PatientID, ds.SeriesInstanceUID = "SOMEONE_ELSE", pydicom.uid.generate_uid()
    (two / "b").mkdir()
    ds.save_as(two / "b" / "nm.dcm")
    with pytest.raises(DosimetryInputError, match="more than one patient"):
        read_dosimetry_inputs(two)
    # a CT slice is not a mask
    ct_file = next((plain / "cycle1" / "4h" / "ct" / "dicom").glob("*.dcm"))
    with pytest.raises(DosimetryInputError, match="RTSTRUCT or a DICOM SEG; found DICOM Modality 'CT'"):
        read_dosimetry_inputs(plain, masks=[ct_file], calibration_cps_per_mbq=10.0)


def test_nifti_study_folder_reads_like_the_layout(tmp_path):
    """The simulator's NIfTI layout: images and masks from NIfTI, calibration (with the FWHM) from
    calibration.json beside the SPECT, cycle 0 (PET) left unread."""
    from theranomics.simulate import PatientParameters, simulate_patient, write_patient
    sim = simulate_patient(PatientParameters(n_lesions=1, spect_hours=(4.0, 48.0)), seed=11, small=True)
    pdir = write_patient(sim, tmp_path, dicom=False)
    inputs = read_dosimetry_inputs(pdir)
    assert inputs.kind == "layout" and inputs.vois is None and not inputs.notes
    assert inputs.study.cycle(0).timepoints[0].images == {}
    tps = inputs.study.cycle(1).timepoints
    assert [tp.label for tp in tps] == ["4h", "48h"]
    for tp, orig in zip(tps, sim.study.cycle(1).timepoints):
        np.testing.assert_array_equal(tp.images["spect"].array, orig.images["spect"].array)
        np.testing.assert_array_equal(tp.masks["organs"].array, orig.masks["organs"].array)
        cal = tp.images["spect"].meta["calibration"]
        assert cal["calibration_cps_per_mbq"] == 10.0 and cal["spect_fwhm_mm"] == 12.0
        assert cal["source"].endswith("spect/calibration.json")
    assert inputs.series[(1, "4h")]["spect"].endswith("spect.nii.gz")
