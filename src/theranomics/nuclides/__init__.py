"""Nuclide data from maintained libraries: half-lives and chains from ``radioactivedecay``
(ICRP-107 decay data), emissions from ``icrp107-database``.

No half-life or emission is typed by hand in Theranomics: every value comes from
these two packages.  Names are accepted in the common spellings (``Lu-177``,
``lu177``, ``177Lu``, ``Lu177``, ``^177^Lu``, ``Tc-99m``, ``99mTc``).
"""
from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache

import numpy as np

#: Nuclides Theranomics documents and tests (any ICRP-107 nuclide works).
SUPPORTED = ("F-18", "Ga-68", "Cu-64", "Sc-44", "In-111", "Tc-99m", "Lu-177", "Y-90",
             "I-131", "Tb-161", "Ac-225")

#: ICRP-107 radiation types, grouped by how they deposit energy.
ELECTRON_TYPES = ("beta-", "beta+", "IE", "auger")
PHOTON_TYPES = ("gamma", "X", "annihilation")
ALPHA_TYPES = ("alpha", "alpha recoil")

_NAME = re.compile(r"^\^?(?:(?P<a1>\d+)(?P<m1>m?)\^?(?P<s1>[A-Za-z]{1,2})|(?P<s2>[A-Za-z]{1,2})-?(?P<a2>\d+)(?P<m2>m?))$")


class UnknownNuclideError(ValueError):
    """A nuclide name that is not understood or not in the decay data."""


def normalise_name(name: str) -> str:
    """Canonical ``Symbol-Amass[m]`` spelling, e.g. ``'lu177'`` → ``'Lu-177'``, ``'99mTc'`` → ``'Tc-99m'``."""
    text = str(name).strip().replace(" ", "")
    m = _NAME.match(text)
    if not m:
        raise UnknownNuclideError(f"cannot parse nuclide name {name!r}; expected e.g. 'Lu-177', 'lu177' or '177Lu'")
    symbol = (m.group("s1") or m.group("s2")).capitalize()
    mass = m.group("a1") or m.group("a2")
    meta = m.group("m1") or m.group("m2") or ""
    canonical = f"{symbol}-{int(mass)}{meta}"
    _rd_nuclide(canonical)  # raises for unknown nuclides
    return canonical


@lru_cache(maxsize=None)
def _rd_nuclide(canonical: str):
    import radioactivedecay as rd
    try:
        return rd.Nuclide(canonical)
    except Exception:
        raise UnknownNuclideError(f"nuclide {canonical!r} is not in the radioactivedecay (ICRP-107) data") from None


def half_life_s(nuclide: str) -> float:
    """Physical half-life in seconds (radioactivedecay, ICRP-107)."""
    return float(_rd_nuclide(normalise_name(nuclide)).half_life("s"))


def half_life_h(nuclide: str) -> float:
    """Physical half-life in hours."""
    return half_life_s(nuclide) / 3600.0


def decay_constant_per_s(nuclide: str) -> float:
    """λ = ln 2 / T½ in 1/s."""
    return float(np.log(2.0) / half_life_s(nuclide))


def decay_constant_per_h(nuclide: str) -> float:
    """λ = ln 2 / T½ in 1/h."""
    return decay_constant_per_s(nuclide) * 3600.0


def _seconds(t) -> float:
    if isinstance(t, dt.timedelta):
        return t.total_seconds()
    return float(t)


def decay_factor(nuclide: str, t_from, t_to) -> float:
    """A(t_to) / A(t_from) = exp(-λ (t_to - t_from)) for the parent nuclide alone.

    ``t_from``/``t_to`` are both datetimes, or both times in seconds.  A negative
    interval gives a factor > 1 (decay *back* in time).
    """
    if isinstance(t_from, dt.datetime) != isinstance(t_to, dt.datetime):
        raise TypeError("decay_factor needs two datetimes or two times in seconds, not a mix")
    if isinstance(t_from, dt.datetime):
        if (t_from.tzinfo is None) != (t_to.tzinfo is None):
            raise TypeError("decay_factor: one datetime has a time zone and the other has not")
        elapsed = (t_to - t_from).total_seconds()
    else:
        elapsed = _seconds(t_to) - _seconds(t_from)
    return float(np.exp(-decay_constant_per_s(nuclide) * elapsed))


def decay_correct(activity, nuclide: str, t_measured, t_reference):
    """Activity at ``t_reference`` given ``activity`` measured at ``t_measured`` (parent only)."""
    return np.asarray(activity) * decay_factor(nuclide, t_measured, t_reference) if np.ndim(activity) else \
        float(activity) * decay_factor(nuclide, t_measured, t_reference)


def progeny(nuclide: str) -> list[str]:
    """Direct progeny of a nuclide (radioactivedecay)."""
    return [p for p in _rd_nuclide(normalise_name(nuclide)).progeny()]


def branching_fractions(nuclide: str) -> list[float]:
    return [float(b) for b in _rd_nuclide(normalise_name(nuclide)).branching_fractions()]


def decay_chain(nuclide: str) -> list[str]:
    """The nuclide and all radioactive descendants, parent first (stable end-members excluded)."""
    import radioactivedecay as rd
    inv = rd.Inventory({normalise_name(nuclide): 1.0}, "Bq")
    out = []
    for name in inv.nuclides + [n for n in _all_descendants(normalise_name(nuclide)) if n not in inv.nuclides]:
        if name not in out and _is_radioactive(name):
            out.append(name)
    return out


def _all_descendants(nuclide: str) -> list[str]:
    seen: list[str] = []
    stack = [nuclide]
    while stack:
        current = stack.pop()
        for child in _rd_nuclide(current).progeny():
            if child not in seen and child not in ("SF",):
                seen.append(child)
                if _is_radioactive(child):
                    stack.append(child)
    return seen


def _is_radioactive(nuclide: str) -> bool:
    try:
        return np.isfinite(_rd_nuclide(nuclide).half_life("s"))
    except UnknownNuclideError:
        return False


@lru_cache(maxsize=None)
def _icrp_spectrum(canonical: str, radiation: str) -> tuple[np.ndarray, np.ndarray]:
    import icrp107_database
    try:
        spec = icrp107_database.get_icrp107_spectrum(canonical, radiation)
    except BaseException as exc:  # the package raises a bare Exception
        raise UnknownNuclideError(f"no ICRP-107 {radiation!r} data for {canonical}: {exc}") from None
    return np.asarray(spec["energies"], dtype=float), np.asarray(spec["weights"], dtype=float)


def emissions(nuclide: str, radiation: str) -> tuple[np.ndarray, np.ndarray]:
    """ICRP-107 discrete emissions of one type: (energies in MeV, yields per decay).

    For ``'beta-'``/``'beta+'`` the energies are the *mean* energies of each branch.
    """
    return _icrp_spectrum(normalise_name(nuclide), radiation)


def beta_spectrum(nuclide: str) -> tuple[np.ndarray, np.ndarray]:
    """ICRP-107 continuous β spectrum: (energy MeV, probability density per MeV per decay)."""
    return _icrp_spectrum(normalise_name(nuclide), "b-spectra")


def mean_energy_per_decay_mev(nuclide: str, radiation: str | tuple[str, ...]) -> float:
    """Σ yield × energy (MeV per decay) over one radiation type or a tuple of types."""
    types = (radiation,) if isinstance(radiation, str) else tuple(radiation)
    total = 0.0
    for rtype in types:
        energies, yields = emissions(nuclide, rtype)
        total += float(np.sum(energies * yields))
    return total


def electron_energy_per_decay_mev(nuclide: str) -> float:
    """β, internal-conversion and Auger electron energy per decay (MeV)."""
    return mean_energy_per_decay_mev(nuclide, ELECTRON_TYPES)


def photon_energy_per_decay_mev(nuclide: str) -> float:
    """γ, X-ray and annihilation photon energy per decay (MeV)."""
    return mean_energy_per_decay_mev(nuclide, PHOTON_TYPES)


def photon_lines(nuclide: str, min_yield: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """γ lines (MeV, yield per decay) with yield above ``min_yield``, sorted by energy."""
    energies, yields = emissions(nuclide, "gamma")
    keep = yields > min_yield
    order = np.argsort(energies[keep])
    return energies[keep][order], yields[keep][order]


__all__ = [
    "SUPPORTED", "UnknownNuclideError", "normalise_name", "half_life_s", "half_life_h",
    "decay_constant_per_s", "decay_constant_per_h", "decay_factor", "decay_correct", "progeny",
    "branching_fractions", "decay_chain", "emissions", "beta_spectrum", "mean_energy_per_decay_mev",
    "electron_energy_per_decay_mev", "photon_energy_per_decay_mev", "photon_lines",
]
