import numpy as np
import pytest
import SimpleITK as sitk

from theranomics.core import Geometry, GeometryError, Image, LabelMap
from theranomics.io.nifti import read_labelmap, read_nifti, write_nifti
from theranomics.io.sitk import from_sitk, resample_to, to_sitk

OBLIQUE = tuple(sitk.VersorRigid3DTransform((0.1, -0.2, 0.05, 1.0)).GetMatrix())


def _image(direction=None):
    rng = np.random.default_rng(0)
    arr = rng.normal(size=(5, 6, 7)).astype(np.float32)
    geom = Geometry(arr.shape, (0.8, 1.5, 3.0), (-100.0, 20.0, 300.5),
                    direction or (1, 0, 0, 0, 1, 0, 0, 0, 1))
    return Image(arr, geom, "Bq/mL", "PT")


@pytest.mark.parametrize("direction", [None, OBLIQUE])
def test_index_to_world_matches_simpleitk(direction):
    image = _image(direction)
    s = to_sitk(image)
    for ijk in [(0, 0, 0), (6, 5, 4), (1.5, 2.25, 3.0)]:
        expected = s.TransformContinuousIndexToPhysicalPoint(ijk)
        np.testing.assert_allclose(image.geometry.index_to_world(np.array(ijk)), expected, atol=1e-9)
        np.testing.assert_allclose(image.geometry.world_to_index(np.array(expected)), ijk, atol=1e-9)


def test_array_order_matches_simpleitk():
    image = _image()
    s = to_sitk(image)
    assert s.GetSize() == image.geometry.size_xyz
    # voxel (i, j, k) = (6, 1, 2) is array[2, 1, 6]
    assert s.GetPixel(6, 1, 2) == pytest.approx(float(image.array[2, 1, 6]))


@pytest.mark.parametrize("direction", [None, OBLIQUE])
def test_nifti_round_trip_is_lossless(tmp_path, direction):
    image = _image(direction)
    path = write_nifti(image, tmp_path / "pet.nii.gz")
    back = read_nifti(path)
    np.testing.assert_array_equal(back.array, image.array)
    assert back.unit == "Bq/mL" and back.modality == "PT"
    assert back.geometry.same_grid(image.geometry)
    ijk = np.array([3.0, 2.0, 1.0])
    np.testing.assert_allclose(back.geometry.index_to_world(ijk), image.geometry.index_to_world(ijk), atol=1e-4)


def test_nibabel_sees_the_same_world_coordinate(tmp_path):
    """NIfTI stores RAS; nibabel's affine must give the LPS point with x, y negated."""
    nib = pytest.importorskip("nibabel")
    image = _image(OBLIQUE)
    path = write_nifti(image, tmp_path / "x.nii.gz")
    nii = nib.load(str(path))
    i, j, k = 4, 3, 2
    ras = nii.affine @ np.array([i, j, k, 1.0])
    lps = image.geometry.index_to_world(np.array([i, j, k], float))
    np.testing.assert_allclose(ras[:3] * np.array([-1, -1, 1]), lps, atol=1e-3)
    # and nibabel's array is indexed [i, j, k]
    assert np.asarray(nii.dataobj)[i, j, k] == pytest.approx(image.array[k, j, i])


def test_sitk_round_trip():
    image = _image(OBLIQUE)
    back = from_sitk(to_sitk(image), unit="Bq/mL")
    np.testing.assert_array_equal(back.array, image.array)
    assert back.geometry == image.geometry


def test_labelmap_round_trip_and_names(tmp_path):
    geom = Geometry((4, 4, 4), (2, 2, 2))
    a = np.zeros((4, 4, 4), bool); a[1:3, 1:3, 1:3] = True
    b = np.zeros((4, 4, 4), bool); b[0, 0, 0] = True
    labels = LabelMap.from_masks({"liver": a, "lesion": b}, geom)
    assert labels.volume_ml("liver") == pytest.approx(8 * 0.008)
    back = read_labelmap(write_nifti(labels, tmp_path / "l.nii.gz"))
    np.testing.assert_array_equal(back.array, labels.array)
    assert back.names == {1: "liver", 2: "lesion"}
    with pytest.raises(KeyError, match="no label named 'kidney'"):
        labels.mask("kidney")


def test_resample_labelmap_uses_nearest():
    geom = Geometry((4, 4, 4), (2, 2, 2))
    arr = np.zeros((4, 4, 4), np.int32); arr[:, :, 2:] = 7
    fine = Geometry((8, 8, 8), (1, 1, 1), (-0.5, -0.5, -0.5))
    out = resample_to(LabelMap(arr, geom, {7: "x"}), fine)
    assert set(np.unique(out.array)) <= {0, 7}


@pytest.mark.parametrize("kwargs, message", [
    (dict(shape=(2, 2)), "three positive"),
    (dict(shape=(2, 2, 2), spacing_mm=(1, 0, 1)), "spacing_mm"),
    (dict(shape=(2, 2, 2), direction=(1, 0, 0, 0, 2, 0, 0, 0, 1)), "orthonormal"),
])
def test_bad_geometry_is_refused(kwargs, message):
    with pytest.raises(GeometryError, match=message):
        Geometry(**kwargs)


def test_mismatched_array_and_unit_are_refused():
    geom = Geometry((2, 2, 2))
    with pytest.raises(GeometryError, match="does not match"):
        Image(np.zeros((2, 2, 3)), geom)
    with pytest.raises(ValueError, match="unknown image unit"):
        Image(np.zeros((2, 2, 2)), geom, unit="bq/ml")
    with pytest.raises(ValueError, match=">= 0"):
        LabelMap(-np.ones((2, 2, 2), int), geom)


def test_require_same_grid_names_the_difference():
    a = Geometry((2, 2, 2), (1, 1, 1))
    b = Geometry((2, 2, 2), (1, 1, 2))
    with pytest.raises(GeometryError, match="spacing_mm"):
        a.require_same_grid(b, "PET and mask")


def test_read_nifti_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        read_nifti(tmp_path / "missing.nii.gz", unit="HU")
    bad = tmp_path / "bad.nii.gz"
    bad.write_bytes(b"not a nifti")
    with pytest.raises(ValueError, match="bad.nii.gz"):
        read_nifti(bad, unit="HU")
    img = _image()
    p = tmp_path / "nosidecar.nii.gz"
    sitk.WriteImage(to_sitk(img), str(p))
    with pytest.raises(ValueError, match="no unit given"):
        read_nifti(p)
