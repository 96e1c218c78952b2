"""The race's figures (matplotlib, Agg canvas, PNG): retrained results against the baselines, mean ranks with
the critical difference, best-so-far curves, Pareto front, one-shot alphas.

Longer than 350 lines: one function per figure of the report, sharing the colours, the canvas and the
file naming; splitting them would scatter what makes the figures look alike."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from seqnas.report.data import RaceData, Run, val_mse
from seqnas.report.stats import RaceStats
from seqnas.trial import TrialState

# Figures are drawn on an explicit Agg canvas: no pyplot state, no display needed, and the
# backend of a user's interactive session is left alone.


def strategy_colors(strategies: list[str]) -> dict[str, Any]:
    from matplotlib import colormaps

    cmap = colormaps["tab10"]
    return {s: cmap(i % 10) for i, s in enumerate(strategies)}


def _save(fig: Figure, path: Path) -> str:
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    return str(path)


def _quartiles(M: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Median and inter-quartile band per column over all runs.

    A run with nothing found yet (NaN) counts as worse than any value, so the curves never rise
    when a late-starting run joins; a quantile that falls on such a run is not drawn.
    """
    big = 1e300
    F = np.where(np.isnan(M), big, M)
    med, lo, hi = (np.percentile(F, q, axis=0) if M.size else np.empty(0) for q in (50, 25, 75))
    med, lo, hi = (np.where(a >= big / 10, np.nan, a) for a in (med, lo, hi))
    ok = ~np.isnan(med)
    return ok, med, lo, hi  # where hi is NaN (over a quarter of runs found nothing yet) the band is left open


def _finish_axes(ax: Any, values: list[float]) -> None:
    good = [v for v in values if v > 0 and math.isfinite(v)]
    if good and max(good) / min(good) > 10:
        ax.set_yscale("log")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)


def _focus(ax: Any, curves: list[tuple[np.ndarray, np.ndarray, np.ndarray]], share: float = 0.15) -> None:
    """Best-so-far curves start high and settle: show the settled part, where strategies differ.

    The top is the highest median curve once ``share`` of the x-range has passed (earlier, higher
    values run off the top of the axes); the bottom is the lowest lower quartile.
    """
    xs = [x for x, _, _ in curves if len(x)]
    if not xs:
        return
    lo_x = min(float(x[0]) for x in xs)
    hi_x = max(float(x[-1]) for x in xs)
    at = lo_x + share * (hi_x - lo_x)
    tops = [float(np.nanmax(m[x >= at])) for x, m, _ in curves if np.any(x >= at) and np.any(np.isfinite(m[x >= at]))]
    bottoms = [float(np.nanmin(np.where(np.isnan(lo), m, lo))) for _, m, lo in curves if np.any(np.isfinite(m))]
    if tops and bottoms:
        top, bottom = max(tops), min(bottoms)
        if ax.get_yscale() == "linear" and top > bottom:
            pad = 0.08 * (top - bottom)
            ax.set_ylim(bottom - pad, top + 2 * pad)


def _trial_matrix(runs: list[Run]) -> np.ndarray:
    """Best-so-far per run (rows) after trial 1..L (columns); a run that ended keeps its last value."""
    curves = [r.curve()[2] for r in runs]
    curves = [c for c in curves if len(c)]
    if not curves:
        return np.empty((0, 0))
    L = max(len(c) for c in curves)
    M = np.full((len(curves), L), np.nan)
    for i, c in enumerate(curves):
        M[i, : len(c)] = c
        M[i, len(c):] = c[-1]
    return M


def plot_best_vs_trials(data: RaceData, path: Path, colors: dict[str, Any]) -> str | None:
    fig = Figure(figsize=(7, 4.5))
    ax = fig.add_subplot()
    drawn: list[float] = []
    shown: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for s in data.strategies:
        M = _trial_matrix(data.runs_of(s))
        if M.size == 0:
            continue
        ok, med, lo, hi = _quartiles(M)
        x = np.arange(1, M.shape[1] + 1)
        ax.plot(x[ok], med[ok], color=colors[s], label=f"{s} (n={len(M)})", drawstyle="steps-post")
        ax.fill_between(x[ok], lo[ok], hi[ok], color=colors[s], alpha=0.2, step="post")
        drawn.extend(med[ok].tolist())
        shown.append((x[ok].astype(float), med[ok], lo[ok]))
    if not drawn:
        return None
    ax.set_xlabel("architecture trials")
    ax.set_ylabel("best validation MSE so far")
    ax.set_title("Best-so-far validation MSE vs trials (median, IQR over seeds)")
    _finish_axes(ax, drawn)
    _focus(ax, shown)
    return _save(fig, path)


def plot_best_vs_cpu(data: RaceData, path: Path, colors: dict[str, Any], points: int = 300) -> str | None:
    curves = {s: [c for r in data.runs_of(s) if len((c := r.curve())[0])] for s in data.strategies}
    top = max((float(c[1][-1]) for cs in curves.values() for c in cs), default=0.0)
    if top <= 0:
        return None
    grid = np.linspace(0.0, top, points)
    fig = Figure(figsize=(7, 4.5))
    ax = fig.add_subplot()
    drawn: list[float] = []
    shown: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for s, cs in curves.items():
        if not cs:
            continue
        M = np.full((len(cs), points), np.nan)
        for i, (_, cpu, best) in enumerate(cs):
            at = np.searchsorted(cpu, grid, side="right") - 1
            M[i, at >= 0] = best[at[at >= 0]]
        end = max(float(c[1][-1]) for c in cs)
        ok, med, lo, hi = _quartiles(M)
        ok &= grid <= end
        ax.plot(grid[ok], med[ok], color=colors[s], label=f"{s} (n={len(cs)})")
        ax.fill_between(grid[ok], lo[ok], hi[ok], color=colors[s], alpha=0.2)
        drawn.extend(med[ok].tolist())
        shown.append((grid[ok], med[ok], lo[ok]))
    if not drawn:
        return None
    ax.set_xlabel("CPU-seconds of evaluation (one-shot supernet searches included)")
    ax.set_ylabel("best validation MSE so far")
    ax.set_title("Best-so-far validation MSE vs CPU-seconds (median, IQR over seeds)")
    _finish_axes(ax, drawn)
    _focus(ax, shown)
    return _save(fig, path)


def plot_pareto(data: RaceData, path: Path, colors: dict[str, Any]) -> str | None:
    """Every evaluated architecture (validation MSE vs parameters), and the front over all of them."""
    from seqnas.pareto import pareto_mask

    pts: list[tuple[float, float, str]] = []
    for run, r in data.records:
        v = val_mse(r)
        p = r.metrics.get("params")
        if v is not None and p is not None and r.state is TrialState.COMPLETE:
            pts.append((float(p), v, run.strategy))
    if not pts:
        return None
    fig = Figure(figsize=(7, 4.5))
    ax = fig.add_subplot()
    for s in data.strategies:
        xs = [(p, v) for p, v, st in pts if st == s]
        if xs:
            a = np.array(xs)
            ax.scatter(a[:, 0], a[:, 1], s=14, alpha=0.55, color=colors[s], label=f"{s} ({len(xs)})")
    arr = np.array([(p, v) for p, v, _ in pts])
    front = arr[pareto_mask(arr)]
    front = front[np.argsort(front[:, 0])]
    ax.step(front[:, 0], front[:, 1], where="post", color="black", lw=1.2, label=f"Pareto front ({len(front)})")
    ax.scatter(front[:, 0], front[:, 1], s=30, facecolors="none", edgecolors="black", lw=1.0)
    ax.set_xscale("log")
    ax.set_xlabel("parameters")
    ax.set_ylabel("validation MSE")
    ax.set_title("All evaluated architectures: validation MSE vs size")
    _finish_axes(ax, arr[:, 1].tolist())
    return _save(fig, path)


def plot_alphas(run: Run, path: Path) -> str | None:
    """Architecture-weight probabilities over the epochs of a one-shot search, one panel per edge."""
    d = run.darts
    if not d:
        return None
    alphas = d.get("alphas")
    try:
        A = np.asarray(alphas, dtype=float)
    except (TypeError, ValueError):
        return None
    if A.ndim != 3 or A.shape[0] == 0:
        return None
    n_epochs, n_edges, n_ops = A.shape
    ops = list(d.get("op_names") or [f"op{i}" for i in range(n_ops)])[:n_ops]
    edges = list(d.get("edge_names") or [f"edge{i}" for i in range(n_edges)])[:n_edges]
    ep = d.get("epochs")
    x = np.asarray(ep, dtype=float) if isinstance(ep, (list, tuple)) and len(ep) == n_epochs else np.arange(1, n_epochs + 1)
    shown = min(n_edges, 11)  # one panel stays for the diagnostics
    ncols = 4 if shown + 1 > 4 else shown + 1
    nrows = math.ceil((shown + 1) / ncols)
    fig = Figure(figsize=(3.2 * ncols, 2.6 * nrows))
    from matplotlib import colormaps
    from matplotlib.ticker import MaxNLocator

    cmap = colormaps["tab10"]
    for e in range(shown):
        ax = fig.add_subplot(nrows, ncols, e + 1)
        # Edges may offer different operations (the others are stored as 0): show this edge's own.
        own = [o for o in range(n_ops) if np.any(A[:, e, o] > 0)] or list(range(n_ops))
        for i, o in enumerate(own):
            ax.plot(x, A[:, e, o], color=cmap(i % 10), label=ops[o])
        ax.set_title(str(edges[e]), fontsize=9)
        ax.set_ylim(0, 1)
        ax.grid(True, alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(fontsize=6, loc="upper left", ncol=2)
    ax = fig.add_subplot(nrows, ncols, shown + 1)
    for key, style in (("entropy", "-"), ("param_free_share", "--"), ("supernet_val_loss", ":"), ("derived_val_loss", "-.")):
        v = d.get(key)
        if isinstance(v, (list, tuple)) and len(v) == n_epochs:
            ax.plot(x, np.asarray(v, dtype=float), style, color="black", label=key)
    if d.get("collapse_threshold") is not None:
        ax.axhline(float(d["collapse_threshold"]), color="red", lw=0.8, label="collapse threshold")
    ax.set_title("diagnostics", fontsize=9)
    ax.grid(True, alpha=0.3)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(fontsize=7)
    state = "collapsed" if d.get("collapsed") else "no collapse"
    more = f" (first {shown} of {n_edges} edges)" if shown < n_edges else ""
    fig.suptitle(f"{run.strategy} seed {run.seed}: architecture weights (softmax) over epochs, {state}{more}")
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    return _save(fig, path)


def plot_retrained(data: RaceData, path: Path, colors: dict[str, Any]) -> str | None:
    """Each run's selected architecture, retrained, on the test split: one dot per seed, the mean as a bar,
    the reference rows (baselines) as horizontal lines."""
    per: dict[str, list[float]] = {}
    for name in data.strategies:
        got = [float(r.retrained_test) for r in data.runs_of(name) if r.retrained_test is not None]
        if got:
            per[name] = got
    if not per:
        return None
    order = sorted(per, key=lambda s: float(np.mean(per[s])))
    fig = Figure(figsize=(8, 4.2))
    ax = fig.add_subplot(1, 1, 1)
    for i, s in enumerate(order):
        pts = np.asarray(per[s], dtype=float)
        jitter = np.linspace(-0.12, 0.12, len(pts)) if len(pts) > 1 else np.zeros(1)
        ax.scatter(i + jitter, pts, color=colors[s], s=22, zorder=3)
        ax.hlines(float(np.mean(pts)), i - 0.3, i + 0.3, color=colors[s], lw=2.5, zorder=4)
    styles = ["--", ":", "-."]
    values = [x for vals in per.values() for x in vals]
    for j, b in enumerate(data.baselines):
        if b.test:
            m = float(np.mean(list(b.test.values())))
            if m <= 3 * max(values):  # a reference far off the scale (persistence on some tasks) stays in the table
                ax.axhline(m, color="0.35", ls=styles[j % 3], lw=1.2, label=f"{b.name} {m:.3g}")
                values.append(m)
    ax.set_xticks(range(len(order)), order)
    ax.set_ylabel("test MSE (scaled units)")
    ax.set_title("Selected architecture retrained: test MSE per seed (dots) and mean (bar)")
    ax.grid(True, axis="y", alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, loc="best")
    return _save(fig, path)


def plot_ranks(stats: RaceStats, path: Path, colors: dict[str, Any]) -> str | None:
    """Critical-difference picture: mean per-seed ranks; strategies closer than the Nemenyi CD are joined."""
    if stats.cd is None or len(stats.mean_ranks) < 3:
        return None
    items = sorted(stats.mean_ranks.items(), key=lambda t: t[1])
    k = len(items)
    fig = Figure(figsize=(8, 1.4 + 0.32 * k))
    ax = fig.add_subplot(1, 1, 1)
    ax.set_xlim(0.5, k + 0.5)
    ax.set_ylim(-1.0 - 0.5 * k, 1.6)
    ax.axhline(0, color="black", lw=1)
    for tick in range(1, k + 1):
        ax.plot([tick, tick], [-0.08, 0.08], color="black", lw=1)
        ax.text(tick, 0.2, str(tick), ha="center", fontsize=8)
    ax.plot([1, 1 + stats.cd], [1.1, 1.1], color="black", lw=2)
    ax.text(1 + stats.cd / 2, 1.25, f"CD = {stats.cd:.2f} (Nemenyi, {stats.blocks} seeds)", ha="center", fontsize=8)
    for i, (name, r) in enumerate(items):
        y = -0.6 - 0.5 * i
        ax.plot([r, r], [0, y], color=colors.get(name, "0.3"), lw=1)
        ax.plot(r, 0, "o", color=colors.get(name, "0.3"))
        ax.text(r + 0.05, y, f"{name} ({r:.2f})", va="center", fontsize=8)
    # Groups not separated by the test: maximal runs of strategies whose mean ranks lie within CD.
    cliques: list[tuple[int, int]] = []
    level = 0
    for i in range(k):
        j = max(j for j in range(i, k) if items[j][1] - items[i][1] <= stats.cd)
        if j > i and not any(a <= i and j <= b for a, b in cliques):
            cliques.append((i, j))
    for a, b in cliques:
        y = 0.55 + 0.12 * level
        ax.plot([items[a][1] - 0.03, items[b][1] + 0.03], [y, y], color="0.2", lw=3, alpha=0.7)
        level += 1
    ax.axis("off")
    p = "" if stats.friedman_p is None else f"; Friedman p = {stats.friedman_p:.2g}"
    ax.set_title(f"Mean rank per seed (1 = best retrained test MSE){p}", fontsize=9)
    return _save(fig, path)


def plot_learning_curves(data: RaceData, path: Path, colors: dict[str, Any], per_row: int = 4) -> str | None:
    """Validation MSE per epoch of every architecture trial, one panel per strategy (its first seed's run);
    the run's selected architecture in bold. Multi-fidelity runs show their rungs: many short curves,
    a few continued to the full budget."""
    panels = []
    for name in data.strategies:
        run = next((r for r in data.runs_of(name) if any(t.curve for t in r.arch_trials)), None)
        if run is not None:
            panels.append(run)
    if not panels:
        return None
    rows = math.ceil(len(panels) / per_row)
    cols = min(per_row, len(panels))
    fig = Figure(figsize=(3.2 * cols, 2.6 * rows))
    for i, run in enumerate(panels):
        ax = fig.add_subplot(rows, cols, i + 1)
        best = run.best
        values = []
        for t in run.arch_trials:
            if t.curve and t is not best:
                ax.plot(range(1, len(t.curve) + 1), t.curve, color=colors[run.strategy], lw=0.7, alpha=0.25)
                values += t.curve
        if best is not None and best.curve:
            ax.plot(range(1, len(best.curve) + 1), best.curve, color="black", lw=1.8, label=f"selected (#{best.number})")
            values += best.curve
        good = [v for v in values if v > 0 and math.isfinite(v)]
        if good:
            ax.set_yscale("log")
            ax.set_ylim(min(good) * 0.95, float(np.percentile(good, 95)) * 1.05)
        ax.set_title(f"{run.strategy} (seed {run.seed}, {run.n_archs} architectures)", fontsize=8)
        ax.set_xlabel("epoch", fontsize=7)
        ax.tick_params(labelsize=7)
        ax.grid(True, alpha=0.3)
        if best is not None and best.curve:
            ax.legend(fontsize=6)
    fig.suptitle("Learning curves: validation MSE after each epoch", fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def make_plots(data: RaceData, out: str, stats: RaceStats | None = None) -> dict[str, str]:
    """Every figure of the report; returns name -> PNG path (figures without data are skipped)."""
    o = Path(out)
    colors = strategy_colors(data.strategies)
    files: dict[str, str | None] = {
        "retrained": plot_retrained(data, o / "retrained.png", colors),
        "ranks": plot_ranks(stats, o / "ranks.png", colors) if stats is not None else None,
        "best_vs_trials": plot_best_vs_trials(data, o / "best_vs_trials.png", colors),
        "best_vs_cpu": plot_best_vs_cpu(data, o / "best_vs_cpu.png", colors),
        "pareto": plot_pareto(data, o / "pareto.png", colors),
        "learning_curves": plot_learning_curves(data, o / "learning_curves.png", colors),
    }
    for run in data.runs:
        if run.darts is not None:
            files[f"alphas_{run.strategy}_seed{run.seed}"] = plot_alphas(run, o / f"alphas_{run.strategy}_seed{run.seed}.png")
    return {k: v for k, v in files.items() if v is not None}
