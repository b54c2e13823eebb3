"""SUV header rules (midnight, MBq dose, gram weight, GE private time, …) and every error path.

Datasets are copies of DRO headers with tags deleted or changed; the expected numbers are the
DRO phantom's SUVbw (hot sphere 4.00 at 14400 Bq/mL in DRO_0_0) or hand computations.
"""
from __future__ import annotations

import copy
import datetime as dt
import functools
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from theranomics.quant.suv import SUV_TYPES, SuvError, nuclide_from_code, suv_factors

HOT_BQML = 14400.0  # hot-sphere activity concentration of DRO_0_0 (SUVbw 4.00)


@functools.lru_cache(maxsize=None)
def _headers(root: str, dro: str) -> tuple:
    files = sorted(Path(root, "suv_dro", "DRO", dro, "PT").glob("*.dcm"))
    return tuple(pydicom.dcmread(p, stop_before_pixels=True) for p in files)


@pytest.fixture
def headers(refdata):
    """Fresh deep copies of a DRO's slice headers (file order = slice order in the DROs)."""
    return lambda dro="DRO_0_0": [copy.deepcopy(ds) for ds in _headers(str(refdata), dro)]


def set_all(datasets, keyword, value):
    for ds in datasets:
        if value is None:
            if keyword in ds:
                delattr(ds, keyword)
        else:
            setattr(ds, keyword, value)
    return datasets


def set_rp(datasets, keyword, value):
    for ds in datasets:
        item = ds.RadiopharmaceuticalInformationSequence[0]
        if value is None:
            if keyword in item:
                delattr(item, keyword)
        else:
            setattr(item, keyword, value)
    return datasets


def hot_suv(result) -> float:
    return float(HOT_BQML * result.factors[10])


# ---------------------------------------------------------------------------------------------
# rules
# ---------------------------------------------------------------------------------------------
def test_injection_before_midnight(headers):
    result = suv_factors(headers("DRO_4_2"), "bw")
    assert result.injection_datetime == dt.datetime(2025, 1, 1, 23, 30)
    assert result.reference_datetime == dt.datetime(2025, 1, 2, 0, 30)
    assert "previous day" in result.rules["injection"]
    assert hot_suv(result) == pytest.approx(4.0, abs=1e-3)


def test_injection_time_on_series_date_same_day(headers):
    result = suv_factors(headers("DRO_4_1"), "bw")
    assert result.injection_datetime == dt.datetime(2025, 1, 1, 10, 0)
    assert "previous day" not in result.rules["injection"]
    assert "RadiopharmaceuticalStartTime" in result.rules["injection"]


def test_start_datetime_preferred_over_start_time(headers):
    datasets = set_rp(headers(), "RadiopharmaceuticalStartTime", "093000.000000")  # contradicting, ignored
    result = suv_factors(datasets, "bw")
    assert result.injection_datetime == dt.datetime(2025, 1, 1, 10, 0)
    assert "RadiopharmaceuticalStartDateTime" in result.rules["injection"]


def test_start_datetime_timezone_converted(headers):
    datasets = set_rp(headers(), "RadiopharmaceuticalStartDateTime", "20250101090000+0000")
    set_all(datasets, "TimezoneOffsetFromUTC", "+0100")
    result = suv_factors(datasets, "bw")
    assert result.injection_datetime == dt.datetime(2025, 1, 1, 10, 0)
    assert "converted" in result.rules["injection_timezone"]


def test_dose_in_mbq(headers):
    result = suv_factors(headers("DRO_3_0"), "bw")
    assert result.injected_dose_bq == pytest.approx(368.08e6)
    assert "read as MBq" in result.rules["dose"]
    assert hot_suv(result) == pytest.approx(4.0, abs=1e-3)


@pytest.mark.parametrize("dose, expected_bq, mbq", [(99999.0, 99999.0e6, True), (100000.0, 100000.0, False)])
def test_dose_mbq_threshold(headers, dose, expected_bq, mbq):
    result = suv_factors(set_rp(headers(), "RadionuclideTotalDose", dose), "bw")
    assert result.injected_dose_bq == pytest.approx(expected_bq)
    assert ("read as MBq" in result.rules["dose"]) is mbq


def test_weight_in_grams(headers):
    reference = suv_factors(headers(), "bw")
    result = suv_factors(set_all(headers(), "PatientWeight", 70000), "bw")
    assert result.weight_kg == 70.0
    assert "read as grams" in result.rules["weight"]
    np.testing.assert_allclose(result.factors, reference.factors, rtol=1e-12)


def test_weight_threshold_is_kg_at_1000(headers):
    result = suv_factors(set_all(headers(), "PatientWeight", 1000), "bw")
    assert result.weight_kg == 1000.0


def test_height_in_cm(headers):
    reference = suv_factors(headers(), "lbm-james")
    result = suv_factors(set_all(headers(), "PatientSize", 175), "lbm-james")
    assert result.height_m == pytest.approx(1.75)
    assert "read as cm" in result.rules["height"]
    np.testing.assert_allclose(result.factors, reference.factors, rtol=1e-12)


def test_ge_private_reference_time(headers):
    """DRO_3_3 with the series time moved after the acquisition: the GE private scan time (11:00) is used."""
    datasets = set_all(headers("DRO_3_3"), "SeriesTime", "114500.000000")
    result = suv_factors(datasets, "bw")
    assert result.reference_datetime == dt.datetime(2025, 1, 1, 11, 0)
    assert "GE private" in result.rules["reference"]
    assert hot_suv(result) == pytest.approx(4.0, abs=1e-3)


def test_ge_private_ignored_for_other_vendor(headers):
    datasets = set_all(set_all(headers("DRO_3_3"), "SeriesTime", "114500.000000"), "Manufacturer", "Siemens")
    result = suv_factors(datasets, "bw")
    assert "GE private" not in result.rules["reference"]


def test_earliest_acquisition_when_no_frame_reference(headers):
    datasets = set_all(set_all(headers("DRO_3_2"), "FrameReferenceTime", 0), "ActualFrameDuration", 603000)
    result = suv_factors(datasets, "bw")
    assert result.reference_datetime == dt.datetime(2025, 1, 1, 11, 2, 30)
    assert "earliest AcquisitionDateTime/AcquisitionTime" in result.rules["reference"]


def test_series_time_within_tolerance_is_used(headers):
    datasets = set_all(headers(), "SeriesTime", "110000.900000")  # 0.9 s after the acquisition: still series
    assert "SeriesDate/SeriesTime (0008" in suv_factors(datasets, "bw").rules["reference"]
    datasets = set_all(headers(), "SeriesTime", "110001.100000")  # 1.1 s after: fallback
    assert "is after the earliest acquisition" in suv_factors(datasets, "bw").rules["reference"]


def test_decay_none_single_frame_hand_computed(headers):
    """NONE: value × e^(λ(t_acq − t_inj)) × λT/(1−e^(−λT)) × W / D; here t_acq − t_inj = 3600 s, T = 300 s."""
    datasets = set_all(headers(), "DecayCorrection", "NONE")
    set_all(datasets, "CorrectedImage", ["NORM", "ATTN"])
    result = suv_factors(datasets, "bw")
    lam = np.log(2) / 6586.2
    within = lam * 300 / (1 - np.exp(-lam * 300))
    np.testing.assert_allclose(result.factors, 70000 / 368080000 * np.exp(lam * 3600) * within, rtol=1e-12)


def test_half_life_missing_uses_icrp107(headers):
    datasets = set_rp(headers("DRO_5_0"), "RadionuclideHalfLife", None)
    result = suv_factors(datasets, "bw")
    assert result.nuclide == "Ga-68"
    assert result.half_life_s == pytest.approx(67.71 * 60, rel=1e-4)  # ICRP-107 Ga-68: 67.71 min
    assert "ICRP-107" in result.rules["half_life"]


def test_half_life_cross_checked(headers):
    result = suv_factors(headers("DRO_5_0"), "bw")
    assert result.half_life_s == 4057.7 and result.nuclide == "Ga-68"
    assert "agrees with ICRP-107 Ga-68" in result.rules["half_life"]


@pytest.mark.parametrize("meaning, nuclide", [("^68^Gallium", "Ga-68"), ("^18^Fluorine", "F-18"),
                                              ("^99m^Technetium", "Tc-99m"), ("Lutetium-177", "Lu-177"),
                                              ("68Ga", "Ga-68")])
def test_nuclide_from_code_meaning(meaning, nuclide):
    code = Dataset()
    code.CodeMeaning = meaning
    item = Dataset()
    item.RadionuclideCodeSequence = Sequence([code])
    assert nuclide_from_code(item) == nuclide


def test_philips_suv_factor_converted_to_lbm(headers):
    """CNTS with the Philips SUVbw factor, asked for SUVlbm-james (sex O): factor × LBM/W (hand computed)."""
    result = suv_factors(headers("DRO_2_4"), "lbm-james")
    lbm = 0.5 * ((1.10 * 70 - 120 * 0.16) + (1.07 * 70 - 148 * 0.16))  # (70/175)^2 = 0.16
    np.testing.assert_allclose(result.factors, 0.0005 * lbm / 70, rtol=1e-12)
    assert result.unit == "SUVlbm"


def test_sul_is_janmahasatian_by_default_and_configurable(headers):
    sul = suv_factors(headers(), "sul")
    janma = suv_factors(headers(), "lbm-janmahasatian")
    np.testing.assert_allclose(sul.factors, janma.factors, rtol=1e-12)
    assert sul.unit == "SUL"
    james = suv_factors(headers(), "sul", lbm_formula="james128")
    np.testing.assert_allclose(james.factors, suv_factors(headers(), "lbm-james128").factors, rtol=1e-12)


def test_bsa_factor_hand_computed(headers):
    result = suv_factors(headers(), "bsa")
    assert result.body_size_unit == "cm2"
    assert result.body_size == pytest.approx(18481, abs=1)  # Du Bois, 70 kg 175 cm: 1.8481 m²
    np.testing.assert_allclose(result.factors, 18481.4 / (368080000 * 0.5 ** (3600 / 6586.2)), rtol=1e-5)


# ---------------------------------------------------------------------------------------------
# error paths
# ---------------------------------------------------------------------------------------------
def test_unknown_suv_type_lists_valid_names(headers):
    with pytest.raises(SuvError) as info:
        suv_factors(headers(), "lbm")
    for name in SUV_TYPES:
        assert name in str(info.value)


def test_unknown_lbm_formula(headers):
    with pytest.raises(SuvError, match="unknown lbm_formula 'boer'.*janmahasatian"):
        suv_factors(headers(), "sul", lbm_formula="boer")


def test_no_datasets():
    with pytest.raises(SuvError, match="no DICOM datasets"):
        suv_factors([], "bw")


def test_not_pet(headers):
    with pytest.raises(SuvError, match=r"Modality \(0008,0060\) is 'CT'"):
        suv_factors(set_all(headers(), "Modality", "CT"), "bw")


@pytest.mark.parametrize("value", [None, ""])
def test_no_weight(headers, value):
    with pytest.raises(SuvError, match=r"PatientWeight \(0010,1030\), missing or empty"):
        suv_factors(set_all(headers(), "PatientWeight", value), "bw")


def test_non_positive_weight(headers):
    with pytest.raises(SuvError, match=r"PatientWeight \(0010,1030\) is 0.0"):
        suv_factors(set_all(headers(), "PatientWeight", 0), "bw")


def test_no_dose(headers):
    with pytest.raises(SuvError, match=r"RadionuclideTotalDose \(0018,1074\) is missing"):
        suv_factors(set_rp(headers(), "RadionuclideTotalDose", None), "bw")


def test_non_numeric_dose(headers):
    datasets = headers()
    for ds in datasets:  # as pydicom reads a malformed DS from a file: the raw text
        ds.RadiopharmaceuticalInformationSequence[0][0x00181074] = DataElement(0x00181074, "LO", "lots of Bq")
    with pytest.raises(SuvError, match=r"RadionuclideTotalDose \(0018,1074\): 'lots of Bq' is not a number"):
        suv_factors(datasets, "bw")


def test_no_injection_time(headers):
    datasets = set_rp(set_rp(headers(), "RadiopharmaceuticalStartDateTime", None), "RadiopharmaceuticalStartTime", None)
    with pytest.raises(SuvError, match=r"no injection time.*\(0018,1078\).*\(0018,1072\)"):
        suv_factors(datasets, "bw")


def test_no_radiopharmaceutical_sequence(headers):
    with pytest.raises(SuvError, match=r"RadiopharmaceuticalInformationSequence \(0054,0016\) is missing"):
        suv_factors(set_all(headers(), "RadiopharmaceuticalInformationSequence", None), "bw")


def test_two_radiopharmaceuticals(headers):
    datasets = headers()
    for ds in datasets:
        ds.RadiopharmaceuticalInformationSequence.append(copy.deepcopy(ds.RadiopharmaceuticalInformationSequence[0]))
    with pytest.raises(SuvError, match="has 2 items"):
        suv_factors(datasets, "bw")


@pytest.mark.parametrize("units", ["PROPCNTS", "MGMINML"])
def test_unknown_units(headers, units):
    with pytest.raises(SuvError, match=rf"Units \(0054,1001\) is '{units}'; SUV conversion supports BQML"):
        suv_factors(set_all(headers(), "Units", units), "bw")


def test_missing_units(headers):
    with pytest.raises(SuvError, match=r"Units \(0054,1001\) is missing"):
        suv_factors(set_all(headers(), "Units", None), "bw")


def test_missing_decay_correction(headers):
    with pytest.raises(SuvError, match=r"DecayCorrection \(0054,1102\) is missing"):
        suv_factors(set_all(headers(), "DecayCorrection", None), "bw")


def test_unknown_decay_correction(headers):
    with pytest.raises(SuvError, match=r"DecayCorrection \(0054,1102\) is 'LATER'"):
        suv_factors(set_all(headers(), "DecayCorrection", "LATER"), "bw")


def test_corrected_image_without_attenuation(headers):
    with pytest.raises(SuvError, match=r"CorrectedImage \(0028,0051\).*lacks ATTN"):
        suv_factors(set_all(headers(), "CorrectedImage", ["NORM", "DECY"]), "bw")


def test_corrected_image_contradicts_decay_correction(headers):
    with pytest.raises(SuvError, match=r"contradicts DecayCorrection \(0054,1102\) START"):
        suv_factors(set_all(headers(), "CorrectedImage", ["NORM", "ATTN"]), "bw")


@pytest.mark.parametrize("suv_type", ["lbm-james", "lbm-james128", "lbm-janmahasatian", "bsa", "ibw", "sul"])
def test_no_height(headers, suv_type):
    with pytest.raises(SuvError, match=r"needs .*PatientSize \(0010,1020\)"):
        suv_factors(set_all(headers(), "PatientSize", None), suv_type)


@pytest.mark.parametrize("suv_type", ["lbm-james", "lbm-james128", "lbm-janmahasatian", "ibw", "sul"])
def test_no_sex(headers, suv_type):
    with pytest.raises(SuvError, match=r"needs .*PatientSex \(0010,0040\)"):
        suv_factors(set_all(headers(), "PatientSex", None), suv_type)


def test_bsa_and_bw_do_not_need_sex(headers):
    datasets = set_all(headers(), "PatientSex", None)
    assert suv_factors(datasets, "bsa").sex is None
    assert suv_factors(datasets, "bw").sex is None


def test_invalid_sex(headers):
    with pytest.raises(SuvError, match=r"PatientSex \(0010,0040\) is 'X'"):
        suv_factors(set_all(headers(), "PatientSex", "X"), "bw")


def test_james_formula_out_of_range(headers):
    # 300 kg at 1.50 m: 1.10 W − 120 (W/H)² < 0
    datasets = set_all(set_all(headers(), "PatientWeight", 300), "PatientSize", 1.5)
    with pytest.raises(SuvError, match="lean body mass is not positive"):
        suv_factors(datasets, "lbm-james")


def test_half_life_contradiction_names_both(headers):
    datasets = set_rp(headers("DRO_5_0"), "RadionuclideHalfLife", 6586.2)  # F-18 half-life, Ga-68 code
    with pytest.raises(SuvError, match=r"RadionuclideHalfLife \(0018,1075\) is 6586.2 s.*Ga-68.*4062.6 s"):
        suv_factors(datasets, "bw")


def test_no_half_life_at_all(headers):
    datasets = set_rp(set_rp(headers(), "RadionuclideHalfLife", None), "RadionuclideCodeSequence", None)
    with pytest.raises(SuvError, match=r"no half-life.*\(0018,1075\).*\(0054,0300\)"):
        suv_factors(datasets, "bw")


def test_unparsable_nuclide_code(headers):
    datasets = headers()
    for ds in datasets:
        ds.RadiopharmaceuticalInformationSequence[0].RadionuclideCodeSequence[0].CodeMeaning = "^18^Unobtainium"
    with pytest.raises(SuvError, match="unknown element 'Unobtainium'"):
        suv_factors(datasets, "bw")


def test_cnts_without_philips_factors(headers):
    datasets = headers("DRO_2_4")
    for ds in datasets:
        del ds[0x7053, 0x1000]
    with pytest.raises(SuvError, match=r"CNTS but neither .*\(7053,1000\).*\(7053,1009\)"):
        suv_factors(datasets, "bw")


def test_cnts_from_other_vendor(headers):
    with pytest.raises(SuvError, match=r"CNTS can only be converted with Philips.*'Synthetic'"):
        suv_factors(set_all(headers(), "Units", "CNTS"), "bw")


def test_gml_unknown_suv_type_tag(headers):
    with pytest.raises(SuvError, match=r"SUVType \(0054,1006\) is 'LBMBOER'"):
        suv_factors(set_all(headers("DRO_2_0"), "SUVType", "LBMBOER"), "bw")


def test_cm2ml_contradicts_suv_type(headers):
    with pytest.raises(SuvError, match=r"Units \(0054,1001\) CM2ML contradicts SUVType \(0054,1006\) BW"):
        suv_factors(set_all(headers("DRO_2_3"), "SUVType", "BW"), "bw")


def test_gml_without_suv_type_is_bw(headers):
    result = suv_factors(set_all(headers("DRO_2_0"), "SUVType", None), "bw")
    np.testing.assert_array_equal(result.factors, 1.0)
    assert "absent" in result.rules["stored_suv"]


def test_gml_conversion_needs_height(headers):
    with pytest.raises(SuvError, match=r"'lbm-james128' needs PatientSize \(0010,1020\)"):
        suv_factors(set_all(headers("DRO_2_1"), "PatientSize", None), "bw")


def test_slices_disagree(headers):
    datasets = headers()
    datasets[5].PatientWeight = 80
    with pytest.raises(SuvError, match=r"PatientWeight \(0010,1030\) differs between slices.*slice 5"):
        suv_factors(datasets, "bw")


def test_slices_disagree_on_dose(headers):
    datasets = headers()
    datasets[3].RadiopharmaceuticalInformationSequence[0].RadionuclideTotalDose = 1.0e8
    with pytest.raises(SuvError, match="RadionuclideTotalDose .* differs between slices"):
        suv_factors(datasets, "bw")


def test_injection_after_reference(headers):
    datasets = set_rp(headers(), "RadiopharmaceuticalStartDateTime", "20250101120000")
    with pytest.raises(SuvError, match="reference 2025-01-01T11:00:00 .* is before the injection 2025-01-01T12:00:00"):
        suv_factors(datasets, "bw")


def test_decay_none_needs_acquisition_times(headers):
    datasets = set_all(headers("DRO_3_4"), "AcquisitionTime", None)
    with pytest.raises(SuvError, match="DecayCorrection NONE needs the acquisition time of every slice"):
        suv_factors(datasets, "bw")


def test_no_reference_time(headers):
    datasets = set_all(set_all(headers(), "SeriesTime", None), "AcquisitionTime", None)
    with pytest.raises(SuvError, match="no decay-correction reference time"):
        suv_factors(datasets, "bw")


@pytest.mark.filterwarnings("ignore:Invalid value for VR")
@pytest.mark.parametrize("keyword, value, pattern", [
    ("SeriesTime", "11h00", r"SeriesTime \(0008,0031\): '11h00' is not a DICOM time"),
    ("SeriesDate", "2025-13-01", r"SeriesDate \(0008,0021\): '2025-13-01' is not a DICOM date"),
])
def test_malformed_date_time(headers, keyword, value, pattern):
    with pytest.raises(SuvError, match=pattern):
        suv_factors(set_all(headers(), keyword, value), "bw")


def test_malformed_start_datetime(headers):
    datasets = set_rp(headers(), "RadiopharmaceuticalStartDateTime", "20250101")
    with pytest.raises(SuvError, match=r"RadiopharmaceuticalStartDateTime \(0018,1078\): '20250101' is not"):
        suv_factors(datasets, "bw")

