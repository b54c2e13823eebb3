"""MIRD organ/lesion S-values: linearity against voxel convolution, reciprocity, sphere model,
energy bookkeeping, phantom-table import and mass scaling."""

import numpy as np
import pytest

from theranomics import nuclides
from theranomics.core import Geometry, Image, LabelMap
from theranomics.dosimetry.mird import (MIRDError, lesion_sphere_s_value, mass_scaled_s_values, mird_dose_gy,
                                        patient_s_values, read_s_value_table)
from theranomics.dosimetry.voxel import absorbed_dose

MEV_J = 1.602176634e-13


@pytest.fixture(scope="module")
def phantom():
    g = Geometry((50, 50, 50), (4.42, 4.42, 4.42))
    z, y, x = np.mgrid[:50, :50, :50]
    r = np.sqrt((x - 22) ** 2 + (y - 25) ** 2 + (z - 25) ** 2) * 4.42
    lab = np.zeros(g.shape, np.int32)
    lab[r <= 35] = 1
    lab[(np.abs(x - 40) < 4) & (np.abs(y - 25) < 5) & (np.abs(z - 25) < 9)] = 2
    lm = LabelMap(lab, g, {1: "sphere", 2: "box"})
    return lm, patient_s_values(lm, "Lu-177")


def test_mird_equals_voxel_convolution(phantom):
    lm, s = phantom
    tia = {"sphere": 1000.0, "box": 300.0}
    doses = mird_dose_gy(tia, s)
    arr = sum(np.where(lm.array == v, tia[n] / (lm.array == v).sum(), 0.0) for v, n in lm.names.items())
    dose_map = absorbed_dose(Image(arr, lm.geometry, "MBq*h"), "Lu-177", method="voxel_s")
    for v, n in lm.names.items():
        assert doses[n] == pytest.approx(dose_map.array[lm.array == v].mean(), rel=1e-9)


def test_reciprocity(phantom):
    """S(t←s) = S(s←t) in a homogeneous medium (reciprocity of specific absorbed fractions, MIRD 21)."""
    _, s = phantom
    assert s.s("sphere", "box") == pytest.approx(s.s("box", "sphere"), rel=1e-6)


def test_sphere_self_dose_matches_sphere_model(phantom):
    lm, s = phantom
    vol = lm.volume_ml("sphere")
    assert s.s("sphere", "sphere") == pytest.approx(lesion_sphere_s_value("Lu-177", vol, density_g_cm3=1.04), rel=0.02)


def test_electron_self_dose_near_local_deposition(phantom):
    lm, _ = phantom
    s = patient_s_values(lm, "Lu-177", sources=["sphere"], targets=["sphere"], include=("beta", "ce", "auger"))
    mass_kg = lm.volume_ml("sphere") * 1.04e-3
    lde = nuclides.electron_energy_per_decay_mev("Lu-177") * MEV_J * 3.6e9 / mass_kg
    assert 0.97 < s.s("sphere", "sphere") / lde <= 1.0     # a few % of β energy escapes the 180 mL sphere


def _table(tmp_path, text):
    p = tmp_path / "s.csv"
    p.write_text(text)
    return p


def test_table_import_units_and_mass_scaling(tmp_path):
    p = _table(tmp_path, "# nuclide: Lu-177\n# phantom: test\nsource,target,s_value,unit,target_mass_g\n"
               "liver,liver,2.0e-5,mGy/(MBq*s),1800\nliver,kidneys,1.0e-7,mGy/(MBq*s),300\n"
               "kidneys,kidneys,1.0e-4,mGy/(MBq*s),300\nkidneys,liver,1.0e-7,mGy/(MBq*s),1800\n")
    t = read_s_value_table(p)
    assert t.nuclide == "Lu-177" and t.meta["phantom"] == "test"
    assert t.s("liver", "liver") == pytest.approx(2.0e-5 * 3.6)
    scaled = mass_scaled_s_values(t, {"kidneys": 400.0})
    assert scaled.s("kidneys", "kidneys") == pytest.approx(1.0e-4 * 3.6 * 300 / 400)
    assert scaled.s("liver", "kidneys") == t.s("liver", "kidneys")
    d = mird_dose_gy({"liver": 1e4, "kidneys": 2e3}, scaled)
    assert d["kidneys"] == pytest.approx(2e3 * 1.0e-4 * 3.6 * 0.75 + 1e4 * 1.0e-7 * 3.6)


def test_patient_table_roundtrip(tmp_path, phantom):
    _, s = phantom
    p = tmp_path / "own.csv"
    s.to_long().to_csv(p, index=False)
    back = read_s_value_table(p, nuclide="Lu-177")
    assert back.s("box", "sphere") == pytest.approx(s.s("box", "sphere"), rel=1e-12)


@pytest.mark.parametrize("text,match", [
    ("source,target,s_value\nliver,liver,1\n", "unit"),
    ("source,target,s_value,unit\nliver,liver,1,rad/uCi-h\n", "unknown S-value unit"),
    ("source,target,s_value,unit\nliver,liver,-1,Gy/(MBq*h)\n", "row"),
    ("source,target,s_value,unit\nliver,liver,1,Gy/(MBq*h)\n", "nuclide"),
    ("# nuclide: Lu-177\nsource,target,s_value,unit\nliver,liver,1,Gy/(MBq*h)\nliver,liver,2,Gy/(MBq*h)\n", "duplicate"),
    ("# nuclide: Lu-177\nsource,s_value\nliver,1\n", "missing column"),
])
def test_table_errors(tmp_path, text, match):
    with pytest.raises(MIRDError, match=match):
        read_s_value_table(_table(tmp_path, text))


def test_dose_errors(phantom):
    lm, s = phantom
    with pytest.raises(MIRDError, match="no S-values"):
        mird_dose_gy({"spleen": 1.0}, s)
    with pytest.raises(MIRDError, match=">= 0"):
        mird_dose_gy({"box": -1.0}, s)
    with pytest.raises(MIRDError, match="not a"):
        patient_s_values(lm, "Lu-177", sources=["liver"])
    with pytest.raises(MIRDError, match="target_mass_g"):
        mass_scaled_s_values(s.__class__(s.values, {}, s.nuclide, "x"), {"box": 10.0})
