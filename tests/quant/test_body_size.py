"""Body-size formulas against hand-computed values (70 kg, 1.75 m unless stated)."""
from __future__ import annotations

import pytest

from theranomics.quant import body_size as bs

W, H = 70.0, 1.75
R2 = (70.0 / 175.0) ** 2  # (W/H)² with H in cm = 0.16
BMI = 70.0 / 1.75 ** 2  # 22.857 kg/m²


def test_bmi():
    assert bs.bmi_kg_m2(W, H) == pytest.approx(22.857142857, rel=1e-9)


@pytest.mark.parametrize("sex, expected", [("M", 77.0 - 19.2), ("F", 74.9 - 23.68), ("O", (57.8 + 51.22) / 2)])
def test_lbm_james(sex, expected):
    assert bs.lbm_james_kg(W, H, sex) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("sex, expected", [("M", 77.0 - 20.48), ("F", 74.9 - 23.68), ("O", (56.52 + 51.22) / 2)])
def test_lbm_james128(sex, expected):
    assert bs.lbm_james128_kg(W, H, sex) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("sex, expected", [
    ("M", 648900.0 / (6680.0 + 216.0 * 22.857142857142858)),   # 9270 × 70 = 648900
    ("F", 648900.0 / (8780.0 + 244.0 * 22.857142857142858)),
])
def test_lbm_janmahasatian(sex, expected):
    assert bs.lbm_janmahasatian_kg(W, H, sex) == pytest.approx(expected, rel=1e-12)


def test_lbm_janmahasatian_values():
    # 648900 / 11617.14 = 55.857 kg (male), 648900 / 14357.14 = 45.197 kg (female)
    assert bs.lbm_janmahasatian_kg(W, H, "M") == pytest.approx(55.857, abs=1e-3)
    assert bs.lbm_janmahasatian_kg(W, H, "F") == pytest.approx(45.197, abs=1e-3)
    assert bs.lbm_janmahasatian_kg(W, H, "O") == pytest.approx((55.857 + 45.197) / 2, abs=1e-3)


def test_bsa_dubois():
    # Du Bois: 0.007184 × 70^0.425 × 175^0.725 = 0.007184 × 6.0834 × 42.290 = 1.8481 m²
    # (Du Bois tables give 1.85 m² for 70 kg, 175 cm)
    assert bs.bsa_dubois_m2(W, H) == pytest.approx(1.8481, abs=1e-4)
    assert bs.bsa_dubois_m2(W, H) == pytest.approx(0.007184 * 70.0 ** 0.425 * 175.0 ** 0.725, rel=1e-12)


@pytest.mark.parametrize("sex, expected", [("M", 48.0 + 1.06 * 23), ("F", 45.5 + 0.91 * 23),
                                           ("O", (72.38 + 66.43) / 2)])
def test_ibw(sex, expected):
    assert bs.ibw_kg(H, sex) == pytest.approx(expected, rel=1e-12)


def test_lbm_formulas_registry():
    assert set(bs.LBM_FORMULAS) == {"james", "james128", "janmahasatian"}
    with pytest.raises(TypeError):
        bs.LBM_FORMULAS["boer"] = None  # read-only


@pytest.mark.parametrize("func, args", [
    (bs.lbm_james_kg, (W, H, "X")), (bs.lbm_james128_kg, (W, H, None)), (bs.lbm_janmahasatian_kg, (W, H, "male")),
    (bs.ibw_kg, (H, "")),
])
def test_invalid_sex(func, args):
    with pytest.raises(ValueError, match="sex must be one of"):
        func(*args)


@pytest.mark.parametrize("weight, height, what", [(0.0, H, "weight_kg"), (-70.0, H, "weight_kg"),
                                                  (float("nan"), H, "weight_kg"), (W, 0.0, "height_m"),
                                                  (W, float("inf"), "height_m")])
def test_invalid_weight_height(weight, height, what):
    with pytest.raises(ValueError, match=f"{what} must be a positive number"):
        bs.bsa_dubois_m2(weight, height)


def test_james_outside_validity():
    with pytest.raises(ValueError, match="James lean body mass is not positive"):
        bs.lbm_james_kg(300.0, 1.5, "M")


def test_ibw_outside_validity():
    with pytest.raises(ValueError, match="ideal body weight is not positive"):
        bs.ibw_kg(0.5, "M")
