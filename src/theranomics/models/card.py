"""RELAINCE-style model cards (Jha et al., "Nuclear medicine and artificial intelligence: best
practices for evaluation (the RELAINCE guidelines)", J Nucl Med 63:1288, 2022).

A card states the model, its intended use, the data it was developed on, the validation protocol,
every metric with its 95 % CI, calibration, failure cases and limitations.  Written as markdown and
JSON next to every saved model.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

__all__ = ["ModelCard"]


def _jsonable(obj):
    if isinstance(obj, pd.DataFrame):
        return obj.to_dict(orient="records")
    if isinstance(obj, pd.Series):
        return obj.to_dict()
    if hasattr(obj, "item"):
        return obj.item()
    return str(obj)


@dataclass
class ModelCard:
    name: str
    task: str
    outcome: list[str]
    intended_use: str
    model: str
    pipeline: list[str]
    hyperparameters: dict
    data: dict
    validation_protocol: str
    metrics: list[dict]
    calibration: dict = field(default_factory=dict)
    failure_cases: list[dict] = field(default_factory=list)
    subgroups: list[dict] = field(default_factory=list)
    important_features: dict = field(default_factory=dict)
    limitations: list[str] = field(default_factory=list)
    versions: dict = field(default_factory=dict)
    created: str = ""

    def to_dict(self) -> dict:
        return json.loads(json.dumps(asdict(self), default=_jsonable))

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def to_markdown(self) -> str:
        def table(rows: list[dict]) -> str:
            if not rows:
                return "_none_\n"
            cols = list(rows[0])
            out = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
            for r in rows:
                out.append("| " + " | ".join(f"{r[c]:.4g}" if isinstance(r[c], float) else str(r[c]) for c in cols) + " |")
            return "\n".join(out) + "\n"

        lines = [f"# Model card: {self.name}", "",
                 f"Created {self.created}; theranomics {self.versions.get('theranomics', '?')}.", "",
                 "## Intended use", self.intended_use or "_not stated_", "",
                 "## Model", f"- task: {self.task}; outcome: {', '.join(self.outcome)}", f"- algorithm: {self.model}",
                 f"- pipeline (fitted inside the folds): {' -> '.join(self.pipeline)}",
                 f"- hyper-parameters (final fit): {json.dumps(self.hyperparameters, default=str)}", "",
                 "## Data", *[f"- {k}: {v}" for k, v in self.data.items()], "",
                 "## Validation protocol", self.validation_protocol, "",
                 "## Performance (95 % CI)", table(self.metrics),
                 "## Calibration", *([f"- {k}: {v:.4g}" if isinstance(v, float) else f"- {k}: {v}"
                                      for k, v in self.calibration.items()] or ["_not applicable_"]), "",
                 "## Subgroups", table(self.subgroups),
                 "## Failure cases (largest out-of-fold errors)", table(self.failure_cases),
                 "## Most often selected features", *[f"- {k}: {v:.2f}" for k, v in self.important_features.items()], "",
                 "## Limitations", *[f"- {x}" for x in self.limitations], "",
                 "## Software versions", *[f"- {k}: {v}" for k, v in self.versions.items()], ""]
        return "\n".join(lines)

    def write(self, folder: str | Path, stem: str = "model_card") -> tuple[Path, Path]:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        md, js = folder / f"{stem}.md", folder / f"{stem}.json"
        md.write_text(self.to_markdown(), encoding="utf-8")
        js.write_text(self.to_json(), encoding="utf-8")
        return md, js
