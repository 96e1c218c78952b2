"""The race's result table: one row per strategy, printed with rich and saved as Markdown, CSV and JSON."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from seqnas.report.stats import StrategySummary

# The published table's columns come first; the rest add what a reader needs to trust it.
DISPLAY_COLUMNS = ["Strategy", "Best Validation MSE", "Key Finding", "Test MSE (selected)", "CPU-s per run", "Trials",
                   "Failed", "Seeds"]


def _pm(m: float, s: float, n: int, digits: int = 4) -> str:
    if n == 0 or not math.isfinite(m):
        return "-"
    if n == 1:
        return f"{m:.{digits}g} (1 seed)"
    return f"{m:.{digits}g} ± {s:.2g}"


def _num(x: Any) -> Any:
    return None if x is None or (isinstance(x, float) and not math.isfinite(x)) else x


def result_table(summaries: list[StrategySummary]) -> pd.DataFrame:
    """Display columns (strings) first, then the numbers behind them."""
    rows = []
    for s in summaries:
        bm, bs = s.best_mean_std
        tm, ts = s.test_mean_std
        cm, cs = s.cpu_mean_std
        rows.append({
            "Strategy": s.strategy,
            "Best Validation MSE": _pm(bm, bs, len(s.best_vals)),
            "Key Finding": s.finding,
            "Test MSE (selected)": _pm(tm, ts, len(s.test_vals)),
            "CPU-s per run": _pm(cm, cs, len(s.cpu), digits=3) if s.cpu else "-",
            "Trials": s.trials,
            "Failed": s.failed,
            "Seeds": f"{len(s.best_vals)}/{s.planned}",
            "rank": s.rank, "mean_rank": _num(s.mean_rank),
            "best_val_mean": _num(bm), "best_val_std": _num(bs), "best_val_per_seed": s.best_vals,
            "test_mse_mean": _num(tm), "test_mse_std": _num(ts), "test_mse_per_seed": s.test_vals,
            "cpu_seconds_mean": _num(cm), "cpu_seconds_std": _num(cs), "seeds": s.seeds,
            "p_vs_random": _num(s.p_vs_baseline), "p_worse_than_random": _num(s.p_worse), "verdict": s.verdict,
            "cv": _num(s.cv), "running": s.running, "unfinished_runs": s.unfinished,
            "darts_collapsed": s.darts.collapsed if s.darts else None,
            "darts_runs": s.darts.runs if s.darts else None,
        })
    return pd.DataFrame(rows, columns=list(rows[0]) if rows else DISPLAY_COLUMNS)


def markdown_table(table: pd.DataFrame, columns: list[str] | None = None) -> str:
    cols = columns or DISPLAY_COLUMNS
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for _, row in table.iterrows():
        lines.append("| " + " | ".join(str(row[c]).replace("|", "\\|").replace("\n", " ") for c in cols) + " |")
    return "\n".join(lines)


def print_table(table: pd.DataFrame, title: str = "strategy race", console: Any = None) -> None:
    from rich.console import Console
    from rich.table import Table

    con = console or Console(width=max(140, Console().width))
    t = Table(title=title, show_lines=True, expand=True)
    for c in DISPLAY_COLUMNS:
        if c == "Key Finding":
            t.add_column(c, overflow="fold", ratio=1)
        else:
            t.add_column(c, no_wrap=True, justify="right" if c in ("Trials", "Failed", "Seeds") else "left")
    for _, row in table.iterrows():
        t.add_row(*[str(row[c]) for c in DISPLAY_COLUMNS])
    con.print(t)


def save_tables(table: pd.DataFrame, out: str) -> dict[str, str]:
    """results.csv and results.json (every column); the Markdown table goes into the report."""
    import json
    from pathlib import Path

    csv_path, json_path = Path(out) / "results.csv", Path(out) / "results.json"
    flat = table.copy()
    for c in ("best_val_per_seed", "test_mse_per_seed", "seeds"):
        flat[c] = flat[c].map(lambda xs: " ".join(f"{x:.6g}" if isinstance(x, float) else str(x) for x in xs))
    flat.to_csv(csv_path, index=False)
    clean = table.astype(object).where(table.notna(), None)  # NaN is not JSON
    json_path.write_text(json.dumps(clean.to_dict(orient="records"), indent=2, default=str, allow_nan=False) + "\n")
    return {"csv": str(csv_path), "json": str(json_path)}
