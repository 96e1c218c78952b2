"""Search-efficiency benchmark: each strategy's regret at 50, 100 and 300 trials on cheap landscapes.

Categorical landscapes with a known optimum (found by enumeration), generated from a fixed seed:

- ``pairwise``: 6 decisions x 5 options (15,625 architectures); a random table per decision plus
  a random table for every pair of decisions (all 15 pairs interact; the interactions carry
  more variance than the main effects), which makes it rugged: 16 local optima.
- ``stacked``: a conditional rnn-macro-like space, depth 1-3, per layer a cell (4) and a width
  (5), plus learning rate (3) and dropout (4): 101,040 architectures. Scores add per-layer
  tables (cell, width, cell x width), a random table of each pair of adjacent layers (both
  cells and both widths together), and interactions of the first cell with the learning rate
  and of dropout with depth.

Each strategy is driven through its own ask/tell (one trial in flight, the order a sequential
run uses) for 300 trials and 20 seeds; the regret at 50 and 100 trials is read from the same runs
(no strategy knows its budget, so the first 100 trials of a 300-trial run are a 100-trial run).
Optuna's TPE, used directly (``study.optimize`` with its default sampler settings, duplicates
and all), is the reference. One-sided Mann-Whitney U tests compare each strategy with random
search, Holm-corrected over the strategies of a landscape and budget. Results:
bench/results/efficiency.{json,md,png}.

    .venv/bin/python bench/efficiency.py [--seeds 20] [--trials 300] [--jobs 2]
    .venv/bin/python bench/efficiency.py --strategies rl,rl@off_policy=importance   # a strategy with options
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from seqnas.report.stats import holm  # noqa: E402
from seqnas.space import Categorical, Condition, SearchSpace  # noqa: E402
from seqnas.space.base import Arch  # noqa: E402
from seqnas.strategies import STRATEGIES, make_strategy  # noqa: E402
from seqnas.trial import TrialRecord, TrialState  # noqa: E402

LANDSCAPE_SEED = 20190101
RESULTS = ROOT / "bench" / "results"
STRATEGY_NAMES = ["random", "grid", "evolution", "rl", "bayesian", "local"]
REFERENCE = "optuna-tpe"
BUDGETS = (50, 100, 300)


@dataclass
class Landscape:
    name: str
    space: SearchSpace
    score: Callable[[Arch], float]
    optimum: float
    size: int
    local_optima: int
    description: str


# -- the landscapes ---------------------------------------------------------------------------------
N_DEC, N_OPT, K = 6, 5, 2
UNARY_PW, PAIR_PW = 1.0, 0.8


def _count_local_optima(flat: np.ndarray) -> int:
    """Points of a dense table that no single-coordinate change improves."""
    is_local = np.ones_like(flat, dtype=bool)
    for axis in range(flat.ndim):
        for shift in range(1, flat.shape[axis]):
            is_local &= flat <= np.roll(flat, shift, axis=axis)
    return int(is_local.sum())


def pairwise_landscape() -> Landscape:
    rng = np.random.default_rng([LANDSCAPE_SEED, 3])
    h = rng.normal(0, UNARY_PW, (N_DEC, N_OPT))
    coupling = rng.normal(0, PAIR_PW, (N_DEC, N_DEC, N_OPT, N_OPT))
    grid = np.array(list(itertools.product(range(N_OPT), repeat=N_DEC)))
    scores = h[np.arange(N_DEC), grid].sum(axis=1)
    for i in range(N_DEC):
        for j in range(i + 1, N_DEC):
            scores += coupling[i, j][grid[:, i], grid[:, j]]
    flat = scores.reshape((N_OPT,) * N_DEC)
    space = SearchSpace([Categorical(f"x{i}", list(range(N_OPT))) for i in range(N_DEC)], name="pairwise")

    def score(arch: Arch) -> float:
        return float(flat[tuple(arch[f"x{i}"] for i in range(N_DEC))])

    return Landscape("pairwise", space, score, float(scores.min()), len(grid), _count_local_optima(flat),
                     "6 decisions x 5 options, random main effects + random tables for all 15 pairs; 15,625 architectures")


def _nk_tables() -> np.ndarray:
    rng = np.random.default_rng([LANDSCAPE_SEED, 1])
    return rng.random((N_DEC,) + (N_OPT,) * (K + 1))


def nk_score(tables: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Loss of each row of ``x`` (n x 6 option indices): minus the mean NK fitness."""
    total = np.zeros(len(x))
    for i in range(N_DEC):
        idx = tuple(x[:, (i + j) % N_DEC] for j in range(K + 1))
        total += tables[i][idx]
    return -total / N_DEC


def nk_landscape() -> Landscape:
    tables = _nk_tables()
    space = SearchSpace([Categorical(f"x{i}", list(range(N_OPT))) for i in range(N_DEC)], name="nk")
    grid = np.array(list(itertools.product(range(N_OPT), repeat=N_DEC)))
    scores = nk_score(tables, grid)
    flat = scores.reshape((N_OPT,) * N_DEC)

    def score(arch: Arch) -> float:
        return float(nk_score(tables, np.array([[arch[f"x{i}"] for i in range(N_DEC)]]))[0])

    return Landscape("nk", space, score, float(scores.min()), len(grid), _count_local_optima(flat),
                     "NK landscape, N=6 decisions x 5 options, K=2 (circular), 15,625 architectures")


CELLS, WIDTHS, LRS, DROPS, DEPTHS = 4, 5, 3, 4, 3
UNARY, PAIR, ADJACENT = 0.5, 1.0, 1.0


def _stacked_tables() -> dict[str, np.ndarray]:
    rng = np.random.default_rng([LANDSCAPE_SEED, 2])
    return {
        "depth": rng.normal(0, 0.5, DEPTHS),
        "cell": rng.normal(0, UNARY, (DEPTHS, CELLS)),
        "width": rng.normal(0, UNARY, (DEPTHS, WIDTHS)),
        "cell_width": rng.normal(0, PAIR, (DEPTHS, CELLS, WIDTHS)),
        "adjacent": rng.normal(0, ADJACENT, (CELLS, WIDTHS, CELLS, WIDTHS)),
        "lr_cell": rng.normal(0, PAIR, (LRS, CELLS)),
        "drop_depth": rng.normal(0, 0.7, (DROPS, DEPTHS)),
    }


def stacked_table() -> np.ndarray:
    """Scores of every (depth, cell1, width1, cell2, width2, cell3, width3, lr, dropout) index
    tuple; entries of layers deeper than ``depth`` are ignored (all equal)."""
    t = _stacked_tables()
    shape = (DEPTHS, CELLS, WIDTHS, CELLS, WIDTHS, CELLS, WIDTHS, LRS, DROPS)
    idx = np.indices(shape, sparse=True)
    d, cells, widths, lr, drop = idx[0], idx[1:7:2], idx[2:7:2], idx[7], idx[8]
    s = t["depth"][d] + t["lr_cell"][lr, cells[0]] + t["drop_depth"][drop, d]
    for i in range(DEPTHS):
        layer = t["cell"][i, cells[i]] + t["width"][i, widths[i]] + t["cell_width"][i, cells[i], widths[i]]
        if i:
            layer = layer + t["adjacent"][cells[i - 1], widths[i - 1], cells[i], widths[i]]
        s = s + np.where(d >= i, layer, 0.0)
    # Spread over layers so that depths are comparable, as a per-layer error would be.
    return np.broadcast_to(s / (2 + d), shape).copy()


def _stacked_local_optima(table: np.ndarray) -> tuple[int, int]:
    """(architectures, local optima): no architecture one decision away is better; a deeper
    neighbour may fill its new layers in any way."""
    count = local = 0
    for d in range(DEPTHS):
        # This depth's canonical architectures: inactive layer axes fixed at index 0.
        sl = tuple([d] + [slice(None)] * (2 * (d + 1)) + [0] * (2 * (DEPTHS - d - 1)) + [slice(None)] * 2)
        own = table[sl]
        count += own.size
        better = np.zeros(own.shape, dtype=bool)
        for axis in range(own.ndim):
            for shift in range(1, own.shape[axis]):
                better |= np.roll(own, shift, axis=axis) < own
        for d2 in range(DEPTHS):
            if d2 == d:
                continue
            other = table[d2]
            # Layers d2 has beyond d: best fill; layers d has beyond d2: dropped (axis index 0).
            if d2 > d:
                other = other.min(axis=tuple(range(2 * (d + 1), 2 * (d2 + 1))), keepdims=True)
            sl2 = tuple([slice(None)] * (2 * (d + 1)) + [0] * (2 * (DEPTHS - d - 1)) + [slice(None)] * 2)
            if d2 < d:
                sl2 = tuple([slice(None)] * (2 * (d2 + 1)) + [0] * (2 * (DEPTHS - d2 - 1)) + [slice(None)] * 2)
                view = other[sl2]
                view = view.reshape(view.shape[:2 * (d2 + 1)] + (1,) * (2 * (d - d2)) + view.shape[-2:])
            else:
                view = other[sl2]
            better |= view < own
        local += int((~better).sum())
    return count, local


def stacked_landscape() -> Landscape:
    table = stacked_table()
    params: list[Any] = [Categorical("depth", [1, 2, 3])]
    for i in range(1, DEPTHS + 1):
        cond = None if i == 1 else Condition("depth", tuple(range(i, DEPTHS + 1)))
        params += [Categorical(f"cell{i}", list(range(CELLS)), cond), Categorical(f"width{i}", list(range(WIDTHS)), cond)]
    params += [Categorical("lr", list(range(LRS))), Categorical("dropout", list(range(DROPS)))]
    space = SearchSpace(params, name="stacked")

    def score(arch: Arch) -> float:
        layers = [arch.get(f"{k}{i}", 0) for i in range(1, DEPTHS + 1) for k in ("cell", "width")]
        return float(table[(arch["depth"] - 1, *layers, arch["lr"], arch["dropout"])])

    size, local = _stacked_local_optima(table)
    return Landscape("stacked", space, score, float(table.min()), size, local,
                     "conditional stacked layers: depth 1-3, per layer cell (4) x width (5), lr (3), dropout (4); "
                     f"{size:,} architectures")


LANDSCAPES: dict[str, Callable[[], Landscape]] = {"pairwise": pairwise_landscape, "stacked": stacked_landscape, "nk": nk_landscape}
TARGET_LANDSCAPES = ("pairwise", "stacked")


# -- the runs ----------------------------------------------------------------------------------------
_CACHE: dict[str, Landscape] = {}


def _landscape(name: str) -> Landscape:
    if name not in _CACHE:
        _CACHE[name] = LANDSCAPES[name]()
    return _CACHE[name]


def run_strategy(landscape: str, strategy: str, seed: int, trials: int, options: dict[str, Any] | None = None) -> list[float]:
    """Best-so-far regret after each trial of one seqnas strategy, driven by ask/tell."""
    land = _landscape(landscape)
    strat = make_strategy(strategy, land.space, seed=seed, objectives=("value",), options=options)
    best, curve = np.inf, []
    for number in range(trials):
        proposal = strat.ask()
        if proposal is None:
            break
        v = land.score(proposal.arch)
        strat.tell(TrialRecord(number=number, state=TrialState.COMPLETE, arch=proposal.arch, values={"value": v},
                               told_before=number, tell_seq=number, info=proposal.info))
        best = min(best, v)
        curve.append(best - land.optimum)
    return curve + [curve[-1]] * (trials - len(curve))


def run_optuna_tpe(landscape: str, seed: int, trials: int) -> list[float]:
    """Optuna's TPE used directly, with its defaults (the reference)."""
    import optuna

    land = _landscape(landscape)
    optuna.logging.set_verbosity(optuna.logging.WARNING)

    def objective(trial: optuna.Trial) -> float:
        out: dict[str, Any] = {}
        for p in land.space.params:
            if land.space.is_active(p, out):
                out[p.name] = trial.suggest_categorical(p.name, list(p.choices))  # type: ignore[attr-defined]
        return land.score(land.space.canonical(out))

    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=seed))
    study.optimize(objective, n_trials=trials)
    vals = np.minimum.accumulate([t.value for t in study.trials])
    return [float(v - land.optimum) for v in vals]


def parse_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """``name`` or ``name@key=value@key=value`` (a strategy with options, e.g. ``rl@off_policy=importance``)."""
    name, *opts = spec.split("@")
    options: dict[str, Any] = {}
    for o in opts:
        k, _, v = o.partition("=")
        try:
            options[k] = json.loads(v)
        except json.JSONDecodeError:
            options[k] = v
    return name, options


def _job(args: tuple[str, str, int, int]) -> tuple[str, str, int, list[float], float]:
    landscape, strategy, seed, trials = args
    t0 = time.perf_counter()
    if strategy == REFERENCE:
        curve = run_optuna_tpe(landscape, seed, trials)
    else:
        name, options = parse_spec(strategy)
        curve = run_strategy(landscape, name, seed, trials, options)
    return landscape, strategy, seed, curve, time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--trials", type=int, default=max(BUDGETS))
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--strategies", default=",".join(STRATEGY_NAMES + [REFERENCE]),
                    help="comma-separated; a strategy may carry options: rl@off_policy=importance@lr=0.05")
    ap.add_argument("--landscapes", default=",".join(LANDSCAPES))
    ap.add_argument("--out", default=str(RESULTS / "efficiency"))
    ap.add_argument("--replot", action="store_true", help="redraw the figure and table from the stored JSON")
    ap.add_argument("--merge", nargs="+", metavar="JSON",
                    help="combine reports of separate runs (same seeds and trials, other strategies) into --out")
    args = ap.parse_args(argv)
    if args.merge:
        return merge([json.loads(Path(f).read_text()) for f in args.merge], Path(args.out))
    if args.replot:
        report = json.loads(Path(args.out).with_suffix(".json").read_text())
        Path(args.out).with_suffix(".md").write_text(markdown(report))
        if "curves" in report:  # an older report with every seed's curve: keep only the summary
            report["curve_summary"] = curve_summary(report.pop("curves"))
            Path(args.out).with_suffix(".json").write_text(json.dumps(report, indent=1))
        plot(report["curve_summary"], report["landscapes"], report["seeds"], Path(args.out).with_suffix(".png"))
        return 0
    strategies = [s for s in args.strategies.split(",") if s]
    unknown = [s for s in strategies if s != REFERENCE and parse_spec(s)[0] not in STRATEGIES]
    if unknown:
        ap.error(f"unknown strategies {unknown}")
    landscapes = [x for x in args.landscapes.split(",") if x]
    budgets = [b for b in BUDGETS if b <= args.trials] or [args.trials]

    t0 = time.perf_counter()
    info = {}
    for name in landscapes:
        land = _landscape(name)
        info[name] = {"description": land.description, "architectures": land.size, "optimum": land.optimum,
                      "local_optima": land.local_optima}
        print(f"{name}: {land.description}; optimum {land.optimum:.4f}, {land.local_optima} local optima", flush=True)

    jobs = [(x, s, seed, args.trials) for x in landscapes for s in strategies for seed in range(args.seeds)]
    curves: dict[str, dict[str, dict[int, list[float]]]] = {x: {s: {} for s in strategies} for x in landscapes}
    seconds: dict[str, dict[str, float]] = {x: dict.fromkeys(strategies, 0.0) for x in landscapes}
    with ProcessPoolExecutor(args.jobs) as pool:
        for x, s, seed, curve, sec in pool.map(_job, jobs, chunksize=1):
            curves[x][s][seed] = curve
            seconds[x][s] += sec
    report = summarize(curves, budgets, info, seconds, args)
    report["wall_seconds"] = time.perf_counter() - t0
    report["curve_summary"] = curve_summary(curves)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(report, indent=1))
    out.with_suffix(".md").write_text(markdown(report))
    plot(report["curve_summary"], info, args.seeds, out.with_suffix(".png"))
    print(markdown(report))
    return 0


def summarize(curves: dict[str, dict[str, dict[int, list[float]]]], budgets: list[int], info: dict[str, Any],
              seconds: dict[str, dict[str, float]], args: argparse.Namespace) -> dict[str, Any]:
    at = {x: {s: {b: [by_seed[k][b - 1] for k in sorted(by_seed)] for b in budgets} for s, by_seed in per.items()}
          for x, per in curves.items()}
    per_run = {x: {s: seconds[x][s] / max(1, len(curves[x][s])) for s in curves[x]} for x in curves}
    return statistics(at, per_run, budgets, info, args.seeds, args.trials)


def merge(reports: list[dict[str, Any]], out: Path) -> int:
    """One report from several runs of this script with the same seeds, trials and budgets."""
    first = reports[0]
    if any((r["seeds"], r["trials"], r["budgets"]) != (first["seeds"], first["trials"], first["budgets"]) for r in reports):
        print("bench/efficiency.py --merge: the reports differ in seeds, trials or budgets", file=sys.stderr)
        return 2
    info = {x: i for r in reports for x, i in r["landscapes"].items()}
    at: dict[str, dict[str, dict[int, list[float]]]] = {x: {} for x in info}
    per_run: dict[str, dict[str, float]] = {x: {} for x in info}
    summary: dict[str, dict[str, Any]] = {x: {} for x in info}
    for r in reports:
        for x, per in r["results"].items():
            for s, row in per.items():
                at[x][s] = {b: row[str(b)]["regrets"] for b in first["budgets"]}
                per_run[x][s] = row["seconds_per_run"]
                summary[x][s] = r["curve_summary"][x][s]
    report = statistics(at, per_run, first["budgets"], info, first["seeds"], first["trials"])
    report["wall_seconds"] = sum(r.get("wall_seconds", 0.0) for r in reports)
    report["curve_summary"] = summary
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(report, indent=1))
    out.with_suffix(".md").write_text(markdown(report))
    plot(summary, info, first["seeds"], out.with_suffix(".png"))
    print(markdown(report))
    return 0


def statistics(at: dict[str, dict[str, dict[int, list[float]]]], per_run: dict[str, dict[str, float]], budgets: list[int],
               info: dict[str, Any], seeds: int, trials: int) -> dict[str, Any]:
    """The report from each strategy's per-seed regrets at each budget (``at[landscape][strategy][budget]``)."""
    from scipy.stats import mannwhitneyu

    results: dict[str, Any] = {}
    for x, per in at.items():
        results[x] = {}
        for s, by_budget in per.items():
            row: dict[str, Any] = {"seconds_per_run": per_run[x][s]}
            for b in budgets:
                regrets = np.array(by_budget[b])
                row[str(b)] = {"mean": float(regrets.mean()), "std": float(regrets.std(ddof=1)) if len(regrets) > 1 else 0.0,
                               "median": float(np.median(regrets)), "found_optimum": int((regrets <= 1e-12).sum()),
                               "regrets": regrets.tolist()}
                if s != "random" and "random" in per:
                    rnd = np.array(per["random"][b])
                    row[str(b)]["p_vs_random"] = float(mannwhitneyu(regrets, rnd, alternative="less").pvalue)
            results[x][s] = row
        for b in budgets:  # Holm over the strategies compared with random at this landscape and budget
            named = [s for s in results[x] if "p_vs_random" in results[x][s][str(b)]]
            for s, ph in zip(named, holm([results[x][s][str(b)]["p_vs_random"] for s in named])):
                results[x][s][str(b)]["p_holm"] = ph
    targets = []

    def target(what: str, ok: bool | None, detail: str) -> None:
        targets.append({"target": what, "met": ok, "detail": detail})

    for x in results:
        if x not in TARGET_LANDSCAPES:
            continue
        for s, b in (("evolution", 100), ("bayesian", 100), ("rl", 300), ("local", 100)):
            if s in results[x] and str(b) in results[x][s]:
                p = results[x][s][str(b)].get("p_holm")
                target(f"{s} beats random at {b} trials on {x} (Mann-Whitney, Holm p < 0.01)", p is not None and p < 0.01,
                       "no random search to compare with" if p is None else f"Holm p = {p:.2g}")
        if REFERENCE in results[x] and "50" in results[x][REFERENCE]:
            ours = {s: r["50"]["mean"] for s, r in results[x].items() if s != REFERENCE and "@" not in s}
            best = min(ours, key=ours.__getitem__)
            t = results[x][REFERENCE]["50"]["mean"]
            target(f"at 50 trials on {x}, the best seqnas strategy's mean regret at most half of Optuna TPE's",
                   ours[best] <= 0.5 * t + 1e-12, f"{best} {ours[best]:.4f} vs TPE {t:.4f} (ratio {ours[best] / t if t > 0 else float('inf'):.2f})")
        if "evolution" in results[x] and REFERENCE in results[x] and "100" in results[x]["evolution"]:
            e, t = results[x]["evolution"]["100"]["mean"], results[x][REFERENCE]["100"]["mean"]
            target(f"evolution's mean regret at 100 trials on {x} within 1.5x of Optuna TPE's", e <= 1.5 * t + 1e-12,
                   f"{e:.4f} vs {t:.4f} (ratio {e / t if t > 0 else float('inf'):.2f})")
    return {"landscape_seed": LANDSCAPE_SEED, "seeds": seeds, "trials": trials, "budgets": budgets,
            "landscapes": info, "results": results, "targets": targets}


def markdown(report: dict[str, Any]) -> str:
    lines = [f"# Search efficiency ({report['seeds']} seeds; regret = best found - optimum; lower is better)", ""]
    lines += [f"> {n}" for n in report.get("notes", [])] + ([""] if report.get("notes") else [])
    budgets = report["budgets"]
    for x, per in report["results"].items():
        land = report["landscapes"][x]
        lines += [f"## {x}: {land['description']}", f"optimum {land['optimum']:.4f}, {land['local_optima']} local optima", ""]
        head = "| strategy | " + " | ".join(f"regret @{b} (mean ± std) | Holm p vs random @{b} | optimum found @{b}" for b in budgets)
        lines += [head + " | s / run |", "|---" * (1 + 3 * len(budgets)) + "|---|"]
        for s, row in per.items():
            cells = []
            for b in budgets:
                r = row[str(b)]
                p = r.get("p_holm", r.get("p_vs_random"))
                cells += [f"{r['mean']:.4f} ± {r['std']:.4f}", "-" if p is None else f"{p:.2g}", f"{r['found_optimum']}/{report['seeds']}"]
            lines.append(f"| {s} | " + " | ".join(cells) + f" | {row['seconds_per_run']:.2f} |")
        lines.append("")
    lines += ["## Targets", ""]
    for t in report["targets"]:
        lines.append(f"- [{'x' if t['met'] else ' '}] {t['target']}: {t['detail']}")
    return "\n".join(lines) + "\n"


def curve_summary(curves: dict[str, dict[str, dict[Any, list[float]]]]) -> dict[str, dict[str, dict[str, list[float]]]]:
    """Per landscape and strategy, the mean and quartiles of regret after each trial (over seeds)."""
    out: dict[str, dict[str, dict[str, list[float]]]] = {}
    for x, per in curves.items():
        out[x] = {}
        for s, by_seed in per.items():
            arr = np.array([by_seed[k] for k in sorted(by_seed)])
            q25, q75 = np.percentile(arr, [25, 75], axis=0)
            out[x][s] = {k: [round(float(v), 6) for v in a] for k, a in (("mean", arr.mean(0)), ("q25", q25), ("q75", q75))}
    return out


def plot(summary: dict[str, dict[str, dict[str, list[float]]]], info: dict[str, Any], seeds: int, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(summary), figsize=(6.5 * len(summary), 4.8), squeeze=False)
    for ax, (x, per) in zip(axes[0], summary.items(), strict=True):
        top = 0.0
        for s, c in per.items():
            t = np.arange(1, len(c["mean"]) + 1)
            line = ax.plot(t, c["mean"], label=s, ls="--" if s == REFERENCE else "-")[0]
            ax.fill_between(t, c["q25"], c["q75"], alpha=0.10, color=line.get_color())
            top = max(top, max(c["mean"]))
        for b in BUDGETS:
            ax.axvline(b, color="grey", lw=0.6, ls=":")
        # Regret reaches exactly 0 when the optimum is found: linear near 0, log above.
        ax.set_yscale("symlog", linthresh=top / 100)
        ax.set_ylim(0, top * 1.2)
        ax.set_xlabel("trials")
        ax.set_ylabel("regret (best found - optimum)")
        ax.set_title(f"{x}: {info[x]['architectures']:,} architectures, {info[x]['local_optima']} local optima")
        ax.legend(fontsize=8, title=f"mean; band: quartiles over {seeds} seeds", title_fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    sys.exit(main())
