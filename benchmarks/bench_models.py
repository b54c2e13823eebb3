"""Benchmark: 500 patients x 1,000 features, 5 x 5 nested CV (ComBat, correlation pruning, mRMR and
model tuning inside the folds), on a virtual cohort with planted signal and centre effects.

Also times our ComBat against neuroCombat (the tool a user would otherwise pick) on the same matrix.
Target (issue 6): < 15 min on 2 cores.  Run: ``python benchmarks/bench_models.py [--repeats 1]``.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import time

import pandas as pd


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--patients", type=int, default=500)
    ap.add_argument("--features", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=1, help="outer-CV repeats")
    ap.add_argument("--n-jobs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    from theranomics.models.combat import ComBat
    from theranomics.models.selection import MRMR, CorrelationFilter
    from theranomics.models.tables import split_xy
    from theranomics.models.validation import nested_cv
    from theranomics.models.zoo import build_pipeline, make_model
    from theranomics.simulate.cohort import simulate_feature_cohort

    t0 = time.perf_counter()
    c = simulate_feature_cohort(args.patients, args.features, 10, effect_size=0.6, seed=args.seed)
    print(f"cohort {args.patients} x {args.features}: {time.perf_counter() - t0:.1f} s; Bayes AUC {c.truth.bayes_auc:.3f}")
    X, y, g = split_xy(c.patients, "response", list(c.feature_names) + ["centre"])

    F = X.drop(columns="centre").to_numpy(float)
    t0 = time.perf_counter()
    ComBat().fit(X).transform(X)
    t_ours = time.perf_counter() - t0
    try:
        import neuroCombat
        t0 = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            neuroCombat.neuroCombat(F.T.copy(), pd.DataFrame({"batch": X.centre.to_numpy()}), "batch")
        t_nc = f"{time.perf_counter() - t0:.2f} s"
    except ImportError:
        t_nc = "not installed"
    print(f"ComBat fit+transform on {F.shape}: ours {t_ours:.2f} s, neuroCombat {t_nc}")

    pipe = build_pipeline(make_model("logistic"), harmonise=ComBat(),
                          selection=[("prune", CorrelationFilter(0.9)), ("mrmr", MRMR(20))])
    grid = {"mrmr__n_features": [10, 30], "model__C": [0.01, 0.1, 1.0]}
    t0 = time.perf_counter()
    res = nested_cv(pipe, X, y, g, param_grid=grid, n_outer=5, n_inner=5, n_repeats=args.repeats,
                    n_boot=500, random_state=args.seed, n_jobs=args.n_jobs)
    elapsed = time.perf_counter() - t0
    est, lo, hi = res.metric("auc")
    freq = res.selection_frequency.reindex(c.feature_names, fill_value=0)
    found = (freq[list(c.truth.informative_features)] >= 0.8).sum()
    n_fits = len(res.folds) * (5 * 6 + 1)
    print(f"nested CV 5x5 (x{args.repeats} repeats), 6-point grid, {n_fits} pipeline fits: {elapsed:.1f} s "
          f"({elapsed / 60:.2f} min; target < 15 min)")
    print(f"AUC {est:.3f} [{lo:.3f}, {hi:.3f}] vs Bayes {c.truth.bayes_auc:.3f}; "
          f"informative features selected in >= 80 % of outer folds: {found}/10")


if __name__ == "__main__":
    main()
