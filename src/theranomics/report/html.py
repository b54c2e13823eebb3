"""A self-contained HTML report (images embedded as base64 PNG) with provenance."""
from __future__ import annotations

import base64
import datetime as dt
import html
import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .. import __version__


@dataclass
class Report:
    """Sections of figures, tables and text, written as one HTML file."""

    title: str
    sections: list[tuple[str, list[str]]] = field(default_factory=list)
    provenance: dict = field(default_factory=dict)

    def section(self, heading: str) -> list[str]:
        parts: list[str] = []
        self.sections.append((heading, parts))
        return parts

    @staticmethod
    def figure(png: bytes, caption: str = "") -> str:
        data = base64.b64encode(png).decode("ascii")
        cap = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
        return f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(caption)}"/>{cap}</figure>'

    @staticmethod
    def table(df: pd.DataFrame, float_format: str = "{:.4g}", max_rows: int = 200) -> str:
        shown = df.head(max_rows)
        out = shown.to_html(index=False, border=0, classes="tbl", float_format=lambda v: float_format.format(v))
        if len(df) > max_rows:
            out += f"<p>… {len(df) - max_rows} more rows in the CSV.</p>"
        return out

    @staticmethod
    def text(s: str) -> str:
        return f"<p>{html.escape(s)}</p>"

    def write(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        prov = {"software": "theranomics", "version": __version__,
                "written": dt.datetime.now().isoformat(timespec="seconds"), **self.provenance}
        body = []
        for heading, parts in self.sections:
            body.append(f"<section><h2>{html.escape(heading)}</h2><div class='row'>{''.join(parts)}</div></section>")
        doc = f"""<!DOCTYPE html><html><head><meta charset="utf-8"><title>{html.escape(self.title)}</title>
<style>body{{font-family:sans-serif;margin:1.5em;color:#222}} figure{{display:inline-block;margin:.4em;text-align:center}}
figcaption{{font-size:.8em}} .row{{display:flex;flex-wrap:wrap;align-items:flex-start;gap:.5em}}
table.tbl{{border-collapse:collapse;font-size:.8em}} table.tbl td,table.tbl th{{padding:2px 6px;border-bottom:1px solid #ddd}}
pre{{font-size:.75em;background:#f6f6f6;padding:.5em}}</style></head><body>
<h1>{html.escape(self.title)}</h1>{''.join(body)}
<section><h2>Provenance</h2><pre>{html.escape(json.dumps(prov, indent=2, default=str))}</pre></section></body></html>"""
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(doc, encoding="utf-8")
        tmp.replace(path)
        return path
