"""The race report as Markdown (images beside it) and as one self-contained HTML file (images inlined)."""

from __future__ import annotations

import base64
import datetime as _dt
import html
import math
from pathlib import Path
from typing import Any

import pandas as pd

from seqnas.report.data import RaceData, Run
from seqnas.report.tables import DISPLAY_COLUMNS, markdown_table

FIGURE_TITLES = {
    "best_vs_trials": "Best-so-far validation MSE vs architecture trials",
    "best_vs_cpu": "Best-so-far validation MSE vs CPU-seconds",
    "pareto": "Validation MSE vs parameters of every evaluated architecture",
}

METHOD_NOTES = [
    "**Best Validation MSE**: the lowest validation MSE each run (one run per seed) found, mean ± sample standard "
    "deviation over seeds.",
    "**Test MSE (selected)**: the test MSE of the architecture each run selected by validation MSE (never by test MSE).",
    "**CPU-s per run**: CPU-seconds of evaluation per run, one-shot supernet searches included.",
    "**Trials / Failed**: finished architecture trials over all seeds, and how many of them failed.",
    "**Key Finding**: rank by mean best validation MSE (and the mean of the per-seed ranks); a one-sided Mann-Whitney U "
    "test of the strategy's per-seed best validation MSEs against random search's; the coefficient of variation over "
    "seeds; for one-shot (DARTS) runs, the supernet collapse diagnostics.",
]


CPU_BUDGET_NOTE = ("**A CPU-seconds budget** depends on the machine: a faster or less busy CPU evaluates more "
                   "architectures in the same CPU-seconds, so another run's numbers differ; a `--trials` budget gives "
                   "numbers that repeat exactly on the same machine.")


def method_notes(data: RaceData) -> list[str]:
    s = data.settings
    return METHOD_NOTES + ([CPU_BUDGET_NOTE] if s is not None and s.budget.cpu_seconds is not None else [])


def _fmt(v: Any, digits: int = 4) -> str:
    if isinstance(v, float):
        if not math.isfinite(v):
            return "-"
        return str(int(v)) if v.is_integer() and abs(v) < 1e15 else f"{v:.{digits}g}"  # counts stay counts
    return "-" if v is None else str(v)


def _when(ts: float | None) -> str:
    return _dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M") if ts else "-"


def settings_lines(data: RaceData) -> list[tuple[str, str]]:
    s = data.settings
    rows: list[tuple[str, str]] = [("race", data.name), ("database", data.db)]
    if s is not None:
        rows.append(("task", s.task.label if s.task else "objective function"))
        rows.append(("space", data.space_name))
        budget = ", ".join(f"{k.replace('_', '-')} {v}" for k, v in s.budget.to_json().items() if v is not None)
        rows.append(("budget per run", budget))
        t = s.train
        rows.append(("training of each architecture", f"max {t.max_epochs} epochs, patience {t.patience}, batch {t.batch_size}"))
        if s.max_params:
            rows.append(("constraint", f"at most {s.max_params} parameters"))
    rows.append(("strategies", ", ".join(data.strategies)))
    rows.append(("seeds", ", ".join(str(k) for k in data.seeds)))
    starts = [r.started_at for _, r in data.records if r.started_at]
    ends = [r.finished_at for _, r in data.records if r.finished_at]
    if starts:
        rows.append(("trials ran", f"{_when(min(starts))} to {_when(max(ends) if ends else None)}"))
    machine = data.spec.get("machine") if data.spec else None
    if isinstance(machine, dict) and machine:
        rows.append(("machine", ", ".join(f"{k} {v}" for k, v in machine.items())))
    return rows


def runs_frame(data: RaceData) -> pd.DataFrame:
    rows = []
    for run in data.runs:
        b = run.best
        rows.append({
            "strategy": run.strategy, "seed": run.seed, "best_val_mse": run.best_val, "test_mse": run.test_of_best,
            "trials": run.n_trials, "failed": run.n_failed, "running": run.n_running, "cpu_seconds": round(run.cpu_seconds, 2),
            "finished": run.done, "best_trial": b.number if b else None, "params": b.metrics.get("params") if b else None,
            "best_arch": ", ".join(f"{k}={v}" for k, v in b.arch.items()) if b is not None and b.arch else "",
            "study": run.study, "error": run.error or "",
        })
    return pd.DataFrame(rows)


def _overall_best(data: RaceData) -> tuple[Run, Any] | None:
    cands = [(run.best_val, run.seed, run) for run in data.runs if run.best_val is not None]
    if not cands:
        return None
    _, _, run = min(cands, key=lambda t: (t[0], t[1]))
    return run, run.best


def render_markdown(data: RaceData, table: pd.DataFrame, figures: dict[str, str]) -> str:
    lines = [f"# seqnas strategy race: {data.name}", ""]
    lines += [f"- **{k}**: {v}" for k, v in settings_lines(data)]
    lines += ["", "## Results", "", markdown_table(table), ""]
    lines += [f"- {n}" for n in method_notes(data)]
    best = _overall_best(data)
    if best is not None:
        run, rec = best
        lines += ["", f"Best architecture of the race ({run.strategy}, seed {run.seed}, trial #{rec.number}): "
                  f"validation MSE {_fmt(run.best_val)}, test MSE {_fmt(run.test_of_best)}, "
                  f"{_fmt(rec.metrics.get('params'))} parameters: `{dict(rec.arch) if rec.arch else {}}`"]
    lines += ["", "## Figures", ""]
    for name, path in figures.items():
        lines += [f"### {_figure_title(name)}", "", f"![{name}]({Path(path).name})", ""]
    lines += ["## Runs", "", _runs_markdown(runs_frame(data)), ""]
    return "\n".join(lines)


def _figure_title(name: str) -> str:
    if name in FIGURE_TITLES:
        return FIGURE_TITLES[name]
    if name.startswith("alphas_"):
        return "One-shot search: architecture weights over epochs (" + name[len("alphas_"):].replace("_", ", ") + ")"
    return name


def _runs_markdown(df: pd.DataFrame) -> str:
    if df.empty:
        return "(no runs)"
    cols = ["strategy", "seed", "best_val_mse", "test_mse", "trials", "failed", "cpu_seconds", "params", "best_arch"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for _, r in df.iterrows():
        lines.append("| " + " | ".join(_fmt(r[c]) if c not in ("best_arch",) else str(r[c]) for c in cols) + " |")
    return "\n".join(lines)


_CSS = """
body { font-family: system-ui, -apple-system, Segoe UI, Roboto, sans-serif; margin: 2em auto; max-width: 1200px;
       color: #222; line-height: 1.45; padding: 0 1em; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.92em; }
th, td { border: 1px solid #ccc; padding: 0.35em 0.6em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
td.num { text-align: right; white-space: nowrap; }
img { max-width: 100%; border: 1px solid #eee; }
code { background: #f6f6f6; padding: 0 0.2em; }
dl { display: grid; grid-template-columns: max-content auto; gap: 0.2em 1em; }
dt { font-weight: bold; }
"""


def _html_table(df: pd.DataFrame, cols: list[str]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = []
    for _, r in df.iterrows():
        cells = []
        for c in cols:
            v = r[c]
            cls = ' class="num"' if isinstance(v, (int, float)) and not isinstance(v, bool) else ""
            cells.append(f"<td{cls}>{html.escape(_fmt(v))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _md_inline(text: str) -> str:
    """The bold markers of the method notes, as HTML (everything else escaped)."""
    parts = html.escape(text).split("**")
    bold = "".join(f"<strong>{p}</strong>" if i % 2 else p for i, p in enumerate(parts))
    ticks = bold.split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(ticks))


def render_html(data: RaceData, table: pd.DataFrame, figures: dict[str, str]) -> str:
    """One file that opens offline: CSS inline, every figure a base64 data URI."""
    e = html.escape
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           f"<title>seqnas strategy race: {e(data.name)}</title><style>{_CSS}</style></head><body>",
           f"<h1>seqnas strategy race: {e(data.name)}</h1>", "<dl>"]
    out += [f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in settings_lines(data)]
    out += ["</dl>", "<h2>Results</h2>", _html_table(table, DISPLAY_COLUMNS), "<ul>"]
    out += [f"<li>{_md_inline(n)}</li>" for n in method_notes(data)]
    out.append("</ul>")
    best = _overall_best(data)
    if best is not None:
        run, rec = best
        out.append(f"<p>Best architecture of the race ({e(run.strategy)}, seed {run.seed}, trial #{rec.number}): validation MSE "
                   f"{e(_fmt(run.best_val))}, test MSE {e(_fmt(run.test_of_best))}, {e(_fmt(rec.metrics.get('params')))} "
                   f"parameters: <code>{e(str(dict(rec.arch) if rec.arch else {}))}</code></p>")
    out.append("<h2>Figures</h2>")
    for name, path in figures.items():
        b64 = base64.b64encode(Path(path).read_bytes()).decode("ascii")
        out.append(f"<h3>{e(_figure_title(name))}</h3><img alt=\"{e(name)}\" src=\"data:image/png;base64,{b64}\">")
    runs = runs_frame(data)
    out += ["<h2>Runs</h2>", _html_table(runs, ["strategy", "seed", "best_val_mse", "test_mse", "trials", "failed",
                                                  "cpu_seconds", "params", "best_arch"]) if not runs.empty else "<p>(no runs)</p>"]
    out.append("</body></html>")
    return "\n".join(out)
