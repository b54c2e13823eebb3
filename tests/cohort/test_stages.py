"""Built-in stages: the NIfTI SUV conversion against simulator ground truth, stage resolution."""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from theranomics.cohort import Stage, StageError, resolve_stages
from theranomics.cohort.stages import suv_bw_from_study
from theranomics.io import layout
from theranomics.io.nifti import read_labelmap, read_nifti


def test_nifti_suv_matches_simulator_truth(virtual_cohort):
    """SUVbw of the noise-free truth concentration equals the simulator's organ SUVs."""
    e = virtual_cohort.patients[0]
    study = layout.read_study(e.study_dir, load_images=False)
    truth = layout.truth_dir(e.study_dir)
    pet = read_nifti(truth / "pet_true.nii.gz")
    organs = read_labelmap(truth / "organs.nii.gz")
    vois = pd.read_csv(truth / "vois.csv").set_index("voi")
    label = study.cycles[0].timepoints[0].label
    suv = suv_bw_from_study(pet, study, 0, label)
    assert suv.unit == "SUVbw"
    checked = 0
    for value, name in organs.names.items():
        mask = organs.array == value
        if name in vois.index and vois.loc[name, "kind"] == "organ" and mask.any():
            assert suv.array[mask].mean() == pytest.approx(vois.loc[name, "suv_mean_true"], rel=1e-4), name
            checked += 1
    assert checked >= 5


def test_nifti_suv_errors(virtual_cohort):
    e = virtual_cohort.patients[0]
    study = layout.read_study(e.study_dir, load_images=False)
    pet = read_nifti(layout.truth_dir(e.study_dir) / "pet_true.nii.gz")
    with pytest.raises(StageError, match="must be in Bq/mL"):
        suv_bw_from_study(pet.with_array(pet.array, unit="SUVbw"), study, 0, "1h")
    with pytest.raises(StageError, match="no time point '2h'"):
        suv_bw_from_study(pet, study, 0, "2h")
    light = dataclasses.replace(study, patient=dataclasses.replace(study.patient, weight_kg=None))
    with pytest.raises(StageError, match="weight_kg is missing"):
        suv_bw_from_study(pet, light, 0, "1h")


def test_resolve_stages_and_extra_stage():
    assert [s.name for s in resolve_stages()] == ["quantify", "radiomics"]
    extra = Stage("dose", lambda i, o, s: {}, requires=("radiomics",), defaults={"x": 1})
    assert [s.name for s in resolve_stages(["dose"], {"dose": extra})] == ["quantify", "radiomics", "dose"]
    assert extra.resolve_settings({"x": 2}) == {"x": 2}
    loop = {"a": Stage("a", None, ("b",)), "b": Stage("b", None, ("a",))}
    with pytest.raises(ValueError, match="dependency cycle: a -> b -> a"):
        resolve_stages(["a"], loop)
    with pytest.raises(ValueError, match="requires unknown stage 'nope'"):
        resolve_stages(["c"], {"c": Stage("c", None, ("nope",))})


def test_nifti_and_dicom_inputs_give_the_same_suv(virtual_cohort, local_run, tmp_path):
    """The quantify stage on the NIfTI PET (SUV from study.json) reproduces the DICOM-header SUV
    (quant.suv, tested against the OncoRay DROs) within the int16 storage of the DICOM series."""
    from theranomics.cohort import Manifest, PatientEntry, TimepointEntry, run_cohort

    e = virtual_cohort.patients[0]
    tp = e.study_dir / "cycle0" / "1h"
    entry = PatientEntry(e.patient_id, e.study_dir, e.centre, timepoints=(TimepointEntry(
        0, "1h", pet=tp / "pet" / "pet.nii.gz", ct=tp / "ct" / "ct.nii.gz", organs=tp / "masks" / "organs.nii.gz"),))
    result = run_cohort(Manifest((entry,)), tmp_path, stages="quantify", workers=0, progress=False, report=False,
                        settings={"quantify": {"write_report": False}})
    assert result.ok
    nifti = read_nifti(tmp_path / "patients" / e.patient_id / "quantify" / "suv.nii.gz").array
    dicom = read_nifti(local_run.out_dir / "patients" / e.patient_id / "quantify" / "suv.nii.gz").array
    assert np.abs(nifti - dicom).max() <= 1e-3 * np.abs(dicom).max()
