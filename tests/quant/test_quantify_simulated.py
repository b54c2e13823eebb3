"""The quantification workflow end to end on simulated patients, checked against ground truth."""
import datetime as dt
import json

import numpy as np
import pandas as pd
import pydicom
import pytest
import radioactivedecay as rd

from theranomics.cli.main import main
from theranomics.io.dicom import read_seg
from theranomics.io.nifti import read_labelmap, read_nifti
from theranomics.quant.biomarkers import LESION_COLUMNS
from theranomics.quant.pipeline import QuantifySettings, quantify
from theranomics.quant.load import load_pet_suv
from theranomics.quant.suv import SuvError
from theranomics.quant.workflow import quantify_folder
from theranomics.segment.evaluate import compare_lesions


def test_quantify_finds_the_simulated_lesions(quant_patient, tmp_path):
    folder, tp = quant_patient
    paths = quantify_folder(tp / "pet" / "dicom", tmp_path, ct=tp / "ct" / "dicom",
                            organs=tp / "masks" / "organs.nii.gz", method="iso41", write_report=False)
    truth = read_labelmap(folder / "truth" / "lesions_pet_grid.nii.gz")
    table, summary = compare_lesions(read_labelmap(paths["lesions_nifti"]), truth, min_volume_ml=1.0)
    assert summary["sensitivity"] == 1.0
    assert summary["false_positives"] <= 1
    assert summary["median_dice"] >= 0.6  # coarse 6 mm test patient; full-size figures in benchmarks/
    lesions = pd.read_csv(paths["lesions_csv"])
    truth_lesions = pd.read_csv(folder / "truth" / "lesions.csv")
    # the region found for each true lesion is the simulated one
    for row in table.itertuples():
        true_region = truth_lesions.loc[truth_lesions.lesion_id == row.reference_id, "region"].item()
        found = lesions.loc[lesions.lesion_id.isin(row.predicted_ids), "region"]
        assert true_region in set(found), (row.reference_id, true_region, list(found))


def test_quantify_outputs_and_provenance(quant_patient, tmp_path):
    _, tp = quant_patient
    out = tmp_path / "q"
    assert main(["quantify", str(tp / "pet" / "dicom"), "--ct", str(tp / "ct" / "dicom"),
                 "--organs", str(tp / "masks" / "organs.nii.gz"), "--out", str(out), "--method", "iso41"]) == 0
    lesions = pd.read_csv(out / "lesions.csv")
    assert list(lesions.columns[:len(LESION_COLUMNS) + 1]) == ["patient_id", *LESION_COLUMNS]
    assert {"region", "tlr_max", "tlr_mean"} <= set(lesions.columns)
    assert pd.read_parquet(out / "lesions.parquet").shape == lesions.shape
    summary = json.loads((out / "summary.json").read_text())
    prov = summary["provenance"]
    assert prov["version"] and prov["parameters"]["method"] == "iso41" and len(prov["inputs"]) == 3
    wb = summary["whole_body"]
    assert wb["lesion_count"] == len(lesions)
    assert wb["ttv_ml"] == pytest.approx(lesions.volume_ml.sum())
    assert wb["tlq"] == pytest.approx(wb["ttv_ml"] / (wb["tlu_total"] / wb["ttv_ml"]))
    assert summary["references"]["liver"]["volume_ml"] > 5
    assert summary["staging"]["miTNM"].startswith("miT")
    labels = read_labelmap(out / "lesions.nii.gz")
    seg = read_seg(out / "lesions_seg.dcm", labels.geometry)
    np.testing.assert_array_equal(seg.array, labels.array)
    assert (out / "report.html").stat().st_size > 10_000
    suv = read_nifti(out / "suv.nii.gz")
    assert suv.unit == "SUVbw"


def test_suv_command_matches_simulated_truth(quant_patient, tmp_path):
    folder, tp = quant_patient
    assert main(["suv", str(tp / "pet" / "dicom"), "--out", str(tmp_path / "suv.nii.gz")]) == 0
    suv = read_nifti(tmp_path / "suv.nii.gz")
    truth = read_nifti(folder / "truth" / "pet_noise_free.nii.gz")  # Bq/mL at the scan start, no noise
    assert truth.geometry.same_grid(suv.geometry)
    study = json.loads((folder / "study.json").read_text())
    admin = study["cycles"][0]["administration"]
    tp0 = study["cycles"][0]["timepoints"][0]
    elapsed_s = (dt.datetime.fromisoformat(tp0["acquisition_time"]) - dt.datetime.fromisoformat(admin["time"])).total_seconds()
    weight_g = study["patient"]["weight_kg"] * 1000.0
    # independent expectation: SUVbw = C [Bq/mL] x weight [g] / (A0 [Bq] x exp(-ln2 t / T1/2))
    decay = np.exp(-np.log(2) * elapsed_s / rd.Nuclide(admin["nuclide"]).half_life("s"))
    factor = weight_g / (admin["activity_mbq"] * 1e6 * decay)
    inside = truth.array > np.percentile(truth.array, 90)
    assert np.median(suv.array[inside] / truth.array[inside]) == pytest.approx(factor, rel=0.02)
    assert main(["suv", str(tp / "pet" / "dicom"), "--out", str(tmp_path / "sul.nii.gz"), "--suv-type", "lbm"]) == 0
    sul = read_nifti(tmp_path / "sul.nii.gz")
    assert sul.unit == "SUVlbm"
    # SUVlbm / SUVbw is the constant LBM / weight (Janmahasatian, male: 9270 W / (6680 + 216 BMI))
    w, h = study["patient"]["weight_kg"], study["patient"]["height_cm"] / 100.0
    lbm = 9270 * w / (6680 + 216 * w / h ** 2)
    nz = suv.array != 0
    np.testing.assert_allclose(sul.array[nz] / suv.array[nz], lbm / w, rtol=1e-5)


def test_response_between_baseline_and_followup(quant_patient, followup_patient, tmp_path):
    _, b = quant_patient
    _, f = followup_patient
    assert main(["response", str(b / "pet" / "dicom"), str(f / "pet" / "dicom"), "--out", str(tmp_path),
                 "--baseline-ct", str(b / "ct" / "dicom"), "--followup-ct", str(f / "ct" / "dicom"),
                 "--baseline-organs", str(b / "masks" / "organs.nii.gz"),
                 "--followup-organs", str(f / "masks" / "organs.nii.gz")]) == 0
    res = pd.read_csv(tmp_path / "response.csv").set_index("criterion")
    # uptake fell to 45 %: the hottest lesion's SULpeak falls by > 30 % and > 0.8 SUL
    assert res.loc["PERCIST 1.0", "category"] == "PMR"
    assert res.loc["PPP", "category"] == "no progression"
    assert res.loc["RECIP 1.0", "category"] in ("PR", "CR")
    summary = json.loads((tmp_path / "response.json").read_text())
    assert summary["new_lesions"] == [] and "rigid registration" in summary["frame"]


def test_empty_segmentation_is_flagged(quant_patient):
    _, tp = quant_patient
    suv, _ = load_pet_suv(tp / "pet" / "dicom")
    result = quantify(suv, settings=QuantifySettings(threshold_suv=1e6))
    assert result.whole_body["lesion_count"] == 0 and result.whole_body["empty"]
    assert result.eligibility[0]["result"] == "no lesion detected"


def test_pet_without_weight_or_dose_is_a_clear_error(quant_patient, tmp_path):
    _, tp = quant_patient
    for keyword in ("PatientWeight", "RadionuclideTotalDose"):
        bad = tmp_path / keyword
        bad.mkdir()
        for path in sorted((tp / "pet" / "dicom").glob("*.dcm")):
            ds = pydicom.dcmread(path)
            if keyword == "PatientWeight":
                del ds.PatientWeight
            else:
                del ds.RadiopharmaceuticalInformationSequence[0].RadionuclideTotalDose
            ds.save_as(bad / path.name)
        with pytest.raises(SuvError, match=keyword):
            load_pet_suv(bad)
        assert main(["quantify", str(bad), "--out", str(tmp_path / "o")]) == 2


def test_bad_settings():
    with pytest.raises(ValueError, match="method"):
        QuantifySettings(method="magic")


def test_ct_that_does_not_cover_the_pet_is_refused(quant_patient):
    from dataclasses import replace as dc_replace
    from theranomics.core import Geometry, Image
    _, tp = quant_patient
    suv, _ = load_pet_suv(tp / "pet" / "dicom")
    g = suv.geometry
    far = Geometry(g.shape, g.spacing_mm, (g.origin_mm[0], g.origin_mm[1], g.origin_mm[2] + 5000.0), g.direction)
    ct = Image(np.zeros(g.shape, np.float32), far, "HU", "CT")
    with pytest.raises(ValueError, match="PET and CT grids do not match"):
        quantify(suv, ct=ct)
