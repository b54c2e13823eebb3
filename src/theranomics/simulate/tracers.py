"""Tracer presets: diagnostic PET (organ and lesion SUVs at the uptake time) and the matching
Lu-177 therapy agents (per-tissue biokinetics, see :mod:`.kinetics`).

Values are rounded typical values chosen within the ranges of the cited literature; they
describe a plausible patient, not a population mean.  SUVs are SUVmean (body weight) of the
whole VOI; lesion SUVs are for relative receptor expression 1.

Therapy curves are *biological* SUV curves s(t) (fraction of injected activity per mL × body
weight in g, without physical decay), built from :func:`~.kinetics.uptake` and
:func:`~.kinetics.washout`; the blood curve starts at W/V_blood ≈ 1/0.07 = 14.3 (blood
volume 70 mL/kg).  The amplitudes were chosen so that, with local deposition of the Lu-177
electron energy, the reference organs get absorbed doses inside the published ranges
(quoted per value below).  Conversion used for the checks: 1 MBq·h in 1 g of tissue gives
3.6e9 decays × 0.1479 MeV (ICRP-107 mean electron energy per decay) = 0.085 Gy.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from .kinetics import Curve, scaled, uptake, washout

FAMILIES = ("psma", "sstr")
_ALIASES = {"kidney_left": "kidney", "kidney_right": "kidney"}


@dataclass(frozen=True)
class PetTracer:
    """A diagnostic PET tracer preset."""

    key: str
    name: str
    nuclide: str
    family: str
    default_activity_mbq: float
    uptake_time_min: float
    suv: Mapping[str, float]
    lesion_suv: Mapping[str, float]
    references: tuple[str, ...] = ()

    def suv_of(self, voi: str) -> float:
        """SUVmean of an organ VOI (``kidney_left``/``kidney_right`` use ``kidney``)."""
        key = _ALIASES.get(voi, voi)
        if key not in self.suv:
            raise KeyError(f"PET preset {self.key!r} has no SUV for VOI {voi!r}; it has {sorted(self.suv)}")
        return float(self.suv[key])

    def lesion_suv_of(self, region: str) -> float:
        if region not in self.lesion_suv:
            raise KeyError(f"PET preset {self.key!r} has no lesion SUV for region {region!r}")
        return float(self.lesion_suv[region])


@dataclass(frozen=True)
class TherapyAgent:
    """A therapy radiopharmaceutical preset with per-tissue biological curves."""

    key: str
    name: str
    nuclide: str
    family: str
    default_activity_mbq: float
    whole_body: Curve
    blood: Curve
    tissues: Mapping[str, tuple[float, Curve]]
    lesions: Mapping[str, Curve]
    references: tuple[str, ...] = field(default_factory=tuple)

    def tissue(self, voi: str) -> tuple[float, Curve]:
        """(blood share, specific-uptake curve) of a VOI."""
        key = _ALIASES.get(voi, voi)
        if key not in self.tissues:
            raise KeyError(f"therapy preset {self.key!r} has no kinetics for VOI {voi!r}; it has {sorted(self.tissues)}")
        return self.tissues[key]

    def lesion_curve(self, region: str) -> Curve:
        if region not in self.lesions:
            raise KeyError(f"therapy preset {self.key!r} has no lesion kinetics for region {region!r}")
        return self.lesions[region]


# ---------------------------------------------------------------------------------------------
# Diagnostic PET presets (SUVmean at ~60 min p.i.)
# ---------------------------------------------------------------------------------------------

PSMA_11 = PetTracer(
    key="psma-11", name="[68Ga]Ga-PSMA-11", nuclide="Ga-68", family="psma",
    default_activity_mbq=150.0,        # ~2 MBq/kg, EANM/SNMMI PSMA PET guideline (Fendler 2023)
    uptake_time_min=60.0,
    suv={
        "parotid": 15.0,           # Afshar-Oromieh 2013 / Prasad 2016: parotid SUV ~12–20
        "submandibular": 16.0,     # Prasad 2016: submandibular ~15–20
        "lacrimal": 8.0,           # lacrimal SUVmax ~5–10 (Prasad 2016)
        "kidney_cortex": 45.0,     # kidney SUV ~30–50 (Afshar-Oromieh 2013); cortex > medulla
        "kidney_medulla": 15.0,
        "kidney": 35.0,            # whole kidney when cortex/medulla are not separated
        "liver": 6.0,              # Prasad 2016 / Demirci 2018: liver ~5–7
        "spleen": 5.0,             # spleen ~4–6
        "blood_pool": 1.8,         # blood pool ~1.5–2 (Demirci 2018)
        "aorta": 1.8,
        "heart": 2.0,              # myocardium low, near blood pool
        "lung": 0.6,               # lung ~0.4–0.8
        "bone": 0.7,               # normal bone 0.5–1
        "red_marrow": 1.2,         # marrow slightly above cortical bone
        "bowel": 4.0,              # small bowel / colon ~3–10 (Prasad 2016)
        "bladder": 30.0,           # urinary excretion, bladder SUV highly variable (>20)
        "prostate": 4.0,           # normal prostate ~3–5
        "prostate_bed": 1.0,
        "remainder": 0.5,          # muscle ~0.8, fat ~0.3
    },
    lesion_suv={                   # lesions 5–50 (Afshar-Oromieh 2015; Prasad 2016)
        "bone": 15.0, "lymph_node_pelvic": 12.0, "lymph_node_extrapelvic": 10.0, "prostate": 12.0,
        "prostate_bed": 8.0, "visceral_liver": 9.0, "visceral_lung": 7.0,
    },
    references=("Afshar-Oromieh A et al. EJNMMI 2013;40:486", "Prasad V et al. Mol Imaging Biol 2016 (normal-organ PSMA-11 uptake)",
                "Demirci E et al. Nucl Med Commun (PSMA-11 normal distribution)"),
)

DCFPYL = PetTracer(
    key="dcfpyl", name="[18F]DCFPyL", nuclide="F-18", family="psma",
    default_activity_mbq=300.0,        # ~300–370 MBq (CONDOR / OSPREY protocols)
    uptake_time_min=60.0,
    suv={
        "parotid": 18.0,           # Li X et al. 2019 / Wondergem 2017: salivary SUV ~15–20
        "submandibular": 19.0,
        "lacrimal": 10.0,
        "kidney_cortex": 50.0,     # kidneys ~30–50
        "kidney_medulla": 15.0,
        "kidney": 38.0,
        "liver": 8.0,              # liver higher than with PSMA-11 (~7–10)
        "spleen": 6.0,
        "blood_pool": 1.5,         # blood pool ~1.3–2
        "aorta": 1.5,
        "heart": 2.0,
        "lung": 0.5,
        "bone": 0.8,
        "red_marrow": 1.2,
        "bowel": 4.0,
        "bladder": 40.0,
        "prostate": 4.0,
        "prostate_bed": 1.0,
        "remainder": 0.5,
    },
    lesion_suv={"bone": 18.0, "lymph_node_pelvic": 14.0, "lymph_node_extrapelvic": 12.0, "prostate": 14.0,
                "prostate_bed": 9.0, "visceral_liver": 10.0, "visceral_lung": 8.0},
    references=("Li X et al. (normal [18F]DCFPyL biodistribution)", "Wondergem M et al. JNM 2017 ([18F]DCFPyL PET)"),
)

DOTATATE_GA68 = PetTracer(
    key="dotatate-ga68", name="[68Ga]Ga-DOTATATE", nuclide="Ga-68", family="sstr",
    default_activity_mbq=150.0,        # 100–200 MBq (EANM SSTR PET guideline, Bozkurt 2017)
    uptake_time_min=60.0,
    suv={
        "spleen": 25.0,            # Kuyumcu 2013 / Shastry 2010: spleen SUVmean ~20–30
        "kidney_cortex": 20.0,     # kidney ~12–18 (whole organ)
        "kidney_medulla": 8.0,
        "kidney": 15.0,
        "liver": 9.0,              # liver ~8–10
        "blood_pool": 1.5,
        "aorta": 1.5,
        "heart": 1.5,
        "lung": 0.7,
        "parotid": 2.5,            # salivary glands low for SSTR
        "submandibular": 2.5,
        "lacrimal": 1.0,
        "bone": 0.8,
        "red_marrow": 1.5,
        "bowel": 3.0,
        "bladder": 15.0,
        "prostate": 2.0,
        "prostate_bed": 1.0,
        "remainder": 0.6,
    },
    lesion_suv={                   # NET lesions 10–80 (Kuyumcu 2013; Campana 2010)
        "visceral_liver": 30.0, "lymph_node_extrapelvic": 25.0, "lymph_node_pelvic": 22.0, "bone": 20.0,
        "visceral_lung": 15.0, "prostate": 15.0, "prostate_bed": 12.0,
    },
    references=("Kuyumcu S et al. Nucl Med Commun 2013 (SSTR PET normal uptake)", "Shastry M et al. Nucl Med Commun 2010"),
)

DOTATATE_CU64 = PetTracer(
    key="dotatate-cu64", name="[64Cu]Cu-DOTATATE", nuclide="Cu-64", family="sstr",
    default_activity_mbq=200.0,        # ~200 MBq (Pfeifer 2012; Johnbeck 2017)
    uptake_time_min=60.0,
    suv={
        "spleen": 22.0,            # Johnbeck 2017 / Pfeifer 2012: spleen ~20–25
        "kidney_cortex": 18.0,
        "kidney_medulla": 7.0,
        "kidney": 14.0,
        "liver": 10.0,             # liver ~9–11 (Cu-64 higher than Ga-68)
        "blood_pool": 1.5,
        "aorta": 1.5,
        "heart": 1.5,
        "lung": 0.7,
        "parotid": 2.0,
        "submandibular": 2.0,
        "lacrimal": 1.0,
        "bone": 0.8,
        "red_marrow": 1.5,
        "bowel": 4.0,
        "bladder": 10.0,
        "prostate": 2.0,
        "prostate_bed": 1.0,
        "remainder": 0.6,
    },
    lesion_suv={"visceral_liver": 30.0, "lymph_node_extrapelvic": 25.0, "lymph_node_pelvic": 22.0, "bone": 20.0,
                "visceral_lung": 15.0, "prostate": 15.0, "prostate_bed": 12.0},
    references=("Johnbeck CB et al. JNM 2017;58:451", "Pfeifer A et al. JNM 2012;53:1207"),
)

PET_TRACERS: Mapping[str, PetTracer] = {t.key: t for t in (PSMA_11, DCFPYL, DOTATATE_GA68, DOTATATE_CU64)}


# ---------------------------------------------------------------------------------------------
# Therapy agents (biological SUV curves; see module docstring)
# ---------------------------------------------------------------------------------------------

# Whole blood: starts at W/V_blood ≈ 14.3 and clears bi-/tri-exponentially (PSMA-617 blood
# clearance with T½ ~0.5–1 h and a slow phase, cf. Kurth 2018).
_PSMA_BLOOD = washout(0.65 * 14.3, 0.6) + washout(0.30 * 14.3, 5.0) + washout(0.05 * 14.3, 60.0)

LU_PSMA_617 = TherapyAgent(
    key="lu177-psma-617", name="[177Lu]Lu-PSMA-617", nuclide="Lu-177", family="psma",
    default_activity_mbq=7400.0,       # VISION trial: 7.4 GBq per cycle
    # Whole-body retention: fast renal excretion, ~60 % excreted within 24 h (Kurth 2018).
    whole_body=washout(0.35, 1.5) + washout(0.25, 12.0) + washout(0.40, 90.0),
    blood=_PSMA_BLOOD,
    tissues={
        # kidneys: ~3.5 %IA in 300 mL, T_bio 53 h (T_eff ~40 h) -> ~0.6 Gy/GBq
        # (Kratochwil 2016: 0.75; Delker 2016: 0.6; Violet 2019: 0.39 Gy/GBq); plus a short transit phase
        "kidney": (0.0, uptake(9.3, 0.5, 53.0) + uptake(3.0, 0.3, 3.0)),
        "kidney_cortex": (0.0, scaled(uptake(9.3, 0.5, 53.0) + uptake(3.0, 0.3, 3.0), 1.2)),
        "kidney_medulla": (0.0, scaled(uptake(9.3, 0.5, 53.0) + uptake(3.0, 0.3, 3.0), 0.35)),
        # salivary glands: ~1 %IA in both parotids (50 mL), T_eff ~38 h -> ~1 Gy/GBq
        # (Kratochwil 2016: 1.28; Delker 2016: 1.4; Violet 2019: 0.58 Gy/GBq)
        "parotid": (0.0, uptake(16.0, 1.0, 50.0)),
        "submandibular": (0.0, uptake(12.0, 1.0, 50.0)),    # Violet 2019: 0.44 Gy/GBq (below parotid)
        "lacrimal": (0.0, uptake(12.0, 1.0, 50.0)),         # lacrimal ~0.4–2.8 Gy/GBq (Violet 2019; Hohberg 2016)
        # liver ~3 %IA in 1800 mL, T_bio 60 h -> ~0.1 Gy/GBq (Delker 2016; Kratochwil 2016: ~0.1)
        "liver": (0.1, uptake(1.33, 1.0, 60.0)),
        "spleen": (0.1, uptake(1.5, 1.0, 60.0)),            # spleen ~0.1–0.2 Gy/GBq
        "blood_pool": (1.0, ()),
        "aorta": (1.0, ()),
        "heart": (0.3, uptake(0.8, 0.5, 40.0)),
        "lung": (0.2, uptake(0.3, 0.5, 30.0)),
        # red marrow: blood-based (Kratochwil 2016: 0.03; Delker 2016: 0.012 Gy/GBq)
        "red_marrow": (0.35, uptake(0.5, 1.0, 60.0)),
        "bone": (0.05, uptake(0.3, 1.0, 60.0)),
        "bowel": (0.05, uptake(1.0, 1.0, 20.0)),
        # bladder content (urine): fills and is voided; modelled inside the body retention
        "bladder": (0.0, uptake(35.0, 0.7, 3.0)),
        "prostate": (0.1, uptake(2.0, 1.0, 50.0)),
        "prostate_bed": (0.1, uptake(0.5, 1.0, 50.0)),
    },
    # lesions: peak biological SUV at receptor expression 1; T_bio 200 h (T_eff ~90 h) -> ~2 Gy/GBq for
    # SUV 12 (tumour doses of a few Gy/GBq: Violet 2019, Kratochwil 2016)
    lesions={
        "bone": uptake(12.0, 1.5, 200.0), "lymph_node_pelvic": uptake(10.0, 1.5, 200.0),
        "lymph_node_extrapelvic": uptake(10.0, 1.5, 200.0), "prostate": uptake(10.0, 1.5, 200.0),
        "prostate_bed": uptake(8.0, 1.5, 200.0), "visceral_liver": uptake(8.0, 1.5, 200.0),
        "visceral_lung": uptake(6.0, 1.5, 200.0),
    },
    references=("Kratochwil C et al. JNM 2016;57:1170", "Delker A et al. EJNMMI 2016;43:42",
                "Violet J et al. JNM 2019;60:517", "Kurth J et al. JNM 2018 (PSMA-617 blood and whole-body kinetics)"),
)

_SSTR_BLOOD = washout(0.60 * 14.3, 0.5) + washout(0.35 * 14.3, 3.0) + washout(0.05 * 14.3, 50.0)

LU_DOTATATE = TherapyAgent(
    key="lu177-dotatate", name="[177Lu]Lu-DOTATATE", nuclide="Lu-177", family="sstr",
    default_activity_mbq=7400.0,       # NETTER-1: 7.4 GBq per cycle
    whole_body=washout(0.35, 1.5) + washout(0.20, 10.0) + washout(0.45, 150.0),
    blood=_SSTR_BLOOD,
    tissues={
        # kidneys: ~3 %IA in 300 mL, T_bio 70 h (T_eff ~49 h) -> ~0.6 Gy/GBq (Sandström 2013: ~0.6)
        "kidney": (0.0, uptake(8.0, 0.5, 70.0) + uptake(3.0, 0.3, 3.0)),
        "kidney_cortex": (0.0, scaled(uptake(8.0, 0.5, 70.0) + uptake(3.0, 0.3, 3.0), 1.2)),
        "kidney_medulla": (0.0, scaled(uptake(8.0, 0.5, 70.0) + uptake(3.0, 0.3, 3.0), 0.35)),
        # spleen: ~1.5 %IA in 150 mL, T_bio 150 h (T_eff ~77 h) -> ~0.9 Gy/GBq (Sandström 2013: ~0.8–1.2)
        "spleen": (0.1, uptake(8.0, 1.0, 150.0)),
        # liver: ~4 %IA in 1800 mL -> ~0.2 Gy/GBq (Sandström 2013: liver 0.1–0.5)
        "liver": (0.1, uptake(1.8, 1.0, 150.0)),
        "blood_pool": (1.0, ()),
        "aorta": (1.0, ()),
        "heart": (0.3, uptake(0.3, 0.5, 40.0)),
        "lung": (0.2, uptake(0.2, 0.5, 30.0)),
        # red marrow ~0.02 Gy/GBq (Sandström 2013)
        "red_marrow": (0.35, uptake(0.4, 1.0, 100.0)),
        "bone": (0.05, uptake(0.2, 1.0, 100.0)),
        "parotid": (0.1, uptake(1.0, 1.0, 30.0)),
        "submandibular": (0.1, uptake(1.0, 1.0, 30.0)),
        "lacrimal": (0.1, uptake(0.5, 1.0, 30.0)),
        "bowel": (0.05, uptake(1.0, 1.0, 20.0)),
        "bladder": (0.0, uptake(35.0, 0.7, 3.0)),
        "prostate": (0.1, uptake(1.0, 1.0, 50.0)),
        "prostate_bed": (0.1, uptake(0.5, 1.0, 50.0)),
    },
    # NET lesions: T_bio 200 h (T_eff ~90 h; Sandström 2013 tumour T_eff ~70–100 h) -> ~3 Gy/GBq at SUV 25
    lesions={
        "visceral_liver": uptake(25.0, 2.0, 200.0), "lymph_node_extrapelvic": uptake(20.0, 2.0, 200.0),
        "lymph_node_pelvic": uptake(18.0, 2.0, 200.0), "bone": uptake(15.0, 2.0, 200.0),
        "visceral_lung": uptake(12.0, 2.0, 200.0), "prostate": uptake(10.0, 2.0, 200.0),
        "prostate_bed": uptake(10.0, 2.0, 200.0),
    },
    references=("Sandström M et al. JNM 2013;54:33", "Garske-Román U et al. EJNMMI 2018;45:970"),
)

THERAPY_AGENTS: Mapping[str, TherapyAgent] = {a.key: a for a in (LU_PSMA_617, LU_DOTATATE)}
#: the therapy agent that matches each diagnostic tracer family
THERAPY_FOR_FAMILY = {"psma": "lu177-psma-617", "sstr": "lu177-dotatate"}


def pet_tracer(key: str) -> PetTracer:
    """PET preset by key: ``psma-11``, ``dcfpyl``, ``dotatate-ga68``, ``dotatate-cu64``."""
    try:
        return PET_TRACERS[key]
    except KeyError:
        raise ValueError(f"unknown tracer {key!r}; expected one of {sorted(PET_TRACERS)}") from None


def therapy_agent(key: str) -> TherapyAgent:
    """Therapy preset by key: ``lu177-psma-617`` or ``lu177-dotatate``."""
    try:
        return THERAPY_AGENTS[key]
    except KeyError:
        raise ValueError(f"unknown therapy agent {key!r}; expected one of {sorted(THERAPY_AGENTS)}") from None
