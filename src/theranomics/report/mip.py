"""Maximum-intensity projections, drawn (a person would rather see a MIP than a table)."""
from __future__ import annotations

import io

import numpy as np

from ..core import Image, LabelMap


def mip(image: Image, axis: str = "coronal") -> np.ndarray:
    """MIP along the anterior–posterior (``coronal``) or left–right (``sagittal``) axis.

    Returns a 2-D array (rows = superior→inferior, columns as seen from the front),
    assuming an axis-aligned (identity-direction) LPS grid.
    """
    arr = np.asarray(image.array, dtype=float)
    if axis == "coronal":
        proj = arr.max(axis=1)          # (z, x)
    elif axis == "sagittal":
        proj = arr.max(axis=2)          # (z, y)
    else:
        raise ValueError(f"axis must be 'coronal' or 'sagittal', got {axis!r}")
    return proj[::-1, :]                # superior at the top


def _label_outline(labels: LabelMap, axis: str) -> np.ndarray:
    ax = {"coronal": 1, "sagittal": 2}[axis]
    return (labels.array > 0).any(axis=ax)[::-1, :]


def mip_png(image: Image, labels: LabelMap | None = None, title: str = "", axis: str = "coronal",
            vmax_percentile: float = 99.5, cmap: str = "gray_r", vmax: float | None = None) -> bytes:
    """PNG bytes of a MIP with an optional lesion outline overlay (red contours)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    proj = mip(image, axis)
    sx, sy, sz = image.spacing_mm
    width_mm = (sx if axis == "coronal" else sy) * proj.shape[1]
    height_mm = sz * proj.shape[0]
    aspect = height_mm / max(width_mm, 1e-6)
    fig, ax = plt.subplots(figsize=(3.2, max(2.0, 3.2 * aspect)), dpi=110)
    top = vmax if vmax is not None else float(np.percentile(proj[proj > 0], vmax_percentile)) if np.any(proj > 0) else 1.0
    ax.imshow(proj, cmap=cmap, vmin=0, vmax=top, extent=(0, width_mm, 0, height_mm), interpolation="bilinear")
    if labels is not None:
        outline = _label_outline(labels, axis).astype(float)
        if outline.any():
            ax.contour(outline, levels=[0.5], colors="red", linewidths=0.7,
                       extent=(0, width_mm, height_mm, 0), origin="upper")
    ax.set_title(f"{title}\n(max {top:.3g} {image.unit})" if title else f"max {top:.3g} {image.unit}", fontsize=8)
    ax.set_axis_off()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()
