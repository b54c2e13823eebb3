"""Documented PBPK parameter files and the per-patient specification.

Parameter files live in ``theranomics/twin/parameters/``: ``physiology.json`` (shared reference
physiology) and one file per ligand (``psma617.json``, ``psma_it.json``, ``dotatate.json``).  Every
value carries ``value``, ``unit``, ``source`` and ``status`` — ``published`` (read in the cited
source), ``published-unverified``, ``assumption`` or ``calibration`` (rescaled to clinical data,
with its ``evidence``).  :func:`parameter_table` lists them all for a report.

A :class:`PatientSpec` is one patient: body weight, GFR, tumours and any per-organ overrides
(``"kidneys.receptor_density_nmol_l"``, ``"lesion_1.lambda_rel_per_min"``, …) — the parameters
personalisation estimates.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from functools import lru_cache
from importlib import resources
from typing import Mapping

import pandas as pd

from .. import nuclides


class TwinParameterError(ValueError):
    """A parameter file or a patient specification is invalid."""


#: Ligand keys and their parameter files.
LIGAND_FILES = {"psma-617": "psma617.json", "psma-it": "psma_it.json", "dotatate": "dotatate.json"}
_LIGAND_ALIASES = {"psma617": "psma-617", "psma 617": "psma-617", "lu-psma-617": "psma-617",
                   "psma-i&t": "psma-it", "psmait": "psma-it", "psma i&t": "psma-it", "psma-i-t": "psma-it",
                   "dota-tate": "dotatate", "lu-dotatate": "dotatate"}
#: Organs of every model, in state order (tumours follow them).
NORMAL_ORGANS = ("kidneys", "salivary_glands", "liver", "spleen", "red_marrow", "rest")
#: Per-organ parameters a patient may override (``"<organ>.<name>"``).
ORGAN_PARAMETERS = ("volume_l", "flow_fraction", "perfusion_ml_min_ml", "vascular_fraction",
                    "interstitial_fraction", "kps_per_min", "receptor_density_nmol_l", "lambda_int_per_min",
                    "lambda_rel_per_min")
_STATUSES = ("published", "published-unverified", "assumption", "calibration")


@lru_cache(maxsize=None)
def _read_json(filename: str) -> dict:
    try:
        text = resources.files("theranomics.twin").joinpath("parameters", filename).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TwinParameterError(f"parameter file theranomics/twin/parameters/{filename} is missing") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TwinParameterError(f"parameter file {filename}: not valid JSON ({exc})") from None
    _check_entries(data, filename)
    return data


def _check_entries(node, where: str) -> None:
    """Every leaf entry must be {value, unit, source, status} with a known status."""
    if not isinstance(node, dict):
        return
    if "value" in node:
        for key in ("unit", "source", "status"):
            if key not in node:
                raise TwinParameterError(f"{where}: entry has no {key!r}")
        if node["status"] not in _STATUSES:
            raise TwinParameterError(f"{where}: status {node['status']!r} is not one of {_STATUSES}")
        if node["status"] == "calibration" and "evidence" not in node:
            raise TwinParameterError(f"{where}: a calibration needs its 'evidence'")
        return
    for key, child in node.items():
        if isinstance(child, dict):
            _check_entries(child, f"{where}: {key}")


def ligand_key(name: str) -> str:
    """Canonical ligand key (``psma-617``, ``psma-it``, ``dotatate``)."""
    key = str(name).strip().lower()
    key = _LIGAND_ALIASES.get(key, key)
    if key not in LIGAND_FILES:
        raise TwinParameterError(f"unknown ligand {name!r}; expected one of {sorted(LIGAND_FILES)}")
    return key


@dataclass(frozen=True)
class Ligand:
    """One ligand's parameter file merged with the shared physiology (read-only)."""

    key: str
    name: str
    family: str
    nuclide: str
    data: Mapping
    physiology: Mapping

    def value(self, name: str) -> float:
        """A ligand-level value, e.g. ``k_on_l_per_nmol_min``."""
        if name not in self.data:
            raise TwinParameterError(f"ligand {self.key!r} has no parameter {name!r}")
        return float(self.data[name]["value"])

    def physiology_value(self, name: str) -> float:
        if name not in self.physiology:
            raise TwinParameterError(f"physiology has no parameter {name!r}")
        return float(self.physiology[name]["value"])

    def organ_value(self, organ: str, name: str) -> float | None:
        """Per-organ value: ligand file first, then physiology (``None`` where neither defines it)."""
        kind = "tumour" if is_tumour(organ) else organ
        for source in (self.data.get("organs", {}), self.physiology.get("organs", {})):
            entry = source.get(kind, {}).get(name)
            if entry is not None and entry["value"] is not None:
                return float(entry["value"])
        return None

    @property
    def molar_activity_mbq_per_nmol(self) -> float:
        """Activity of 1 nmol of labelled ligand: λ·N_A·1e-9 / 1e6 (MBq/nmol), λ from the nuclide data."""
        return nuclides.decay_constant_per_s(self.nuclide) * AVOGADRO * 1e-9 / 1e6


#: Avogadro constant (exact, SI 2019), 1/mol.
AVOGADRO = 6.02214076e23


def is_tumour(organ: str) -> bool:
    return organ.startswith("lesion_") or organ.startswith("tumour")


@lru_cache(maxsize=None)
def load_ligand(name: str) -> Ligand:
    """The parameters of a ligand (``psma-617``, ``psma-it``, ``dotatate``)."""
    key = ligand_key(name)
    data = _read_json(LIGAND_FILES[key])
    phys = _read_json("physiology.json")
    for field_name in ("name", "family", "nuclide"):
        if field_name not in data:
            raise TwinParameterError(f"{LIGAND_FILES[key]}: missing {field_name!r}")
    nuclides.normalise_name(data["nuclide"])
    return Ligand(key, data["name"], data["family"], data["nuclide"], data, phys)


def parameter_table(ligand: str | Ligand) -> pd.DataFrame:
    """Every value of a ligand and of the physiology with unit, source and status."""
    lig = ligand if isinstance(ligand, Ligand) else load_ligand(ligand)
    rows = []

    def walk(node, prefix, origin):
        for key, child in node.items():
            if not isinstance(child, dict):
                continue
            if "value" in child:
                rows.append({"parameter": f"{prefix}{key}", "value": child["value"], "unit": child["unit"],
                             "status": child["status"], "source": child["source"],
                             "evidence": child.get("evidence", ""), "file": origin})
            else:
                walk(child, f"{prefix}{key}." if key != "organs" else prefix, origin)

    walk(lig.data, "", LIGAND_FILES[lig.key])
    walk(lig.physiology, "", "physiology.json")
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class TumourSpec:
    """A tumour as an organ: volume and receptor density (``None`` = ligand default)."""

    name: str
    volume_ml: float
    receptor_density_nmol_l: float | None = None

    def __post_init__(self) -> None:
        if not is_tumour(self.name):
            raise TwinParameterError(f"tumour name {self.name!r} must start with 'lesion_' or 'tumour'")
        if not (math.isfinite(self.volume_ml) and self.volume_ml > 0):
            raise TwinParameterError(f"tumour {self.name!r}: volume_ml must be > 0, got {self.volume_ml}")
        r = self.receptor_density_nmol_l
        if r is not None and not (math.isfinite(r) and r >= 0):
            raise TwinParameterError(f"tumour {self.name!r}: receptor_density_nmol_l must be >= 0, got {r}")


@dataclass(frozen=True)
class PatientSpec:
    """One patient of the twin.  ``overrides`` maps ``"<organ>.<parameter>"`` to a value."""

    weight_kg: float = 80.0
    gfr_ml_min: float | None = None
    tumours: tuple[TumourSpec, ...] = ()
    overrides: Mapping[str, float] = field(default_factory=dict)
    patient_id: str = "twin"

    def __post_init__(self) -> None:
        if not (math.isfinite(self.weight_kg) and 20 <= self.weight_kg <= 300):
            raise TwinParameterError(f"patient {self.patient_id}: weight_kg must be within 20-300 kg, "
                                     f"got {self.weight_kg}")
        if self.gfr_ml_min is not None and not (math.isfinite(self.gfr_ml_min) and 1 <= self.gfr_ml_min <= 250):
            raise TwinParameterError(f"patient {self.patient_id}: gfr_ml_min must be within 1-250 mL/min, "
                                     f"got {self.gfr_ml_min}")
        names = [t.name for t in self.tumours]
        if len(set(names)) != len(names):
            raise TwinParameterError(f"patient {self.patient_id}: duplicate tumour names {names}")
        object.__setattr__(self, "tumours", tuple(self.tumours))
        clean = {}
        organs = set(NORMAL_ORGANS) | set(names)
        for key, value in dict(self.overrides).items():
            organ, _, pname = str(key).partition(".")
            if organ == "gfr_ml_min" and not pname:
                raise TwinParameterError("set gfr_ml_min as PatientSpec.gfr_ml_min, not as an override")
            if organ not in organs or pname not in ORGAN_PARAMETERS:
                raise TwinParameterError(f"patient {self.patient_id}: override {key!r} must be '<organ>.<parameter>' "
                                         f"with organ in {sorted(organs)} and parameter in {ORGAN_PARAMETERS}")
            v = float(value)
            if not (math.isfinite(v) and v >= 0):
                raise TwinParameterError(f"patient {self.patient_id}: override {key!r} must be finite and >= 0, "
                                         f"got {value}")
            clean[str(key)] = v
        object.__setattr__(self, "overrides", clean)

    @property
    def organs(self) -> tuple[str, ...]:
        return NORMAL_ORGANS + tuple(t.name for t in self.tumours)

    def with_values(self, values: Mapping[str, float]) -> "PatientSpec":
        """A copy with more overrides; ``"gfr_ml_min"`` sets the GFR."""
        values = dict(values)
        gfr = values.pop("gfr_ml_min", self.gfr_ml_min)
        return replace(self, gfr_ml_min=gfr, overrides={**self.overrides, **values})

    def scaled_tumours(self, factor: float) -> "PatientSpec":
        """The same patient with every tumour volume multiplied by ``factor`` (tumour-load studies)."""
        if not factor > 0:
            raise TwinParameterError(f"tumour scale factor must be > 0, got {factor}")
        return replace(self, tumours=tuple(replace(t, volume_ml=t.volume_ml * factor) for t in self.tumours))


def default_patient(ligand: str = "psma-617", *, weight_kg: float = 80.0, n_tumours: int = 3,
                    total_tumour_ml: float = 150.0) -> PatientSpec:
    """The documented default patient: reference physiology, ``n_tumours`` equal lesions."""
    load_ligand(ligand)
    if n_tumours < 0:
        raise TwinParameterError(f"n_tumours must be >= 0, got {n_tumours}")
    tumours = tuple(TumourSpec(f"lesion_{i + 1}", total_tumour_ml / n_tumours) for i in range(n_tumours))
    return PatientSpec(weight_kg=weight_kg, tumours=tumours, patient_id="default")


__all__ = ["TwinParameterError", "LIGAND_FILES", "NORMAL_ORGANS", "ORGAN_PARAMETERS", "Ligand", "load_ligand",
           "ligand_key", "parameter_table", "TumourSpec", "PatientSpec", "default_patient", "is_tumour", "AVOGADRO"]
