"""DICOM input and output: series discovery, image series (CT, PET, NM, enhanced), RTSTRUCT, SEG, writers.

World coordinates are patient LPS mm, as in DICOM; arrays are indexed ``[k, j, i]``
(slice, row, column) like the rest of Theranomics.  Errors are
:class:`DicomReadError` / :class:`DicomWriteError` naming the file(s) and tag.
"""
from ._common import DicomReadError, DicomWriteError, make_uid
from .patient import read_patient_and_administration
from .rtstruct import read_rtstruct
from .scan import SeriesInfo, scan_folder
from .seg import read_seg, write_seg
from .series import DicomSeries, read_series
from .write import (pet_decay_factor, pet_frame_reference_time_s, photopeak_window_kev, write_ct_series,
                    write_nm_series, write_pet_series)

__all__ = [
    "DicomReadError", "DicomWriteError", "SeriesInfo", "DicomSeries", "make_uid",
    "scan_folder", "read_series", "read_rtstruct", "read_seg", "write_seg",
    "write_ct_series", "write_pet_series", "write_nm_series", "read_patient_and_administration",
    "pet_decay_factor", "pet_frame_reference_time_s", "photopeak_window_kev",
]
