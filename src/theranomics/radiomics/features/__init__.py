"""Non-texture IBSI-1 feature families: morphology, local intensity, statistics, histogram, IVH."""
from .histogram import intensity_histogram
from .ivh import intensity_volume_histogram
from .local_intensity import local_intensity
from .morphology import moran_geary, morphology
from .statistics import intensity_statistics

__all__ = ["intensity_histogram", "intensity_volume_histogram", "local_intensity", "moran_geary",
           "morphology", "intensity_statistics"]
