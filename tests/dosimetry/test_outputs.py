"""RT Dose round trip and the per-VOI table layout."""
import numpy as np
import pydicom
import pytest

from theranomics.core import Geometry, Image
from theranomics.dosimetry.outputs import TABLE_COLUMNS, RTDoseError, read_rtdose, voi_table, write_rtdose


def test_rtdose_roundtrip(tmp_path):
    rng = np.random.default_rng(0)
    g = Geometry((7, 9, 11), (4.42, 3.9, 5.0), (-120.5, 33.0, 800.25))
    dose = Image(rng.gamma(2.0, 3.0, g.shape), g, "Gy")
    path = write_rtdose(dose, tmp_path / "d.dcm", patient_id="P1", frame_of_reference_uid="1.2.3.4")
    ds = pydicom.dcmread(path)
    assert ds.Modality == "RTDOSE" and ds.FrameOfReferenceUID == "1.2.3.4" and ds.DoseUnits == "GY"
    back = read_rtdose(path)
    scaling = float(ds.DoseGridScaling)
    assert np.max(np.abs(back.array - dose.array)) <= scaling / 2 * (1 + 1e-9)
    assert back.geometry.same_grid(g, atol_mm=1e-6)


def test_rtdose_errors(tmp_path):
    g = Geometry((2, 2, 2))
    with pytest.raises(RTDoseError, match="Gy"):
        write_rtdose(Image(np.ones(g.shape), g, "MBq*h"), tmp_path / "x.dcm", patient_id="P", frame_of_reference_uid="1.2")
    with pytest.raises(RTDoseError, match=">= 0"):
        write_rtdose(Image(-np.ones(g.shape), g, "Gy"), tmp_path / "x.dcm", patient_id="P", frame_of_reference_uid="1.2")
    with pytest.raises(RTDoseError, match="FrameOfReferenceUID"):
        write_rtdose(Image(np.ones(g.shape), g, "Gy"), tmp_path / "x.dcm", patient_id="P", frame_of_reference_uid="")
    (tmp_path / "junk.dcm").write_bytes(b"not dicom")
    with pytest.raises(RTDoseError, match="not a DICOM"):
        read_rtdose(tmp_path / "junk.dcm")


def test_voi_table_columns_first():
    df = voi_table([{"voi": "liver", "dose_gy": 1.0, "extra": 2}])
    assert tuple(df.columns[:len(TABLE_COLUMNS)]) == TABLE_COLUMNS and df.columns[-1] == "extra"
