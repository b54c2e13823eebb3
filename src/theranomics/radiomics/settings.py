"""Radiomics settings: frozen dataclasses whose fields map one-to-one to IBSI-1 parameters.

Reference: Zwanenburg et al., IBSI reference manual (arXiv:1612.07003), chapter 2 (image
processing) and table 5.1 (configurations A–E).  A settings file (YAML or JSON) is the nested
dictionary of these dataclasses, keys = field names, e.g.::

    interpolation: {dims: 3d, new_spacing_mm: [2, 2, 2], interpolator: linear,
                    round_intensities: true, roi_interpolator: linear,
                    roi_partial_volume_threshold: 0.5}
    resegmentation: {range_min: -1000, range_max: 400, outlier_sigma: null}
    discretisation: {method: fbs, bin_width: 25, n_bins: null, lower_bound: null}
    ivh: {method: fbs, bin_width: 2.5, n_bins: null, lower_bound: null}
    texture: {distance: 1, dims: [3d], glcm_symmetric: true, ngldm_alpha: 0,
              distance_norm: chebyshev}
    families: [morphology, local_intensity, statistics, intensity_histogram, ivh, glcm, ...]
    filter: {filter: log, sigma_mm: 1.5, boundary: mirror, dims: 3d}   # optional, IBSI 2

Missing keys take the defaults below; unknown keys and invalid values raise
:class:`SettingsError` naming the key.
"""
from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Mapping

__all__ = [
    "SettingsError", "InterpolationSettings", "ResegmentationSettings", "DiscretisationSettings",
    "IVHSettings", "TextureSettings", "RadiomicsSettings", "ALL_FAMILIES", "TEXTURE_FAMILIES",
    "ibsi_config", "ibsi2_config", "IBSI2_FILTER_IDS", "digital_phantom", "modality_defaults", "load_settings",
    "save_settings",
]

#: Non-texture families computed by :mod:`theranomics.radiomics.features`.
BASIC_FAMILIES = ("morphology", "local_intensity", "statistics", "intensity_histogram", "ivh")
#: Texture families (``theranomics.radiomics.texture``).
TEXTURE_FAMILIES = ("glcm", "glrlm", "glszm", "gldzm", "ngtdm", "ngldm")
ALL_FAMILIES = BASIC_FAMILIES + TEXTURE_FAMILIES


class SettingsError(ValueError):
    """An invalid or unknown radiomics setting."""


def _choice(obj: Any, name: str, allowed: tuple[str, ...]) -> None:
    value = getattr(obj, name)
    if not isinstance(value, str) or value.lower() not in allowed:
        raise SettingsError(f"{type(obj).__name__}.{name} must be one of {list(allowed)}, got {value!r}")
    object.__setattr__(obj, name, value.lower())


def _number(obj: Any, name: str, *, positive: bool = False, optional: bool = False,
            minimum: float | None = None, maximum: float | None = None) -> None:
    value = getattr(obj, name)
    where = f"{type(obj).__name__}.{name}"
    if value is None:
        if optional:
            return
        raise SettingsError(f"{where} is required (a number), got None")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise SettingsError(f"{where} must be a finite number, got {value!r}")
    if positive and value <= 0:
        raise SettingsError(f"{where} must be > 0, got {value!r}")
    if minimum is not None and value < minimum:
        raise SettingsError(f"{where} must be >= {minimum}, got {value!r}")
    if maximum is not None and value > maximum:
        raise SettingsError(f"{where} must be <= {maximum}, got {value!r}")
    object.__setattr__(obj, name, float(value))


def _integer(obj: Any, name: str, *, minimum: int, optional: bool = False) -> None:
    value = getattr(obj, name)
    where = f"{type(obj).__name__}.{name}"
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value) or value < minimum:
        raise SettingsError(f"{where} must be an integer >= {minimum}, got {value!r}")
    object.__setattr__(obj, name, int(value))


def _boolean(obj: Any, name: str) -> None:
    if not isinstance(getattr(obj, name), bool):
        raise SettingsError(f"{type(obj).__name__}.{name} must be true or false, got {getattr(obj, name)!r}")


@dataclass(frozen=True)
class InterpolationSettings:
    """IBSI 2.4 image interpolation and 2.5 ROI interpolation.

    ``dims``: "none" (no interpolation), "2d" (in-plane only: x, y resampled, slices kept) or "3d".
    ``new_spacing_mm``: (x, y, z) target spacing; for "2d" the z entry is ignored.
    ``interpolator``: "nearest", "linear" (bi-/trilinear) or "cubic" (cubic B-spline).
    ``round_intensities``: round interpolated intensities to the nearest integer (CT: HU).
    ``roi_interpolator``: "nearest" or "linear"; a linearly interpolated ROI is kept where its
    value >= ``roi_partial_volume_threshold`` (IBSI: 0.5).
    """

    dims: str = "none"
    new_spacing_mm: tuple[float, float, float] | None = None
    interpolator: str = "linear"
    round_intensities: bool = False
    roi_interpolator: str = "linear"
    roi_partial_volume_threshold: float = 0.5

    def __post_init__(self) -> None:
        _choice(self, "dims", ("none", "2d", "3d"))
        _choice(self, "interpolator", ("nearest", "linear", "cubic"))
        _choice(self, "roi_interpolator", ("nearest", "linear"))
        _boolean(self, "round_intensities")
        _number(self, "roi_partial_volume_threshold", minimum=0.0, maximum=1.0)
        if self.roi_partial_volume_threshold <= 0.0:
            raise SettingsError("InterpolationSettings.roi_partial_volume_threshold must be in (0, 1], "
                                f"got {self.roi_partial_volume_threshold}")
        spacing = self.new_spacing_mm
        if spacing is not None:
            try:
                spacing = tuple(float(s) for s in spacing)
            except (TypeError, ValueError):
                raise SettingsError(f"InterpolationSettings.new_spacing_mm must be three numbers (x, y, z), "
                                    f"got {self.new_spacing_mm!r}") from None
            if len(spacing) != 3 or not all(math.isfinite(s) and s > 0 for s in spacing):
                raise SettingsError(f"InterpolationSettings.new_spacing_mm must be three positive numbers "
                                    f"(x, y, z), got {self.new_spacing_mm!r}")
            object.__setattr__(self, "new_spacing_mm", spacing)
        if self.dims != "none" and spacing is None:
            raise SettingsError(f"InterpolationSettings.new_spacing_mm is required when dims={self.dims!r}")


@dataclass(frozen=True)
class ResegmentationSettings:
    """IBSI 2.6 re-segmentation of the intensity mask.

    Voxels outside ``[range_min, range_max]`` (either may be None = open) are removed; then, with
    ``outlier_sigma`` = n, voxels outside mean ± n·σ of the (range-filtered) ROI are removed.
    """

    range_min: float | None = None
    range_max: float | None = None
    outlier_sigma: float | None = None

    def __post_init__(self) -> None:
        _number(self, "range_min", optional=True)
        _number(self, "range_max", optional=True)
        _number(self, "outlier_sigma", optional=True, positive=True)
        if self.range_min is not None and self.range_max is not None and self.range_min >= self.range_max:
            raise SettingsError(f"ResegmentationSettings.range_min ({self.range_min}) must be below "
                                f"range_max ({self.range_max})")


@dataclass(frozen=True)
class DiscretisationSettings:
    """IBSI 2.7 intensity discretisation.

    ``method``: "fbn" (fixed bin number ``n_bins``), "fbs" (fixed bin size ``bin_width``, first bin
    starting at ``lower_bound``, default the re-segmentation minimum) or "none" (intensities are
    already integer grey levels 1..Ng, e.g. the IBSI digital phantom).
    """

    method: str = "fbn"
    n_bins: int | None = 32
    bin_width: float | None = None
    lower_bound: float | None = None

    def __post_init__(self) -> None:
        _choice(self, "method", ("fbn", "fbs", "none"))
        _integer(self, "n_bins", minimum=1, optional=True)
        _number(self, "bin_width", positive=True, optional=True)
        _number(self, "lower_bound", optional=True)
        name = type(self).__name__
        if self.method == "fbn" and self.n_bins is None:
            raise SettingsError(f"{name}.n_bins is required for method 'fbn'")
        if self.method == "fbs" and self.bin_width is None:
            raise SettingsError(f"{name}.bin_width is required for method 'fbs'")


@dataclass(frozen=True)
class IVHSettings(DiscretisationSettings):
    """IBSI 4.5 intensity-volume histogram discretisation (same fields as discretisation).

    "none" uses the (re-segmented) intensities as they are, which suits integer-valued data such
    as CT in HU; "fbs"/"fbn" bin them first and use bin centres (IBSI 2.7 / 4.5).
    """

    method: str = "none"
    n_bins: int | None = None


@dataclass(frozen=True)
class TextureSettings:
    """Texture matrix settings (IBSI 3.6–3.11), shared by all texture families.

    ``distance``: neighbour distance δ (GLCM, NGTDM, NGLDM); ``dims``: any of "2d", "2.5d", "3d"
    (2d: per-slice, averaged or merged; 2.5d: merged over slices; 3d: volumetric);
    ``glcm_symmetric``: count each co-occurrence both ways; ``ngldm_alpha``: coarseness α;
    ``distance_norm``: "chebyshev" (IBSI default), "manhattan" or "euclidean".
    """

    distance: int = 1
    dims: tuple[str, ...] = ("3d",)
    glcm_symmetric: bool = True
    ngldm_alpha: int = 0
    distance_norm: str = "chebyshev"

    def __post_init__(self) -> None:
        _integer(self, "distance", minimum=1)
        _integer(self, "ngldm_alpha", minimum=0)
        _boolean(self, "glcm_symmetric")
        _choice(self, "distance_norm", ("chebyshev", "manhattan", "euclidean"))
        dims = (self.dims,) if isinstance(self.dims, str) else self.dims
        try:
            dims = tuple(str(d).lower() for d in dims)
        except TypeError:
            raise SettingsError(f"TextureSettings.dims must be a list of '2d', '2.5d', '3d', got {self.dims!r}") from None
        bad = [d for d in dims if d not in ("2d", "2.5d", "3d")]
        if bad or not dims:
            raise SettingsError(f"TextureSettings.dims must be a non-empty list of '2d', '2.5d', '3d', got {self.dims!r}")
        object.__setattr__(self, "dims", tuple(dict.fromkeys(dims)))


_SECTIONS = {
    "interpolation": InterpolationSettings,
    "resegmentation": ResegmentationSettings,
    "discretisation": DiscretisationSettings,
    "ivh": IVHSettings,
    "texture": TextureSettings,
}


@dataclass(frozen=True)
class RadiomicsSettings:
    """All settings of one feature extraction.

    ``round_input``: cast to float and round to integers before anything else (IBSI CT phantom:
    the NIfTI stores HU as floats).  ``families``: which feature families to compute
    (see :data:`ALL_FAMILIES`).  ``morphology_spatial``: also compute Moran's I and Geary's C
    (O(N²) in the number of ROI voxels — slow for large ROIs).  ``filter``: an IBSI-2
    :class:`~theranomics.radiomics.filters.FilterSettings` (or its dict); the response map replaces
    the image after interpolation, and the intensity mask is re-segmented on the *unfiltered*
    intensities (IBSI 2 reference manual, phase 2), so features describe the response map inside
    the same ROI.  Morphology is unaffected by the filter.
    """

    interpolation: InterpolationSettings = field(default_factory=InterpolationSettings)
    resegmentation: ResegmentationSettings = field(default_factory=ResegmentationSettings)
    discretisation: DiscretisationSettings = field(default_factory=DiscretisationSettings)
    ivh: IVHSettings = field(default_factory=IVHSettings)
    texture: TextureSettings = field(default_factory=TextureSettings)
    families: tuple[str, ...] = ALL_FAMILIES
    round_input: bool = False
    morphology_spatial: bool = False
    name: str = "custom"
    filter: Any = None

    def __post_init__(self) -> None:
        if self.filter is not None:
            object.__setattr__(self, "filter", _filter_settings(self.filter, "RadiomicsSettings.filter"))
        for key, cls in _SECTIONS.items():
            value = getattr(self, key)
            if isinstance(value, Mapping):
                object.__setattr__(self, key, _section_from_dict(cls, value, key))
            elif not isinstance(value, cls):
                raise SettingsError(f"RadiomicsSettings.{key} must be a {cls.__name__} or a mapping, got {value!r}")
        families = (self.families,) if isinstance(self.families, str) else self.families
        try:
            families = tuple(str(f).lower() for f in families)
        except TypeError:
            raise SettingsError(f"RadiomicsSettings.families must be a list, got {self.families!r}") from None
        bad = [f for f in families if f not in ALL_FAMILIES]
        if bad:
            raise SettingsError(f"RadiomicsSettings.families: unknown {bad}; expected any of {list(ALL_FAMILIES)}")
        object.__setattr__(self, "families", tuple(dict.fromkeys(families)))
        _boolean(self, "round_input")
        _boolean(self, "morphology_spatial")
        if not isinstance(self.name, str):
            raise SettingsError(f"RadiomicsSettings.name must be text, got {self.name!r}")

    # -- serialisation -------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (lists instead of tuples), keys = field names."""
        def plain(v: Any) -> Any:
            if hasattr(v, "to_dict") and not isinstance(v, RadiomicsSettings):
                return v.to_dict()  # FilterSettings: only the parameters that are set
            if dataclasses.is_dataclass(v):
                return {f.name: plain(getattr(v, f.name)) for f in fields(v)}
            if isinstance(v, tuple):
                return [plain(x) for x in v]
            return v
        return plain(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "settings") -> "RadiomicsSettings":
        """Build from a nested mapping; unknown keys raise :class:`SettingsError` naming ``source``."""
        if not isinstance(data, Mapping):
            raise SettingsError(f"{source}: expected a mapping of settings, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise SettingsError(f"{source}: unknown setting(s) {unknown}; expected any of {sorted(known)}")
        kwargs = {}
        for key, value in data.items():
            if key in _SECTIONS:
                if not isinstance(value, Mapping):
                    raise SettingsError(f"{source}: '{key}' must be a mapping, got {value!r}")
                try:
                    value = _section_from_dict(_SECTIONS[key], value, f"{source}: {key}")
                except SettingsError as exc:
                    msg = str(exc)
                    raise SettingsError(msg if msg.startswith(source) else f"{source}: {msg}") from None
            elif key == "filter" and value is not None:
                value = _filter_settings(value, f"{source}: filter")
            kwargs[key] = value
        try:
            return cls(**kwargs)
        except SettingsError as exc:
            raise SettingsError(f"{source}: {exc}") from None


def _filter_settings(value: Any, where: str) -> Any:
    """A FilterSettings from itself or a mapping; errors become SettingsError naming ``where``."""
    from .filters import FilterSettings  # imported on use: the filter package pulls in scipy.fft etc.
    if isinstance(value, FilterSettings):
        return value
    if not isinstance(value, Mapping):
        raise SettingsError(f"{where} must be a mapping of filter parameters (e.g. {{filter: log, sigma_mm: 1.5}}), "
                            f"got {value!r}")
    try:
        return FilterSettings.from_dict(dict(value))
    except (ValueError, TypeError) as exc:
        raise SettingsError(f"{where}: {exc}") from None


def _section_from_dict(cls: type, data: Mapping[str, Any], where: str) -> Any:
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise SettingsError(f"{where}: unknown key(s) {unknown}; expected any of {sorted(known)}")
    return cls(**dict(data))


def save_settings(settings: RadiomicsSettings, path: str | Path) -> Path:
    """Write settings as YAML (``.yaml``/``.yml``) or JSON (``.json``)."""
    path = Path(path)
    data = settings.to_dict()
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        import yaml
        path.write_text(yaml.safe_dump(data, sort_keys=False))
    elif suffix == ".json":
        path.write_text(json.dumps(data, indent=2))
    else:
        raise SettingsError(f"{path}: settings file must end in .yaml, .yml or .json")
    return path


def load_settings(path: str | Path) -> RadiomicsSettings:
    """Read settings written by :func:`save_settings` (or by hand); errors name the file and key."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"settings file not found: {path}")
    suffix = path.suffix.lower()
    text = path.read_text()
    try:
        if suffix in (".yaml", ".yml"):
            import yaml
            data = yaml.safe_load(text)
        elif suffix == ".json":
            data = json.loads(text)
        else:
            raise SettingsError(f"{path}: settings file must end in .yaml, .yml or .json")
    except (ValueError, ImportError) as exc:
        if isinstance(exc, SettingsError):
            raise
        raise SettingsError(f"{path}: not a valid {suffix[1:].upper()} file ({exc})") from None
    except Exception as exc:  # yaml.YAMLError
        raise SettingsError(f"{path}: not a valid {suffix[1:].upper()} file ({exc})") from None
    return RadiomicsSettings.from_dict(data if data is not None else {}, source=str(path))


# -- presets -------------------------------------------------------------------

def digital_phantom() -> RadiomicsSettings:
    """IBSI-1 digital phantom: no processing, no discretisation, 2D/2.5D/3D texture, δ = 1."""
    return RadiomicsSettings(
        interpolation=InterpolationSettings(dims="none"),
        discretisation=DiscretisationSettings(method="none", n_bins=None),
        ivh=IVHSettings(method="none"),
        texture=TextureSettings(dims=("2d", "2.5d", "3d")),
        name="digital_phantom",
    )


def ibsi_config(config: str) -> RadiomicsSettings:
    """IBSI-1 CT phantom configurations A–E (reference manual table 5.1).

    A: 2D, no interpolation, re-seg [-500, 400] HU, FBS 25 HU.
    B: 2D, bilinear in-plane 2×2 mm, rounded; ROI bilinear ≥ 0.5; re-seg [-500, 400]; FBN 32.
    C: 3D, trilinear 2 mm isotropic, rounded; re-seg [-1000, 400]; FBS 25 HU; IVH FBS 2.5 HU.
    D: 3D, trilinear 2 mm, rounded; outliers mean ± 3σ; FBN 32; IVH on the HU values (no binning).
    E: 3D, tricubic spline 2 mm, rounded; re-seg [-1000, 400] and outliers 3σ; FBN 32; IVH FBN 1000.
    """
    key = str(config).upper()
    common = dict(round_input=True, name=f"config_{key}")
    if key == "A":
        return RadiomicsSettings(
            resegmentation=ResegmentationSettings(-500.0, 400.0),
            discretisation=DiscretisationSettings("fbs", n_bins=None, bin_width=25.0),
            texture=TextureSettings(dims=("2d", "2.5d")), **common)
    if key == "B":
        return RadiomicsSettings(
            interpolation=InterpolationSettings("2d", (2.0, 2.0, 2.0), "linear", True, "linear", 0.5),
            resegmentation=ResegmentationSettings(-500.0, 400.0),
            discretisation=DiscretisationSettings("fbn", n_bins=32),
            texture=TextureSettings(dims=("2d", "2.5d")), **common)
    iso = InterpolationSettings("3d", (2.0, 2.0, 2.0), "linear", True, "linear", 0.5)
    if key == "C":
        return RadiomicsSettings(
            interpolation=iso,
            resegmentation=ResegmentationSettings(-1000.0, 400.0),
            discretisation=DiscretisationSettings("fbs", n_bins=None, bin_width=25.0),
            ivh=IVHSettings("fbs", bin_width=2.5),
            texture=TextureSettings(dims=("3d",)), **common)
    if key == "D":
        return RadiomicsSettings(
            interpolation=iso,
            resegmentation=ResegmentationSettings(outlier_sigma=3.0),
            discretisation=DiscretisationSettings("fbn", n_bins=32),
            ivh=IVHSettings("none"),
            texture=TextureSettings(dims=("3d",)), **common)
    if key == "E":
        return RadiomicsSettings(
            interpolation=replace(iso, interpolator="cubic"),
            resegmentation=ResegmentationSettings(-1000.0, 400.0, outlier_sigma=3.0),
            discretisation=DiscretisationSettings("fbn", n_bins=32),
            ivh=IVHSettings("fbn", n_bins=1000),
            texture=TextureSettings(dims=("3d",)), **common)
    raise SettingsError(f"unknown IBSI configuration {config!r}; expected one of 'A', 'B', 'C', 'D', 'E'")


#: IBSI-2 phase-2 filter identifiers (reference manual arXiv:2006.05470, phase 2), 1 = unfiltered.
IBSI2_FILTER_IDS = ("1", "2", "3", "4", "5", "6", "7", "8", "9")


def _ibsi2_filter(number: str, three_d: bool) -> dict[str, Any] | None:
    dims = "3d" if three_d else "2d"
    common = {"boundary": "mirror", "dims": dims}
    if number == "1":
        return None
    if number == "2":
        return {"filter": "mean", "support_voxels": 5, **common}
    if number == "3":
        return {"filter": "log", "sigma_mm": 1.5, "truncate": 4.0, **common}
    if number == "4":
        return {"filter": "laws", "kernel": "L5E5E5" if three_d else "L5E5", "energy_distance": 7,
                "rotation_invariance": True, "pooling": "max", **common}
    if number == "5":
        return {"filter": "gabor", "sigma_mm": 5.0, "wavelength_mm": 2.0, "gamma": 1.5, "theta_rad": 0.0,
                "theta_step_rad": math.pi / 8.0, "rotation_invariance": True, "pooling": "average",
                "orthogonal_planes": three_d, "boundary": "mirror"}
    if number in ("6", "7"):
        level = 1 if number == "6" else 2
        response = ("LLH" if three_d else "LH") if number == "6" else ("HHH" if three_d else "HH")
        return {"filter": "wavelet", "wavelet": "db3", "response": response, "level": level,
                "rotation_invariance": True, "pooling": "average", **common}
    # The consensus values of 8.A–9.B are those of the Fourier-domain filter applied on the image's
    # own DFT grid (periodic), whatever the listed boundary: MIRP, one of the IBSI-2 reference
    # implementations, does not pad for non-separable wavelets; with mirror padding 8.A
    # (quartile coefficient of dispersion) and 9.B (median, minimum) leave the tolerance.
    return {"filter": "simoncelli", "level": 1 if number == "8" else 2, "boundary": "periodic", "dims": dims}


def ibsi2_config(filter_id: str) -> RadiomicsSettings:
    """IBSI-2 phase-2 configurations "1.A" … "9.B" on the IBSI-1 CT phantom (intensity statistics only).

    A (2D): no interpolation, filters applied slice by slice; B (3D): tricubic-spline interpolation
    to 1 × 1 × 1 mm with intensities rounded to integers, ROI trilinear ≥ 0.5, filters in 3D.  Both: re-segmentation [−1000, 400] HU of
    the unfiltered image, mirror boundary.  Filters: 1 none; 2 mean (5 voxels); 3 LoG (σ 1.5 mm,
    4σ); 4 Laws L5E5(E5) energy (δ 7), rotation invariant, max pooling; 5 Gabor (σ 5 mm, λ 2 mm,
    γ 1.5, θ step π/8, average pooling; B: orthogonal planes); 6 db3 LH / LLH level 1 and 7 db3
    HH / HHH level 2, rotation invariant, average pooling; 8 / 9 Simoncelli level 1 / 2, applied on
    the image's own DFT grid (periodic boundary: the IBSI-2 consensus values are those of the
    unpadded Fourier-domain filter, as in MIRP; mirror padding misses three of them).
    """
    key = str(filter_id).upper().replace("_", ".")
    number, _, config = key.partition(".")
    if number not in IBSI2_FILTER_IDS or config not in ("A", "B"):
        raise SettingsError(f"unknown IBSI-2 phase-2 configuration {filter_id!r}; expected '<1-9>.A' or '<1-9>.B', "
                            "e.g. '3.B'")
    three_d = config == "B"
    interp = (InterpolationSettings("3d", (1.0, 1.0, 1.0), "cubic", True, "linear", 0.5) if three_d
              else InterpolationSettings("none"))
    return RadiomicsSettings(
        interpolation=interp,
        resegmentation=ResegmentationSettings(-1000.0, 400.0),
        discretisation=DiscretisationSettings("none", n_bins=None),
        texture=TextureSettings(dims=("3d",) if three_d else ("2d",)),
        families=("statistics",), round_input=True, name=f"ibsi2_{key}",
        filter=_ibsi2_filter(number, three_d))


def modality_defaults(modality: str) -> RadiomicsSettings:
    """Project defaults per modality (conventions, not IBSI requirements; document them in a study).

    "CT": 3D without interpolation, re-seg [-1000, 3000] HU, FBS 25 HU.  "PET" (SUV): 3D, no interpolation, re-seg [0, ∞) SUV, FBS 0.25 SUV from 0
    (Leijenaar et al. 2015 recommend FBS for PET); IVH FBS 0.1 SUV.  "DOSE" (Gy, "dosiomics"):
    3D, re-seg [0, ∞) Gy (negative voxels of a noisy dose map are dropped), FBS 1 Gy from 0 (fixed
    bin *size*, so that textures of different patients and cycles share one dose scale); IVH FBS
    0.1 Gy (IVH features are then DVH metrics: ivh_i10 ≈ D10, ivh_v90 = V at 90 % of the maximum).
    "DOSE_RATE" (Gy/h, e.g. one time point of a Lu-177 dose-rate map, typically 0.01–1 Gy/h): the
    same with FBS 0.01 Gy/h and IVH FBS 0.001 Gy/h.  Maps in mGy or mGy/h: convert to Gy first.
    """
    key = str(modality).upper()
    tex = TextureSettings(dims=("3d",))
    if key == "CT":
        return RadiomicsSettings(
            resegmentation=ResegmentationSettings(-1000.0, 3000.0),
            discretisation=DiscretisationSettings("fbs", n_bins=None, bin_width=25.0),
            texture=tex, round_input=True, name="CT_default")
    if key in ("PET", "PT", "SUV"):
        return RadiomicsSettings(
            resegmentation=ResegmentationSettings(0.0, None),
            discretisation=DiscretisationSettings("fbs", n_bins=None, bin_width=0.25, lower_bound=0.0),
            ivh=IVHSettings("fbs", bin_width=0.1, lower_bound=0.0),
            texture=tex, name="PET_SUV_default")
    if key in ("DOSE", "GY", "RTDOSE"):
        return RadiomicsSettings(
            resegmentation=ResegmentationSettings(0.0, None),
            discretisation=DiscretisationSettings("fbs", n_bins=None, bin_width=1.0, lower_bound=0.0),
            ivh=IVHSettings("fbs", bin_width=0.1, lower_bound=0.0),
            texture=tex, name="dose_Gy_default")
    if key in ("DOSE_RATE", "DOSERATE", "GY/H"):
        return RadiomicsSettings(
            resegmentation=ResegmentationSettings(0.0, None),
            discretisation=DiscretisationSettings("fbs", n_bins=None, bin_width=0.01, lower_bound=0.0),
            ivh=IVHSettings("fbs", bin_width=0.001, lower_bound=0.0),
            texture=tex, name="dose_rate_Gy_per_h_default")
    raise SettingsError(f"no defaults for modality {modality!r}; expected 'CT', 'PET' (SUV), 'DOSE' (Gy) or "
                        "'DOSE_RATE' (Gy/h)")
