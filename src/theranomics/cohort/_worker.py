"""What runs in a worker process (local pool or Dask): one stage of one patient.

Only paths and small dicts come in and go out.  The cache key is
``sha256(stage name, stage version, theranomics version, settings, content hashes of the stage's
input files, keys of the upstream stages)``; a stage folder is trusted only when its
``stage.json`` carries that key.  Results are written into a temporary sibling folder and renamed
into place, so a killed worker leaves nothing a later run would trust.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import traceback
import uuid
from pathlib import Path

THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
              "VECLIB_MAXIMUM_THREADS", "ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS")
STAGE_FILE = "stage.json"
TMP_MARK = ".tmp-"
OLD_MARK = ".old-"


def limit_threads() -> None:
    """One thread per worker: environment for libraries loaded later, threadpoolctl for BLAS/OpenMP
    already loaded, and SimpleITK's global default."""
    for var in THREAD_ENV:
        os.environ[var] = "1"
    try:
        from threadpoolctl import threadpool_limits
        threadpool_limits(1)
    except ImportError:  # threadpoolctl ships with scikit-learn/scipy stacks; without it env vars only
        pass
    try:
        import SimpleITK as sitk
        sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(1)
    except (ImportError, AttributeError):
        pass


def warm_up(modules) -> float:
    """Import ``modules`` in this worker (one thread); returns the seconds it took."""
    import importlib

    t0 = time.perf_counter()
    limit_threads()
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError:        # an optional backend: the stage itself reports what is missing
            pass
    return time.perf_counter() - t0


def patient_dir(out_dir: str | Path, patient_id: str) -> Path:
    return Path(out_dir) / "patients" / patient_id


def stage_dir(out_dir: str | Path, patient_id: str, stage: str) -> Path:
    return patient_dir(out_dir, patient_id) / stage


def _hash_path(path: Path) -> str:
    from ..provenance import input_hash
    return input_hash(path)


def stage_key(stage, settings: dict, input_hashes: dict[str, str], upstream_keys: dict[str, str],
              values: dict | None = None) -> str:
    from .. import __version__
    doc = {"stage": stage.name, "stage_version": stage.version, "software_version": __version__,
           "settings": settings, "inputs": input_hashes, "upstream": upstream_keys, "values": values or {}}
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()


def read_stage_record(folder: Path) -> dict | None:
    """``stage.json`` of a committed stage folder whose listed outputs all exist, else None."""
    try:
        record = json.loads((folder / STAGE_FILE).read_text())
    except (OSError, ValueError):
        return None
    if not all((folder / name).exists() for name in record.get("outputs", {}).values()):
        return None
    return record


def _commit(tmp: Path, final: Path) -> None:
    """Replace ``final`` by ``tmp`` with renames (an interrupted commit leaves no trusted folder)."""
    old = None
    if final.exists():
        old = final.with_name(final.name + OLD_MARK + uuid.uuid4().hex[:8])
        final.rename(old)
    tmp.rename(final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def run_stage_task(task: dict) -> dict:
    """Run (or find cached) one stage of one patient.  Never raises: failures are returned."""
    t0 = time.perf_counter()
    limit_threads()
    from ..provenance import provenance
    from .manifest import PatientEntry, study_timepoints
    from .stages import StageInputs, StageNotApplicable

    stage = task["stage"]
    entry = PatientEntry.from_dict(task["patient"])
    out = {"patient_id": entry.patient_id, "stage": stage.name, "status": "failed", "key": None,
           "seconds": 0.0, "stage_seconds": 0.0, "error": None, "traceback": None, "outputs": {}}
    tmp = None
    try:
        final = stage_dir(task["out_dir"], entry.patient_id, stage.name)
        upstream = {name: stage_dir(task["out_dir"], entry.patient_id, name) for name in task["upstream_keys"]}
        inputs = StageInputs(entry, study_timepoints(entry), upstream)
        reason = stage.applies(inputs) if stage.applies is not None else None
        if reason:
            out.update(status="not_applicable", error=reason)
            return out
        files = {role: Path(p) for role, p in (stage.inputs_of(inputs) if stage.inputs_of else {}).items()}
        hashes = {role: _hash_path(p) for role, p in files.items()}
        values = dict(stage.values_of(inputs, task["settings"])) if stage.values_of else {}
        key = stage_key(stage, task["settings"], hashes, task["upstream_keys"], values)
        out["key"] = key
        record = read_stage_record(final)
        if record is not None and record.get("key") == key and not task.get("force", False):
            if record.get("not_applicable"):
                out.update(status="not_applicable", error=record["not_applicable"])
            else:
                out.update(status="cached", outputs=record["outputs"])
            return out
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.with_name(final.name + TMP_MARK + uuid.uuid4().hex[:8])
        tmp.mkdir()
        ts = time.perf_counter()
        try:
            outputs = dict(stage.func(inputs, tmp, dict(task["settings"])))
        except StageNotApplicable as exc:
            out["stage_seconds"] = time.perf_counter() - ts
            record = {"key": key, "patient_id": entry.patient_id, "stage": stage.name, "stage_version": stage.version,
                      "upstream_keys": task["upstream_keys"], "values": values, "outputs": {},
                      "not_applicable": str(exc), "stage_seconds": out["stage_seconds"]}
            (tmp / STAGE_FILE).write_text(json.dumps(record, indent=2, default=str))
            _commit(tmp, final)
            tmp = None
            out.update(status="not_applicable", error=str(exc))
            return out
        out["stage_seconds"] = time.perf_counter() - ts
        missing = [n for n in outputs.values() if not (tmp / n).exists()]
        if missing:
            raise RuntimeError(f"stage {stage.name!r} listed outputs it did not write: {missing}")
        prov = provenance(f"cohort.{stage.name}", dict(task["settings"]), [])
        prov["inputs"] = {role: {"path": str(files[role]), "sha256": h} for role, h in hashes.items()}
        record = {"key": key, "patient_id": entry.patient_id, "stage": stage.name, "stage_version": stage.version,
                  "upstream_keys": task["upstream_keys"], "values": values, "outputs": outputs, "stage_seconds": out["stage_seconds"],
                  "provenance": prov}
        (tmp / STAGE_FILE).write_text(json.dumps(record, indent=2, default=str))
        _commit(tmp, final)
        tmp = None
        out.update(status="ran", outputs=outputs)
    except Exception as exc:  # one bad patient never stops the cohort: report it
        out.update(status="failed", error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc())
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        out["seconds"] = time.perf_counter() - t0
    return out
