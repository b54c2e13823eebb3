"""IBSI-2 convolutional filters (Depeursinge et al., IBSI 2 reference manual, arXiv:2006.05470).

Pure functions on ``[k, j, i]`` numpy arrays return float response maps of the
same shape; :func:`apply_filter` applies a :class:`FilterSettings` to an
:class:`~theranomics.core.Image` and keeps its geometry.

Boundary conditions: ``"zero"``, ``"nearest"``, ``"periodic"``, ``"mirror"``.
``dims="2d"`` filters each k-slice (the (j, i) plane) independently.
Letters of Laws kernels, wavelet responses and Riesz orders are in (x, y, z)
order, i.e. along array axes i, j, k.
"""
from .apply import apply_filter, filter_array
from .gabor import gabor_filter, gabor_kernel
from .laws import LAWS_KERNELS_1D, laws_filter
from .log import log_filter
from .mean import mean_filter
from .riesz import riesz_filter, riesz_transform
from .settings import FILTER_PARAMETERS, FilterSettings
from .simoncelli import simoncelli_filter, simoncelli_transfer
from .wavelet import wavelet_coefficients, wavelet_filter
from ._common import BOUNDARIES, ROTATIONS_3D

__all__ = [
    "apply_filter", "filter_array", "FilterSettings", "FILTER_PARAMETERS", "BOUNDARIES", "ROTATIONS_3D",
    "mean_filter", "log_filter", "laws_filter", "LAWS_KERNELS_1D", "gabor_filter", "gabor_kernel",
    "wavelet_filter", "wavelet_coefficients", "simoncelli_filter", "simoncelli_transfer",
    "riesz_filter", "riesz_transform",
]
