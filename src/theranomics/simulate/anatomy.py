"""Real anatomy: the Lu-177-DOTATATE patient 15 CT with expert organ and tumour masks
(reference data ``anatomy/lu177_dotatate_patient15``, MIT, BenAuer2021).

Orientation: the NIfTI header says axes (L, A, S), but the anatomy says the slice axis runs
*inferior*: the liver and spleen lie at lower slice indices than the right and left kidney,
the ribs are at the first slices and the iliac wings at the last, and (L, A, S) would be a
mirror image (determinant −1) whereas (L, A, I) is a proper rotation.  The phantom therefore
uses direction diag(1, −1, −1) (LPS) with the file's origin.

Labels: liver, spleen, kidney_left, kidney_right from the expert masks (volumes equal
``labels.csv``), ``bone`` = HU > 150 inside the body, ``remainder`` = the rest of the body;
body = CT > −400 HU without the carbon-fibre bed, largest component, holes filled per slice.
The three tumours (lying in the mesentery, outside every organ) become lesions 1–3 of region
``lymph_node_extrapelvic``, site ``mesenteric``.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from scipy import ndimage

from ..core import Geometry, LabelMap
from ..io.nifti import read_labelmap, read_nifti
from .lesions import Lesion, LesionSet
from .phantom import TISSUES, Phantom

PATIENT15 = Path("anatomy") / "lu177_dotatate_patient15"
_ORGANS = {1: "liver", 2: "spleen", 3: "kidney_left", 4: "kidney_right"}
_TUMOURS = (5, 6, 7)
#: label values of the patient-15 phantom label map
LABELS_P15 = {"remainder": 1, "liver": 2, "spleen": 3, "kidney_left": 4, "kidney_right": 5, "bone": 6}


def default_refdata() -> Path:
    """$THERANOMICS_REFDATA, else ``../shared/data`` beside the repository."""
    env = os.environ.get("THERANOMICS_REFDATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[3].parent / "shared" / "data"


def load_patient15(refdata: str | Path | None = None, receptor_scale=(1.0, 1.0, 1.0)) -> tuple[Phantom, LesionSet]:
    """Phantom and lesions of patient 15 (see module docstring)."""
    root = Path(refdata) if refdata is not None else default_refdata()
    folder = root / PATIENT15 / "nifti"
    paths = {n: folder / f"{n}.nii.gz" for n in ("ct_hu_approx", "organ_tumour_labels", "bed_mask")}
    for name, path in paths.items():
        if not path.is_file():
            raise FileNotFoundError(f"patient-15 anatomy: {path} not found (reference data folder {root}; "
                                    "pass refdata= or set THERANOMICS_REFDATA)")
    ct = read_nifti(paths["ct_hu_approx"], unit="HU", modality="CT")
    lab = read_labelmap(paths["organ_tumour_labels"])
    bed = read_labelmap(paths["bed_mask"])
    if ct.shape != lab.shape or ct.shape != bed.shape:
        raise ValueError(f"patient-15 anatomy: CT {ct.shape}, labels {lab.shape} and bed {bed.shape} differ in shape")
    g0 = ct.geometry
    geom = Geometry(g0.shape, g0.spacing_mm, g0.origin_mm, (1.0, 0, 0, 0, -1.0, 0, 0, 0, -1.0))
    hu = ct.array.astype(np.int16)
    labels_in = lab.array.astype(np.int32)

    body = (hu > -400) & (bed.array == 0)
    comp, n = ndimage.label(body)
    if n == 0:
        raise ValueError("patient-15 anatomy: no body found in the CT (HU > -400)")
    sizes = ndimage.sum(body, comp, index=np.arange(1, n + 1))
    body = comp == (int(np.argmax(sizes)) + 1)
    for k in range(body.shape[0]):
        body[k] = ndimage.binary_fill_holes(body[k])
    body |= labels_in > 0

    out = np.zeros(hu.shape, np.uint8)
    out[body] = LABELS_P15["remainder"]
    out[body & (hu > 150)] = LABELS_P15["bone"]
    for v, name in _ORGANS.items():
        out[labels_in == v] = LABELS_P15[name]
    out[np.isin(labels_in, _TUMOURS)] = LABELS_P15["remainder"]   # tumours are carved by the lesion set
    tissue = np.where(body, TISSUES["soft_tissue"], TISSUES["air"]).astype(np.uint8)
    names = {v: n for n, v in LABELS_P15.items()}
    phantom = Phantom(LabelMap(out, geom, names, {"source": str(paths["organ_tumour_labels"])}), tissue, {},
                      {"anatomy": "patient15", "small": False, "spacing_mm": geom.spacing_mm,
                       "orientation_note": "slice axis inferior: direction diag(1,-1,-1)"},
                      ct_hu=hu)

    lesion_labels = np.zeros(hu.shape, np.int32)
    weights = np.zeros(hu.shape, np.float32)
    lesions = []
    for lesion_id, v in enumerate(_TUMOURS, start=1):
        m = labels_in == v
        lesion_labels[m] = lesion_id
        weights[m] = 1.0
        kji = np.argwhere(m).mean(0)
        centroid = tuple(float(c) for c in geom.index_to_world(kji[::-1]))
        n_vox = int(m.sum())
        lesions.append(Lesion(lesion_id, "mesenteric", "lymph_node_extrapelvic", "remainder",
                              n_vox * geom.voxel_volume_ml, n_vox * geom.voxel_volume_ml, n_vox, centroid,
                              float(receptor_scale[lesion_id - 1]), False))
    return phantom, LesionSet(tuple(lesions), lesion_labels, weights)
