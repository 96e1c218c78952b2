"""Print a study for people: summary, best architecture, top trials, failures, Pareto front."""

from __future__ import annotations

import math
from typing import Any

from rich.console import Console
from rich.table import Table

from seqnas.evaluation.metrics import MEASURES, SPLITS, unit_table
from seqnas.trial import TrialState

# The error measures in the data's own units: shown in their own table, not on the metrics line.
UNIT_KEYS = {f"{split}_{m}{suffix}" for split in SPLITS for m in MEASURES for suffix in ("", "_per_step")}
MAX_STEPS_SHOWN = 12


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return "-" if v is None else str(v)


def _arch(a: Any) -> str:
    return ", ".join(f"{k}={_fmt(v)}" for k, v in a.items()) if a else "-"


def render_study(result: Any, top: int = 10, console: Console | None = None) -> None:
    con = console or Console(width=200)
    recs = [r for r in result.records if r.kind == "arch"]
    n_done = sum(r.state is TrialState.COMPLETE for r in recs)
    n_failed = sum(r.state is TrialState.FAILED for r in recs)
    n_running = sum(r.state is TrialState.RUNNING for r in recs)
    s = result.settings
    task = s.task.label if s.task else "objective function"
    objectives = ",".join(f"{o} (maximize)" if d == "maximize" else o for o, d in zip(s.objectives, s.directions))
    con.print(f"[bold]study {result.study}[/bold]  strategy={result.strategy}  space={result.space.name}  task={task}  "
              f"seed={s.seed}  objectives={objectives}")
    budget = ", ".join(f"{k}={v}" for k, v in s.budget.to_json().items() if v is not None)
    con.print(f"trials: {n_done} complete, {n_failed} failed, {n_running} running  (budget {budget})")
    searched = [n for n in ("window", "calendar", "level") if n in result.space.names]
    if searched and s.task is not None:
        p = result.space["window"] if "window" in searched else None
        choices = getattr(p, "choices", None)
        what = ([f"window {', '.join(map(str, choices))}" if choices else f"window {getattr(p, 'low', '?')}-{getattr(p, 'high', '?')}"]
                if p is not None else [])
        what += ["calendar inputs on/off"] if "calendar" in searched else []
        what += [f"level normalisation {'/'.join('on' if v else 'off' for v in getattr(result.space['level'], 'choices', []))}"
                 ] if "level" in searched else []
        con.print(f"inputs searched: {'; '.join(what)} (every window measured on the same target times, from row "
                  f"{s.task.reach or '-'} on)")
    rungs = sorted({r.info["rung_epochs"] for r in recs if r.info.get("rung_epochs") is not None})
    if rungs:
        archs = {r.arch.key for r in recs if r.arch is not None}
        top_rung = {r.arch.key for r in recs if r.arch is not None and r.info.get("rung_epochs") == s.train.max_epochs}
        con.print(f"multi-fidelity: rungs of {', '.join(map(str, rungs))} epochs; {len(archs)} architectures started, "
                  f"{len(top_rung)} trained to the full {s.train.max_epochs} epochs; the selection is the best at the "
                  "highest rung reached")
    # The best by the primary objective, in its direction (a multi-objective study has no single
    # best_trial: its Pareto front is printed below; this line names the objective it ranks by).
    ranked = result.ranked()
    best = ranked[0] if ranked else None
    if best is None:
        con.print("no completed trial yet")
    else:
        by = f" by {s.objectives[0]}" if len(s.objectives) > 1 else ""
        con.print(f"[bold]best[/bold]{by} trial #{best.number}: {s.objectives[0]} = {_fmt(best.value)}")
        con.print(f"  architecture: {_arch(best.arch)}")
        shown = {k: v for k, v in best.metrics.items() if k != s.objectives[0] and k not in UNIT_KEYS}
        con.print("  metrics: " + ", ".join(f"{k}={_fmt(v)}" for k, v in shown.items()))
        unit_errors_table(best.metrics, s.task, con)
    final = getattr(result, "final", None)
    if final is not None:
        pick = "" if final.number == getattr(best, "number", None) else f" (trial #{final.number}, best of the top candidates)"
        con.print(f"[bold]retrained[/bold]{pick} {len(final.val)} times with fresh seeds: validation MSE "
                  f"{_fmt(final.val_mse)} ± {_fmt(final.val_std)}, test MSE {_fmt(final.test_mse)} ± {_fmt(final.test_std)} "
                  f"({_fmt(final.cpu_seconds)} CPU-s): what this architecture gives when trained again; `seqnas export` "
                  f"deploys the mean of these {len(final.members)} networks")
    elif best is not None and s.task is not None:
        con.print("  (not retrained: `seqnas show --final-repeats 3` trains it again with fresh seeds, for a less noisy figure)")
    stats = getattr(result, "statistical", {}) or {}
    if stats:
        net = f" (the networks' retrained selection: {_fmt(final.val_mse)})" if final is not None else ""
        con.print("[bold]statistical forecasts[/bold] on the same target rows, validation / test MSE" + net + ": "
                  + ", ".join(f"{name} {_fmt(m['val_mse'])} / {_fmt(m['test_mse'])}"
                              for name, m in sorted(stats.items(), key=lambda kv: kv[1]["val_mse"])))
    b = s.budget
    if b.cpu_seconds is not None:
        searched = sum(b.charged(r.metrics) for r in result.records if r.state.finished)
        retrained = (final.cpu_seconds if final is not None else 0.0) + sum(float(m["cpu_seconds"]) for m in stats.values())
        how = (f"one budget: the search kept {1 - b.final_share:.0%} of it, the retraining spent what was left"
               if b.final_share is not None else "the search's budget; a retraining came on top")
        con.print(f"[bold]CPU-seconds[/bold] {_fmt(searched + retrained)} of {_fmt(b.cpu_seconds)}: search {_fmt(searched)}, "
                  f"retraining and statistical forecasts {_fmt(retrained)} ({how})")
    sign = -1.0 if s.directions[0] == "maximize" else 1.0
    done = (ranked or sorted((r for r in recs if r.state is TrialState.COMPLETE and r.value is not None),
                             key=lambda r: (sign * float(r.value or 0.0), r.number)))[:top]
    if done:
        metric_cols = [m for m in ("val_mse", "test_mse", "val_mae", "test_mae", "test_mase", "params", "latency_ms", "epochs",
                                   "train_seconds") if any(m in r.metrics for r in done)]
        t = Table(title=f"top {len(done)} trials")
        curves = any(r.curve for r in done)
        for c in ["#", s.objectives[0], *[m for m in metric_cols if m != s.objectives[0]], *(["learning curve"] if curves else []),
                  "architecture"]:
            t.add_column(c, overflow="fold")
        for r in done:
            t.add_row(str(r.number), _fmt(r.value), *[_fmt(r.metrics.get(m)) for m in metric_cols if m != s.objectives[0]],
                      *([sparkline(r.curve)] if curves else []), _arch(r.arch))
        con.print(t)
    if len(s.objectives) > 1 and n_done:
        front = result.pareto
        t = Table(title=f"Pareto front ({len(front)} trials)")
        for c in ["#", *s.objectives, "architecture"]:
            t.add_column(c, overflow="fold")
        for _, row in front.iterrows():
            t.add_row(str(row["number"]), *[_fmt(row[o]) for o in s.objectives], _arch(row["arch"]))
        con.print(t)
    failed = [r for r in recs if r.state is TrialState.FAILED]
    if failed:
        t = Table(title=f"failed trials ({len(failed)})")
        t.add_column("#")
        t.add_column("reason", overflow="fold")
        t.add_column("architecture", overflow="fold")
        for r in failed[:top]:
            t.add_row(str(r.number), r.error or "-", _arch(r.arch))
        con.print(t)


def unit_errors_table(metrics: dict[str, Any], task: Any, con: Console) -> None:
    """The trial's errors in the target's own units, validation and test, overall and per horizon step
    (nothing for a trial stored before they were measured)."""
    rows = [(label, m, values) for split, label in (("val", "validation"), ("test", "test"))
            for m, values in unit_table(metrics, split)]
    if not rows:
        return
    steps = max(len(values) for *_, values in rows) - 1
    shown = min(steps, MAX_STEPS_SHOWN)
    target = (task.target if task.name == "csv" else task.name) if task is not None else "the target"
    t = Table(title=f"errors in the units of {target} (best trial)", title_justify="left")
    for c in ["split", "measure", "all steps", *[f"step {k}" for k in range(1, shown + 1)]]:
        t.add_column(c, justify="left" if c in ("split", "measure") else "right")
    for label, m, values in rows:
        t.add_row(label, m, *[_fmt(v) for v in values[: shown + 1]], *([""] * (shown + 1 - len(values))))
    con.print(t)
    con.print("  sMAPE, MAPE in %; MASE: MAE / the in-sample naive forecast's MAE (< 1 beats repeating the last value)"
              + (f"; steps {shown + 1}-{steps}: result.trials" if shown < steps else ""))


def sparkline(curve: list[float], width: int = 16) -> str:
    """A learning curve in one line of block characters (log scale; lower is better), resampled to ``width``."""
    vals = [math.log(v) for v in curve if v > 0 and math.isfinite(v)]
    if not vals:
        return "-"
    if len(vals) > width:
        vals = [vals[round(i * (len(vals) - 1) / (width - 1))] for i in range(width)]
    lo, hi = min(vals), max(vals)
    bars = "▁▂▃▄▅▆▇█"
    return "".join(bars[0 if hi == lo else round((v - lo) / (hi - lo) * (len(bars) - 1))] for v in vals)
