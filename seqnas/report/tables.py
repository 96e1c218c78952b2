"""The race's result table: one row per strategy, printed with rich and saved as Markdown, CSV and JSON."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from seqnas import baselines
from seqnas.report.data import BaselineResult, Run
from seqnas.report.stats import StrategySummary, mean_std
from seqnas.trial import TrialRecord

# The published columns (Strategy, Best Validation MSE, Key Finding) and what a user gets: the
# selected architecture retrained, on the test split. Rows: strategies best first, then the
# reference rows ("baseline: ...").
DISPLAY_COLUMNS = ["Strategy", "Retrained Test MSE", "Retrained Val MSE", "Best Validation MSE", "Key Finding",
                   "Test MAE", "Test MASE", "CPU-s per run", "Strategy CPU-s", "Retrain CPU-s", "Trials", "Architectures", "Full fidelity", "Failed",
                   "Seeds"]
# The terminal shows the essentials (report.md / results.csv have every column).
PRINT_COLUMNS = ["Strategy", "Retrained Test MSE", "Best Validation MSE", "Key Finding", "CPU-s per run", "Trials",
                 "Architectures", "Full fidelity"]
BASELINE_NOTES = {
    baselines.label(baselines.PERSISTENCE): "reference, not a strategy: the last observed value repeated",
    baselines.label(baselines.LINEAR): "reference, not a strategy: ridge regression on the input window (the longest "
                                       "the race searches), penalty chosen on validation",
    baselines.label("seasonal_naive"): "reference, not a strategy: the value one season back (seqnas.statistical)",
    baselines.label("auto_ets"): "reference, not a strategy: statsforecast AutoETS, fitted on the training part",
    baselines.label("auto_theta"): "reference, not a strategy: statsforecast AutoTheta, fitted on the training part",
    baselines.label("lightgbm"): "reference, not a strategy: LightGBM on lags, one model per step",
    baselines.label("ridge"): "reference, not a strategy: ridge on seven seasons of lags and the season's position",
    baselines.label(baselines.DEFAULT_LSTM): "reference, not a strategy: 2 LSTM layers of 64, lr 3e-3, the race's "
                                             "training and retraining seeds",
}


def _pm(m: float, s: float, n: int, digits: int = 4) -> str:
    if n == 0 or not math.isfinite(m):
        return "-"
    if n == 1:
        return f"{m:.{digits}g} (1 seed)"
    return f"{m:.{digits}g} ± {s:.2g}"


def _num(x: Any) -> Any:
    return None if x is None or (isinstance(x, float) and not math.isfinite(x)) else x


def _selected(run: Run) -> TrialRecord | None:
    """The trial a run selected: its retrained selection, else the search's best."""
    if run.final is not None:
        return next((r for r in run.records if r.number == run.final.number), run.best)
    return run.best


def unit_errors(runs: list[Run], strategy: str, measure: str) -> list[float]:
    """Per run of ``strategy``: the test-split ``measure`` (mae, mase, ...) in the data's own units of the
    architecture it selected, from its training in the search (runs stored before these were measured: none)."""
    out = []
    for run in runs:
        rec = _selected(run) if run.strategy == strategy else None
        v = rec.metrics.get(f"test_{measure}") if rec is not None else None
        if v is not None and math.isfinite(float(v)):
            out.append(float(v))
    return out


def result_table(summaries: list[StrategySummary], references: list[BaselineResult] | None = None,
                 runs: list[Run] | None = None) -> pd.DataFrame:
    """Display columns (strings) first, then the numbers behind them; one row per strategy, then per reference.

    With ``runs``: Test MAE and Test MASE, the selected architecture's errors on the test split in the
    data's own units (from its training in the search; mean ± std over seeds)."""
    rows = []
    for s in summaries:
        mae = unit_errors(runs or [], s.strategy, "mae")
        mase = unit_errors(runs or [], s.strategy, "mase")
        am, as_ = mean_std(mae)
        qm, qs = mean_std(mase)
        tm, ts = s.score_mean_std
        vm, vs = s.retrained_val_mean_std
        bm, bs = s.best_mean_std
        cm, cs = mean_std(s.cpu)
        om, os_ = mean_std(s.strategy_cpu)
        rm, rs = mean_std(s.retrain_cpu)
        rows.append({
            "Strategy": s.strategy,
            "Retrained Test MSE": _pm(tm, ts, len(s.scores)),
            "Retrained Val MSE": _pm(vm, vs, len(s.retrained_val)),
            "Best Validation MSE": _pm(bm, bs, len(s.best_vals)),
            "Key Finding": s.finding,
            "Test MAE": _pm(am, as_, len(mae)),
            "Test MASE": _pm(qm, qs, len(mase), digits=3),
            "CPU-s per run": _pm(cm, cs, len(s.cpu), digits=3),
            "Strategy CPU-s": _pm(om, os_, len(s.strategy_cpu), digits=2),
            "Retrain CPU-s": _pm(rm, rs, len(s.retrain_cpu), digits=3),
            "Trials": s.trials,
            "Architectures": s.archs,
            "Full fidelity": s.full,
            "Failed": s.failed,
            "Seeds": f"{len(s.scores)}/{s.planned}",
            "kind": "strategy", "retrained": s.retrained, "rank": s.rank, "mean_rank": _num(s.mean_rank),
            "test_mse_mean": _num(tm), "test_mse_std": _num(ts), "test_mse_per_seed": s.scores,
            "test_mse_ci_low": _num(s.ci[0]), "test_mse_ci_high": _num(s.ci[1]),
            "retrained_val_mean": _num(vm), "retrained_val_per_seed": s.retrained_val,
            "best_val_mean": _num(bm), "best_val_std": _num(bs), "best_val_per_seed": s.best_vals,
            "cpu_seconds_mean": _num(cm), "cpu_seconds_std": _num(cs), "strategy_cpu_mean": _num(om),
            "retrain_cpu_mean": _num(rm), "test_mae_mean": _num(am), "test_mae_std": _num(as_), "test_mase_mean": _num(qm),
            "seeds": s.seeds,
            "p_vs_random": _num(s.p_vs_baseline), "p_holm": _num(s.p_holm), "p_worse_than_random": _num(s.p_worse),
            "p_holm_worse": _num(s.p_holm_worse), "verdict": s.verdict,
            "vs_best_baseline": _num(s.vs_baseline[1]) if s.vs_baseline else None, "cv": _num(s.cv), "running": s.running,
            "unfinished_runs": s.unfinished, "darts_collapsed": s.darts.collapsed if s.darts else None,
            "darts_runs": s.darts.runs if s.darts else None,
        })
    for b in references or []:
        seeds = sorted(b.test)
        test, val = [b.test[k] for k in seeds], [b.val[k] for k in seeds if k in b.val]
        tm, ts = mean_std(test)
        vm, vs = mean_std(val)
        rows.append({
            "Strategy": b.name, "Retrained Test MSE": _pm(tm, ts, len(test)) if b.trainings else f"{tm:.4g}",
            "Retrained Val MSE": _pm(vm, vs, len(val)) if b.trainings else f"{vm:.4g}", "Best Validation MSE": "-",
            "Key Finding": BASELINE_NOTES.get(b.name, "reference, not a strategy"), "Test MAE": "-", "Test MASE": "-",
            "CPU-s per run": "-",
            "Strategy CPU-s": "-", "Retrain CPU-s": f"{b.cpu_seconds / max(len(seeds), 1):.3g}" if b.trainings else "-",
            "Trials": b.trainings or None, "Architectures": None, "Full fidelity": None, "Failed": None, "Seeds": f"{len(test)}",
            "kind": "baseline", "retrained": bool(b.trainings), "test_mse_mean": _num(tm), "test_mse_std": _num(ts),
            "test_mse_per_seed": test, "retrained_val_mean": _num(vm), "retrained_val_per_seed": val, "seeds": seeds,
            "best_val_per_seed": [],
        })
    return pd.DataFrame(rows, columns=list(rows[0]) if rows else DISPLAY_COLUMNS)


def cell(v: Any) -> str:
    """A table cell: '-' for missing values, counts without a decimal point."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def markdown_table(table: pd.DataFrame, columns: list[str] | None = None) -> str:
    cols = columns or DISPLAY_COLUMNS
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for _, row in table.iterrows():
        lines.append("| " + " | ".join(cell(row[c]).replace("|", "\\|").replace("\n", " ") for c in cols) + " |")
    return "\n".join(lines)


def print_table(table: pd.DataFrame, title: str = "strategy race", console: Any = None) -> None:
    from rich.console import Console
    from rich.table import Table

    con = console or Console(width=max(160, Console().width))
    t = Table(title=title, show_lines=True, expand=True)
    for c in PRINT_COLUMNS:
        if c == "Key Finding":
            t.add_column(c, overflow="fold", ratio=1)
        else:
            t.add_column(c, no_wrap=True, justify="right" if c in ("Trials", "Failed", "Seeds") else "left")
    for _, row in table.iterrows():
        t.add_row(*[cell(row[c]) for c in PRINT_COLUMNS])
    con.print(t)


def save_tables(table: pd.DataFrame, out: str) -> dict[str, str]:
    """results.csv and results.json (every column); the Markdown table goes into the report."""
    import json
    from pathlib import Path

    csv_path, json_path = Path(out) / "results.csv", Path(out) / "results.json"
    flat = table.copy()
    for c in ("best_val_per_seed", "test_mse_per_seed", "retrained_val_per_seed", "seeds"):
        flat[c] = flat[c].map(lambda xs: " ".join(f"{x:.6g}" if isinstance(x, float) else str(x) for x in xs)
                              if isinstance(xs, list) else "")
    flat.to_csv(csv_path, index=False)
    clean = table.astype(object).where(table.notna(), None)  # NaN is not JSON
    json_path.write_text(json.dumps(clean.to_dict(orient="records"), indent=2, default=str, allow_nan=False) + "\n")
    return {"csv": str(csv_path), "json": str(json_path)}
