"""NIfTI reading: a truncated or damaged file is an error naming it, never a silently zero-filled image."""
from __future__ import annotations

import gzip

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk

from theranomics.core import Geometry, Image, LabelMap
from theranomics.io.nifti import _expected_bytes, read_labelmap, read_nifti, write_nifti


def _image(shape=(6, 7, 8)) -> Image:
    arr = np.random.default_rng(1).normal(size=shape).astype(np.float32)
    return Image(arr, Geometry(shape, (1.0, 1.5, 2.0), (-10.0, 5.0, 30.0)), "Bq/mL", "PT")


def test_expected_size_matches_nibabel(tmp_path):
    """Header arithmetic = nibabel's data offset + voxel bytes (NIfTI-1 and NIfTI-2, both byte orders)."""
    cases = [(nib.Nifti1Image, np.float32, "<"), (nib.Nifti1Image, np.int16, ">"), (nib.Nifti2Image, np.uint8, "<")]
    for i, (cls, dtype, endian) in enumerate(cases):
        img = cls(np.zeros((5, 4, 3), dtype=np.dtype(dtype).newbyteorder(endian)), np.eye(4))
        path = tmp_path / f"x{i}.nii"
        nib.save(img, path)
        loaded = nib.load(path)
        want = loaded.dataobj.offset + 5 * 4 * 3 * np.dtype(dtype).itemsize
        assert _expected_bytes(path.read_bytes()[:540]) == want == path.stat().st_size
    assert _expected_bytes(b"\x00" * 540) is None


@pytest.mark.parametrize("suffix", [".nii.gz", ".nii"])
@pytest.mark.parametrize("keep", [0.5, 0.98])
def test_truncated_file_is_named(tmp_path, suffix, keep):
    path = write_nifti(_image(), tmp_path / f"pet{suffix}")
    data = path.read_bytes()
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(data[:int(len(data) * keep)])
    cut.with_name(cut.name.replace(suffix, ".json")).write_text('{"type": "image", "unit": "Bq/mL"}')
    if suffix == ".nii.gz":     # the defect this guards against: SimpleITK reads it without an error
        assert sitk.GetArrayFromImage(sitk.ReadImage(str(cut))).shape == (6, 7, 8)
    with pytest.raises(ValueError, match=rf"{cut}: truncated"):
        read_nifti(cut)
    with pytest.raises(ValueError, match=rf"{cut}: truncated"):
        read_labelmap(cut)


def test_corrupt_stream_and_not_gzip(tmp_path):
    path = write_nifti(_image((20, 20, 20)), tmp_path / "pet.nii.gz")
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF                      # a flipped byte inside the deflate stream
    bad = tmp_path / "bad.nii.gz"
    bad.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=rf"{bad}: (truncated or corrupt NIfTI file|not a readable NIfTI image)"):
        read_nifti(bad, unit="Bq/mL")        # the trailer still matches: SimpleITK's CRC check names it
    plain = tmp_path / "plain.nii.gz"
    plain.write_bytes(b"this is not gzip" * 40)
    with pytest.raises(ValueError, match=rf"{plain}: not a readable NIfTI file"):
        read_nifti(plain, unit="Bq/mL")


def test_complete_files_still_read(tmp_path):
    """Multi-member gzip (e.g. written by concatenation) is not mistaken for truncation."""
    image = _image()
    path = write_nifti(image, tmp_path / "pet.nii.gz")
    raw = gzip.decompress(path.read_bytes())
    multi = tmp_path / "multi.nii.gz"
    multi.write_bytes(gzip.compress(raw[:1000]) + gzip.compress(raw[1000:]))
    multi.with_name("multi.json").write_text(path.with_name("pet.json").read_text())
    for p in (path, multi):
        np.testing.assert_array_equal(read_nifti(p).array, image.array)
    labels = LabelMap(np.ones((6, 7, 8), np.int32), image.geometry, {1: "liver"})
    assert read_labelmap(write_nifti(labels, tmp_path / "l.nii.gz")).names == {1: "liver"}
