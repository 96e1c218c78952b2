"""The race report: table, statistics, plots, Markdown and HTML, built from the database alone."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from seqnas.report.data import RaceData, Run, load_race, val_mse
from seqnas.report.stats import RaceStats, StrategySummary, summarize, summarize_race
from seqnas.report.tables import DISPLAY_COLUMNS, markdown_table, print_table, result_table


@dataclass
class Report:
    data: RaceData
    summaries: list[StrategySummary]
    table: pd.DataFrame
    stats: RaceStats = field(default_factory=RaceStats)
    files: dict[str, str] = field(default_factory=dict)


def race_table(db: str, race: str | None = None) -> pd.DataFrame:
    """The result table of a stored race (one row per strategy, best first, then the reference rows)."""
    data = load_race(db, race)
    return result_table(summarize(data), data.baselines, data.runs)


def build_report(db: str, out: str, race: str | None = None) -> Report:
    """Write report.md, report.html (self-contained), results.csv/json, runs.csv and the PNG figures to ``out``."""
    from seqnas.errors import ConfigError
    from seqnas.report.plots import make_plots
    from seqnas.report.render import render_html, render_markdown, runs_frame
    from seqnas.report.tables import save_tables

    data = load_race(db, race)
    summaries, stats = summarize_race(data)
    table = result_table(summaries, data.baselines, data.runs)
    o = Path(out)
    if o.exists() and not o.is_dir():
        raise ConfigError(f"--out {out!r} is a file; give a directory for the report")
    o.mkdir(parents=True, exist_ok=True)
    files = save_tables(table, out)
    runs_frame(data).to_csv(o / "runs.csv", index=False)
    files["runs_csv"] = str(o / "runs.csv")
    figures = make_plots(data, out, stats)
    files.update(figures)
    (o / "report.md").write_text(render_markdown(data, table, figures, stats) + "\n")
    (o / "report.html").write_text(render_html(data, table, figures, stats) + "\n")
    files["markdown"], files["html"] = str(o / "report.md"), str(o / "report.html")
    return Report(data, summaries, table, stats, files)


__all__ = [
    "DISPLAY_COLUMNS", "RaceData", "RaceStats", "Report", "Run", "StrategySummary", "build_report", "load_race",
    "markdown_table", "print_table", "race_table", "result_table", "summarize", "summarize_race", "val_mse",
]
