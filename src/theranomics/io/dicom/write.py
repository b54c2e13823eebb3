"""Write CT, PET and reconstructed NM (SPECT) images as DICOM with realistic headers.

Pixel data are int16.  CT stores round(HU) with slope 1.  PET stores each slice
with its own RescaleSlope = max|value| / 32767 (DICOM PS3.3 C.8.9.4.1.x lets PET
slopes vary per slice; intercept 0), so the quantisation error is at most half a
slope step.  NM is one multi-frame file and can hold only one slope for all
frames.  Geometry: ImagePositionPatient of slice k is ``origin + k·Δz·n`` and
ImageOrientationPatient the first two columns of the direction matrix.

Nothing here knows about the simulator: callers pass an :class:`Image`, a
:class:`Patient`, an :class:`Administration` and times.  With ``uid_seed`` the
UIDs (and so the files) are identical from run to run.
"""
from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.tag import Tag
from pydicom.uid import (CTImageStorage, ExplicitVRLittleEndian, NuclearMedicineImageStorage,
                         PositronEmissionTomographyImageStorage, PYDICOM_IMPLEMENTATION_UID)
from pydicom.valuerep import format_number_as_ds

from ...core import Administration, Image, Patient
from ... import nuclides
from ._common import DicomWriteError, make_uid
from .nuclide_codes import nuclide_code_item

_INT16_MAX = 32767


def _ds(value: float) -> str:
    """A decimal string of at most 16 characters (DICOM DS)."""
    return format_number_as_ds(float(value))


def _da(t: dt.datetime) -> str:
    return t.strftime("%Y%m%d")


def _tm(t: dt.datetime) -> str:
    return t.strftime("%H%M%S.%f")


def _dt(t: dt.datetime) -> str:
    return t.strftime("%Y%m%d%H%M%S.%f")


def _check_image(image: Image, units: tuple[str, ...], what: str) -> None:
    if not isinstance(image, Image):
        raise DicomWriteError(f"{what}: expected a theranomics Image, got {type(image).__name__}")
    if image.unit not in units:
        raise DicomWriteError(f"{what}: image unit is {image.unit!r}; expected {' or '.join(map(repr, units))}")
    if not np.all(np.isfinite(image.array)):
        raise DicomWriteError(f"{what}: image has NaN or infinite voxels; DICOM stores finite integers")
    m = image.geometry.direction_matrix
    if not np.allclose(np.cross(m[:, 0], m[:, 1]), m[:, 2], atol=1e-5):
        raise DicomWriteError(f"{what}: the direction matrix is left-handed (k axis = -(i × j)); DICOM slices are placed "
                              f"along i × j — flip the k axis of the image first")


def _check_time(value, name: str) -> dt.datetime:
    if not isinstance(value, dt.datetime):
        raise DicomWriteError(f"{name} must be a datetime, got {type(value).__name__}")
    return value


def _prepare_dir(out_dir: Path, overwrite: bool) -> Path:
    out_dir = Path(out_dir)
    existing = sorted(out_dir.glob("*.dcm")) if out_dir.is_dir() else []
    if existing and not overwrite:
        raise DicomWriteError(f"{out_dir}: folder already holds {len(existing)} .dcm files (e.g. {existing[0].name}); "
                              f"write each series to an empty folder or pass overwrite=True")
    for f in existing:
        f.unlink()
    out_dir.mkdir(parents=True, exist_ok=True)
    return out_dir


def _base(image: Image, patient: Patient, modality: str, sop_class: str, acquisition_time: dt.datetime,
          uids: dict, series_description: str, series_number: int) -> Dataset:
    """Patient, study, series, frame of reference, equipment and pixel-format attributes."""
    if not isinstance(patient, Patient):
        raise DicomWriteError(f"patient must be a theranomics Patient, got {type(patient).__name__}")
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SOPClassUID = sop_class
    ds.Modality = modality
    for prefix in ("Study", "Series", "Acquisition", "Content"):
        setattr(ds, f"{prefix}Date", _da(acquisition_time))
        setattr(ds, f"{prefix}Time", _tm(acquisition_time))
    ds.AccessionNumber = ""
    ds.ReferringPhysicianName = ""
    ds.Manufacturer = "Theranomics"
    ds.ManufacturerModelName = "theranomics"
    from ... import __version__
    ds.SoftwareVersions = __version__
    ds.SeriesDescription = series_description
    ds.PatientName = patient.patient_id
    ds.PatientID = patient.patient_id
    ds.PatientBirthDate = ""
    ds.PatientSex = patient.sex or ""
    if patient.weight_kg is not None:
        ds.PatientWeight = _ds(patient.weight_kg)
    if patient.height_cm is not None:
        ds.PatientSize = _ds(patient.height_cm / 100.0)
    ds.StudyInstanceUID = uids["study"]
    ds.SeriesInstanceUID = uids["series"]
    ds.FrameOfReferenceUID = uids["frame_of_reference"]
    ds.PositionReferenceIndicator = ""
    ds.StudyID = "1"
    ds.SeriesNumber = int(series_number)
    ds.AcquisitionNumber = 1
    ds.PatientPosition = "HFS"
    nz, ny, nx = image.shape
    sx, sy, sz = image.spacing_mm
    ds.Rows = ny
    ds.Columns = nx
    ds.PixelSpacing = [_ds(sy), _ds(sx)]
    ds.SliceThickness = _ds(sz)
    ds.SpacingBetweenSlices = _ds(sz)
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1
    return ds


def _orientation(image: Image) -> list[str]:
    m = image.geometry.direction_matrix
    return [_ds(v) for v in (*m[:, 0], *m[:, 1])]


def _position(image: Image, k: int) -> np.ndarray:
    return image.geometry.index_to_world(np.array([0.0, 0.0, float(k)]))


def _save(ds: Dataset, path: Path) -> Path:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds.file_meta = meta
    ds.save_as(path, enforce_file_format=True)
    return path


def _uids(uid_seed, study_uid, frame_of_reference_uid, modality, series_number, series_description) -> dict:
    return {
        "study": study_uid or make_uid(uid_seed, "study"),
        "frame_of_reference": frame_of_reference_uid or make_uid(uid_seed, "frame-of-reference"),
        "series": make_uid(uid_seed, "series", modality, series_number, series_description),
    }


def slice_slope(values: np.ndarray) -> float:
    """RescaleSlope for int16 storage: max|value| / 32767, written as a DS and read back (1 for an all-zero slice)."""
    peak = float(np.max(np.abs(values))) if values.size else 0.0
    if peak == 0.0:
        return 1.0
    slope = float(_ds(peak / _INT16_MAX))
    if np.round(peak / slope) > _INT16_MAX:  # DS rounding made the slope a hair too small
        slope = float(_ds(slope * (1 + 1e-12) + 10 ** (math.floor(math.log10(slope)) - 14)))
    return slope


def _quantise(values: np.ndarray, slope: float) -> bytes:
    stored = np.round(np.asarray(values, dtype=np.float64) / slope)
    stored = np.clip(stored, -_INT16_MAX - 1, _INT16_MAX)
    return stored.astype("<i2").tobytes()


def _radiopharmaceutical(administration: Administration, pet: bool) -> Dataset:
    if not isinstance(administration, Administration):
        raise DicomWriteError(f"administration must be a theranomics Administration, got {type(administration).__name__}")
    nuclide = nuclides.normalise_name(administration.nuclide)
    item = Dataset()
    item.Radiopharmaceutical = administration.radiopharmaceutical
    item.RadiopharmaceuticalStartTime = _tm(administration.time)
    item.RadiopharmaceuticalStartDateTime = _dt(administration.time)
    item.RadionuclideTotalDose = _ds(administration.activity_mbq * 1e6)
    item.RadionuclideHalfLife = _ds(nuclides.half_life_s(nuclide))
    try:
        positron = float(np.sum(nuclides.emissions(nuclide, "beta+")[1]))
    except nuclides.UnknownNuclideError:
        positron = 0.0
    if positron > 0:
        item.RadionuclidePositronFraction = _ds(positron)
    item.RadionuclideCodeSequence = Sequence([nuclide_code_item(nuclide, pet)])
    return item


def write_ct_series(image: Image, out_dir: str | Path, patient: Patient, *, acquisition_time: dt.datetime,
                    study_uid: str | None = None, frame_of_reference_uid: str | None = None,
                    series_description: str = "CT", series_number: int = 1, uid_seed: str | None = None,
                    overwrite: bool = False) -> list[Path]:
    """One CT file per slice; stored value = round(HU) (int16, slope 1, intercept 0)."""
    _check_image(image, ("HU",), "write_ct_series")
    _check_time(acquisition_time, "acquisition_time")
    values = np.round(np.asarray(image.array, dtype=np.float64))
    if values.size and (values.min() < -_INT16_MAX - 1 or values.max() > _INT16_MAX):
        raise DicomWriteError(f"write_ct_series: HU values span [{values.min()}, {values.max()}], outside int16")
    out_dir = _prepare_dir(out_dir, overwrite)
    uids = _uids(uid_seed, study_uid, frame_of_reference_uid, "CT", series_number, series_description)
    paths = []
    for k in range(image.shape[0]):
        ds = _base(image, patient, "CT", CTImageStorage, acquisition_time, uids, series_description, series_number)
        ds.SOPInstanceUID = make_uid(None if uid_seed is None else uid_seed, uids["series"], k)
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.InstanceNumber = k + 1
        ds.KVP = ""
        position = _position(image, k)
        ds.ImagePositionPatient = [_ds(v) for v in position]
        ds.ImageOrientationPatient = _orientation(image)
        ds.SliceLocation = _ds(position @ image.geometry.direction_matrix[:, 2])
        ds.RescaleIntercept = "0"
        ds.RescaleSlope = "1"
        ds.RescaleType = "HU"
        ds.PixelData = values[k].astype("<i2").tobytes()
        paths.append(_save(ds, out_dir / f"CT_{k + 1:04d}.dcm"))
    return paths


def pet_decay_factor(nuclide: str, frame_duration_s: float) -> float:
    """Decay factor of a static frame corrected to its start: λT / (1 − e^(−λT)).

    The mean activity over [0, T] is A₀(1 − e^(−λT))/(λT), so this factor scales the
    frame-average back to the frame start (DecayCorrection START, PS3.3 C.8.9.4.1.8).
    """
    x = nuclides.decay_constant_per_s(nuclide) * float(frame_duration_s)
    return float(x / -math.expm1(-x)) if x > 0 else 1.0


def pet_frame_reference_time_s(nuclide: str, frame_duration_s: float) -> float:
    """Time after frame start at which the activity equals the frame mean: ln(DF)/λ (→ T/2 for λT → 0)."""
    lam = nuclides.decay_constant_per_s(nuclide)
    return math.log(pet_decay_factor(nuclide, frame_duration_s)) / lam


def write_pet_series(image: Image, out_dir: str | Path, patient: Patient, administration: Administration, *,
                     acquisition_time: dt.datetime, frame_duration_s: float, study_uid: str | None = None,
                     frame_of_reference_uid: str | None = None, series_description: str = "PET",
                     series_number: int = 2, uid_seed: str | None = None, overwrite: bool = False) -> list[Path]:
    """One PET file per slice, Units BQML, decay-corrected to the acquisition start (DecayCorrection START).

    Each slice has RescaleSlope = max|value|/32767; RadiopharmaceuticalInformationSequence
    carries the administration (dose in Bq, half-life in s from :mod:`theranomics.nuclides`).
    """
    _check_image(image, ("Bq/mL",), "write_pet_series")
    _check_time(acquisition_time, "acquisition_time")
    if not frame_duration_s > 0:
        raise DicomWriteError(f"write_pet_series: frame_duration_s must be positive, got {frame_duration_s}")
    radio = _radiopharmaceutical(administration, pet=True)
    nuclide = nuclides.normalise_name(administration.nuclide)
    decay_factor = pet_decay_factor(nuclide, frame_duration_s)
    reference_ms = pet_frame_reference_time_s(nuclide, frame_duration_s) * 1000.0
    out_dir = _prepare_dir(out_dir, overwrite)
    uids = _uids(uid_seed, study_uid, frame_of_reference_uid, "PT", series_number, series_description)
    nz = image.shape[0]
    paths = []
    for k in range(nz):
        ds = _base(image, patient, "PT", PositronEmissionTomographyImageStorage, acquisition_time, uids,
                   series_description, series_number)
        ds.SOPInstanceUID = make_uid(uid_seed, uids["series"], k)
        ds.ImageType = ["ORIGINAL", "PRIMARY"]
        ds.InstanceNumber = k + 1
        ds.ImageIndex = k + 1
        ds.NumberOfSlices = nz
        position = _position(image, k)
        ds.ImagePositionPatient = [_ds(v) for v in position]
        ds.ImageOrientationPatient = _orientation(image)
        ds.SliceLocation = _ds(position @ image.geometry.direction_matrix[:, 2])
        ds.SeriesType = ["STATIC", "IMAGE"]
        ds.Units = "BQML"
        ds.CountsSource = "EMISSION"
        ds.CorrectedImage = ["NORM", "DTIM", "ATTN", "SCAT", "DECY", "RAN"]
        ds.DecayCorrection = "START"
        ds.RandomsCorrectionMethod = "DLYD"
        ds.CollimatorType = "NONE"
        ds.ActualFrameDuration = int(round(frame_duration_s * 1000.0))
        ds.DecayFactor = _ds(decay_factor)
        ds.FrameReferenceTime = _ds(reference_ms)
        ds.RadiopharmaceuticalInformationSequence = Sequence([radio])
        ds.PatientOrientationCodeSequence = Sequence()
        ds.PatientGantryRelationshipCodeSequence = Sequence()
        slope = slice_slope(image.array[k])
        ds.RescaleIntercept = "0"
        ds.RescaleSlope = _ds(slope)
        ds.RescaleType = "BQML"
        ds.PixelData = _quantise(image.array[k], slope)
        paths.append(_save(ds, out_dir / f"PT_{k + 1:04d}.dcm"))
    return paths


def photopeak_window_kev(nuclide: str, width_fraction: float = 0.20) -> tuple[float, float]:
    """Energy window (keV) centred on the most abundant γ line of ``nuclide`` (ICRP-107), ± width/2."""
    energies, yields = nuclides.photon_lines(nuclide)
    if len(energies) == 0:
        raise DicomWriteError(f"{nuclide} has no γ lines in ICRP-107; cannot define a photopeak window")
    peak_kev = float(energies[np.argmax(yields)]) * 1000.0
    return peak_kev * (1 - width_fraction / 2), peak_kev * (1 + width_fraction / 2)


def write_nm_series(image: Image, out_dir: str | Path, patient: Patient, administration: Administration, *,
                    acquisition_time: dt.datetime, frame_duration_s: float, study_uid: str | None = None,
                    frame_of_reference_uid: str | None = None, series_description: str = "SPECT",
                    series_number: int = 3, uid_seed: str | None = None, energy_window_fraction: float = 0.20,
                    overwrite: bool = False) -> Path:
    """One multi-frame reconstructed tomographic NM file (ImageType …\\RECON TOMO\\EMISSION).

    Frames are slices along i × j (SliceVector 1..n, SpacingBetweenSlices), the
    geometry is in DetectorInformationSequence, the energy window is the nuclide's
    main photopeak ± ``energy_window_fraction``/2, and ActualFrameDuration is the
    whole acquisition time in ms.  Unit ``counts`` or ``Bq/mL`` (then Units BQML).
    One RescaleSlope for all frames: max|value|/32767.
    """
    _check_image(image, ("counts", "Bq/mL"), "write_nm_series")
    _check_time(acquisition_time, "acquisition_time")
    if not frame_duration_s > 0:
        raise DicomWriteError(f"write_nm_series: frame_duration_s must be positive, got {frame_duration_s}")
    radio = _radiopharmaceutical(administration, pet=False)
    nuclide = nuclides.normalise_name(administration.nuclide)
    low_kev, high_kev = photopeak_window_kev(nuclide, energy_window_fraction)
    out_dir = _prepare_dir(out_dir, overwrite)
    uids = _uids(uid_seed, study_uid, frame_of_reference_uid, "NM", series_number, series_description)
    nz = image.shape[0]
    ds = _base(image, patient, "NM", NuclearMedicineImageStorage, acquisition_time, uids, series_description,
               series_number)
    ds.SOPInstanceUID = make_uid(uid_seed, uids["series"], 0)
    ds.ImageType = ["ORIGINAL", "PRIMARY", "RECON TOMO", "EMISSION"]
    ds.InstanceNumber = 1
    ds.NumberOfFrames = nz
    ds.FrameIncrementPointer = Tag("SliceVector")
    ds.SliceVector = list(range(1, nz + 1))
    ds.NumberOfSlices = nz
    detector = Dataset()
    detector.ImagePositionPatient = [_ds(v) for v in _position(image, 0)]
    detector.ImageOrientationPatient = _orientation(image)
    detector.CollimatorType = ""
    detector.FocalDistance = None
    ds.DetectorInformationSequence = Sequence([detector])
    ds.NumberOfDetectors = 1
    window_range = Dataset()
    window_range.EnergyWindowLowerLimit = _ds(low_kev)
    window_range.EnergyWindowUpperLimit = _ds(high_kev)
    window = Dataset()
    window.EnergyWindowRangeSequence = Sequence([window_range])
    window.EnergyWindowName = "photopeak"
    ds.EnergyWindowInformationSequence = Sequence([window])
    ds.NumberOfEnergyWindows = 1
    ds.RotationInformationSequence = Sequence()
    ds.RadiopharmaceuticalInformationSequence = Sequence([radio])
    ds.PatientOrientationCodeSequence = Sequence()
    ds.PatientGantryRelationshipCodeSequence = Sequence()
    ds.ActualFrameDuration = int(round(frame_duration_s * 1000.0))
    ds.CountsAccumulated = None
    if image.unit == "Bq/mL":
        ds.Units = "BQML"
    slope = slice_slope(image.array)
    ds.RescaleIntercept = "0"
    ds.RescaleSlope = _ds(slope)
    ds.PixelData = _quantise(image.array, slope)
    return _save(ds, out_dir / "NM_0001.dcm")
