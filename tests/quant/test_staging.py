import numpy as np
import pandas as pd
import pytest

from theranomics.core import Geometry, LabelMap
from theranomics.quant.regions import assign_regions
from theranomics.quant.staging import (bone_pattern, krenning, mitnm, psma_expression_score, sstr_eligibility,
                                       therap, vision)


def _t(regions, suvmax=None, vol=None):
    n = len(regions)
    return pd.DataFrame({"lesion_id": range(1, n + 1), "region": regions,
                         "suv_max": suvmax or [10.0] * n, "volume_ml": vol or [1.0] * n})


def test_mitnm():
    t = _t(["prostate", "lymph_node_pelvic", "lymph_node_pelvic", "lymph_node_extrapelvic", "bone", "bone",
            "visceral_liver"])
    s = mitnm(t)
    assert s["miT"] == "miT2" and s["miN"] == "miN1b"
    assert s["miM"] == "miMM1a M1b(oligo) M1c(liver)".replace("miMM", "miM")
    assert mitnm(_t(["prostate_bed"]))["miTNM"] == "miTr miN0 miM0"
    assert [bone_pattern(n) for n in (1, 2, 3, 4)] == ["uni", "oligo", "oligo", "diss"]
    assert bone_pattern(0, diffuse=True) == "dmi"


def test_expression_score():
    assert [psma_expression_score(v, 1.5, 5.0, 15.0) for v in (1.0, 3.0, 10.0, 20.0)] == [0, 1, 2, 3]
    assert psma_expression_score(8.0, 1.5, 5.0, 15.0, spleen=9.0, tracer="psma-1007") == 1
    with pytest.raises(ValueError, match="spleen"):
        psma_expression_score(8.0, 1.5, 5.0, 15.0, tracer="PSMA-1007")


def test_krenning_and_sstr_eligibility():
    t = _t(["bone"] * 4, suvmax=[30.0, 12.0, 6.0, 1.0])
    assert list(krenning(t, liver_mean=8.0, spleen_mean=25.0)) == [4, 3, 2, 1]
    d = sstr_eligibility(t, 8.0, 25.0)
    assert d.result.startswith("not eligible") and d.deciding_lesions == (3, 4)


def test_vision_and_therap():
    t = _t(["bone", "lymph_node_pelvic"], suvmax=[25.0, 4.0], vol=[3.0, 2.0])
    v = vision(t, liver_mean=5.0)
    assert v.deciding_lesions == (2,) and "check CT size" in v.needs_review[0]
    assert vision(_t(["bone"], suvmax=[4.0]), 5.0).result.startswith("not eligible")
    d = therap(t)
    assert d.result.endswith("SUVmax < 10") and d.deciding_lesions == (2,)
    assert therap(_t(["bone", "bone"], suvmax=[25.0, 12.0])).result == "eligible"


def test_assign_regions_by_organ_and_aortic_bifurcation():
    geom = Geometry((20, 10, 10), (4, 4, 4))
    organs = np.zeros((20, 10, 10), np.int32)
    organs[10:20, 0:2, 0:2] = 1        # aorta from z=40 mm up
    organs[0:4, 6:10, 6:10] = 2        # bone
    les = np.zeros((20, 10, 10), np.int32)
    les[1:3, 7:9, 7:9] = 1             # in bone
    les[5:7, 4:6, 4:6] = 2             # node below bifurcation
    les[15:17, 4:6, 4:6] = 3           # node above
    t = pd.DataFrame({"lesion_id": [1, 2, 3], "centroid_z_mm": [8.0, 22.0, 62.0]})
    out = assign_regions(t, LabelMap(les, geom), LabelMap(organs, geom, {1: "aorta", 2: "bone"}))
    assert list(out["region"]) == ["bone", "lymph_node_pelvic", "lymph_node_extrapelvic"]
    with pytest.raises(ValueError, match="pelvic"):
        assign_regions(t, LabelMap(les, geom), LabelMap(organs, geom, {2: "bone"}))
