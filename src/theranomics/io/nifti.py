"""NIfTI reading and writing through SimpleITK (which converts NIfTI's RAS to our LPS).

Every read first checks that the file holds the bytes its header promises (:func:`check_complete`):
SimpleITK alone returns a zero-filled image from a truncated ``.nii.gz``.

The unit and modality are not part of NIfTI; they are stored in a JSON sidecar
(``<name>.json`` beside ``<name>.nii.gz``) when written by Theranomics, and must
be given explicitly otherwise.
"""
from __future__ import annotations

import gzip
import json
import math
import struct
import zlib
from pathlib import Path

import SimpleITK as sitk

from ..core import Image, LabelMap
from .sitk import from_sitk, labelmap_from_sitk, to_sitk


def _sidecar(path: Path) -> Path:
    name = path.name
    for suffix in (".nii.gz", ".nii"):
        if name.endswith(suffix):
            return path.with_name(name[: -len(suffix)] + ".json")
    raise ValueError(f"{path}: expected a .nii or .nii.gz file name")


def write_nifti(image: Image | LabelMap, path: str | Path) -> Path:
    """Write an image or label map, with a JSON sidecar for unit/modality or label names."""
    path = Path(path)
    sidecar = _sidecar(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sitk.WriteImage(to_sitk(image), str(path), useCompression=True)
    if isinstance(image, LabelMap):
        info = {"type": "labelmap", "labels": {str(k): v for k, v in image.names.items()}}
    else:
        info = {"type": "image", "unit": image.unit, "modality": image.modality}
    sidecar.write_text(json.dumps(info, indent=2))
    return path


def _expected_bytes(header: bytes) -> int | None:
    """File size a NIfTI-1/-2 header promises: data offset + voxel bytes (None if not a NIfTI header).

    NIfTI-1: ``sizeof_hdr`` 348, ``dim`` int16[8] at byte 40, ``bitpix`` at 72, ``vox_offset``
    float32 at 108; NIfTI-2: 540, ``bitpix`` at 14, ``dim`` int64[8] at 16, ``vox_offset`` int64
    at 168 (NIfTI-1/-2 standards, nifti.nimh.nih.gov); data starts at least 4 bytes after the header.
    """
    if len(header) < 348:
        return None
    for endian in "<>":
        size = struct.unpack(endian + "i", header[:4])[0]
        if size == 348:
            dims = struct.unpack(endian + "8h", header[40:56])
            bitpix = struct.unpack(endian + "h", header[72:74])[0]
            offset = struct.unpack(endian + "f", header[108:112])[0]
            break
        if size == 540 and len(header) >= 540:
            bitpix = struct.unpack(endian + "h", header[14:16])[0]
            dims = struct.unpack(endian + "8q", header[16:80])
            offset = struct.unpack(endian + "q", header[168:176])[0]
            break
    else:
        return None
    ndim = dims[0]
    if not 1 <= ndim <= 7 or bitpix <= 0 or any(d < 1 for d in dims[1:ndim + 1]) or not math.isfinite(offset):
        return None
    return max(int(offset), size + 4) + math.prod(dims[1:ndim + 1]) * bitpix // 8


def check_complete(path: str | Path) -> None:
    """Raise ValueError naming ``path`` if it holds fewer bytes than its header promises.

    SimpleITK reads a truncated ``.nii.gz`` without complaint (the missing voxels come back as
    zeros).  Fast path: the gzip trailer's ISIZE (uncompressed size mod 2³², RFC 1952) equals the
    promised size; otherwise the whole stream is decompressed, which also finds a stream cut short
    or a CRC error.  A header that is not NIfTI-1/-2 is left to the reader to reject.
    """
    path = Path(path)
    gz = path.name.endswith(".gz")
    try:
        with (gzip.open(path, "rb") if gz else open(path, "rb")) as fh:
            expected = _expected_bytes(fh.read(540))
    except (OSError, EOFError, zlib.error) as exc:
        raise ValueError(f"{path}: not a readable NIfTI file ({type(exc).__name__}: {exc})") from None
    if expected is None:        # not a NIfTI header: SimpleITK says why
        return
    if not gz:
        size = path.stat().st_size
    else:
        with open(path, "rb") as fh:
            fh.seek(-4, 2)
            if struct.unpack("<I", fh.read(4))[0] == expected % 2 ** 32:
                return
        size, error = _gzip_size(path)
        if error:
            raise ValueError(f"{path}: truncated or corrupt NIfTI file: the header describes {expected} bytes, "
                             f"{size} decompress before {error}") from None
    if size < expected:
        raise ValueError(f"{path}: truncated NIfTI file: the header describes {expected} bytes, the file "
                         f"{'decompresses to' if gz else 'has'} {size}")


def _gzip_size(path: Path) -> tuple[int, str | None]:
    """(decompressed bytes, None) of a complete gzip file (all members); (bytes so far, what went
    wrong) when the stream is cut short or damaged."""
    size = 0
    d = zlib.decompressobj(wbits=31)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            while block:
                if d is None:                      # between members
                    if not block.strip(b"\x00"):  # zero padding after the last member
                        break
                    d = zlib.decompressobj(wbits=31)
                try:
                    size += len(d.decompress(block))
                except zlib.error as exc:
                    return size, f"a damaged stream ({exc})"
                block, d = (d.unused_data, None) if d.eof else (b"", d)
    return size, (None if d is None else "the stream ends (file cut short)")


def _read(path: Path) -> tuple[sitk.Image, dict]:
    if not path.exists():
        raise FileNotFoundError(f"NIfTI file not found: {path}")
    check_complete(path)
    try:
        img = sitk.ReadImage(str(path))
    except RuntimeError as exc:  # SimpleITK raises RuntimeError with a long ITK message
        raise ValueError(f"{path}: not a readable NIfTI image ({str(exc).strip().splitlines()[-1]})") from None
    sidecar = _sidecar(path)
    info = json.loads(sidecar.read_text()) if sidecar.exists() else {}
    return img, info


def read_nifti(path: str | Path, unit: str | None = None, modality: str | None = None) -> Image:
    """Read a scalar image; ``unit``/``modality`` override the sidecar (required without one)."""
    path = Path(path)
    img, info = _read(path)
    unit = unit or info.get("unit")
    if unit is None:
        raise ValueError(f"{path}: no unit given and no sidecar {_sidecar(path).name} to read it from; pass unit=...")
    return from_sitk(img, unit=unit, modality=modality or info.get("modality", "OT"), meta={"source": str(path)})


def read_labelmap(path: str | Path, names: dict[int, str] | None = None) -> LabelMap:
    """Read a label map; label names come from ``names`` or the sidecar."""
    path = Path(path)
    img, info = _read(path)
    if names is None:
        names = {int(k): v for k, v in info.get("labels", {}).items()}
    return labelmap_from_sitk(sitk.Cast(img, sitk.sitkInt32) if img.GetPixelID() not in (
        sitk.sitkUInt8, sitk.sitkInt8, sitk.sitkUInt16, sitk.sitkInt16, sitk.sitkInt32, sitk.sitkUInt32) else img,
        names, {"source": str(path)})
