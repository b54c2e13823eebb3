"""Filter settings as a frozen dataclass that round-trips through JSON."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Mapping

from ._common import check_boundary, check_dims, check_pooling

#: Parameters each filter accepts (besides ``filter``, ``boundary`` and ``dims``), and those it requires.
FILTER_PARAMETERS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "mean": (("support_voxels",), ("support_voxels",)),
    "log": (("sigma_mm", "truncate", "riesz_order"), ("sigma_mm",)),
    "laws": (("kernel", "energy_distance", "rotation_invariance", "pooling"), ("kernel",)),
    "gabor": (("sigma_mm", "wavelength_mm", "gamma", "theta_rad", "theta_step_rad", "rotation_invariance",
               "orthogonal_planes", "pooling", "truncate"), ("sigma_mm", "wavelength_mm")),
    "wavelet": (("wavelet", "response", "level", "rotation_invariance", "pooling"), ("wavelet", "response")),
    "simoncelli": (("level", "riesz_order"), ()),
}


@dataclass(frozen=True)
class FilterSettings:
    """One IBSI-2 filter with its parameters; parameters left None take the filter function's default.

    ``filter`` is one of ``mean``, ``log``, ``laws``, ``gabor``, ``wavelet``,
    ``simoncelli``; a parameter the filter does not use is refused (so that a
    misspelt or misplaced setting cannot be silently ignored).  ``riesz_order``
    (for ``log`` and ``simoncelli``) applies a Riesz transform to the response.
    """

    filter: str
    boundary: str | None = None
    dims: str = "3d"
    support_voxels: int | None = None
    sigma_mm: float | None = None
    truncate: float | None = None
    kernel: str | None = None
    energy_distance: int | None = None
    rotation_invariance: bool | None = None
    pooling: str | None = None
    wavelength_mm: float | None = None
    gamma: float | None = None
    theta_rad: float | None = None
    theta_step_rad: float | None = None
    orthogonal_planes: bool | None = None
    wavelet: str | None = None
    response: str | None = None
    level: int | None = None
    riesz_order: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        name = str(self.filter).strip().lower()
        if name not in FILTER_PARAMETERS:
            raise ValueError(f"filter: unknown filter {self.filter!r}; expected one of {sorted(FILTER_PARAMETERS)}")
        object.__setattr__(self, "filter", name)
        if self.boundary is not None:
            object.__setattr__(self, "boundary", check_boundary(self.boundary))
        object.__setattr__(self, "dims", check_dims(self.dims))
        if self.pooling is not None:
            object.__setattr__(self, "pooling", check_pooling(self.pooling))
        if self.riesz_order is not None:
            object.__setattr__(self, "riesz_order", tuple(self.riesz_order))
        allowed, required = FILTER_PARAMETERS[name]
        common = {"filter", "boundary", "dims"}
        unused = [f.name for f in fields(self)
                  if f.name not in common and f.name not in allowed and getattr(self, f.name) is not None]
        if unused:
            raise ValueError(f"{', '.join(unused)}: not a parameter of the {name!r} filter "
                             f"(its parameters: {', '.join(allowed)})")
        missing = [p for p in required if getattr(self, p) is None]
        if missing:
            raise ValueError(f"{', '.join(missing)}: required for the {name!r} filter")
        if name == "gabor" and self.dims != "3d":
            raise ValueError("dims: the Gabor filter is always applied in 2-D planes; leave dims='3d' and use "
                             "orthogonal_planes to choose axial only (False) or axial+coronal+sagittal (True)")

    # -- serialisation ----------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Only the parameters that are set (None entries are dropped)."""
        out = {k: v for k, v in asdict(self).items() if v is not None}
        if "riesz_order" in out:
            out["riesz_order"] = list(out["riesz_order"])
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "FilterSettings":
        if not isinstance(data, Mapping):
            raise ValueError(f"filter settings: expected a mapping of parameter names to values, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"filter settings: unknown field(s) {unknown}; known fields are {sorted(known)}")
        if "filter" not in data:
            raise ValueError("filter settings: the field 'filter' is missing")
        return cls(**dict(data))

    def to_json(self, path: str | Path | None = None) -> str:
        """JSON text of :meth:`to_dict`; also written to ``path`` when given."""
        text = json.dumps(self.to_dict(), indent=2)
        if path is not None:
            Path(path).write_text(text + "\n")
        return text

    @classmethod
    def from_json(cls, source: str | Path) -> "FilterSettings":
        """From JSON text, or from a file when ``source`` is a path to an existing file."""
        text = str(source)
        where = "JSON text"
        if isinstance(source, Path) or (not text.lstrip().startswith("{") and Path(text).is_file()):
            path = Path(source)
            if not path.is_file():
                raise FileNotFoundError(f"filter settings file not found: {path}")
            text, where = path.read_text(), str(path)
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{where}: not valid JSON filter settings ({exc.msg} at line {exc.lineno})") from None
        try:
            return cls.from_dict(data)
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
