"""Run the per-patient stages over a cohort: validate, schedule, resume, gather, report.

Output folder::

    <out>/validation.csv               every problem found up front
    <out>/patients/<id>/<stage>/       one folder per patient and stage, with stage.json (key, provenance)
    <out>/tables/<name>.parquet|.csv   cohort tables (lesions, whole_body, features, patients, status)
    <out>/run_log.jsonl                one line per stage event of every run (ran, cached, failed, …)
    <out>/report.html                  cohort report
"""
from __future__ import annotations

import datetime as dt
import heapq
import json
import logging
import os
import shutil
import socket
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import pandas as pd

from ._worker import OLD_MARK, TMP_MARK, run_stage_task, stage_dir
from .backends import make_backend
from .manifest import Manifest, read_manifest
from .stages import Stage, resolve_stages, stage_modules
from .validate import ValidationReport, validate_manifest

log = logging.getLogger(__name__)

#: Statuses of one stage of one patient.
DONE = ("ran", "cached")
BAD = ("failed", "skipped", "invalid")
LOCK_FILE = ".cohort.lock"
STATUS_COLUMNS = ["patient_id", "centre", "stage", "status", "seconds", "stage_seconds", "key", "error"]


class CohortValidationError(ValueError):
    """Validation found errors and the run was asked to be strict."""


class CohortLockedError(ValueError):
    """Another run is using the same output folder."""


@dataclass
class CohortResult:
    """What a run did: one status row per patient and stage, the cohort tables, the report."""

    out_dir: Path
    status: pd.DataFrame
    tables: dict[str, Path]
    validation: ValidationReport
    report: Path | None = None
    timings_s: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when no patient failed, was skipped after a failure, or was invalid."""
        return not self.status["status"].isin(BAD).any()

    @property
    def failures(self) -> pd.DataFrame:
        return self.status[self.status["status"].isin(BAD)].reset_index(drop=True)

    def counts(self) -> pd.DataFrame:
        """Stage × status counts."""
        return pd.crosstab(self.status["stage"], self.status["status"])


def _upstream_keys(results: Mapping, pid: str, stage) -> dict[str, str]:
    """Cache keys of the required upstream stages and of the optional ones that succeeded."""
    keys = {r: results[(pid, r)]["key"] for r in stage.requires}
    for u in stage.uses:
        res = results.get((pid, u))
        if res is not None and res["status"] in DONE:
            keys[u] = res["key"]
    return keys


def _atomic_table(df: pd.DataFrame, stem: Path) -> dict[str, Path]:
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = {}
    for suffix, writer in ((".parquet", lambda p: df.to_parquet(p, index=False)),
                           (".csv", lambda p: df.to_csv(p, index=False))):
        final = stem.with_suffix(suffix)
        tmp = final.with_name(final.name + ".tmp")
        writer(tmp)
        tmp.replace(final)
        paths[suffix] = final
    return paths


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _acquire_lock(out: Path) -> Path:
    lock = out / LOCK_FILE
    host = socket.gethostname()
    try:
        info = json.loads(lock.read_text())
        holder = int(info["pid"]) if info.get("host") == host else None
    except (OSError, ValueError, KeyError, TypeError):   # no lock, or an unreadable one: take it
        holder = None
    if holder is not None and holder != os.getpid() and _pid_alive(holder):
        raise CohortLockedError(f"{out}: another cohort run (pid {holder}) is writing here; wait for it "
                                f"or remove {lock} if it is gone")
    tmp = lock.with_name(lock.name + ".tmp")
    tmp.write_text(json.dumps({"host": host, "pid": os.getpid()}))
    tmp.replace(lock)
    return lock


def _clean_stale(out: Path) -> int:
    """Remove temporary folders left by a killed run (they are never trusted, only clutter)."""
    n = 0
    root = out / "patients"
    if root.is_dir():
        for p in root.glob("*/*"):
            if p.is_dir() and (TMP_MARK in p.name or OLD_MARK in p.name):
                shutil.rmtree(p, ignore_errors=True)
                n += 1
    return n


def _stage_list(stages) -> list[Stage]:
    if stages is None:
        return resolve_stages()
    if isinstance(stages, str):
        stages = [s for s in stages.split(",") if s.strip()]
    extra = {s.name: s for s in stages if isinstance(s, Stage)}
    return resolve_stages([s.name if isinstance(s, Stage) else s for s in stages], extra)


def run_cohort(manifest: Manifest | str | Path, out_dir: str | Path, *, stages: Sequence[str | Stage] | str | None = None,
               settings: Mapping[str, Mapping[str, Any]] | None = None, workers: int | None = None, scheduler=None,
               progress: bool = True, strict: bool = False, force: bool = False, thorough: bool = False,
               report: bool = True) -> CohortResult:
    """Run ``stages`` (names or :class:`Stage` objects; default all built-ins) on every patient.

    ``settings``: ``{stage: {setting: value}}`` overriding the stage defaults (an unknown stage or
    setting is an error before any work).  ``workers``: local pool size (default: cores);
    ``scheduler``: a Dask scheduler address or ``distributed.Client`` instead.  Patients with
    validation errors are recorded as ``invalid`` and not run (``strict=True`` raises
    :class:`CohortValidationError` instead; ``thorough=True`` parses every DICOM header).  A stage
    whose key (inputs, settings, version) matches its committed result is ``cached``;
    ``force=True`` recomputes everything.
    """
    import time

    t_start = time.perf_counter()
    manifest = manifest if isinstance(manifest, Manifest) else read_manifest(manifest)
    stage_list = _stage_list(stages)
    settings = dict(settings or {})
    names = [s.name for s in stage_list]
    unknown = sorted(set(settings) - set(names))
    if unknown:
        raise ValueError(f"settings given for stage(s) {unknown} that are not run; running {names}")
    resolved = {s.name: s.resolve_settings(settings.get(s.name)) for s in stage_list}
    if scheduler is not None and workers is not None:
        raise ValueError("give either workers (local pool) or scheduler (Dask), not both")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    lock = _acquire_lock(out)
    backend = None
    try:
        _clean_stale(out)
        if len(manifest):
            # start the workers first: their imports overlap with validation here
            backend = make_backend(workers, scheduler)
            backend.warm_up(stage_modules(stage_list))
        t = time.perf_counter()
        validation = validate_manifest(manifest, thorough=thorough)
        t_validate = time.perf_counter() - t
        _atomic_table(validation.to_frame(), out / "validation")
        if validation.problems:
            log.warning(validation.summary())
        if strict and not validation.ok:
            raise CohortValidationError(validation.summary())
        rows, t_loop = _schedule(manifest, out, stage_list, resolved, validation, backend, progress, force)
        t_warm = backend.warm_up_seconds()
        backend.close()
        backend = None
        status = pd.DataFrame(rows, columns=STATUS_COLUMNS)
        t = time.perf_counter()
        tables = gather_tables(manifest, out, stage_list, status)
        tables["status"] = _atomic_table(status, out / "tables" / "status")[".parquet"]
        _atomic_table(status[status["status"].isin(BAD)], out / "failures")
        timings = {"validate": t_validate, "schedule": t_loop, "gather": time.perf_counter() - t}
        if t_warm is not None:
            timings["worker_imports"] = t_warm
        result = CohortResult(out, status, tables, validation, None, timings)
        if report:
            from .report import cohort_report
            t = time.perf_counter()
            result.report = cohort_report(result, manifest, stage_list, out / "report.html")
            timings["report"] = time.perf_counter() - t
        timings["total"] = time.perf_counter() - t_start
        return result
    finally:
        if backend is not None:
            backend.close()
        lock.unlink(missing_ok=True)


def _schedule(manifest: Manifest, out: Path, stage_list: list[Stage], resolved: dict, validation: ValidationReport,
              backend, progress: bool, force: bool) -> tuple[list[dict], float]:
    """Submit one stage per patient at a time, earliest patient first, ≤ n_workers in flight."""
    import time

    from tqdm.auto import tqdm

    run_id = uuid.uuid4().hex[:12]
    entries = {e.patient_id: e for e in manifest.patients}
    order = {e.patient_id: i for i, e in enumerate(manifest.patients)}
    invalid = validation.invalid_patients
    rows: list[dict] = []
    results: dict[tuple[str, str], dict] = {}
    log_path = out / "run_log.jsonl"

    def record(res: dict) -> None:
        e = entries[res["patient_id"]]
        row = {k: res.get(k) for k in STATUS_COLUMNS}
        row["centre"] = e.centre
        rows.append(row)
        results[(res["patient_id"], res["stage"])] = res
        with open(log_path, "a") as fh:
            fh.write(json.dumps({"run_id": run_id, "time": dt.datetime.now().isoformat(timespec="milliseconds"),
                                 **{k: row[k] for k in STATUS_COLUMNS if k != "centre"}}) + "\n")
        if res["status"] == "failed":
            log.warning("%s %s failed: %s", res["patient_id"], res["stage"], res["error"])

    for pid in sorted(invalid, key=order.get):
        msgs = "; ".join(f"{p.field}: {p.message}" for p in validation.errors if p.patient_id == pid)
        record({"patient_id": pid, "stage": "validate", "status": "invalid", "seconds": 0.0, "stage_seconds": 0.0,
                "error": msgs})
    valid = [e.patient_id for e in manifest.patients if e.patient_id not in invalid]
    next_stage = {pid: 0 for pid in valid}
    ready = [order[pid] for pid in valid]
    heapq.heapify(ready)
    bar = tqdm(total=len(valid) * len(stage_list), desc="cohort", unit="stage", disable=not progress)
    n_done = {"patients": 0, "failed": 0}

    def advance(pid: str) -> None:
        """Skip stages whose requirements did not succeed; queue the next runnable one."""
        while next_stage[pid] < len(stage_list):
            stage = stage_list[next_stage[pid]]
            upstream = [results[(pid, r)] for r in stage.requires if (pid, r) in results]
            bad = [u for u in upstream if u["status"] not in DONE]
            if not bad:
                heapq.heappush(ready, order[pid])
                return
            status = "not_applicable" if all(u["status"] == "not_applicable" for u in bad) else "skipped"
            record({"patient_id": pid, "stage": stage.name, "status": status, "seconds": 0.0, "stage_seconds": 0.0,
                    "error": f"needs {', '.join(u['stage'] for u in bad)} ({', '.join(u['status'] for u in bad)})"})
            bar.update(1)
            next_stage[pid] += 1
        n_done["patients"] += 1
        if any(results[(pid, s.name)]["status"] in BAD for s in stage_list):
            n_done["failed"] += 1
        bar.set_postfix(patients=f"{n_done['patients']}/{len(valid)}", failed=n_done["failed"])

    t0 = time.perf_counter()
    inflight: dict = {}
    alone: set[str] = set()       # patients whose task was lost with a dying worker: rerun one at a time
    try:
        while ready or inflight:
            while ready and len(inflight) < backend.n_workers and not (alone & set(inflight.values())):
                pid = manifest.patients[ready[0]].patient_id
                if pid in alone and inflight:
                    break
                heapq.heappop(ready)
                stage = stage_list[next_stage[pid]]
                task = {"patient": entries[pid].to_dict(), "stage": stage, "settings": resolved[stage.name],
                        "out_dir": str(out), "force": force,
                        "upstream_keys": _upstream_keys(results, pid, stage)}
                inflight[backend.submit(run_stage_task, task)] = pid
            for fut in backend.wait_any(inflight):
                pid = inflight.pop(fut)
                stage = stage_list[next_stage[pid]]
                try:
                    res = backend.result(fut)
                except Exception as exc:  # the worker died (crash, killed, out of memory)
                    if pid not in alone:
                        # it may have been another task that killed the worker: rerun this one alone
                        alone.add(pid)
                        heapq.heappush(ready, order[pid])
                        log.warning("%s %s: worker lost (%s); rerunning it alone", pid, stage.name,
                                    type(exc).__name__)
                        continue
                    res = {"patient_id": pid, "stage": stage.name, "status": "failed", "seconds": 0.0,
                           "stage_seconds": 0.0, "key": None,
                           "error": f"worker lost while running this stage alone: {type(exc).__name__}: {exc}"}
                alone.discard(pid)
                record(res)
                bar.update(1)
                next_stage[pid] += 1
                advance(pid)
    finally:
        bar.close()
    return rows, time.perf_counter() - t0


def _read_table(folder: Path, name: str, records: dict) -> pd.DataFrame | None:
    from ._worker import read_stage_record

    if folder not in records:
        records[folder] = read_stage_record(folder)
    record = records[folder]
    if record is None or name not in record["outputs"]:
        return None
    return pd.read_parquet(folder / record["outputs"][name])


def gather_tables(manifest: Manifest, out: Path, stage_list: list[Stage], status: pd.DataFrame) -> dict[str, Path]:
    """Concatenate each stage table over the patients whose stage succeeded (manifest order), add
    ``centre``, and build the ``patients`` table (manifest variables, outcomes, and each stage's
    per-patient summary: whole-body biomarkers, organ doses, the planned schedule)."""
    done = set(map(tuple, status.loc[status["status"].isin(DONE), ["patient_id", "stage"]].to_numpy()))
    centre = {e.patient_id: e.centre for e in manifest.patients}
    tables: dict[str, Path] = {}
    gathered: dict[str, pd.DataFrame] = {}
    records: dict[Path, dict | None] = {}
    for stage in stage_list:
        for name in stage.tables:
            parts = [t for e in manifest.patients if (e.patient_id, stage.name) in done
                     for t in [_read_table(stage_dir(out, e.patient_id, stage.name), name, records)] if t is not None]
            parts = [p for p in parts if len(p.columns)]
            df = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame({"patient_id": []})
            df.insert(1, "centre", df["patient_id"].map(centre))
            gathered[name] = df
            tables[name] = _atomic_table(df, out / "tables" / name)[".parquet"]
    failed = set(status.loc[status["status"].isin(BAD), "patient_id"])
    rows = [{"patient_id": e.patient_id, "centre": e.centre, "scanner": e.scanner,
             "status": "failed" if e.patient_id in failed else "ok", **dict(e.clinical), **dict(e.outcomes)}
            for e in manifest.patients]
    patients = pd.DataFrame(rows)
    for stage in stage_list:
        if stage.patient_summary is None or not all(len(gathered[n]) for n in stage.tables):
            continue
        summary = stage.patient_summary({n: gathered[n] for n in stage.tables})
        clash = [c for c in summary.columns if c != "patient_id" and c in patients.columns]
        patients = patients.merge(summary.drop(columns=clash), on="patient_id", how="left")
    tables["patients"] = _atomic_table(patients, out / "tables" / "patients")[".parquet"]
    return tables
