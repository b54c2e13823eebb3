"""``theranomics model``: train (from a config), evaluate (external validation) and predict."""
from __future__ import annotations

from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser("model", help="predictive models: train / evaluate / predict")
    msub = p.add_subparsers(dest="model_command", metavar="ACTION")
    msub.required = True
    t = msub.add_parser("train", help="nested-CV training from a TOML/JSON config; writes model, card, report")
    t.add_argument("config", type=Path, help="config file (keys: table, outcome, task, out, model, selection, …)")
    t.set_defaults(func=run)
    e = msub.add_parser("evaluate", help="evaluate a saved model on a labelled cohort table (external validation)")
    e.add_argument("model", type=Path, help="model folder (or its model.joblib)")
    e.add_argument("table", type=Path, help="cohort table with features and outcomes (.csv/.parquet)")
    e.add_argument("--out", type=Path, default=None, help="write the metrics to this CSV")
    e.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples for the 95 %% CIs")
    e.set_defaults(func=run)
    r = msub.add_parser("predict", help="predict new patients with a saved model")
    r.add_argument("model", type=Path, help="model folder (or its model.joblib)")
    r.add_argument("features", type=Path, help="feature table (.csv/.parquet)")
    r.add_argument("--out", type=Path, default=None, help="output CSV (default: print)")
    r.set_defaults(func=run)


def run(args) -> int:
    from ..models.persist import load_model
    from ..models.train import evaluate_model, read_table, train_from_config
    if args.model_command == "train":
        model, out = train_from_config(args.config)
        print(model.validation.metrics.to_string(index=False))
        print(f"wrote {out}")
        return 0
    model = load_model(args.model)
    if args.model_command == "evaluate":
        table = evaluate_model(model, read_table(args.table), n_boot=args.n_boot)
    else:
        table = model.predict(read_table(args.features))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(args.out, index=False)
        print(f"wrote {args.out}")
    else:
        print(table.to_string(index=False))
    return 0
