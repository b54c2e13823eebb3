"""Training with a model card, save/load with versions, HTML report, and the `model` CLI."""
from __future__ import annotations

import argparse
import json

import pytest

from theranomics.cli import model as cli_model
from theranomics.models.persist import load_model, save_model
from theranomics.models.report import model_report
from theranomics.models.train import evaluate_model, outcome_array, train_model
from theranomics.simulate.cohort import simulate_feature_cohort


@pytest.fixture(scope="module")
def cohort():
    return simulate_feature_cohort(160, 12, 3, effect_size=1.0, seed=9, n_monte_carlo=20_000)


@pytest.fixture(scope="module")
def trained(cohort):
    return train_model(cohort.patients, "response", features=list(cohort.feature_names), harmonise=True,
                       selection=["variance", {"name": "mrmr", "n_features": 5}], n_boot=100,
                       intended_use="research: response to [177Lu]Lu-PSMA")


def test_card_reports_metrics_with_ci_and_failure_cases(trained):
    card = trained.card.to_dict()
    auc = [m for m in card["metrics"] if m["metric"] == "auc"][0]
    assert auc["ci_low"] <= auc["estimate"] <= auc["ci_high"]
    assert card["data"]["patients"] == 160 and len(card["failure_cases"]) == 5 and len(card["subgroups"]) == 3
    assert "calibration slope (ideal 1)" in card["calibration"]
    md = trained.card.to_markdown()
    assert "## Performance (95 % CI)" in md and "harmonise:ComBat" in md and "research: response" in md


def test_save_load_roundtrip_and_predict(trained, cohort, tmp_path):
    save_model(trained, tmp_path / "m")
    assert (tmp_path / "m" / "model_card.md").is_file()
    json.loads((tmp_path / "m" / "model_card.json").read_text())
    loaded = load_model(tmp_path / "m")
    a, b = trained.predict(cohort.patients), loaded.predict(cohort.patients)
    assert a.equals(b) and list(a.columns) == ["patient_id", "probability"]
    assert loaded.versions["scikit-learn"] == trained.versions["scikit-learn"]
    with pytest.raises(ValueError, match="lacks 1 column"):
        loaded.predict(cohort.patients.drop(columns=[cohort.feature_names[0]]))
    (tmp_path / "bad.joblib").write_bytes(b"not a model")
    with pytest.raises(ValueError, match="not a readable theranomics model"):
        load_model(tmp_path / "bad.joblib")
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "nowhere")


def test_report_has_figures(trained, cohort, tmp_path):
    y = outcome_array(cohort.patients, ["response"], "classification")
    html = model_report(trained, y, tmp_path / "r.html").read_text()
    for name in ("roc", "calibration", "decision curve", "feature importance"):
        assert f'alt="{name}"' in html
    assert html.count("data:image/png;base64,") == 4


def test_survival_training_and_km_report(cohort, tmp_path):
    m = train_model(cohort.patients, ["os_event", "os_time_months"], task="survival",
                    features=["ldh_u_l", "age_y"], model="cox", n_boot=50, n_outer=3)
    est, lo, hi = m.validation.metric("c_index")
    assert lo < est < hi and est > 0.55
    y = outcome_array(cohort.patients, ["os_event", "os_time_months"], "survival")
    assert 'alt="kaplan meier"' in model_report(m, y, tmp_path / "s.html").read_text()


def _parse(argv):
    parser = argparse.ArgumentParser()
    cli_model.add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


def test_cli_train_predict_evaluate(cohort, tmp_path, capsys):
    cohort.patients.to_csv(tmp_path / "cohort.csv", index=False)
    feats = ", ".join(f'"{f}"' for f in cohort.feature_names)
    (tmp_path / "cfg.toml").write_text(
        f'table = "cohort.csv"\noutcome = "response"\nout = "model"\nfeatures = [{feats}]\n'
        f'model = "logistic"\nn_boot = 50\nn_outer = 3\n')
    args = _parse(["model", "train", str(tmp_path / "cfg.toml")])
    assert args.func(args) == 0 and (tmp_path / "model" / "report.html").is_file()
    args = _parse(["model", "predict", str(tmp_path / "model"), str(tmp_path / "cohort.csv"), "--out",
                   str(tmp_path / "p.csv")])
    assert args.func(args) == 0 and (tmp_path / "p.csv").read_text().startswith("patient_id,probability")
    args = _parse(["model", "evaluate", str(tmp_path / "model"), str(tmp_path / "cohort.csv"), "--n-boot", "50"])
    assert args.func(args) == 0 and "auc" in capsys.readouterr().out
    (tmp_path / "bad.toml").write_text('table = "cohort.csv"\noutcome = "response"\nout = "m"\ncolour = 1\n')
    with pytest.raises(ValueError, match="unknown config key"):
        args = _parse(["model", "train", str(tmp_path / "bad.toml")])
        args.func(args)


def test_evaluate_model_is_external_validation(trained, cohort):
    table = evaluate_model(trained, cohort.patients, n_boot=50).set_index("metric")
    assert table.loc["auc", "ci_low"] <= table.loc["auc", "estimate"] <= table.loc["auc", "ci_high"]
    with pytest.raises(ValueError, match="outcome column"):
        evaluate_model(trained, cohort.patients.drop(columns="response"))
