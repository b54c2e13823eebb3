"""Reports: MIPs, plots and self-contained HTML.  Reports only call the library."""
from .html import Report
from .mip import mip, mip_png

__all__ = ["Report", "mip", "mip_png"]
