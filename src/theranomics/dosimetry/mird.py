"""MIRD schema at organ and lesion level: D(t) = Σ_s Ã(s) · S(t ← s).

MIRD Pamphlet 21 (Bolch et al., J Nucl Med 50 (2009) 477) notation.  S-values come from

* :func:`patient_s_values` — **patient-specific** self- and cross-organ S-values on the patient's
  own segmentation: each source VOI gets a uniform unit time-integrated activity (1 MBq·h spread
  over its voxels), is convolved with the project's voxel S-value kernel (physics-generated,
  :mod:`theranomics.dosimetry.kernels`), and S(t ← s) is the mass-weighted mean absorbed dose in
  the target: S = Σ_{v∈t} E_v / Σ_{v∈t} m_v with E_v = D_ref(v)·ρ_ref·V_v (density scaling as
  in :mod:`theranomics.dosimetry.voxel`).  One FFT per source; the kernel's FFT is computed once.
* :func:`read_s_value_table` — phantom tables a user exports from OLINDA, IDAC-Dose or OpenDose,
  in the CSV format documented there, with :func:`mass_scaled_s_values` scaling the self-dose
  terms by m_phantom/m_patient (non-penetrating approximation, MIRD Pamphlet 11 / OLINDA;
  cross terms unchanged).
* :func:`lesion_sphere_s_value` — the lesion sphere model (self-dose of a unit-density sphere of
  the lesion's volume, :mod:`theranomics.dosimetry.spheres`).

S-values here are in Gy/(MBq·h) (``s_gy_per_mbq_h``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from .. import nuclides
from ..core.image import Image, LabelMap
from .kernels import normalise_include, voxel_s_kernel

#: Factors to Gy/(MBq·h) of the S-value units accepted in tables.
S_UNITS = {
    "Gy/(MBq*h)": 1.0, "mGy/(MBq*h)": 1e-3, "mGy/(MBq*s)": 3.6, "Gy/(Bq*s)": 3.6e9,
    "mGy/MBq-s": 3.6, "mSv/MBq-s": 3.6, "mGy/MBq-h": 1e-3, "Gy/MBq-h": 1.0, "Gy/Bq-s": 3.6e9,
}
FULL_SPECTRUM = ("beta", "ce", "auger", "photons")


class MIRDError(ValueError):
    """Bad input to the MIRD organ/lesion dose calculation."""


@dataclass(frozen=True, eq=False)
class SValueMatrix:
    """S(t ← s) in Gy/(MBq·h): ``values.loc[target, source]``, with target masses (g) and provenance."""

    values: pd.DataFrame
    masses_g: Mapping[str, float]
    nuclide: str
    source: str
    meta: dict = field(default_factory=dict)

    def s(self, target: str, source: str) -> float:
        try:
            return float(self.values.loc[target, source])
        except KeyError:
            raise MIRDError(f"no S-value for target {target!r} ← source {source!r}; targets "
                            f"{list(self.values.index)}, sources {list(self.values.columns)}") from None

    @property
    def targets(self) -> list[str]:
        return list(self.values.index)

    @property
    def sources(self) -> list[str]:
        return list(self.values.columns)

    def to_long(self) -> pd.DataFrame:
        """The table in the documented CSV layout (one row per source/target pair)."""
        rows = []
        for t in self.values.index:
            for s in self.values.columns:
                rows.append({"source": s, "target": t, "s_value": float(self.values.loc[t, s]),
                             "unit": "Gy/(MBq*h)", "target_mass_g": float(self.masses_g.get(t, math.nan))})
        return pd.DataFrame(rows)


def _check_tia(tia_mbq_h: Mapping[str, float]) -> dict[str, float]:
    out = {}
    for name, value in tia_mbq_h.items():
        v = float(value)
        if not math.isfinite(v) or v < 0:
            raise MIRDError(f"TIA of source {name!r} must be finite and >= 0 MBq·h, got {value!r}")
        out[str(name)] = v
    return out


def mird_dose_gy(tia_mbq_h: Mapping[str, float], s_values: SValueMatrix, targets: Sequence[str] | None = None,
                 *, ignore_missing_sources: bool = False) -> dict[str, float]:
    """D(t) = Σ_s Ã(s)·S(t ← s) in Gy for every target (default: all targets of the matrix).

    A source with a TIA but no S-value column raises, unless ``ignore_missing_sources``.
    """
    tia = _check_tia(tia_mbq_h)
    missing = [s for s in tia if s not in s_values.values.columns]
    if missing and not ignore_missing_sources:
        raise MIRDError(f"sources {missing} have a TIA but no S-values (the S-value sources are "
                        f"{s_values.sources}); add them or pass ignore_missing_sources=True")
    targets = list(targets) if targets is not None else s_values.targets
    bad = [t for t in targets if t not in s_values.values.index]
    if bad:
        raise MIRDError(f"targets {bad} are not in the S-value table (targets: {s_values.targets})")
    used = [s for s in tia if s in s_values.values.columns]
    vec = np.array([tia[s] for s in used])
    mat = s_values.values.loc[targets, used].to_numpy(float)
    return dict(zip(targets, map(float, mat @ vec)))


# ----------------------------------------------------------------------------------------------
# patient-specific S-values
# ----------------------------------------------------------------------------------------------
def _fft_shape(shape) -> tuple[int, ...]:
    from scipy.fft import next_fast_len
    return tuple(next_fast_len(int(n), real=True) for n in shape)


class KernelFFT:
    """Linear (zero-padded) FFT convolution with one kernel, reusing the kernel's transform."""

    def __init__(self, kernel: np.ndarray, image_shape, dtype=np.float64):
        from scipy import fft
        self.kshape = np.asarray(kernel.shape)
        self.ishape = np.asarray(image_shape)
        self.fshape = _fft_shape(self.ishape + self.kshape - 1)
        self.dtype = dtype
        self._fft = fft
        self.kf = fft.rfftn(np.asarray(kernel, dtype=dtype), self.fshape, workers=-1)

    def __call__(self, image: np.ndarray) -> np.ndarray:
        fft = self._fft
        full = fft.irfftn(fft.rfftn(np.asarray(image, dtype=self.dtype), self.fshape, workers=-1) * self.kf,
                          self.fshape, workers=-1)
        start = (self.kshape - 1) // 2
        sl = tuple(slice(s, s + n) for s, n in zip(start, self.ishape))
        return full[sl]


def _crop_box(masks: list[np.ndarray], margin) -> tuple[slice, ...]:
    union = np.zeros_like(masks[0], dtype=bool)
    for m in masks:
        union |= m
    idx = np.argwhere(union)
    lo = np.maximum(idx.min(0) - margin, 0)
    hi = np.minimum(idx.max(0) + 1 + margin, union.shape)
    return tuple(slice(int(a), int(b)) for a, b in zip(lo, hi))


def patient_s_values(labels: LabelMap, nuclide: str, *, sources: Sequence[str] | None = None,
                     targets: Sequence[str] | None = None, density: Image | None = None,
                     include=FULL_SPECTRUM, reference_density_g_cm3: float = 1.04,
                     kernel=None) -> SValueMatrix:
    """Patient-specific S(t ← s) (Gy/(MBq·h)) on ``labels``' own grid (module doc).

    ``sources``/``targets`` are label names (default: every label).  ``density`` (g/mL on the
    same grid, e.g. :func:`~theranomics.dosimetry.voxel.density_from_ct`) gives the target masses
    and scales the dose; without it every voxel has ``reference_density_g_cm3``.  ``kernel``: a
    :class:`~theranomics.dosimetry.kernels.VoxelSKernel` to use instead of generating one.
    """
    if not isinstance(labels, LabelMap):
        raise MIRDError(f"labels must be a LabelMap, got {type(labels).__name__}")
    nuc = nuclides.normalise_name(nuclide)
    names = {v: n for v, n in labels.names.items() if v in set(labels.labels)}
    all_names = list(names.values())
    sources = list(all_names if sources is None else sources)
    targets = list(all_names if targets is None else targets)
    for n in sources + targets:
        if n not in all_names:
            raise MIRDError(f"VOI {n!r} is not a (non-empty) label of the label map; labels: {all_names}")
    geom = labels.geometry
    vv = geom.voxel_volume_ml
    if density is not None:
        geom.require_same_grid(density.geometry, "label map and density image")
        if density.unit != "g/mL":
            raise MIRDError(f"density image must be in g/mL, got {density.unit!r}")
        rho = np.asarray(density.array, dtype=float)
        if not np.all(np.isfinite(rho)) or np.any(rho <= 0):
            raise MIRDError("density image must be finite and > 0 g/mL")
    else:
        rho = None
    if kernel is None:
        kernel = voxel_s_kernel(nuc, geom.spacing_mm, include=normalise_include(include),
                                density_g_cm3=reference_density_g_cm3)
    elif not np.allclose(kernel.voxel_mm, geom.spacing_mm, rtol=1e-4):
        raise MIRDError(f"kernel voxel size {kernel.voxel_mm} mm differs from the label map's {geom.spacing_mm} mm")
    kvals = kernel.values * 3.6                                     # Gy per MBq·h per source voxel
    masks = {n: labels.array == v for v, n in names.items()}
    margin = np.asarray(kernel.values.shape) // 2
    if rho is not None:
        mass_g = {t: float(rho[masks[t]].sum() * vv) for t in targets}
    else:
        mass_g = {t: float(masks[t].sum() * reference_density_g_cm3 * vv) for t in targets}
    table = np.zeros((len(targets), len(sources)))
    convs: dict[tuple, KernelFFT] = {}
    for j, s in enumerate(sources):
        # each source only irradiates its bounding box padded by the kernel radius
        box = _crop_box([masks[s]], margin)
        src = masks[s][box].astype(np.float64)
        src /= src.sum()                                            # 1 MBq·h spread uniformly
        shape = src.shape
        if shape not in convs:
            convs = {shape: KernelFFT(kvals, shape)}                # keep one transform in memory
        dose_ref = np.clip(convs[shape](src), 0.0, None)            # Gy at the reference density
        energy = dose_ref * reference_density_g_cm3 * vv            # energy per voxel (Gy·g)
        for i, t in enumerate(targets):
            table[i, j] = energy[masks[t][box]].sum() / mass_g[t]
    df = pd.DataFrame(table, index=targets, columns=sources)
    meta = {"kernel": dict(kernel.meta), "voxel_mm": list(geom.spacing_mm), "density": "CT" if rho is not None
            else f"uniform {reference_density_g_cm3} g/mL"}
    return SValueMatrix(df, mass_g, nuc, "patient-specific voxel S-value convolution", meta)


# ----------------------------------------------------------------------------------------------
# phantom S-value tables
# ----------------------------------------------------------------------------------------------
def read_s_value_table(path: str | Path, nuclide: str | None = None) -> SValueMatrix:
    """Read a phantom S-value table exported from OLINDA, IDAC-Dose or OpenDose.

    Format (CSV, one row per source/target pair; ``#`` lines are comments, and ``# key: value``
    comment lines before the header are kept as metadata, e.g. ``# nuclide: Lu-177``,
    ``# phantom: ICRP 110 adult female``)::

        source,target,s_value,unit,target_mass_g
        liver,liver,3.1e-05,mGy/(MBq*s),1800
        liver,kidneys,2.4e-07,mGy/(MBq*s),310

    ``unit`` is one of :data:`S_UNITS` (per row, or a ``# unit:`` line); ``target_mass_g`` is the
    phantom's target mass, needed for mass scaling of self-dose terms.  Names are free text and
    must match the patient's VOI names (or be mapped by the caller).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"S-value table not found: {path}")
    meta = {}
    for line in path.read_text().splitlines():
        if not line.startswith("#"):
            break
        if ":" in line:
            key, value = line[1:].split(":", 1)
            meta[key.strip().lower()] = value.strip()
    try:
        df = pd.read_csv(path, comment="#")
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise MIRDError(f"{path}: not a readable CSV ({exc})") from None
    required = {"source", "target", "s_value"}
    missing = required - set(df.columns)
    if missing:
        raise MIRDError(f"{path}: missing column(s) {sorted(missing)}; expected source, target, s_value, unit, "
                        "target_mass_g")
    if "unit" not in df.columns:
        if "unit" not in meta:
            raise MIRDError(f"{path}: no 'unit' column and no '# unit:' line; the S-value unit must be stated "
                            f"(one of {sorted(S_UNITS)})")
        df["unit"] = meta["unit"]
    bad_units = sorted(set(df["unit"]) - set(S_UNITS))
    if bad_units:
        raise MIRDError(f"{path}: unknown S-value unit(s) {bad_units}; expected one of {sorted(S_UNITS)}")
    s = pd.to_numeric(df["s_value"], errors="coerce")
    bad = df.index[~np.isfinite(s) | (s < 0)]
    if len(bad):
        raise MIRDError(f"{path}: s_value must be a finite number >= 0; bad at data row(s) {[int(i) + 1 for i in bad]}")
    df["s_gy_per_mbq_h"] = s * df["unit"].map(S_UNITS)
    dup = df.duplicated(["source", "target"])
    if dup.any():
        raise MIRDError(f"{path}: duplicate source/target pairs, e.g. {df.loc[dup, ['source', 'target']].iloc[0].tolist()}")
    wide = df.pivot(index="target", columns="source", values="s_gy_per_mbq_h")
    masses = {}
    if "target_mass_g" in df.columns:
        for t, m in df.groupby("target")["target_mass_g"].first().items():
            if pd.notna(m):
                if not (float(m) > 0):
                    raise MIRDError(f"{path}: target_mass_g of {t!r} must be > 0 g, got {m}")
                masses[str(t)] = float(m)
    nuc = nuclide or meta.get("nuclide")
    if nuc is None:
        raise MIRDError(f"{path}: the nuclide is not given (pass nuclide= or add a '# nuclide:' line)")
    return SValueMatrix(wide, masses, nuclides.normalise_name(nuc), f"table {path.name}", {**meta, "path": str(path)})


def mass_scaled_s_values(table: SValueMatrix, patient_masses_g: Mapping[str, float]) -> SValueMatrix:
    """Self-dose terms scaled to the patient: S_self ← S_self · m_phantom / m_patient.

    Exact for non-penetrating (electron) emissions, whose self-dose is E/m; the photon part of
    the self-dose scales more weakly (≈ m^(-2/3)), so for photon-rich nuclides this
    over-corrects slightly (OLINDA applies the same linear rule).  Cross-organ terms are kept.
    """
    values = table.values.copy()
    masses = dict(table.masses_g)
    for organ, m_pat in patient_masses_g.items():
        if not (math.isfinite(m_pat) and m_pat > 0):
            raise MIRDError(f"patient mass of {organ!r} must be > 0 g, got {m_pat}")
        if organ not in values.index or organ not in values.columns:
            continue
        m_ph = table.masses_g.get(organ)
        if m_ph is None:
            raise MIRDError(f"S-value table has no target_mass_g for {organ!r}; cannot mass-scale its self-dose")
        values.loc[organ, organ] = values.loc[organ, organ] * m_ph / m_pat
        masses[organ] = float(m_pat)
    return SValueMatrix(values, masses, table.nuclide, table.source + " (self-dose mass-scaled)",
                        {**table.meta, "mass_scaled": {k: float(v) for k, v in patient_masses_g.items()}})


# ----------------------------------------------------------------------------------------------
# lesion sphere model
# ----------------------------------------------------------------------------------------------
def lesion_sphere_s_value(nuclide: str, volume_ml: float, *, include=FULL_SPECTRUM,
                          density_g_cm3: float = 1.0) -> float:
    """Self-dose S-value (Gy/(MBq·h)) of a uniformly filled unit-density sphere of ``volume_ml``."""
    from .spheres import sphere_s_value
    if not (math.isfinite(volume_ml) and volume_ml > 0):
        raise MIRDError(f"lesion volume must be > 0 mL, got {volume_ml}")
    s = sphere_s_value(nuclide, [volume_ml], include=normalise_include(include), density_g_cm3=density_g_cm3)
    return float(s[0]) * 3.6


def lesion_sphere_dose_gy(nuclide: str, tia_mbq_h: float, volume_ml: float, **kwargs) -> float:
    """Sphere-model lesion self-dose D = Ã · S_sphere(V) (Gy)."""
    if not (math.isfinite(tia_mbq_h) and tia_mbq_h >= 0):
        raise MIRDError(f"lesion TIA must be finite and >= 0 MBq·h, got {tia_mbq_h}")
    return tia_mbq_h * lesion_sphere_s_value(nuclide, volume_ml, **kwargs)


__all__ = ["MIRDError", "S_UNITS", "FULL_SPECTRUM", "SValueMatrix", "KernelFFT", "mird_dose_gy",
           "patient_s_values", "read_s_value_table", "mass_scaled_s_values", "lesion_sphere_s_value",
           "lesion_sphere_dose_gy"]
