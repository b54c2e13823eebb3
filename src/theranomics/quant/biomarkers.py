"""Per-lesion and whole-body PET biomarkers.

Per lesion (columns, SUV in the image's SUV unit, volumes in mL):

``lesion_id`` · ``n_voxels`` · ``volume_ml`` · ``suv_max`` · ``suv_mean`` · ``suv_sd`` ·
``suv_min`` · ``suv_peak`` (mean in a 1 cm³ sphere centred on the maximum voxel — IBSI
"local intensity peak", code VJGA) · ``suv_peak_global`` (highest 1 cm³ sphere mean centred on
any lesion voxel — IBSI "global intensity peak", 0F91) · ``tlu`` (total lesion uptake =
volume_ml × suv_mean, in SUV·mL; TLP for PSMA, TLG for FDG) · ``centroid_{x,y,z}_mm`` and
``max_{x,y,z}_mm`` (LPS world mm).

Whole body: ``lesion_count``, ``ttv_ml`` (total tumour volume), ``tlu_total`` (Σ TLU),
``suv_mean_wb`` = tlu_total / ttv_ml, ``tlq`` = ttv_ml / suv_mean_wb (total lesion quotient,
Seifert et al., J Nucl Med 2020;61:1786), ``suv_max_highest`` / ``suv_max_lowest`` (highest
and lowest lesion SUVmax; the lowest-uptake lesion predicts poor response), and the
tumour-to-liver ratios: per lesion ``tlr_max`` = SUVmax / liver SUVmean and ``tlr_mean`` =
SUVmean / liver SUVmean; whole body ``tlr_wb`` = tlu_total / liver SUVmean (Khreish et al.,
Eur J Nucl Med Mol Imaging 2021;48:103).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import ndimage, signal

from ..core import Image, LabelMap

#: Radius (mm) of a 1 cm³ sphere: (3 / 4π)^(1/3) cm.
PEAK_SPHERE_RADIUS_MM = float((3.0 / (4.0 * np.pi)) ** (1.0 / 3.0) * 10.0)

LESION_COLUMNS = ("lesion_id", "n_voxels", "volume_ml", "suv_max", "suv_mean", "suv_sd", "suv_min", "suv_peak",
                  "suv_peak_global", "tlu", "centroid_x_mm", "centroid_y_mm", "centroid_z_mm",
                  "max_x_mm", "max_y_mm", "max_z_mm")


class EmptySegmentationError(ValueError):
    """A biomarker was asked of an empty segmentation."""


def sphere_kernel(spacing_mm, radius_mm: float = PEAK_SPHERE_RADIUS_MM) -> np.ndarray:
    """Boolean kernel (z, y, x) of voxels whose centres lie within ``radius_mm`` of the centre voxel."""
    sx, sy, sz = spacing_mm
    rz, ry, rx = (int(np.floor(radius_mm / s)) for s in (sz, sy, sx))
    z, y, x = np.ogrid[-rz:rz + 1, -ry:ry + 1, -rx:rx + 1]
    return (z * sz) ** 2 + (y * sy) ** 2 + (x * sx) ** 2 <= radius_mm ** 2


def sphere_means(values: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Mean of ``values`` over the kernel centred on every voxel; voxels outside the array are
    not counted (the mean is over the in-image part of the sphere)."""
    k = kernel.astype(float)
    sums = signal.fftconvolve(values, k, mode="same")
    counts = signal.fftconvolve(np.ones_like(values), k, mode="same")
    return sums / np.maximum(counts, 1e-9)


def lesion_table(image: Image, lesions: LabelMap, liver_mean: float | None = None) -> pd.DataFrame:
    """One row per lesion label (see module docstring for the columns)."""
    lesions.geometry.require_same_grid(image.geometry, "PET and lesion label map")
    values = np.asarray(image.array, dtype=float)
    kernel = sphere_kernel(image.spacing_mm)
    pad = [s // 2 for s in kernel.shape]
    rows = []
    for label, box in enumerate(ndimage.find_objects(lesions.array), start=1):
        if box is None:
            continue
        # crop with a margin of the sphere radius so every peak sphere sees the real neighbourhood
        gbox = tuple(slice(max(0, s.start - p), min(n, s.stop + p)) for s, p, n in zip(box, pad, image.shape))
        local = values[gbox]
        mask = lesions.array[gbox] == label
        vals = local[mask]
        idx = np.argwhere(mask)
        peak_map = sphere_means(local, kernel) if local.size > 1 else local
        # local peak: sphere centred on the maximum voxel (ties → the highest such peak, IBSI)
        is_max = mask & (local == vals.max())
        suv_peak = float(peak_map[is_max].max())
        suv_peak_global = float(peak_map[mask].max())
        offset = np.array([s.start for s in gbox])
        centroid_kji = idx.mean(axis=0) + offset
        max_kji = np.argwhere(is_max)[0] + offset
        cx, cy, cz = image.geometry.index_to_world(centroid_kji[::-1])
        mx, my, mz = image.geometry.index_to_world(max_kji[::-1].astype(float))
        n = int(vals.size)
        volume = n * image.geometry.voxel_volume_ml
        mean = float(vals.mean())
        rows.append({
            "lesion_id": label, "n_voxels": n, "volume_ml": volume, "suv_max": float(vals.max()),
            "suv_mean": mean, "suv_sd": float(vals.std(ddof=1)) if n > 1 else 0.0, "suv_min": float(vals.min()),
            "suv_peak": suv_peak, "suv_peak_global": suv_peak_global, "tlu": volume * mean,
            "centroid_x_mm": cx, "centroid_y_mm": cy, "centroid_z_mm": cz, "max_x_mm": mx, "max_y_mm": my, "max_z_mm": mz,
        })
    table = pd.DataFrame(rows, columns=list(LESION_COLUMNS))
    if liver_mean is not None:
        if not liver_mean > 0:
            raise ValueError(f"liver reference mean must be positive, got {liver_mean}")
        table["tlr_max"] = table["suv_max"] / liver_mean
        table["tlr_mean"] = table["suv_mean"] / liver_mean
    table.attrs["unit"] = image.unit
    return table


def whole_body(table: pd.DataFrame, liver_mean: float | None = None) -> dict[str, float]:
    """Whole-body burden from a lesion table.  An empty table gives count 0 and NaN ratios
    (a flagged empty result, never a division error)."""
    n = len(table)
    out: dict[str, float] = {"lesion_count": n}
    if n == 0:
        out.update({k: 0.0 for k in ("ttv_ml", "tlu_total")})
        out.update({k: float("nan") for k in ("suv_mean_wb", "tlq", "suv_max_highest", "suv_max_lowest",
                                               "suv_mean_lowest", "suv_peak_highest", "tlr_wb")})
        out["empty"] = True
        return out
    ttv = float(table["volume_ml"].sum())
    tlu = float(table["tlu"].sum())
    mean_wb = tlu / ttv
    out.update({
        "ttv_ml": ttv, "tlu_total": tlu, "suv_mean_wb": mean_wb, "tlq": ttv / mean_wb,
        "suv_max_highest": float(table["suv_max"].max()), "suv_max_lowest": float(table["suv_max"].min()),
        "suv_mean_lowest": float(table["suv_mean"].min()), "suv_peak_highest": float(table["suv_peak"].max()),
        "empty": False,
    })
    out["tlr_wb"] = tlu / liver_mean if liver_mean else float("nan")
    return out


def per_region(table: pd.DataFrame) -> pd.DataFrame:
    """Count, volume and uptake per region (needs a ``region`` column)."""
    if "region" not in table.columns:
        raise KeyError("the lesion table has no 'region' column; assign regions first (theranomics.quant.regions)")
    g = table.groupby("region")
    return pd.DataFrame({"lesion_count": g.size(), "volume_ml": g["volume_ml"].sum(), "tlu": g["tlu"].sum(),
                         "suv_max": g["suv_max"].max()}).reset_index()
