"""IBSI-1 CT phantom, configurations C, D and E (3D, 2 mm isotropic; manual table 5.1).

The shared reference table covers only A and B, so these check a selection of the published
IBSI-1 consensus values (reference manual chapter 5, as also asserted in oncoray/mirp
test/ibsi_1_test.py): value and tolerance, with the IBSI rounding rule.
"""
from __future__ import annotations

import pytest

REFERENCE = {
    "C": {"morph_volume": (367000, 6000), "morph_vol_approx": (368000, 6000), "morph_area_mesh": (34300, 400),
          "morph_com": (45.6, 2.8), "morph_diam": (125, 1), "morph_pca_maj_axis": (93.3, 0.5),
          "morph_pca_least_axis": (70.9, 0.4), "morph_integ_int": (-1.8e7, 1.4e6),
          "loc_peak_loc": (169, 10), "loc_peak_glob": (180, 5), "stat_mean": (-49, 2.9),
          "stat_var": (50600, 1400), "stat_min": (-939, 4), "stat_p10": (-424, 14), "stat_max": (393, 10),
          "ih_mean": (38.6, 0.2), "ih_min": (3, 0.16), "ih_max": (56, 0.5), "ih_mode": (43, 0.1),
          "ih_entropy": (3.73, 0.04), "ih_max_grad": (4750, 30), "ih_max_grad_g": (41, 0),
          "ivh_v10": (0.998, 0.001), "ivh_v90": (0.000152, 2e-05), "ivh_i10": (88.8, 0.2), "ivh_i90": (-421, 14),
          "ivh_diff_i10_i90": (510, 14)},
    "D": {"morph_volume": (367000, 6000), "morph_com": (64.9, 2.8), "morph_integ_int": (-8640000, 1560000),
          "loc_peak_loc": (201, 10), "loc_peak_glob": (201, 5), "stat_mean": (-23.5, 3.9),
          "stat_var": (32800, 2100), "stat_min": (-724, 12), "stat_max": (521, 22), "stat_p10": (-304, 20),
          "ih_mean": (18.5, 0.5), "ih_max": (32, 0), "ih_mode": (20, 0.4), "ih_entropy": (2.94, 0.01),
          "ivh_v10": (0.972, 0.003), "ivh_i10": (87, 0.1), "ivh_i90": (-303, 20), "ivh_diff_i10_i90": (390, 20)},
    "E": {"morph_volume": (367000, 6000), "morph_com": (68.5, 2.1), "morph_integ_int": (-8310000, 1600000),
          "loc_peak_loc": (181, 13), "loc_peak_glob": (181, 5), "stat_mean": (-22.6, 4.1),
          "stat_var": (35100, 2200), "stat_min": (-743, 13), "stat_max": (345, 9), "stat_p90": (93, 0.2),
          "ih_mean": (21.7, 0.3), "ih_mode": (24, 0.1), "ih_entropy": (3.22, 0.02),
          "ivh_v10": (0.975, 0.002), "ivh_i10": (770, 5), "ivh_i90": (399, 17), "ivh_diff_i10_i90": (371, 13)},
}


@pytest.fixture(scope="module")
def config_features(ct_phantom_data):
    from theranomics.radiomics import extract_features, ibsi_config
    image, labels = ct_phantom_data
    cache = {}

    def get(config: str) -> dict[str, float]:
        if config not in cache:
            settings = ibsi_config(config)
            families = ("morphology", "local_intensity", "statistics", "intensity_histogram", "ivh")
            from dataclasses import replace
            cache[config] = extract_features(image, labels, replace(settings, families=families)).iloc[0].to_dict()
        return cache[config]

    return get


@pytest.mark.parametrize("config,tag", [(c, t) for c, rows in REFERENCE.items() for t in rows],
                         ids=[f"config_{c}-{t}" for c, rows in REFERENCE.items() for t in rows])
def test_config_cde_reference(config, tag, config_features, ibsi_tolerance):
    value, tol = REFERENCE[config][tag]
    x = config_features(config)[tag]
    assert ibsi_tolerance(x, repr(float(value)), repr(float(tol))), f"config {config} {tag}: {x} vs {value} ± {tol}"
