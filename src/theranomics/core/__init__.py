"""Core types: images with geometry, label maps, studies.  No file formats here."""
from .image import Geometry, GeometryError, Image, LabelMap, KNOWN_UNITS
from .study import Administration, Cycle, Patient, Study, TimePoint

__all__ = ["Geometry", "GeometryError", "Image", "LabelMap", "KNOWN_UNITS",
           "Administration", "Cycle", "Patient", "Study", "TimePoint"]
