"""Theranomics: radiotheranostics quantification, radiomics, dosimetry, models and digital twins."""
from importlib.metadata import PackageNotFoundError, version as _version

try:
    __version__ = _version("theranomics")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
