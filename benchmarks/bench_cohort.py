"""Cohort throughput: patients/min with 1 vs 2 local workers on the same virtual cohort (target
ratio >= 1.7 on 2 cores), and the cohort overhead per patient beyond the stages (target < 1 s).

    python benchmarks/bench_cohort.py [--n 8] [--full-size] [--out benchmarks/results/cohort.md]

Overhead per patient = (run wall time x workers - sum of stage times) / patients, measured on the
1-worker run (validation, input hashing, scheduling, worker start, gathering, report).  The cached
re-run (nothing to compute) is the pure bookkeeping cost.
"""
from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path


def _run(manifest, out: Path, workers: int) -> dict:
    from theranomics.cohort import run_cohort

    t = time.perf_counter()
    result = run_cohort(manifest, out, workers=workers, progress=False)
    wall = time.perf_counter() - t
    assert result.ok, result.failures
    st = result.status
    n = st.patient_id.nunique()
    stage_s = float(st.stage_seconds.sum())
    return {"workers": workers, "patients": n, "wall_s": wall, "stage_s": stage_s,
            "patients_per_min": 60.0 * n / wall, "overhead_per_patient_s": (wall * workers - stage_s) / n,
            "statuses": st.status.value_counts().to_dict(), "timings": result.timings_s}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=8, help="patients")
    ap.add_argument("--full-size", action="store_true", help="full-resolution phantoms (default: small)")
    ap.add_argument("--work", type=Path, default=None, help="working folder (default: a temporary one)")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "cohort.md")
    args = ap.parse_args(argv)
    from theranomics.cohort import simulate_cohort

    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        t = time.perf_counter()
        manifest = simulate_cohort(args.n, work / "cohort", n_centres=3, seed=11, small=not args.full_size,
                                   workers=2, progress=False)
        sim_s = time.perf_counter() - t
        one = _run(manifest, work / "out1", 1)
        two = _run(manifest, work / "out2", 2)
        cached = _run(manifest, work / "out1", 1)
    ratio = two["patients_per_min"] / one["patients_per_min"]
    load = os.getloadavg() if hasattr(os, "getloadavg") else ("?",)
    lines = [
        "# Cohort benchmark (`benchmarks/bench_cohort.py`)",
        "",
        f"Cohort: {args.n} virtual patients ({'full-size' if args.full_size else 'small'} phantoms, 3 centres), "
        f"stages quantify + radiomics, local process pool.  Machine: {platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}; load average after the run "
        f"{', '.join(f'{x:.1f}' for x in load)} (the machine is shared: other jobs slow both runs).",
        f"Simulating the cohort took {sim_s:.1f} s (2 workers).",
        "",
        "| run | wall (s) | sum of stage times (s) | patients/min | overhead per patient (s) |",
        "|---|---|---|---|---|",
    ]
    for name, r in (("1 worker", one), ("2 workers", two), ("1 worker, all cached", cached)):
        lines.append(f"| {name} | {r['wall_s']:.1f} | {r['stage_s']:.1f} | {r['patients_per_min']:.1f} | "
                     f"{r['overhead_per_patient_s']:.2f} |")
    lines += [
        "",
        f"**Throughput ratio 2 vs 1 workers: {ratio:.2f}x** (target >= 1.7x on 2 cores).",
        f"**Cohort overhead per patient beyond the stages (1 worker): {one['overhead_per_patient_s']:.2f} s** "
        f"(target < 1 s); in a fully cached re-run: {cached['overhead_per_patient_s']:.2f} s per patient.",
        "",
        f"Run timings (1 worker): " + ", ".join(f"{k} {v:.1f} s" for k, v in one["timings"].items()),
        "",
        "Overhead = (wall time x workers - sum of stage times) / patients: worker start-up (spawn and imports),",
        "validation, input hashing, scheduling, gathering the tables and the report.",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
