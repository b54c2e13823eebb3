"""Radionuclide codes for RadionuclideCodeSequence (DICOM CID 4020 PET radionuclides, CID 18 isotopes).

The codes come from pydicom's copy of the DICOM content-mapping resource; element
names from :mod:`periodictable`.  A nuclide without a standard code gets a local
code (scheme ``99THERANOMICS``) whose meaning has the standard ``^A^Element`` form,
so it still reads back.
"""
from __future__ import annotations

import re
from functools import lru_cache

from pydicom.dataset import Dataset

from ...nuclides import UnknownNuclideError, normalise_name

LOCAL_SCHEME = "99THERANOMICS"
_MEANING = re.compile(r"^\^?(?P<a>\d+)(?P<m>m?)\^?\s*(?P<name>[A-Za-z]+)$")


def _element_name(symbol: str) -> str:
    import periodictable
    return periodictable.elements.symbol(symbol).name.capitalize()


def _element_symbol(name: str) -> str | None:
    import periodictable
    try:
        return periodictable.elements.name(name.lower()).symbol
    except Exception:
        return None


@lru_cache(maxsize=None)
def _coded(cid: int, keyword: str):
    from pydicom.sr.codedict import codes
    try:
        return getattr(getattr(codes, f"CID{cid}"), keyword)
    except AttributeError:
        return None


def nuclide_code(nuclide: str, pet: bool) -> tuple[str, str, str]:
    """(CodeValue, CodingSchemeDesignator, CodeMeaning) of a nuclide; PET looks in CID 4020 first."""
    canonical = normalise_name(nuclide)
    symbol, mass = canonical.split("-")
    name = _element_name(symbol)
    keyword = f"_{mass}{name}"
    for cid in ((4020, 18) if pet else (18, 4020)):
        code = _coded(cid, keyword)
        if code is not None:
            return code.value, code.scheme_designator, code.meaning
    return canonical, LOCAL_SCHEME, f"^{mass}^{name}"


def nuclide_code_item(nuclide: str, pet: bool) -> Dataset:
    value, scheme, meaning = nuclide_code(nuclide, pet)
    item = Dataset()
    item.CodeValue = value
    item.CodingSchemeDesignator = scheme
    item.CodeMeaning = meaning
    return item


def nuclide_from_code_meaning(meaning: str) -> str | None:
    """Canonical nuclide of a CodeMeaning such as ``^177^Lutetium``, ``^18^F``, ``Lu-177``; None if unknown."""
    text = str(meaning or "").strip()
    if not text:
        return None
    try:
        return normalise_name(text)
    except UnknownNuclideError:
        pass
    m = _MEANING.match(text.replace(" ", ""))
    if not m:
        return None
    symbol = _element_symbol(m.group("name"))
    if symbol is None:
        return None
    try:
        return normalise_name(f"{symbol}-{int(m.group('a'))}{m.group('m')}")
    except UnknownNuclideError:
        return None
