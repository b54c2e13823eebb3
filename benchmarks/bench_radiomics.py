"""Radiomics benchmark: theranomics vs PyRadiomics vs MIRP on the same lesions, in one run.

    python benchmarks/bench_radiomics.py                      # 200³ volume, 60 lesions, writes results/radiomics.md
    python benchmarks/bench_radiomics.py --rss-only --shape 600 512 512 --n-lesions 200

Single-threaded figures: every engine runs pinned to the same core (``--core``) with one BLAS/
OpenMP thread, and is timed in CPU seconds of its own process (``time.process_time``, best of
``--repeats``), so other load on a shared machine inflates the figures less than wall time.
PyRadiomics and MIRP run in their own virtual environments (they need numpy < 2 / other pins)
through a worker subprocess (``--worker``); lesions are exchanged as .npz files.
Features: first order, shape, GLCM, GLRLM, GLSZM, GLDM/NGLDM, NGTDM (PyRadiomics defaults), SUV
FBS 0.25 from 0, 3D.  "pre-cropped": each engine gets the lesion's bounding box (+2 voxels);
"whole-volume": the engine gets the whole volume and the label (PyRadiomics and MIRP per
lesion, theranomics both per label and as one batch call for all lesions).
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
PAD = 2

#: PyRadiomics feature -> (theranomics tag, how they relate)
PYRAD_MAP = {
    "firstorder_Mean": ("stat_mean", "same"), "firstorder_Variance": ("stat_var", "same"),
    "firstorder_Skewness": ("stat_skew", "same"), "firstorder_Kurtosis": ("stat_kurt", "kurtosis (PyRadiomics: not excess, +3)"),
    "firstorder_Median": ("stat_median", "same"), "firstorder_Minimum": ("stat_min", "same"),
    "firstorder_10Percentile": ("stat_p10", "same"), "firstorder_90Percentile": ("stat_p90", "same"),
    "firstorder_Maximum": ("stat_max", "same"), "firstorder_InterquartileRange": ("stat_iqr", "same"),
    "firstorder_Range": ("stat_range", "same"), "firstorder_MeanAbsoluteDeviation": ("stat_mad", "same"),
    "firstorder_RobustMeanAbsoluteDeviation": ("stat_rmad", "same"), "firstorder_RootMeanSquared": ("stat_rms", "same"),
    "firstorder_Energy": ("stat_energy", "same (voxelArrayShift=0)"), "firstorder_Entropy": ("ih_entropy", "same bins"),
    "firstorder_Uniformity": ("ih_uniformity", "same bins"),
    "shape_MeshVolume": ("morph_volume", "same"), "shape_VoxelVolume": ("morph_vol_approx", "same"),
    "shape_SurfaceArea": ("morph_area_mesh", "same"), "shape_SurfaceVolumeRatio": ("morph_av", "same"),
    "shape_Sphericity": ("morph_sphericity", "same"), "shape_Maximum3DDiameter": ("morph_diam", "same"),
    "shape_MajorAxisLength": ("morph_pca_maj_axis", "PyRadiomics covariance 1/N, IBSI 1/(N-1)"),
    "shape_MinorAxisLength": ("morph_pca_min_axis", "PyRadiomics covariance 1/N, IBSI 1/(N-1)"),
    "shape_LeastAxisLength": ("morph_pca_least_axis", "PyRadiomics covariance 1/N, IBSI 1/(N-1)"), "shape_Elongation": ("morph_pca_elongation", "same"),
    "shape_Flatness": ("morph_pca_flatness", "same"),
    **{f"glcm_{k}": (v + "_3D_avg", "3D, averaged over 13 directions") for k, v in {
        "Autocorrelation": "cm_auto_corr", "JointAverage": "cm_joint_avg", "ClusterProminence": "cm_clust_prom",
        "ClusterShade": "cm_clust_shade", "ClusterTendency": "cm_clust_tend", "Contrast": "cm_contrast",
        "Correlation": "cm_corr", "DifferenceAverage": "cm_diff_avg", "DifferenceEntropy": "cm_diff_entr",
        "DifferenceVariance": "cm_diff_var", "JointEnergy": "cm_energy", "JointEntropy": "cm_joint_entr",
        "Imc1": "cm_info_corr1", "Imc2": "cm_info_corr2", "Idm": "cm_inv_diff_mom", "Idmn": "cm_inv_diff_mom_norm",
        "Id": "cm_inv_diff", "Idn": "cm_inv_diff_norm", "InverseVariance": "cm_inv_var",
        "MaximumProbability": "cm_joint_max", "SumAverage": "cm_sum_avg", "SumEntropy": "cm_sum_entr",
        "SumSquares": "cm_joint_var"}.items()},
    **{f"glrlm_{k}": (v + "_3D_avg", "3D, averaged over 13 directions") for k, v in {
        "ShortRunEmphasis": "rlm_sre", "LongRunEmphasis": "rlm_lre", "GrayLevelNonUniformity": "rlm_glnu",
        "GrayLevelNonUniformityNormalized": "rlm_glnu_norm", "RunLengthNonUniformity": "rlm_rlnu",
        "RunLengthNonUniformityNormalized": "rlm_rlnu_norm", "RunPercentage": "rlm_r_perc",
        "GrayLevelVariance": "rlm_gl_var", "RunVariance": "rlm_rl_var", "RunEntropy": "rlm_rl_entr",
        "LowGrayLevelRunEmphasis": "rlm_lgre", "HighGrayLevelRunEmphasis": "rlm_hgre",
        "ShortRunLowGrayLevelEmphasis": "rlm_srlge", "ShortRunHighGrayLevelEmphasis": "rlm_srhge",
        "LongRunLowGrayLevelEmphasis": "rlm_lrlge", "LongRunHighGrayLevelEmphasis": "rlm_lrhge"}.items()},
    **{f"glszm_{k}": (v + "_3D", "3D") for k, v in {
        "SmallAreaEmphasis": "szm_sze", "LargeAreaEmphasis": "szm_lze", "GrayLevelNonUniformity": "szm_glnu",
        "GrayLevelNonUniformityNormalized": "szm_glnu_norm", "SizeZoneNonUniformity": "szm_zsnu",
        "SizeZoneNonUniformityNormalized": "szm_zsnu_norm", "ZonePercentage": "szm_z_perc",
        "GrayLevelVariance": "szm_gl_var", "ZoneVariance": "szm_zs_var", "ZoneEntropy": "szm_zs_entr",
        "LowGrayLevelZoneEmphasis": "szm_lgze", "HighGrayLevelZoneEmphasis": "szm_hgze",
        "SmallAreaLowGrayLevelEmphasis": "szm_szlge", "SmallAreaHighGrayLevelEmphasis": "szm_szhge",
        "LargeAreaLowGrayLevelEmphasis": "szm_lzlge", "LargeAreaHighGrayLevelEmphasis": "szm_lzhge"}.items()},
    **{f"gldm_{k}": (v + "_3D", "GLDM (alpha 0) = NGLDM") for k, v in {
        "SmallDependenceEmphasis": "ngl_lde", "LargeDependenceEmphasis": "ngl_hde", "GrayLevelNonUniformity": "ngl_glnu",
        "DependenceNonUniformity": "ngl_dcnu", "DependenceNonUniformityNormalized": "ngl_dcnu_norm",
        "GrayLevelVariance": "ngl_gl_var", "DependenceVariance": "ngl_dc_var", "DependenceEntropy": "ngl_dc_entr",
        "LowGrayLevelEmphasis": "ngl_lgce", "HighGrayLevelEmphasis": "ngl_hgce",
        "SmallDependenceLowGrayLevelEmphasis": "ngl_ldlge", "SmallDependenceHighGrayLevelEmphasis": "ngl_ldhge",
        "LargeDependenceLowGrayLevelEmphasis": "ngl_hdlge", "LargeDependenceHighGrayLevelEmphasis": "ngl_hdhge"}.items()},
    **{f"ngtdm_{k}": (v + "_3D", "3D") for k, v in {
        "Coarseness": "ngt_coarseness", "Contrast": "ngt_contrast", "Busyness": "ngt_busyness",
        "Complexity": "ngt_complexity", "Strength": "ngt_strength"}.items()},
}
BIN_WIDTH = 0.25
FAMILIES = ("morphology", "statistics", "intensity_histogram", "glcm", "glrlm", "glszm", "ngldm", "ngtdm")
MIRP_FAMILIES = ["statistics", "morphology", "intensity_histogram", "glcm", "glrlm", "glszm", "ngldm", "ngtdm"]


def _pin(core: int | None) -> None:
    if core is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {core})


# ------------------------------------------------------------------------------------- workers
def worker_pyradiomics(data: Path, repeats: int, whole: list[int]) -> dict:
    import logging

    import SimpleITK as sitk
    from radiomics import __version__ as version
    from radiomics import featureextractor
    logging.getLogger("radiomics").setLevel(logging.ERROR)
    d = np.load(data / "lesions.npz")
    sp = tuple(float(x) for x in d["spacing"])
    ext = featureextractor.RadiomicsFeatureExtractor(binWidth=BIN_WIDTH, voxelArrayShift=0, additionalInfo=False)
    ext.disableAllFeatures()
    for fam in ("firstorder", "shape", "glcm", "glrlm", "glszm", "gldm", "ngtdm"):
        ext.enableFeatureClassByName(fam)
    out = {"version": version, "crop": {}, "features": {}, "whole": {}}
    n = int(d["n"])
    for lab in range(1, n + 1):
        img = sitk.GetImageFromArray(d[f"img{lab}"].astype(np.float64))
        msk = sitk.GetImageFromArray(d[f"msk{lab}"].astype(np.uint8))
        img.SetSpacing(sp), msk.SetSpacing(sp)
        best = float("inf")
        for _ in range(repeats):
            t = time.process_time()
            res = ext.execute(img, msk, label=1)
            best = min(best, time.process_time() - t)
        out["crop"][lab] = best
        out["features"][lab] = {k[len("original_"):]: float(v) for k, v in res.items() if k.startswith("original_")}
    # what PyRadiomics costs with other settings: its extractor defaults (binWidth 25, i.e. a single
    # grey level on SUV data, additionalInfo on, all default classes) and the benchmark's bins
    # with additionalInfo on
    out["crop_variants"] = {}
    for name, kw in (("extractor defaults (binWidth 25, additionalInfo on)", {}),
                     ("binWidth 0.25, additionalInfo on", {"binWidth": BIN_WIDTH})):
        ext_v = featureextractor.RadiomicsFeatureExtractor(**kw)
        times = {}
        for lab in range(1, n + 1):
            img = sitk.GetImageFromArray(d[f"img{lab}"].astype(np.float64))
            msk = sitk.GetImageFromArray(d[f"msk{lab}"].astype(np.uint8))
            img.SetSpacing(sp), msk.SetSpacing(sp)
            best = float("inf")
            for _ in range(max(1, repeats - 1)):
                t = time.process_time()
                ext_v.execute(img, msk, label=1)
                best = min(best, time.process_time() - t)
            times[lab] = best
        out["crop_variants"][name] = {"classes": sorted(ext_v.enabledFeatures), "crop": times}
    if whole:
        vol = np.load(data / "volume.npz")
        img = sitk.GetImageFromArray(vol["image"].astype(np.float64))
        img.SetSpacing(sp)
        labels = sitk.GetImageFromArray(vol["labels"].astype(np.int32))
        labels.SetSpacing(sp)
        for lab in whole:
            t = time.process_time()
            ext.execute(img, labels, label=int(lab))
            out["whole"][lab] = time.process_time() - t
    return out


def worker_mirp(data: Path, lesions: list[int], whole: list[int]) -> dict:
    import logging
    import warnings
    warnings.filterwarnings("ignore")
    logging.disable(logging.INFO)
    from mirp import extract_features
    d = np.load(data / "lesions.npz")
    sp = [float(x) for x in d["spacing"]][::-1]  # MIRP: (z, y, x)
    kw = dict(image_modality="CT", image_spacing=sp, base_feature_families=MIRP_FAMILIES,
              base_discretisation_method="fixed_bin_size", base_discretisation_bin_width=BIN_WIDTH,
              export_features=True, write_features=False)
    from importlib.metadata import version
    out = {"version": version("mirp"), "crop": {}, "whole": {}}
    for lab in lesions:
        t = time.process_time()
        extract_features(image=d[f"img{lab}"].astype(np.float32), mask=d[f"msk{lab}"].astype(np.uint8), **kw)
        out["crop"][lab] = time.process_time() - t
    if whole:
        vol = np.load(data / "volume.npz")
        for lab in whole:
            t = time.process_time()
            extract_features(image=vol["image"], mask=(vol["labels"] == lab).astype(np.uint8), **kw)
            out["whole"][lab] = time.process_time() - t
    return out


def run_worker(python: str, name: str, data: Path, core: int | None, extra: list[str], timeout: float) -> dict:
    cmd = [python, str(Path(__file__).resolve()), "--worker", name, "--data", str(data)] + extra
    if core is not None:
        cmd += ["--core", str(core)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"{name} worker failed ({' '.join(cmd)}):\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------------------------- our engine
def settings():
    from dataclasses import replace

    from theranomics.radiomics import modality_defaults
    return replace(modality_defaults("PET"), families=FAMILIES)


def warm_up() -> float:
    """Load the compiled kernels (numba's on-disk cache; compiles them on a machine's first run) on a
    small ROI, so that no timing below includes it; returns the seconds it took."""
    from theranomics.radiomics.extract import extract_roi
    t = time.perf_counter()
    z, y, x = np.mgrid[-4:5, -4:5, -4:5]
    mask = x ** 2 + y ** 2 + z ** 2 <= 12
    image = np.random.default_rng(0).uniform(1.0, 5.0, size=mask.shape)
    extract_roi(image, mask, (4.0, 4.0, 4.0), settings())
    return time.perf_counter() - t


def time_ours(image, labels, spacing, repeats: int) -> dict:
    from scipy import ndimage

    from theranomics.radiomics.extract import _texture_functions, extract_roi
    from theranomics.radiomics.processing import source_slices
    s = settings()
    funcs, _ = _texture_functions(s)
    boxes = ndimage.find_objects(labels)
    crop, feats = {}, {}
    for lab, box in enumerate(boxes, 1):
        sl = source_slices(box, labels.shape, spacing, s)
        a, m = image[sl].copy(), labels[sl] == lab
        origin = tuple(x.start for x in sl)
        best = float("inf")
        for _ in range(repeats):
            t = time.process_time()
            res = extract_roi(a, m, spacing, s, box=box, full_shape=labels.shape, origin=origin, texture_functions=funcs)
            best = min(best, time.process_time() - t)
        crop[lab], feats[lab] = best, res
    return {"crop": crop, "features": feats}


def time_ours_whole(image, labels, spacing, per_label: list[int]) -> dict:
    from theranomics.core import Image, LabelMap
    from theranomics.core.image import Geometry
    from theranomics.radiomics import extract_features
    geom = Geometry(image.shape, spacing)
    img, lab = Image(image, geom, unit="SUVbw"), LabelMap(labels, geom)
    s = settings()
    t = time.process_time()
    extract_features(img, lab, s)
    batch = time.process_time() - t
    single = {}
    for label in per_label:
        t = time.process_time()
        extract_features(img, lab, s, label_ids=[label])
        single[label] = time.process_time() - t
    return {"batch_total": batch, "single": single}


def agreement(ours: dict, pyrad: dict, image, labels) -> list[tuple]:
    """Per PyRadiomics feature: median and max relative difference over lesions.

    PyRadiomics numbers its bins from floor(min / w)·w while the theranomics default starts at
    0 SUV, so the absolute grey-level numbers differ by an offset; for the comparison ours is
    recomputed with ``discretisation.lower_bound`` = PyRadiomics' first bin edge of each lesion.
    """
    from dataclasses import replace

    from scipy import ndimage

    from theranomics.radiomics.extract import extract_roi
    from theranomics.radiomics.processing import source_slices
    s0 = settings()
    boxes = ndimage.find_objects(labels)
    rows = {}
    for lab, box in enumerate(boxes, 1):
        values = image[box][labels[box] == lab]
        lower = float(np.floor(values.min() / BIN_WIDTH) * BIN_WIDTH)
        s = replace(s0, discretisation=replace(s0.discretisation, lower_bound=lower),
                    ivh=replace(s0.ivh, lower_bound=None))
        sl = source_slices(box, labels.shape, SPACING_HOLDER[0], s)
        res = extract_roi(image[sl], labels[sl] == lab, SPACING_HOLDER[0], s, box=box, full_shape=labels.shape,
                          origin=tuple(x.start for x in sl))
        theirs = pyrad["features"][str(lab)]
        for name, (tag, note) in PYRAD_MAP.items():
            x, y = res.get(tag, np.nan), theirs.get(name, np.nan)
            if name == "firstorder_Kurtosis":
                x = x + 3.0
            rel = abs(x - y) / max(abs(y), 1e-12)
            rows.setdefault(name, []).append(rel)
    return [(name, PYRAD_MAP[name][0], PYRAD_MAP[name][1], float(np.nanmedian(v)), float(np.nanmax(v)))
            for name, v in rows.items()]


SPACING_HOLDER: list = [None]


def multicore(image, labels, spacing, n_jobs: int) -> float:
    from theranomics.core import Image, LabelMap
    from theranomics.core.image import Geometry
    from theranomics.radiomics import extract_features
    geom = Geometry(image.shape, spacing)
    t = time.perf_counter()
    extract_features(Image(image, geom, unit="SUVbw"), LabelMap(labels, geom), settings(), n_jobs=n_jobs)
    return time.perf_counter() - t


def rss_run(shape, n_lesions: int) -> dict:
    """Generate the volume (float32 image, uint8 labels) and extract every lesion; peak RSS."""
    sys.path.insert(0, str(HERE))
    from bench_radiomics_data import make_volume

    from theranomics.core import Image, LabelMap
    from theranomics.core.image import Geometry
    from theranomics.radiomics import extract_features
    t = time.perf_counter()
    image, labels, radii, spacing = make_volume(shape, n_lesions, seed=1, spacing_mm=(2.0, 2.0, 2.0))
    gen_s = time.perf_counter() - t
    rss_gen = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    geom = Geometry(image.shape, spacing)
    t = time.perf_counter()
    df = extract_features(Image(image, geom, unit="SUVbw"), LabelMap(labels, geom), settings())
    ext_s = time.perf_counter() - t
    return {"shape": list(shape), "lesions": len(df), "generate_s": gen_s, "extract_s": ext_s,
            "peak_rss_after_generation_mb": rss_gen,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
            "volume_mb": (image.nbytes + labels.nbytes) / 2 ** 20}


# ------------------------------------------------------------------------------------- report
def _band(r: int) -> str:
    sys.path.insert(0, str(HERE))
    from bench_radiomics_data import band_of
    return band_of(r)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--shape", type=int, nargs=3, default=(200, 200, 200), help="volume shape (nz ny nx)")
    p.add_argument("--n-lesions", type=int, default=60)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--core", type=int, default=0, help="CPU core for the single-threaded runs")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--pyrad-python", default="/work/venv-pyrad/bin/python")
    p.add_argument("--mirp-python", default="/work/venv-mirp/bin/python")
    p.add_argument("--mirp-lesions", type=int, default=2, help="MIRP lesions per size band (it is slow)")
    p.add_argument("--whole-lesions", type=int, default=4, help="lesions for the per-label whole-volume calls")
    p.add_argument("--n-jobs", type=int, default=os.cpu_count() or 2)
    p.add_argument("--out", type=Path, default=HERE / "results" / "radiomics.md")
    p.add_argument("--rss-only", action="store_true")
    p.add_argument("--rss-shape", type=int, nargs=3, default=(600, 512, 512))
    p.add_argument("--rss-lesions", type=int, default=200)
    p.add_argument("--worker", choices=("pyradiomics", "mirp"), help=argparse.SUPPRESS)
    p.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--lesions", type=int, nargs="*", default=[], help=argparse.SUPPRESS)
    p.add_argument("--whole", type=int, nargs="*", default=[], help=argparse.SUPPRESS)
    a = p.parse_args(argv)

    if a.worker:
        _pin(a.core)
        res = (worker_pyradiomics(a.data, a.repeats, a.whole) if a.worker == "pyradiomics"
               else worker_mirp(a.data, a.lesions, a.whole))
        print(json.dumps(res))
        return 0
    if a.rss_only:
        print(json.dumps(rss_run(tuple(a.rss_shape), a.rss_lesions)))
        return 0

    sys.path.insert(0, str(HERE))
    from bench_radiomics_data import make_volume
    from scipy import ndimage
    image, labels, radii, spacing = make_volume(tuple(a.shape), a.n_lesions, a.seed)
    SPACING_HOLDER[0] = spacing
    boxes = ndimage.find_objects(labels)
    n = len(boxes)
    tmp = Path(tempfile.mkdtemp(prefix="bench_radiomics_"))
    arrays = {"n": n, "spacing": np.array(spacing)}
    for lab, box in enumerate(boxes, 1):
        sl = tuple(slice(max(0, b.start - PAD), min(s, b.stop + PAD)) for b, s in zip(box, labels.shape))
        arrays[f"img{lab}"], arrays[f"msk{lab}"] = image[sl], (labels[sl] == lab).astype(np.uint8)
    np.savez(tmp / "lesions.npz", **arrays)
    np.savez(tmp / "volume.npz", image=image, labels=labels)
    bands: dict[str, list[int]] = {}
    for lab, r in radii.items():
        bands.setdefault(_band(r), []).append(lab)
    rng = np.random.default_rng(1)
    whole = sorted(int(x) for x in rng.choice(n, size=min(a.whole_lesions, n), replace=False) + 1)
    mirp_lesions = sorted(int(x) for b in bands.values() for x in b[:a.mirp_lesions])

    _pin(a.core)
    load_start = os.getloadavg()[0]
    warm_s = warm_up()
    print(f"volume {a.shape}, {n} lesions; timing theranomics ...", flush=True)
    ours = time_ours(image, labels, spacing, a.repeats)
    ours_whole = time_ours_whole(image, labels, spacing, whole)
    errors = {}
    pyrad = mirp = None
    print("timing PyRadiomics ...", flush=True)
    try:
        pyrad = run_worker(a.pyrad_python, "pyradiomics", tmp, a.core, ["--repeats", str(a.repeats), "--whole", *map(str, whole)], 3600)
    except Exception as exc:  # report what failed, keep benchmarking the rest
        errors["PyRadiomics"] = str(exc)
    print("timing MIRP ...", flush=True)
    try:
        mirp = run_worker(a.mirp_python, "mirp", tmp, a.core,
                          ["--lesions", *map(str, mirp_lesions), "--whole", *map(str, whole[:1])], 3600)
    except Exception as exc:
        errors["MIRP"] = str(exc)
    os.sched_setaffinity(0, set(range(os.cpu_count() or 1))) if hasattr(os, "sched_setaffinity") else None
    print("multi-core ...", flush=True)
    t_multi = multicore(image, labels, spacing, a.n_jobs)
    t_single_wall = multicore(image, labels, spacing, 1)
    print("RSS run ...", flush=True)
    rss = json.loads(subprocess.run([sys.executable, str(Path(__file__).resolve()), "--rss-only", "--rss-shape",
                                     *map(str, a.rss_shape), "--rss-lesions", str(a.rss_lesions)],
                                    capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1])
    import shutil
    shutil.rmtree(tmp, ignore_errors=True)
    agree = agreement(ours, pyrad, image, labels) if pyrad else []
    text = report(a, n, radii, bands, ours, ours_whole, pyrad, mirp, errors, t_multi, t_single_wall, rss, agree, whole,
                  load_start, warm_s)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(text)
    print(text)
    return 0


def _ms(x: float) -> str:
    return f"{1e3 * x:.1f}"


def report(a, n, radii, bands, ours, ours_whole, pyrad, mirp, errors, t_multi, t_single_wall, rss, agree, whole,
           load_start, warm_s) -> str:
    import platform
    L = ["# Radiomics benchmark: theranomics vs PyRadiomics vs MIRP", "",
         f"Generated by `benchmarks/bench_radiomics.py` on {time.strftime('%Y-%m-%d')} "
         f"({platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}).",
         f"Volume {tuple(a.shape)} voxels (4 mm), {n} lesions of radius 3–15 voxels (synthetic PET, SUV); features: "
         "first order, shape, GLCM, GLRLM, GLSZM, GLDM/NGLDM, NGTDM; FBS 0.25 SUV; 3D.",
         f"Single-threaded: all engines pinned to core {a.core}, one BLAS/OpenMP thread, CPU time of the engine's "
         f"process (best of {a.repeats} for pre-cropped theranomics/PyRadiomics; MIRP once).",
         f"Load average (1 min) at the start of the run: {load_start:.1f}, at the end: {os.getloadavg()[0]:.1f}, on "
         f"{os.cpu_count()} cores (a shared machine: other developers' tests ran meanwhile; when the load exceeds the "
         "core count, the multi-core figure below cannot show a speed-up).",
         f"theranomics' compiled (numba) kernels were loaded from their on-disk cache before timing ({warm_s:.1f} s; "
         "the very first run on a machine compiles them, about a minute, once).", ""]
    if pyrad:
        L.append(f"PyRadiomics {pyrad['version']} (additionalInfo off, i.e. without its diagnostic image hashing).")
    if mirp:
        L.append(f"MIRP {mirp['version']} (its default extras, e.g. Moran's I/Geary's C, are part of its time).")
    for k, v in errors.items():
        L += [f"**{k} could not run**:", "```", v.strip()[-1500:], "```"]
    L += ["", "## Single-threaded, pre-cropped lesions (ms per lesion)", "",
          "| band | lesions | theranomics | PyRadiomics | ratio | MIRP (n) | ratio |", "|---|---|---|---|---|---|---|"]
    all_o, all_p = [], []
    for band in sorted(bands):
        labs = bands[band]
        o = np.mean([ours["crop"][lab] for lab in labs])
        all_o += [ours["crop"][lab] for lab in labs]
        row = f"| {band} | {len(labs)} | {_ms(o)} |"
        if pyrad:
            p_ = np.mean([pyrad["crop"][str(lab)] for lab in labs])
            all_p += [pyrad["crop"][str(lab)] for lab in labs]
            row += f" {_ms(p_)} | {p_ / o:.1f}× |"
        else:
            row += " – | – |"
        if mirp:
            ml = [lab for lab in labs if str(lab) in mirp["crop"]]
            m_ = np.mean([mirp["crop"][str(lab)] for lab in ml]) if ml else np.nan
            o_m = np.mean([ours["crop"][lab] for lab in ml]) if ml else np.nan
            row += f" {_ms(m_)} ({len(ml)}) | {m_ / o_m:.0f}× |"
        else:
            row += " – | – |"
        L.append(row)
    o_all = np.mean(all_o)
    row = f"| all | {n} | {_ms(o_all)} |"
    row += f" {_ms(np.mean(all_p))} | {np.mean(all_p) / o_all:.1f}× |" if pyrad else " – | – |"
    if mirp:
        ml = [int(k) for k in mirp["crop"]]
        row += f" {_ms(np.mean(list(mirp['crop'].values())))} ({len(ml)}) | " \
               f"{np.mean(list(mirp['crop'].values())) / np.mean([ours['crop'][lab] for lab in ml]):.0f}× |"
    else:
        row += " – | – |"
    L.append(row)
    if pyrad and pyrad.get("crop_variants"):
        L += ["", "What PyRadiomics costs per pre-cropped lesion with other settings (same lesions, same run; "
              "the table above uses binWidth 0.25 with additionalInfo off):", "",
              "| PyRadiomics settings | feature classes | ms per lesion | theranomics ratio |", "|---|---|---|---|"]
        for name, v in pyrad["crop_variants"].items():
            t_v = np.mean(list(v["crop"].values()))
            L.append(f"| {name} | {', '.join(v['classes'])} | {_ms(t_v)} | {t_v / o_all:.1f}× |")
    L += ["", "## Single-threaded, whole-volume calls (ms per lesion)", "",
          "| call | theranomics | PyRadiomics | MIRP |", "|---|---|---|---|",
          f"| one call for all {n} lesions (amortised) | {_ms(ours_whole['batch_total'] / n)} | – | – |",
          f"| one call per label ({len(whole)} lesions) | {_ms(np.mean(list(ours_whole['single'].values())))} | "
          f"{_ms(np.mean(list(pyrad['whole'].values()))) if pyrad and pyrad['whole'] else '–'} | "
          f"{_ms(np.mean(list(mirp['whole'].values()))) if mirp and mirp['whole'] else '–'} |"]
    if pyrad and pyrad["whole"]:
        L.append(f"\nRatio per label call: PyRadiomics / theranomics = "
                 f"{np.mean(list(pyrad['whole'].values())) / np.mean(list(ours_whole['single'].values())):.0f}×; "
                 f"PyRadiomics per label vs theranomics batch = "
                 f"{np.mean(list(pyrad['whole'].values())) / (ours_whole['batch_total'] / n):.0f}×.")
    L += ["", "## Multi-core (theranomics only, wall time)", "",
          f"`extract_features(..., n_jobs={a.n_jobs})` on the whole volume: {t_multi:.2f} s "
          f"({_ms(t_multi / n)} ms per lesion); n_jobs=1: {t_single_wall:.2f} s; speed-up {t_single_wall / t_multi:.2f}×.",
          "", "## Peak memory", "",
          f"Volume {tuple(rss['shape'])} (float32 image + uint8 labels = {rss['volume_mb']:.0f} MB), "
          f"{rss['lesions']} lesions: generation {rss['generate_s']:.1f} s, extraction {rss['extract_s']:.1f} s; "
          f"peak RSS {rss['peak_rss_mb']:.0f} MB (after generating the data: {rss['peak_rss_after_generation_mb']:.0f} MB).",
          ""]
    if agree:
        L += ["## Agreement with PyRadiomics (relative difference over all lesions)", "",
              "Same grey levels for both (theranomics' FBS lower bound set to PyRadiomics' first bin edge per "
              "lesion); PyRadiomics kurtosis compared as excess kurtosis + 3.", "",
              "| PyRadiomics | theranomics | relation | median rel. diff | max rel. diff |", "|---|---|---|---|---|"]
        for name, tag, note, med, mx in agree:
            L.append(f"| {name} | {tag} | {note} | {med:.2g} | {mx:.2g} |")
        ok = sum(1 for *_, mx in agree if mx < 1e-6)
        L += ["", f"{ok} of {len(agree)} features agree to < 1e-6 on every lesion."]
    return "\n".join(L) + "\n"


if __name__ == "__main__":
    sys.exit(main())
