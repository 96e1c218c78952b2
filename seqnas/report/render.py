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
from seqnas.report.stats import RaceStats
from seqnas.report.tables import DISPLAY_COLUMNS, markdown_table

RUN_COLUMNS = ["strategy", "seed", "retrained_test_mse", "retrained_val_mse", "best_val_mse", "test_mse", "trials", "failed",
               "cpu_seconds", "params", "selected_arch"]

FIGURE_TITLES = {
    "retrained": "What a user gets: the selected architecture retrained, test MSE per seed, beside the baselines",
    "ranks": "Mean ranks per seed with the Nemenyi critical difference",
    "best_vs_trials": "Best-so-far validation MSE vs architecture trials",
    "best_vs_cpu": "Best-so-far validation MSE vs CPU-seconds",
    "pareto": "Validation MSE vs parameters of every evaluated architecture",
    "learning_curves": "Learning curves (validation MSE per epoch) of one run per strategy, the selection in bold",
}

METHOD_NOTES = [
    "**Trials, Architectures, Full fidelity**: a multi-fidelity strategy (hyperband, bohb, asha-evolution) trains an "
    "architecture in rungs of epochs, each rung one trial: Trials counts rung runs, Architectures the distinct "
    "architectures started, Full fidelity those trained to the full --max-epochs; every rung's epochs are charged to "
    "the CPU budget. Its selection is the best architecture at the highest rung reached.",
    "**Retrained Test MSE**: what a user gets. After its search each run's selected architecture (the best by the search "
    "objective, or with a larger `--final-top` the best of its top candidates by mean retrained validation MSE) is "
    "trained again from scratch with fresh seeds (`--final-repeats`, outside the search budget); its test MSE is the "
    "mean over those trainings, and the column gives the mean ± sample standard deviation over the race's seeds. "
    "Strategies are ranked on it. Seed k of every strategy and of the default LSTM retrains with the same seeds.",
    "**Retrained Val MSE**: the same trainings' validation MSE. **Best Validation MSE**: the lowest validation MSE the "
    "search itself found (one training each): the best of many noisy values, so optimistic (the winner's curse).",
    "**Key Finding**: rank and mean per-seed rank; the difference from the best reference row; a one-sided Wilcoxon "
    "signed-rank test against random search paired by seed, Holm-corrected over all strategies tested (statsmodels), "
    "a claim only at corrected p < 0.05; the coefficient of variation over seeds; how far the retrained validation MSE "
    "is from the search's best; for one-shot (DARTS) runs the supernet collapse diagnostics.",
    "**CPU-s per run**: CPU-seconds of evaluation per run, search and retraining together (failed trials and one-shot "
    "supernet searches included). **Strategy CPU-s**: the strategy's own work (its asks and tells: model fitting, "
    "controller updates). **Retrain CPU-s**: the retrainings' part (one budget: the search keeps 60% of a CPU-seconds "
    "budget, the retraining spends the rest; races stored before one budget retrained outside it).",
    "**baseline: ...** rows are reference forecasters on the same windows, splits and scaled units, not strategies.",
    "**Priors**: random search (`prior=decision`, the default) draws each decision uniformly, so shallow networks are "
    "drawn as often as deep ones; grid search (and `random` with `prior=architecture`) is uniform over distinct "
    "architectures, most of which are the deepest in a conditional space such as rnn-macro.",
]


CPU_BUDGET_NOTE = ("**A CPU-seconds budget** depends on the machine: a faster or less busy CPU evaluates more "
                   "architectures in the same CPU-seconds, so another run's numbers differ; a `--trials` budget gives "
                   "numbers that repeat exactly on the same machine.")


def method_notes(data: RaceData) -> list[str]:
    s = data.settings
    notes = list(METHOD_NOTES)
    if s is not None and s.budget.cpu_seconds is not None:
        notes.append(CPU_BUDGET_NOTE)
        if not s.budget.charge_strategy:
            notes.append("**Not charged**: this race left the strategies' own CPU time out of the CPU-seconds budget "
                         "(`charge_strategy=False`); the Strategy CPU-s column shows what it was.")
    if not data.final_repeats:
        notes.append("**No retraining** in this race (`--final-repeats 0`): the test MSE is that of the selected "
                     "architecture's single training in the search, which is noisy.")
    return notes


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
        budget = ", ".join(f"{k.replace('_', '-')} {v}" for k, v in s.budget.to_json().items()
                           if v is not None and not isinstance(v, bool))
        if s.budget.cpu_seconds is not None:
            budget += ", strategies' own CPU " + ("charged" if s.budget.charge_strategy else "not charged")
        rows.append(("budget per run", budget))
        t = s.train
        rows.append(("training of each architecture", f"max {t.max_epochs} epochs, patience {t.patience}, batch {t.batch_size}"))
        top = data.spec.get("final_top", 1) if data.spec else 1
        rows.append(("retraining of the selection", f"{data.final_repeats} fresh seeds" +
                     (f", best of the top {top} by retrained validation MSE" if top > 1 else "") if data.final_repeats else "none"))
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


def _selected(run: Run) -> Any:
    """The trial a run selected: the retrained selection, else the search's best."""
    if run.final is not None:
        return next((r for r in run.records if r.number == run.final.number), run.best)
    return run.best


def runs_frame(data: RaceData) -> pd.DataFrame:
    rows = []
    for run in data.runs:
        b = _selected(run)
        rows.append({
            "strategy": run.strategy, "seed": run.seed, "best_val_mse": run.best_val, "test_mse": run.test_of_best,
            "retrained_val_mse": run.retrained_val, "retrained_test_mse": run.retrained_test,
            "trials": run.n_trials, "failed": run.n_failed, "running": run.n_running, "cpu_seconds": round(run.cpu_seconds, 2),
            "strategy_cpu_seconds": round(run.strategy_cpu_seconds, 3),
            "finished": run.done, "selected_trial": b.number if b else None, "params": b.metrics.get("params") if b else None,
            "selected_arch": ", ".join(f"{k}={v}" for k, v in b.arch.items()) if b is not None and b.arch else "",
            "study": run.study, "error": run.error or "",
        })
    return pd.DataFrame(rows)


def _overall_best(data: RaceData) -> tuple[Run, Any] | None:
    """The run whose selected architecture did best: by retrained test MSE where there is one."""
    cands = [(v, run.seed, run) for run in data.runs if (v := run.retrained_test if data.final_repeats else run.best_val)
             is not None]
    if not cands:
        return None
    _, _, run = min(cands, key=lambda t: (t[0], t[1]))
    return run, _selected(run)


def _best_line(run: Run, rec: Any) -> str:
    if run.final is not None and run.final.test:
        return (f"Best architecture of the race ({run.strategy}, seed {run.seed}, trial #{rec.number}): retrained "
                f"{len(run.final.test)} times, validation MSE {_fmt(run.final.val_mse)}, test MSE {_fmt(run.final.test_mse)} "
                f"(one training in the search: {_fmt(rec.value)}), {_fmt(rec.metrics.get('params'))} parameters")
    return (f"Best architecture of the race ({run.strategy}, seed {run.seed}, trial #{rec.number}): "
            f"validation MSE {_fmt(run.best_val)}, test MSE {_fmt(run.test_of_best)}, "
            f"{_fmt(rec.metrics.get('params'))} parameters")


def render_markdown(data: RaceData, table: pd.DataFrame, figures: dict[str, str], stats: RaceStats | None = None) -> str:
    lines = [f"# seqnas strategy race: {data.name}", ""]
    lines += [f"- **{k}**: {v}" for k, v in settings_lines(data)]
    lines += ["", "## Results", "", markdown_table(table), ""]
    if stats is not None:
        lines += [stats.text(), ""]
    lines += [f"- {n}" for n in method_notes(data)]
    best = _overall_best(data)
    if best is not None:
        run, rec = best
        lines += ["", f"{_best_line(run, rec)}: `{dict(rec.arch) if rec.arch else {}}`"]
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
    lines = ["| " + " | ".join(RUN_COLUMNS) + " |", "|" + "|".join("---" for _ in RUN_COLUMNS) + "|"]
    for _, r in df.iterrows():
        lines.append("| " + " | ".join(_fmt(r[c]) if c != "selected_arch" else str(r[c]) for c in RUN_COLUMNS) + " |")
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


def render_html(data: RaceData, table: pd.DataFrame, figures: dict[str, str], stats: RaceStats | None = None) -> str:
    """One file that opens offline: CSS inline, every figure a base64 data URI."""
    e = html.escape
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           f"<title>seqnas strategy race: {e(data.name)}</title><style>{_CSS}</style></head><body>",
           f"<h1>seqnas strategy race: {e(data.name)}</h1>", "<dl>"]
    out += [f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in settings_lines(data)]
    out += ["</dl>", "<h2>Results</h2>", _html_table(table, DISPLAY_COLUMNS)]
    if stats is not None:
        out.append(f"<p>{e(stats.text())}</p>")
    out.append("<ul>")
    out += [f"<li>{_md_inline(n)}</li>" for n in method_notes(data)]
    out.append("</ul>")
    best = _overall_best(data)
    if best is not None:
        run, rec = best
        out.append(f"<p>{e(_best_line(run, rec))}: <code>{e(str(dict(rec.arch) if rec.arch else {}))}</code></p>")
    out.append("<h2>Figures</h2>")
    for name, path in figures.items():
        b64 = base64.b64encode(Path(path).read_bytes()).decode("ascii")
        out.append(f"<h3>{e(_figure_title(name))}</h3><img alt=\"{e(name)}\" src=\"data:image/png;base64,{b64}\">")
    runs = runs_frame(data)
    out += ["<h2>Runs</h2>", _html_table(runs, RUN_COLUMNS) if not runs.empty else "<p>(no runs)</p>"]
    out.append("</body></html>")
    return "\n".join(out)
