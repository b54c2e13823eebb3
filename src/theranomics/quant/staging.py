"""PROMISE V2 molecular imaging TNM (miTNM), the PSMA expression score, and therapy
eligibility (Krenning score for SSTR PET; VISION and TheraP criteria for PSMA PET).

References
* PROMISE V2: Seifert R et al., Eur Urol 2023;83:405 (miTNM v2.0; expression score 0–3 vs blood
  pool, liver, parotid — spleen for [18F]PSMA-1007).
* Krenning score on SSTR PET: Hope TA et al., J Nucl Med 2019;60:937 (grade 0 none, 1 very low,
  2 ≤ liver, 3 > liver, 4 > spleen); PRRT eligibility requires uptake ≥ liver (NETTER-1,
  Strosberg 2017).
* VISION: Sartor O et al., N Engl J Med 2021;385:1091; Kuo PH et al., J Nucl Med 2022;63:1638:
  ≥ 1 PSMA-positive lesion (uptake > liver) and no PSMA-negative lesion (uptake ≤ liver)
  meeting size criteria (lymph node ≥ 2.5 cm short axis, solid organ ≥ 1.0 cm, bone with soft-tissue
  component ≥ 1.0 cm) — the sizes need the CT.
* TheraP: Hofman MS et al., Lancet 2021;397:797: SUVmax ≥ 20 at ≥ 1 site and SUVmax ≥ 10 at all
  measurable sites (plus no FDG-discordant disease — needs FDG PET, not assessed here).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Decision:
    """A rule's outcome with the lesions that decided it and what needs another look."""

    rule: str
    result: str
    deciding_lesions: tuple[int, ...] = ()
    needs_review: tuple[str, ...] = ()
    details: dict = field(default_factory=dict)


def _require(table: pd.DataFrame, columns) -> None:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise KeyError(f"the lesion table lacks column(s) {missing}")


def _ids(frame: pd.DataFrame) -> tuple[int, ...]:
    return tuple(int(x) for x in frame["lesion_id"])


def bone_pattern(n_bone_lesions: int, diffuse: bool = False) -> str:
    """PROMISE V2 bone pattern: uni (1), oligo (2–3), diss (≥ 4, disseminated), dmi (diffuse marrow involvement)."""
    if diffuse:
        return "dmi"
    if n_bone_lesions <= 0:
        return ""
    return "uni" if n_bone_lesions == 1 else "oligo" if n_bone_lesions <= 3 else "diss"


def mitnm(table: pd.DataFrame, *, diffuse_marrow: bool = False) -> dict[str, str]:
    """miT / miN / miM labels from lesion regions.

    miT: miT0 no local tumour; miTr local recurrence in the prostatectomy bed; miT2 prostate
    lesions (T3/T4 extension needs anatomical review — flagged).  miN: miN0; miN1a one pelvic
    node (region); miN1b several.  miM: M0; M1a extrapelvic nodes; M1b bone (with pattern);
    M1c visceral; the highest applies, all present are listed.
    Each pelvic node is counted as its own region (nodal regions need an atlas).
    """
    _require(table, ["lesion_id", "region"])
    r = table["region"]
    t = "miTr" if (r == "prostate_bed").any() else "miT2" if (r == "prostate").any() else "miT0"
    n_pelvic = int((r == "lymph_node_pelvic").sum())
    n = "miN0" if n_pelvic == 0 else "miN1a" if n_pelvic == 1 else "miN1b"
    parts = []
    if (r == "lymph_node_extrapelvic").any():
        parts.append("M1a")
    n_bone = int((r == "bone").sum())
    if n_bone or diffuse_marrow:
        parts.append(f"M1b({bone_pattern(n_bone, diffuse_marrow)})")
    if r.str.startswith("visceral").any():
        organs = sorted({x.replace("visceral_", "") for x in r if x.startswith("visceral")})
        parts.append(f"M1c({','.join(organs)})")
    m = "miM0" if not parts else "mi" + " ".join(parts)
    return {"miT": t, "miN": n, "miM": m, "miTNM": f"{t} {n} {m}",
            "review": "local extent (T3/T4) and nodal regions need anatomical review" if t == "miT2" or n_pelvic > 1 else ""}


def psma_expression_score(suv: float, blood_pool: float, liver: float, parotid: float,
                          spleen: float | None = None, tracer: str = "psma-11") -> int:
    """PROMISE V2 PSMA expression score: 0 < blood pool ≤ 1 < liver ≤ 2 < parotid ≤ 3.
    For [18F]PSMA-1007 the spleen replaces the liver."""
    mid = liver
    if tracer.lower().replace("[18f]", "").replace("-", "") in ("psma1007", "18fpsma1007"):
        if spleen is None:
            raise ValueError("the PSMA-1007 expression score uses the spleen as reference: give spleen")
        mid = spleen
    if not blood_pool < mid < parotid:
        raise ValueError(f"reference uptakes must rise blood pool < liver/spleen < parotid, got {blood_pool}, {mid}, {parotid}")
    return 0 if suv < blood_pool else 1 if suv < mid else 2 if suv < parotid else 3


def krenning(table: pd.DataFrame, liver_mean: float, spleen_mean: float, column: str = "suv_max",
             low_uptake_suv: float = 2.0) -> pd.Series:
    """Krenning grade per lesion on SSTR PET (Hope 2019): 4 > spleen, 3 > liver, 2 ≤ liver,
    1 very low (below ``low_uptake_suv``), 0 none (0)."""
    _require(table, [column])
    v = table[column].to_numpy(dtype=float)
    grade = np.where(v > spleen_mean, 4, np.where(v > liver_mean, 3, np.where(v >= low_uptake_suv, 2,
                                                                               np.where(v > 0, 1, 0))))
    return pd.Series(grade, index=table.index, name="krenning")


def sstr_eligibility(table: pd.DataFrame, liver_mean: float, spleen_mean: float) -> Decision:
    """PRRT eligibility: all lesions Krenning ≥ 3 (uptake above liver); lower-grade lesions decide against."""
    _require(table, ["lesion_id", "suv_max"])
    if table.empty:
        return Decision("Krenning (SSTR PET)", "not eligible: no lesion")
    g = krenning(table, liver_mean, spleen_mean)
    low = table[g < 3]
    result = "eligible" if low.empty else "not eligible: lesion(s) with uptake <= liver"
    return Decision("Krenning (SSTR PET)", result, _ids(low) if len(low) else _ids(table[g >= 3]),
                    details={"grades": dict(zip(_ids(table), map(int, g)))})


def vision(table: pd.DataFrame, liver_mean: float, column: str = "suv_max") -> Decision:
    """VISION PSMA PET criteria.  PSMA-negative lesions (uptake ≤ liver) are exclusionary only if they
    meet the CT size criteria: they are returned for CT review, never silently decided."""
    _require(table, ["lesion_id", column])
    positive = table[table[column] > liver_mean]
    negative = table[table[column] <= liver_mean]
    if positive.empty:
        return Decision("VISION", "not eligible: no PSMA-positive lesion (uptake > liver)")
    if negative.empty:
        return Decision("VISION", "eligible", _ids(positive))
    review = tuple(f"lesion {i}: PSMA-negative, check CT size (node >= 2.5 cm short axis, organ >= 1 cm)"
                   for i in _ids(negative))
    return Decision("VISION", "eligible unless a PSMA-negative lesion meets the CT size criteria",
                    _ids(negative), review)


def therap(table: pd.DataFrame, measurable_min_volume_ml: float = 0.52, column: str = "suv_max") -> Decision:
    """TheraP: SUVmax ≥ 20 at one site and ≥ 10 at all measurable sites.  Measurable here = volume
    ≥ ``measurable_min_volume_ml`` (a 1 cm sphere, 0.52 mL) — the CT-based definition needs review.
    FDG-discordant disease is not assessed (needs FDG PET)."""
    _require(table, ["lesion_id", column, "volume_ml"])
    hot = table[table[column] >= 20]
    measurable = table[table["volume_ml"] >= measurable_min_volume_ml]
    low = measurable[measurable[column] < 10]
    if hot.empty:
        return Decision("TheraP", "not eligible: no site with SUVmax >= 20", _ids(table.nlargest(1, column)),
                        ("FDG-discordant disease not assessed",))
    if not low.empty:
        return Decision("TheraP", "not eligible: measurable site(s) with SUVmax < 10", _ids(low),
                        ("FDG-discordant disease not assessed",))
    return Decision("TheraP", "eligible", _ids(hot), ("FDG-discordant disease not assessed",))
