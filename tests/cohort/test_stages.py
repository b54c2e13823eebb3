"""Built-in stages: the NIfTI SUV path against simulator truth, therapy-stage helpers, stage resolution."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from theranomics.cohort import Stage, StageError, StageInputs, resolve_stages
from theranomics.cohort.manifest import study_timepoints
from theranomics.cohort.therapy import dosimetry_defaults, dosimetry_settings, ligand_of, therapy_applies
from theranomics.io import layout
from theranomics.io.nifti import read_labelmap, read_nifti
from theranomics.quant.suv_nifti import suv_from_activity_concentration


def test_nifti_suv_matches_simulator_truth(virtual_cohort):
    """SUVbw of the noise-free truth concentration (study.json weight, activity, times) equals the
    simulator's organ SUVs."""
    e = virtual_cohort.patients[0]
    study = layout.read_study(e.study_dir, load_images=False)
    truth = layout.truth_dir(e.study_dir)
    pet = read_nifti(truth / "pet_true.nii.gz")
    organs = read_labelmap(truth / "organs.nii.gz")
    vois = pd.read_csv(truth / "vois.csv").set_index("voi")
    cycle = study.cycle(0)
    suv = suv_from_activity_concentration(pet, study.patient, cycle.administration,
                                          cycle.timepoints[0].acquisition_time, "bw")
    assert suv.unit == "SUVbw"
    checked = 0
    for value, name in organs.names.items():
        mask = organs.array == value
        if name in vois.index and vois.loc[name, "kind"] == "organ" and mask.any():
            assert suv.array[mask].mean() == pytest.approx(vois.loc[name, "suv_mean_true"], rel=1e-4), name
            checked += 1
    assert checked >= 5


def test_ligand_from_radiopharmaceutical():
    assert ligand_of("[177Lu]Lu-PSMA-617") == "psma-617"
    assert ligand_of("177Lu-PSMA-I&T") == "psma-it"
    assert ligand_of("[177Lu]Lu-DOTA-TATE") == "dotatate"
    with pytest.raises(StageError, match=r"'\[177Lu\]Lu-FAPI-46' \(study.json administration\) is not a twin ligand"):
        ligand_of("[177Lu]Lu-FAPI-46")


def test_dosimetry_settings_round_trip():
    """The stage defaults are the workflow defaults; JSON lists come back as the tuples it expects."""
    from theranomics.dosimetry.workflow import DosimetrySettings

    defaults = dosimetry_defaults()
    assert defaults["cycles"] is None and defaults["write_report"] is True and "recovery_curve" not in defaults
    assert dosimetry_settings(defaults) == DosimetrySettings()
    changed = dosimetry_settings({**defaults, "models": ["mono_exp"], "groups": {"kidneys": ["kidney_left"]}})
    assert changed.models == ("mono_exp",) and changed.groups == {"kidneys": ("kidney_left",)}
    with pytest.raises(ValueError, match="recovery must be"):
        dosimetry_settings({**defaults, "recovery": "magic"})


def test_therapy_stages_apply_only_with_therapy_spect(virtual_cohort):
    e = virtual_cohort.patients[0]
    tps = study_timepoints(e)
    assert therapy_applies(StageInputs(e, tps)) is None
    diagnostic = tuple(t for t in tps if t.cycle == 0)
    assert therapy_applies(StageInputs(e, diagnostic)) == "no therapy SPECT time points (cycle >= 1)"


def test_resolve_stages_and_extra_stage():
    assert [s.name for s in resolve_stages()] == ["quantify", "radiomics", "dosimetry", "plan"]
    assert [s.name for s in resolve_stages(["plan"])] == ["quantify", "dosimetry", "plan"]
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


@pytest.mark.parametrize("key, value, match", [("lesion_registration", "affine", "must be 'rigid' or 'none'"),
                                                ("lesion_min_volume_ml", -1.0, "must be >= 0 mL")])
def test_pet_lesion_settings_are_checked(tmp_path, key, value, match):
    from theranomics.cohort import PatientEntry, StageError, StageInputs
    from theranomics.cohort.therapy import dosimetry_defaults, pet_lesions_on_spect_ct

    settings = {**dosimetry_defaults(), key: value}
    with pytest.raises(StageError, match=match):
        pet_lesions_on_spect_ct(StageInputs(PatientEntry("P1"), ()), tmp_path, settings)
