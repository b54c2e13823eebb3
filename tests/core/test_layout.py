import datetime as dt
import json

import numpy as np
import pytest

from theranomics.core import Administration, Cycle, Geometry, Image, LabelMap, Patient, Study, TimePoint
from theranomics.io import layout


def _study():
    t0 = dt.datetime(2026, 3, 1, 9, 0)
    geom = Geometry((3, 4, 5), (4, 4, 4), (-10, -10, 0))
    pet = Image(np.arange(60, dtype=np.float32).reshape(3, 4, 5), geom, "Bq/mL", "PT")
    organs = LabelMap(np.ones((3, 4, 5), np.int32), geom, {1: "liver"})
    diag = Cycle(0, Administration("[68Ga]Ga-PSMA-11", "Ga-68", 150.0, t0),
                 [TimePoint("1h", t0 + dt.timedelta(hours=1), {"pet": pet}, {"organs": organs})])
    return Study(Patient("SIM1", 80.0, 175.0, "M"), [diag])


def test_layout_round_trip(tmp_path):
    study = _study()
    layout.write_study_images(study, tmp_path / "SIM1")
    assert layout.find_studies(tmp_path) == [tmp_path / "SIM1"]
    back = layout.read_study(tmp_path / "SIM1")
    assert back.patient == study.patient
    tp = back.cycle(0).timepoints[0]
    np.testing.assert_array_equal(tp.images["pet"].array, study.cycle(0).timepoints[0].images["pet"].array)
    assert tp.masks["organs"].names == {1: "liver"}
    assert (tmp_path / "SIM1/cycle0/1h/pet/pet.nii.gz").is_file()


def test_bad_study_json(tmp_path):
    with pytest.raises(layout.StudyLayoutError, match="no study.json"):
        layout.read_study(tmp_path)
    (tmp_path / "study.json").write_text(json.dumps({"patient": {"patient_id": "x"}}))
    with pytest.raises(layout.StudyLayoutError, match="missing field 'cycles'"):
        layout.read_study(tmp_path)
