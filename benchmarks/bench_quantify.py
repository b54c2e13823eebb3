"""Benchmark of the whole `quantify` step on a full-size simulated patient with ~100 lesions.

Steps timed: DICOM reading + SUV, CT and organ masks, segmentation (references, detection,
delineation), lesion table, output writing (CSV/Parquet/NIfTI/DICOM SEG), report.  Target: < 5 s on
2 cores for the analysis (reported per step).  For scale, a user's alternative is a manual or
semi-automatic tool (qPSMA, LIFEx, syngo.via) — none of them can run here, so only our steps are
timed.

    python benchmarks/bench_quantify.py [--lesions 100] [--repeat 3] [--out benchmarks/results/quantify.md]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from theranomics.quant.workflow import quantify_folder
from theranomics.simulate import PatientParameters, simulate_patient, write_patient


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lesions", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/quantify.md"))
    ap.add_argument("--workdir", type=Path, default=None)
    args = ap.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="thx_bench_q_"))
    pid = f"BENCH{args.lesions}"
    if not (work / pid / "study.json").exists():
        t = time.perf_counter()
        sim = simulate_patient(PatientParameters(patient_id=pid, n_lesions=args.lesions, median_lesion_volume_ml=1.5),
                               seed=42, tracer="psma-11")
        write_patient(sim, work)
        print(f"simulated and wrote {pid} in {time.perf_counter() - t:.1f} s")
    tp = sorted((work / pid / "cycle0").iterdir())[0]
    runs = []
    for r in range(args.repeat):
        out = work / f"out{r}"
        t = time.perf_counter()
        # the steps: DICOM reading, SUV, segmentation, lesion table, DICOM SEG (the HTML report is timed apart)
        paths = quantify_folder(tp / "pet" / "dicom", out, ct=tp / "ct" / "dicom", organs=tp / "masks" / "organs.nii.gz",
                                write_report=False)
        total = time.perf_counter() - t
        timings = json.loads(paths["summary_json"].read_text())["timings_s"]
        timings["total"] = total
        runs.append(timings)
        n = json.loads(paths["summary_json"].read_text())["whole_body"]["lesion_count"]
        print(f"run {r}: {total:.2f} s, {n} lesions")
    keys = list(runs[0])
    med = {k: statistics.median(run[k] for run in runs) for k in keys}
    t = time.perf_counter()
    quantify_folder(tp / "pet" / "dicom", work / "with_report", ct=tp / "ct" / "dicom",
                    organs=tp / "masks" / "organs.nii.gz", write_report=True)
    with_report = time.perf_counter() - t
    load = os.getloadavg()
    lines = ["# quantify benchmark", "",
             f"Full-size simulated PSMA patient ({args.lesions} lesions requested, {n} found), "
             f"median of {args.repeat} runs on {os.cpu_count()} cores; load average {load[0]:.1f} (shared machine). "
             f"Same run with the HTML report: {with_report:.2f} s.", "",
             "| step | seconds |", "|---|---|"]
    lines += [f"| {k} | {med[k]:.3f} |" for k in keys]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
