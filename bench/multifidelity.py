"""Multi-fidelity search (hyperband, bohb) against full-fidelity random and bayesian search at equal CPU-seconds.

The races (``seqnas compare``, one database each; ``--run`` runs them, the analysis only reads):

- ``<task>-50``: random, bayesian, hyperband and bohb with 50 CPU-seconds per run;
- ``<task>-17``: hyperband alone with 16.6 CPU-seconds (one third);

on sunspots and co2, space rnn-macro, ``--max-epochs 30 --patience 5``, 5 seeds, each run's
selection retrained (top 3 candidates x 3 fresh seeds, outside the budget: seqnas/final.py).
Hyperband's rungs are 1, 3, 10 and 30 epochs (eta 3); bohb is the same brackets with TPE
proposals. Seed k of every race uses the same retraining seeds, so runs pair by seed.

What is reported, per task and search: the selection's retrained test and validation MSE
(mean ± std and median over seeds), the CPU-seconds used, the architectures started and those
trained to the full 30 epochs, and the race's baselines; then

- target A: hyperband at one third of the CPU-seconds reaches random search's median retrained
  test MSE at 50 (ratio of medians, and one-sided Wilcoxon signed-rank tests both ways, seeds
  paired, Holm-corrected over sunspots, co2 and the two pooled);
- target B: bohb at least as good as hyperband and as full-fidelity bayesian search at 50
  CPU-seconds (the same tests, Holm over the six comparisons: 2 opponents x sunspots, co2, pooled);
- why: Spearman's rank correlation of an architecture's validation MSE at consecutive rungs
  (and lowest vs highest) from the hyperband and bohb studies' promotions, pooled over seeds;
  and the same correlations over every architecture random search trained, from their
  learning curves (a rung of k epochs gives min(curve[:k]) exactly: training continues from
  the saved state, early-stopping counters included), which are not restricted to the
  promoted ones.

Tests use the paired differences of log MSE (per-seed ratios), so that the tasks' scales pool.

    .venv/bin/python bench/multifidelity.py --run /tmp/mfraces      # run the races, then analyse them
    .venv/bin/python bench/multifidelity.py --from /work/mfbench     # analyse stored races (default)

Writes bench/results/multifidelity.{md,json} (``--out``). Databases are copied read-only to a
temporary directory before they are read, so a race still running is never written to.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from seqnas.report.data import RaceData, Run, load_race, val_mse  # noqa: E402
from seqnas.report.stats import ALPHA, holm, mean_std, seeds_for_claim, smallest_p, wilcoxon_less  # noqa: E402
from seqnas.trial import TrialRecord, TrialState  # noqa: E402

RESULTS = ROOT / "bench" / "results"
DEFAULT_FROM = "/work/mfbench"  # where the races of the committed results ran
TASKS = ("sunspots", "co2")
STRATEGIES = ("random", "bayesian", "hyperband", "bohb")
MULTI = ("hyperband", "bohb")
CPU_FULL, CPU_THIRD = 50.0, 16.6
MAX_EPOCHS, PATIENCE, SEEDS, FINAL_REPEATS = 30, 5, 5, 3
THIRD = "hyperband@1/3"  # hyperband at CPU_THIRD, from the <task>-17 race
COMMON = ["--space", "rnn-macro", "--max-epochs", str(MAX_EPOCHS), "--patience", str(PATIENCE), "--seeds", str(SEEDS),
          "--final-repeats", str(FINAL_REPEATS), "--no-progress"]
RACES = {"50": (STRATEGIES, CPU_FULL), "17": (("hyperband",), CPU_THIRD)}  # directory suffix: strategies, CPU-s


# -- running the races ------------------------------------------------------------------------------------
def race_command(task: str, suffix: str, outdir: Path) -> list[str]:
    strategies, cpu = RACES[suffix]
    return [sys.executable, "-m", "seqnas.cli", "compare", "--task", task, "--strategies", ",".join(strategies),
            "--cpu-seconds", f"{cpu:g}", *COMMON, "--out", str(outdir / f"{task}-{suffix}")]


def run_races(outdir: Path, tasks: list[str]) -> None:
    """The races of /work/mfbench/run.sh, one after another (each uses both cores), through the CLI."""
    outdir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    for task in tasks:
        for suffix in RACES:
            cmd = race_command(task, suffix, outdir)
            log = outdir / f"{task}-{suffix}.log"
            print(f"running {' '.join(cmd[1:])} (log: {log})", flush=True)
            t0 = time.perf_counter()
            with log.open("w") as fh:
                rc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT).returncode
            if rc != 0:
                raise SystemExit(f"bench/multifidelity.py: the race {task}-{suffix} failed (exit {rc}); see {log}")
            print(f"  done in {time.perf_counter() - t0:.0f} s", flush=True)


# -- reading --------------------------------------------------------------------------------------------------
def snapshot(db: Path, tmp: Path) -> Path:
    """A consistent copy of ``db`` (WAL included), read through a read-only connection."""
    dst_path = tmp / f"{db.parent.name}.db"
    src = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    dst = sqlite3.connect(str(dst_path))
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()
    return dst_path


def load(directory: Path, task: str, suffix: str, tmp: Path, notes: list[str]) -> RaceData | None:
    db = directory / f"{task}-{suffix}" / "race.db"
    if not db.exists():
        notes.append(f"no race database at {db}")
        return None
    data = load_race(str(snapshot(db, tmp)))
    strategies, cpu = RACES[suffix]
    s = data.settings
    got = (tuple(data.strategies), s.budget.cpu_seconds if s else None, s.train.max_epochs if s else None,
           s.train.patience if s else None, data.final_repeats, len(data.seeds))
    want = (strategies, cpu, MAX_EPOCHS, PATIENCE, FINAL_REPEATS, SEEDS)
    if got != want:
        notes.append(f"{db}: settings (strategies, CPU-s, max epochs, patience, retrainings, seeds) {got}, "
                     f"not the bench's {want}")
    return data


# -- per run ---------------------------------------------------------------------------------------------------
def _epochs(r: TrialRecord) -> int:
    return int(r.metrics.get("epochs") or len(r.curve) or 0)


def run_row(run: Run, max_epochs: int) -> dict[str, Any]:
    """What one run used and delivered."""
    trials = [r for r in run.arch_trials if r.arch is not None]
    by_number = {r.number: r for r in run.records}
    ok = [r for r in trials if r.state is TrialState.COMPLETE]
    multi = any("rung" in r.info for r in trials)
    full = {r.arch.key for r in ok if r.fidelity == math.inf or r.fidelity >= max_epochs}  # type: ignore[union-attr]
    trained = 0  # epochs trained in the search (a continued trial counts only its new epochs)
    for r in trials:
        parent = by_number.get(r.info.get("parent")) if r.info.get("parent") is not None else None
        trained += _epochs(r) - (_epochs(parent) if parent is not None else 0)
    sel = None
    if run.final is not None:
        sel = by_number.get(run.final.number)
    row: dict[str, Any] = {
        "seed": run.seed, "done": run.done, "error": run.error,
        "retrained_test": run.retrained_test, "retrained_val": run.retrained_val,
        "retrained_n": len(run.final.test) if run.final is not None else 0,
        "search_best_val": run.best_val,
        "cpu_seconds": run.cpu_seconds + run.strategy_cpu_seconds,  # what the budget counts
        "eval_cpu_seconds": run.cpu_seconds, "strategy_cpu_seconds": run.strategy_cpu_seconds,
        "retrain_cpu_seconds": run.final.cpu_seconds if run.final is not None else None,
        "trials": len(trials), "failed": sum(r.state is TrialState.FAILED for r in trials),
        "archs": len({r.arch.key for r in trials}), "full": len(full),  # type: ignore[union-attr]
        "epochs_trained": trained,
        "cpu_per_epoch": (run.cpu_seconds / trained) if trained else None,
        "selected_arch": run.final.arch if run.final is not None else None,
        "selected_number": run.final.number if run.final is not None else None,
        "selected_epochs": None if sel is None else (int(sel.fidelity) if math.isfinite(sel.fidelity) else max_epochs),
    }
    if multi:
        rungs = [int(r.info["rung"]) for r in ok if "rung" in r.info]
        row["top_rung"] = max(rungs) if rungs else None
        row["top_rung_epochs"] = max((int(r.info["rung_epochs"]) for r in ok if "rung" in r.info), default=None)
        row["per_rung"] = {str(k): rungs.count(k) for k in sorted(set(rungs))}
        row["cpu_per_rung"] = {str(k): float(sum(float(r.metrics.get("cpu_seconds") or 0.0) for r in trials
                                                 if int(r.info.get("rung", -1)) == k)) for k in sorted(set(rungs))}
        row["brackets"] = len({int(r.info["bracket"]) for r in trials if "bracket" in r.info})
    else:
        ep = [_epochs(r) for r in ok]
        row["median_epochs"] = float(np.median(ep)) if ep else None
        row["trial_epochs"] = ep
        row["stopped_early"] = sum(bool(r.metrics.get("stopped_early")) for r in ok)
    return row


def _stat(xs: list[float]) -> dict[str, Any]:
    m, s = mean_std(xs)
    return {"n": len(xs), "mean": m, "std": s, "median": float(np.median(xs)) if xs else math.nan}


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    done = [r for r in rows if r["done"]]
    scored = [r for r in done if r["retrained_test"] is not None]
    out = {"runs": len(rows), "done": len(done), "scored": len(scored),
           "retrained_test": _stat([r["retrained_test"] for r in scored]),
           "retrained_val": _stat([r["retrained_val"] for r in scored if r["retrained_val"] is not None])}
    for k in ("cpu_seconds", "retrain_cpu_seconds", "trials", "archs", "full", "epochs_trained", "cpu_per_epoch"):
        out[k] = _stat([float(r[k]) for r in done if r[k] is not None])
    if done and "top_rung" in done[0]:
        out["runs_without_top_rung"] = sum(r["top_rung_epochs"] != MAX_EPOCHS for r in done)
        out["selections_below_top_rung"] = sum(r["selected_epochs"] is not None and r["selected_epochs"] < MAX_EPOCHS
                                               for r in scored)
    return out


# -- paired tests -------------------------------------------------------------------------------------------------
def _scores(rows: list[dict[str, Any]]) -> dict[int, float]:
    return {r["seed"]: float(r["retrained_test"]) for r in rows if r["done"] and r["retrained_test"] is not None}


def _arch_of(rows: list[dict[str, Any]]) -> dict[int, Any]:
    return {r["seed"]: r["selected_arch"] for r in rows if r["done"] and r["selected_arch"] is not None}


def paired(a: dict[int, float], b: dict[int, float]) -> dict[str, Any]:
    """``a`` against ``b`` on their common seeds: medians, ratios, one-sided Wilcoxon both ways on log MSE."""
    common = sorted(set(a) & set(b))
    la, lb = [math.log(a[k]) for k in common], [math.log(b[k]) for k in common]
    ma = float(np.median(list(a.values()))) if a else math.nan
    mb = float(np.median(list(b.values()))) if b else math.nan
    ratios = [a[k] / b[k] for k in common]
    return {"n_a": len(a), "n_b": len(b), "pairs": len(common), "seeds": common, "median_a": ma, "median_b": mb,
            "ratio_of_medians": ma / mb if mb > 0 else math.nan,
            "median_paired_ratio": float(np.median(ratios)) if ratios else math.nan,
            "ties": sum(a[k] == b[k] for k in common),
            "p_better": wilcoxon_less(la, lb) if len(common) else math.nan,  # H1: a < b
            "p_worse": wilcoxon_less(lb, la) if len(common) else math.nan}  # H1: a > b


def _pool(per_task: list[tuple[dict[int, float], dict[int, float]]]) -> tuple[dict[Any, float], dict[Any, float]]:
    """Both tasks' seeds as one set of pairs (keys (task index, seed))."""
    a, b = {}, {}
    for i, (x, y) in enumerate(per_task):
        a.update({(i, k): v for k, v in x.items()})
        b.update({(i, k): v for k, v in y.items()})
    return a, b


def _holm_family(comps: list[dict[str, Any]]) -> None:
    for key in ("p_better", "p_worse"):
        for c, ph in zip(comps, holm([c[key] for c in comps])):
            c[key + "_holm"] = ph


def target_a(results: dict[str, dict[str, Any]], tasks: list[str]) -> list[dict[str, Any]]:
    comps, per_task = [], []
    for task in tasks:
        rows = results.get(task, {})
        a, b = _scores(rows.get(THIRD, {}).get("runs", [])), _scores(rows.get("random", {}).get("runs", []))
        per_task.append((a, b))
        c = {"scope": task, **paired(a, b)}
        arch_a, arch_b = _arch_of(rows.get(THIRD, {}).get("runs", [])), _arch_of(rows.get("random", {}).get("runs", []))
        c["same_selection"] = sum(arch_a[k] == arch_b[k] for k in set(arch_a) & set(arch_b))
        cpu_a = [r["cpu_seconds"] for r in rows.get(THIRD, {}).get("runs", []) if r["done"]]
        cpu_b = [r["cpu_seconds"] for r in rows.get("random", {}).get("runs", []) if r["done"]]
        c["cpu_ratio_of_medians"] = float(np.median(cpu_a) / np.median(cpu_b)) if cpu_a and cpu_b else math.nan
        comps.append(c)
    if len(tasks) > 1:
        a, b = _pool(per_task)
        comps.append({"scope": "pooled", **paired(a, b)})
    _holm_family(comps)
    for c in comps:
        ratio = c["ratio_of_medians"] if c["scope"] != "pooled" else c["median_paired_ratio"]
        c["ratio"] = ratio
        c["met"] = bool(ratio <= 1.0) if math.isfinite(ratio) else None
    return comps


def target_b(results: dict[str, dict[str, Any]], tasks: list[str]) -> list[dict[str, Any]]:
    comps = []
    for opponent in ("hyperband", "bayesian"):
        per_task = []
        for task in tasks:
            rows = results.get(task, {})
            a, b = _scores(rows.get("bohb", {}).get("runs", [])), _scores(rows.get(opponent, {}).get("runs", []))
            per_task.append((a, b))
            c = {"scope": task, "opponent": opponent, **paired(a, b)}
            arch_a, arch_b = _arch_of(rows.get("bohb", {}).get("runs", [])), _arch_of(rows.get(opponent, {}).get("runs", []))
            c["same_selection"] = sum(arch_a[k] == arch_b[k] for k in set(arch_a) & set(arch_b))
            comps.append(c)
        if len(tasks) > 1:
            a, b = _pool(per_task)
            comps.append({"scope": "pooled", "opponent": opponent, **paired(a, b)})
    _holm_family(comps)
    for c in comps:
        ratio = c["ratio_of_medians"] if c["scope"] != "pooled" else c["median_paired_ratio"]
        c["ratio"] = ratio
        worse = math.isfinite(c["p_worse_holm"]) and c["p_worse_holm"] < ALPHA
        better = math.isfinite(c["p_better_holm"]) and c["p_better_holm"] < ALPHA
        c["met"] = None if not math.isfinite(ratio) else bool(ratio <= 1.0 and not worse)
        c["verdict"] = ("better (Holm p < 0.05)" if better else "worse (Holm p < 0.05)" if worse else
                        "not distinguishable")
    return comps


def versus_random(results: dict[str, Any], task: str) -> dict[str, Any]:
    """Context at 50 CPU-s: Friedman over the four searches and each against random (Holm over three)."""
    rows = results.get(task, {})
    scores = {s: _scores(rows.get(s, {}).get("runs", [])) for s in STRATEGIES}
    out: dict[str, Any] = {"comparisons": {}}
    base = scores["random"]
    others = [s for s in STRATEGIES if s != "random"]
    comps = [paired(scores[s], base) for s in others]
    _holm_family(comps)
    out["comparisons"] = dict(zip(others, comps))
    blocks = sorted(set.intersection(*(set(v) for v in scores.values()))) if all(scores.values()) else []
    out["blocks"] = len(blocks)
    if len(blocks) >= 2:
        m = np.array([[scores[s][k] for s in STRATEGIES] for k in blocks])
        ranks = np.vstack([stats.rankdata(row) for row in m])
        out["mean_ranks"] = dict(zip(STRATEGIES, map(float, ranks.mean(axis=0))))
        res = stats.friedmanchisquare(*m.T)
        out["friedman_chi2"], out["friedman_p"] = float(res.statistic), float(res.pvalue)
    return out


# -- rank correlation between rungs -------------------------------------------------------------------------------
RUNG_PAIRS = ((0, 1), (1, 2), (2, 3), (0, 3))


def _spearman(pairs: list[tuple[float, float]]) -> dict[str, Any]:
    n = len(pairs)
    if n < 3:
        return {"n": n, "rho": math.nan, "p": math.nan}
    x, y = zip(*pairs)
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return {"n": n, "rho": math.nan, "p": math.nan}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = stats.spearmanr(x, y)
    return {"n": n, "rho": float(res.statistic), "p": float(res.pvalue)}


def promotion_pairs(run: Run) -> dict[tuple[int, int], list[tuple[float, float]]]:
    """(rung k, rung j) -> (validation MSE at k, at j) of the same architecture, from the study's promotions:
    consecutive rungs through ``parent``, and the lowest rung (0) against the highest (3) down the chain."""
    by_number = {r.number: r for r in run.records}
    out: dict[tuple[int, int], list[tuple[float, float]]] = {p: [] for p in RUNG_PAIRS}
    top = max((int(r.info["rung"]) for r in run.arch_trials if "rung" in r.info), default=None)
    for r in run.arch_trials:
        v = val_mse(r)
        if v is None or "rung" not in r.info or r.info.get("parent") is None:
            continue
        parent = by_number.get(int(r.info["parent"]))
        pv = val_mse(parent) if parent is not None else None
        if pv is None:
            continue
        k, j = int(parent.info["rung"]), int(r.info["rung"])  # type: ignore[union-attr]
        if (k, j) in out:
            out[(k, j)].append((pv, v))
        if j == 3 and top == 3:
            root = parent
            while root is not None and root.info.get("parent") is not None:
                root = by_number.get(int(root.info["parent"]))
            rv = val_mse(root) if root is not None else None
            if root is not None and int(root.info["rung"]) == 0 and rv is not None:
                out[(0, 3)].append((rv, v))
    return out


def curve_pairs(run: Run, rungs: list[int]) -> dict[tuple[int, int], list[tuple[float, float]]]:
    """The same pairs for every architecture of a full-fidelity run, from its learning curve: the value at
    a rung of e epochs is min(curve[:e]) (what continuing training to e epochs gives)."""
    out: dict[tuple[int, int], list[tuple[float, float]]] = {p: [] for p in RUNG_PAIRS}
    for r in run.arch_trials:
        if val_mse(r) is None or not r.curve:
            continue
        at = [float(np.min(r.curve[:e])) for e in rungs]
        for k, j in RUNG_PAIRS:
            out[(k, j)].append((at[k], at[j]))
    return out


def correlations(results: dict[str, Any], data: dict[str, dict[str, RaceData | None]], tasks: list[str]) -> dict[str, Any]:
    rungs = [1, 3, 10, 30]
    out: dict[str, Any] = {}
    for task in tasks:
        sources: dict[str, list[Run]] = {}
        d50, d17 = data[task].get("50"), data[task].get("17")
        for s in MULTI:
            sources[s] = [r for r in d50.runs_of(s) if r.done] if d50 else []
        sources[THIRD] = [r for r in d17.runs_of("hyperband") if r.done] if d17 else []
        per: dict[str, Any] = {}
        pooled: dict[tuple[int, int], list[tuple[float, float]]] = {p: [] for p in RUNG_PAIRS}
        for name, runs in sources.items():
            acc: dict[tuple[int, int], list[tuple[float, float]]] = {p: [] for p in RUNG_PAIRS}
            for run in runs:
                for p, xs in promotion_pairs(run).items():
                    acc[p] += xs
                    pooled[p] += xs
            per[name] = {f"{k}-{j}": _spearman(acc[(k, j)]) for k, j in RUNG_PAIRS} | {"runs": len(runs)}
        per["all multi-fidelity"] = {f"{k}-{j}": _spearman(pooled[(k, j)]) for k, j in RUNG_PAIRS} | {
            "runs": sum(len(v) for v in sources.values())}
        curves: dict[str, Any] = {}
        for s in ("random", "bayesian"):
            runs = [r for r in d50.runs_of(s) if r.done] if d50 else []
            acc = {p: [] for p in RUNG_PAIRS}
            for run in runs:
                for p, xs in curve_pairs(run, rungs).items():
                    acc[p] += xs
            curves[s] = {f"{k}-{j}": _spearman(acc[(k, j)]) for k, j in RUNG_PAIRS} | {"runs": len(runs)}
        out[task] = {"promotions": per, "curves": curves}
    return out


# -- provenance ---------------------------------------------------------------------------------------------------
def git_commit(src: Path) -> str:
    try:
        head = subprocess.run(["git", "-C", str(src), "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(src), "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                               text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return head + (" (with uncommitted changes)" if dirty else "")


def race_times(d: RaceData | None) -> tuple[float | None, float | None]:
    if d is None:
        return None, None
    t0 = [r.started_at for run in d.runs for r in run.records if r.started_at]
    t1 = [r.finished_at for run in d.runs for r in run.records if r.finished_at]
    return (min(t0) if t0 else None), (max(t1) if t1 else None)


# -- the report ---------------------------------------------------------------------------------------------------
def analyse(directory: Path, tasks: list[str], src: Path, command: str) -> dict[str, Any]:
    notes: list[str] = []
    results: dict[str, dict[str, Any]] = {}
    data: dict[str, dict[str, RaceData | None]] = {}
    machines, spans = [], []
    with tempfile.TemporaryDirectory(prefix="seqnas-mf-") as tmp:
        for task in tasks:
            data[task] = {suffix: load(directory, task, suffix, Path(tmp), notes) for suffix in RACES}
    for task in tasks:
        results[task] = {}
        for suffix, d in data[task].items():
            if d is None:
                continue
            machines.append(d.spec.get("machine"))
            spans.append(race_times(d))
            max_epochs = d.settings.train.max_epochs if d.settings else MAX_EPOCHS
            for s in d.strategies:
                name = THIRD if suffix == "17" else s
                rows = [run_row(run, max_epochs) for run in d.runs_of(s)]
                results[task][name] = {"runs": rows, "summary": summarize(rows)}
                missing = [r["seed"] for r in rows if not r["done"]]
                if missing:
                    notes.append(f"{task}: {name} seeds {missing} have not finished (left out)")
                errors = [f"seed {r['seed']}: {r['error']}" for r in rows if r["error"]]
                if errors:
                    notes.append(f"{task}: {name} errors: {'; '.join(errors)}")
        d50 = data[task].get("50")
        results[task]["_baselines"] = [] if d50 is None else [
            {"name": b.name, "trainings": b.trainings, "test": _stat(list(b.test.values())), "val": _stat(list(b.val.values())),
             "per_seed_test": {str(k): v for k, v in b.test.items()}} for b in d50.baselines]
    report = {
        "settings": {"tasks": tasks, "strategies": list(STRATEGIES), "cpu_seconds": CPU_FULL, "cpu_seconds_third": CPU_THIRD,
                     "max_epochs": MAX_EPOCHS, "patience": PATIENCE, "seeds": SEEDS, "final_repeats": FINAL_REPEATS,
                     "space": "rnn-macro", "rung_epochs": [1, 3, 10, 30], "alpha": ALPHA,
                     "races": {f"{t}-{s}": race_command(t, s, directory)[1:] for t in tasks for s in RACES}},
        "provenance": {"command": command, "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
                       "from": str(directory), "src": str(src), "commit": git_commit(src),
                       "machine": next((m for m in machines if m), None), "host": platform.node(),
                       "races_ran": _span_text(spans)},
        "results": {t: {k: v for k, v in r.items() if k != "_baselines"} for t, r in results.items()},
        "baselines": {t: r["_baselines"] for t, r in results.items()},
        "target_a": target_a(results, tasks),
        "target_b": target_b(results, tasks),
        "versus_random": {t: versus_random(results, t) for t in tasks},
        "rank_correlation": correlations(results, data, tasks),
        "notes": notes,
    }
    report["why"] = why(report)
    report["hyperband_prefix"] = {t: prefix(data[t].get("17"), data[t].get("50")) for t in tasks}
    return report


def prefix(third: RaceData | None, full: RaceData | None) -> dict[str, int]:
    """Seeds whose hyperband run at one third is, trial for trial (architecture, rung, value), the start of the
    hyperband run at the full budget (same proposals, deterministic training)."""
    if third is None or full is None:
        return {"seeds": 0, "prefix": 0}
    runs = {r.seed: r for r in full.runs_of("hyperband") if r.done}
    n = same = 0
    for r in third.runs_of("hyperband"):
        if not r.done or r.seed not in runs:
            continue
        n += 1
        a = sorted(r.arch_trials, key=lambda x: x.number)
        b = sorted(runs[r.seed].arch_trials, key=lambda x: x.number)
        same += len(a) <= len(b) and all(x.arch == y.arch and x.info == y.info and x.value == y.value for x, y in zip(a, b))
    return {"seeds": n, "prefix": same}


def _span_text(spans: list[tuple[float | None, float | None]]) -> str | None:
    t0 = [a for a, _ in spans if a]
    t1 = [b for _, b in spans if b]
    if not t0 or not t1:
        return None
    f = "%Y-%m-%d %H:%M"
    return (f"{dt.datetime.fromtimestamp(min(t0), dt.UTC).strftime(f)} to "
            f"{dt.datetime.fromtimestamp(max(t1), dt.UTC).strftime(f)} UTC")


def why(report: dict[str, Any]) -> dict[str, Any]:
    """Per task: what each search could evaluate, and how long full trainings ran (early stopping)."""
    out = {}
    for task, per in report["results"].items():
        rnd = [r for r in per.get("random", {}).get("runs", []) if r["done"]]
        ep = [e for r in rnd for e in r.get("trial_epochs", [])]
        early = sum(r["stopped_early"] for r in rnd)
        n = sum(r["trials"] - r["failed"] for r in rnd)
        cpu_share = {}
        for s, v in per.items():
            done = [r for r in v["runs"] if r["done"] and "cpu_per_rung" in r]
            if done:
                tot = sum(sum(r["cpu_per_rung"].values()) for r in done)
                cpu_share[s] = {k: sum(r["cpu_per_rung"].get(k, 0.0) for r in done) / tot if tot else math.nan
                                for k in ("0", "1", "2", "3")}
        out[task] = {"random_median_epochs": float(np.median(ep)) if ep else None,
                     "random_stopped_early": early, "random_trainings": n, "cpu_share_per_rung": cpu_share,
                     "archs": {s: v["summary"]["archs"]["median"] for s, v in per.items()},
                     "full": {s: v["summary"]["full"]["median"] for s, v in per.items()}}
    return out


# -- Markdown -----------------------------------------------------------------------------------------------------
def f4(x: Any) -> str:
    return "-" if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{x:.4f}"


def fp(x: Any) -> str:
    return "-" if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{x:.2g}"


def ms(st: dict[str, Any], digits: int = 4) -> str:
    if not st or not st["n"]:
        return "-"
    return f"{st['mean']:.{digits}f} ± {st['std']:.{digits}f}"


def _rho(c: dict[str, Any]) -> str:
    if not c["n"]:
        return "- (0)"
    if not math.isfinite(c["rho"]):
        return f"- ({c['n']})"
    return f"{c['rho']:+.2f} ({c['n']}; p {c['p']:.2g})"


def markdown(rep: dict[str, Any]) -> str:
    st, pv = rep["settings"], rep["provenance"]
    tasks = st["tasks"]
    m = pv.get("machine") or {}
    machine = f"{m.get('cpus', '?')} CPUs, {m.get('system', '?')}, Python {m.get('python', '?')}, torch {m.get('torch', '?')}"
    L = ["# Multi-fidelity search (hyperband, bohb) against full-fidelity search at equal CPU-seconds", "",
         f"> Provenance: `{pv['command']}`, {pv['date']}; races ran {pv['races_ran'] or '?'} on {machine} "
         f"(host {pv['host']}); code: {pv['src']} at commit {pv['commit']}; databases under {pv['from']}.",
         "",
         f"Space rnn-macro, --max-epochs {st['max_epochs']} --patience {st['patience']}, {st['seeds']} seeds; "
         f"{st['cpu_seconds']:g} CPU-seconds per run (hyperband also at {st['cpu_seconds_third']:g}, one third); rungs "
         f"{', '.join(map(str, st['rung_epochs']))} epochs (eta 3); each run's selection (highest rung first) retrained: top 3 "
         f"candidates x {st['final_repeats']} fresh seeds, outside the budget. Lower MSE is better. Tests: one-sided Wilcoxon "
         "signed-rank on paired log MSE (seeds paired; both directions), Holm-corrected per family and direction "
         f"(statsmodels), claims at Holm p < {st['alpha']}.", ""]
    L += ["## Targets", ""]
    for c in rep["target_a"]:
        if c["scope"] == "pooled":
            continue
        if c["met"] is None:
            L.append(f"- [ ] A, {c['scope']}: no data to decide ({c['n_a']} hyperband @1/3 runs, {c['n_b']} random runs)")
            continue
        missed = "" if c["met"] else f", missed by {c['ratio'] - 1:+.1%}"
        L.append(f"- [{'x' if c['met'] else ' '}] A, {c['scope']}: hyperband at {st['cpu_seconds_third']:g} CPU-s reaches random "
                 f"search's median retrained test MSE at {st['cpu_seconds']:g}: {f4(c['median_a'])} vs {f4(c['median_b'])} "
                 f"(ratio of medians {c['ratio']:.3f}{missed}; "
                 f"{c['pairs']} pairs; hyperband worse: Holm p = {fp(c['p_worse_holm'])}, better: Holm p = {fp(c['p_better_holm'])})")
    for c in rep["target_b"]:
        if c["met"] is None:
            L.append(f"- [ ] B, {c['scope']}: bohb against {c['opponent']}: no data to decide ({c['pairs']} pairs)")
            continue
        L.append(f"- [{'x' if c['met'] else ' '}] B, {c['scope']}: bohb at least as good as {c['opponent']} at "
                 f"{st['cpu_seconds']:g} CPU-s: {'median paired ratio' if c['scope'] == 'pooled' else 'ratio of medians'} "
                 f"{c['ratio']:.3f}; {c['verdict']} (bohb worse: Holm p = {fp(c['p_worse_holm'])}, better: Holm p = "
                 f"{fp(c['p_better_holm'])}; {c['pairs']} pairs)")
    L += ["", "Target B counts as met where bohb's median is no higher than the opponent's and the test finds no evidence "
          "(Holm p < 0.05) that bohb is worse; that is not evidence of equivalence.", ""]

    for task in tasks:
        per = rep["results"].get(task, {})
        if not per:
            L += [f"## {task}: what each search delivers", "", "No race of this task could be read (see the notes).", ""]
            continue
        L += [f"## {task}: what each search delivers", "",
              "| search | seeds | retrained test MSE (mean ± std) | median | retrained val MSE (mean ± std) | search CPU-s "
              "| retraining CPU-s | trials | architectures started | trained to 30 epochs | epochs trained | CPU-s per epoch |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for name, v in per.items():
            s = v["summary"]
            L.append(f"| {name} | {s['scored']}/{s['runs']} | {ms(s['retrained_test'])} | {f4(s['retrained_test']['median'])} | "
                     f"{ms(s['retrained_val'])} | {ms(s['cpu_seconds'], 1)} | {ms(s['retrain_cpu_seconds'], 1)} | "
                     f"{ms(s['trials'], 1)} | {ms(s['archs'], 1)} | {ms(s['full'], 1)} | {ms(s['epochs_trained'], 0)} | "
                     f"{ms(s['cpu_per_epoch'], 3)} |")
        for b in rep["baselines"].get(task, []):
            trainings = f"{b['trainings']} trainings" if b["trainings"] else "-"
            L.append(f"| {b['name']} | {b['test']['n']} | {ms(b['test'])} | {f4(b['test']['median'])} | {ms(b['val'])} | - | - "
                     f"| {trainings} | - | - | - | - |")
        L += ["", "Mean ± std over the seeds with a finished run. Search CPU-s: evaluation plus the strategy's own time (what "
              "the budget counts). Epochs trained: in the search, a continued rung counting only its new epochs; CPU-s per "
              "epoch: evaluation CPU-s / epochs trained (it depends on which architectures get the epochs, so it does not "
              "isolate a per-trial overhead). Baselines: the default LSTM is trained with each seed's retraining seeds; "
              "persistence and ridge are deterministic.", ""]
        mf = [(n, v) for n, v in per.items() if "runs_without_top_rung" in v["summary"]]
        if mf:
            L += ["| multi-fidelity search | runs | trials per rung 1/3/10/30 epochs (median over seeds) | brackets started "
                  "| CPU share per rung 1/3/10/30 | runs that never reached 30 epochs | selections below 30 epochs |",
                  "|---|---|---|---|---|---|---|"]
            for n, v in mf:
                done = [r for r in v["runs"] if r["done"]]
                med = [float(np.median([r["per_rung"].get(str(k), 0) for r in done])) if done else math.nan for k in range(4)]
                br = float(np.median([r["brackets"] for r in done])) if done else math.nan
                share = rep["why"][task]["cpu_share_per_rung"].get(n, {})
                sh = " / ".join(f"{share.get(str(k), math.nan):.0%}" for k in range(4)) if share else "-"
                L.append(f"| {n} | {len(done)} | {' / '.join(f'{x:g}' for x in med)} | {br:g} | {sh} | "
                         f"{v['summary']['runs_without_top_rung']} | {v['summary']['selections_below_top_rung']} |")
            L.append("")

    L += ["## Target A: hyperband at one third of the CPU-seconds against random search at all of them", "",
          "| scope | hyperband @1/3 median | random @50 median | ratio | median per-seed ratio | CPU-s ratio of medians "
          "| pairs (ties) | same selection | p hyperband worse | Holm | p hyperband better | Holm |",
          "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for c in rep["target_a"]:
        L.append(f"| {c['scope']} | {f4(c['median_a']) if c['scope'] != 'pooled' else '-'} | "
                 f"{f4(c['median_b']) if c['scope'] != 'pooled' else '-'} | {f4(c['ratio_of_medians']) if c['scope'] != 'pooled' else '-'} | "
                 f"{f4(c['median_paired_ratio'])} | {f4(c.get('cpu_ratio_of_medians'))} | {c['pairs']} ({c['ties']}) | "
                 f"{c.get('same_selection', '-')} | {fp(c['p_worse'])} | {fp(c['p_worse_holm'])} | {fp(c['p_better'])} | "
                 f"{fp(c['p_better_holm'])} |")
    L += ["", f"Holm over the {len(rep['target_a'])} rows, per direction. Same selection: seeds where both runs "
          "selected the same architecture (hyperband's random proposals with seed k are random search's with seed k, and "
          "the retraining seeds are shared, so such a pair is an exact tie).", ""]

    L += ["## Target B: bohb against hyperband and full-fidelity bayesian search, 50 CPU-seconds", "",
          "| scope | opponent | bohb median | opponent median | ratio of medians | median per-seed ratio | pairs (ties) "
          "| same selection | p bohb worse | Holm | p bohb better | Holm | verdict |",
          "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for c in rep["target_b"]:
        pooled = c["scope"] == "pooled"
        L.append(f"| {c['scope']} | {c['opponent']} | {'-' if pooled else f4(c['median_a'])} | {'-' if pooled else f4(c['median_b'])} "
                 f"| {'-' if pooled else f4(c['ratio_of_medians'])} | {f4(c['median_paired_ratio'])} | {c['pairs']} ({c['ties']}) | "
                 f"{c.get('same_selection', '-')} | {fp(c['p_worse'])} | {fp(c['p_worse_holm'])} | {fp(c['p_better'])} | "
                 f"{fp(c['p_better_holm'])} | {c['verdict']} |")
    n_family = len(rep["target_b"])
    L += ["", f"Holm over the {n_family} rows, per direction. With 5 pairs the smallest one-sided p is "
          f"{smallest_p(5):.3f}, so a per-task row cannot reach Holm p < {ALPHA} in a family of {n_family} (that needs "
          f"{seeds_for_claim(n_family)} pairs); the pooled rows have 10.", ""]

    L += ["## Context: every search against random search at 50 CPU-seconds", ""]
    for task in tasks:
        vr = rep["versus_random"][task]
        head = f"**{task}**: "
        if "friedman_p" in vr:
            ranks = ", ".join(f"{s} {r:.1f}" for s, r in vr["mean_ranks"].items())
            head += (f"Friedman over 4 searches and {vr['blocks']} seeds: chi2 = {vr['friedman_chi2']:.2f}, "
                     f"p = {vr['friedman_p']:.2g}; mean ranks {ranks}.")
        else:
            head += "too few complete seeds for a Friedman test."
        L += [head, "", "| search | pairs | median per-seed ratio to random | p better | Holm | p worse | Holm |",
              "|---|---|---|---|---|---|---|"]
        for s, c in vr["comparisons"].items():
            L.append(f"| {s} | {c['pairs']} | {f4(c['median_paired_ratio'])} | {fp(c['p_better'])} | {fp(c['p_better_holm'])} | "
                     f"{fp(c['p_worse'])} | {fp(c['p_worse_holm'])} |")
        L.append("")

    L += ["## Why: how well a low rung ranks architectures", "",
          "Spearman's rho between an architecture's validation MSE at two rungs (rung 0-3 = 1, 3, 10, 30 epochs), pooled over "
          "seeds; (n; p). Promotions: the pairs the multi-fidelity studies produced (an architecture promoted from rung k to "
          "k+1; 0-3: promoted all the way up in a bracket starting at 1 epoch), so only the top third of each rung is in "
          "them, which by itself lowers rho. Learning curves: every architecture random (bayesian) search trained, its value "
          "at e epochs being min(curve[:e]); not selected.", "",
          "| task | pairs from | runs | 1 -> 3 epochs | 3 -> 10 | 10 -> 30 | 1 -> 30 |", "|---|---|---|---|---|---|---|"]
    for task in tasks:
        rc = rep["rank_correlation"].get(task, {})
        for name, c in rc.get("promotions", {}).items():
            L.append(f"| {task} | promotions: {name} | {c['runs']} | " + " | ".join(_rho(c[f"{k}-{j}"]) for k, j in RUNG_PAIRS) + " |")
        for name, c in rc.get("curves", {}).items():
            L.append(f"| {task} | learning curves: {name} | {c['runs']} | " + " | ".join(_rho(c[f"{k}-{j}"]) for k, j in RUNG_PAIRS) + " |")
    L.append("")
    L += ["| task | random: median epochs of a full training (of 30) | stopped early | architectures started (median per run) "
          "| trained to 30 epochs (median per run) |", "|---|---|---|---|---|"]
    for task, w in rep["why"].items():
        archs = ", ".join(f"{s} {v:g}" for s, v in w["archs"].items() if math.isfinite(v))
        full = ", ".join(f"{s} {v:g}" for s, v in w["full"].items() if math.isfinite(v))
        L.append(f"| {task} | {'-' if w['random_median_epochs'] is None else format(w['random_median_epochs'], 'g')} "
                 f"| {w['random_stopped_early']}/{w['random_trainings']} | {archs} | {full} |")
    L += ["", "## What this says", ""] + [f"- {s}" for s in findings(rep)]
    if rep["notes"]:
        L += ["", "## Notes", ""] + [f"- {n}" for n in rep["notes"]]
    return "\n".join(L) + "\n"


def findings(rep: dict[str, Any]) -> list[str]:
    """Sentences computed from the figures: each states a number with its spread or corrected p-value."""
    out = []
    st = rep["settings"]
    tests = [(f"A {c['scope']}", c) for c in rep["target_a"]] + [(f"B {c['scope']} vs {c['opponent']}", c) for c in rep["target_b"]]
    tests += [(f"{t}: {s} vs random", c) for t, vr in rep["versus_random"].items() for s, c in vr["comparisons"].items()]
    sig = [name for name, c in tests for k in ("p_better_holm", "p_worse_holm")
           if c.get(k) is not None and math.isfinite(c[k]) and c[k] < ALPHA]
    smallest = min((c[k] for _, c in tests for k in ("p_better_holm", "p_worse_holm")
                    if c.get(k) is not None and math.isfinite(c[k])), default=math.nan)
    out.append(f"{len(sig)} of the {len(tests)} paired comparisons in this report reach Holm p < {ALPHA} in either direction"
               + (f" ({', '.join(sig)})" if sig else f" (smallest Holm p {fp(smallest)})")
               + "; the differences in medians below are point estimates over 5 seeds per task.")
    for c in rep["target_a"]:
        if c["scope"] == "pooled" or not c["pairs"]:
            continue
        per = rep["results"][c["scope"]]
        a, b = per[THIRD]["summary"]["retrained_test"], per["random"]["summary"]["retrained_test"]
        verdict = ("met" if c["met"] else f"missed by {c['ratio'] - 1:.1%} (ratio of medians {c['ratio']:.3f})")
        sig = ("hyperband is worse" if c["p_worse_holm"] < ALPHA else "hyperband is better" if c["p_better_holm"] < ALPHA
               else "the paired test cannot tell them apart")
        out.append(f"Target A on {c['scope']} is {verdict}: hyperband at {st['cpu_seconds_third']:g} CPU-s "
                   f"{ms(a)} (median {f4(a['median'])}) against random search at {st['cpu_seconds']:g} {ms(b)} (median "
                   f"{f4(b['median'])}); {sig} (Holm p {fp(c['p_worse_holm'])} worse / {fp(c['p_better_holm'])} better, "
                   f"{c['pairs']} pairs, {c['same_selection']} with the same selected architecture).")
    for task, per in rep["results"].items():
        third, full = _arch_of(per.get(THIRD, {}).get("runs", [])), _arch_of(per.get("hyperband", {}).get("runs", []))
        common = set(third) & set(full)
        if common:
            same = sum(third[k] == full[k] for k in common)
            pre = rep.get("hyperband_prefix", {}).get(task, {})
            out.append(f"{task}: hyperband at one third selected the same architecture as hyperband at {st['cpu_seconds']:g} "
                       f"CPU-s in {same} of {len(common)} seeds; in {pre.get('prefix', 0)} of {pre.get('seeds', 0)} seeds the "
                       "shorter run's trials are exactly the first trials of the longer one (architectures, rungs and values).")
    pooled = [c for c in rep["target_a"] if c["scope"] == "pooled" and c["pairs"]]
    if pooled:
        c = pooled[0]
        out.append(f"Pooled over both tasks ({c['pairs']} pairs), hyperband at one third has a median per-seed ratio of "
                   f"{c['median_paired_ratio']:.3f} to random at full budget (Holm p {fp(c['p_worse_holm'])} worse / "
                   f"{fp(c['p_better_holm'])} better).")
    for c in rep["target_b"]:
        if not c["pairs"]:
            continue
        what = "median per-seed ratio" if c["scope"] == "pooled" else "ratio of medians"
        out.append(f"Target B against {c['opponent']} on {c['scope']}: {what} {c['ratio']:.3f} "
                   f"({'met' if c['met'] else 'missed'}); {c['verdict']} (Holm p {fp(c['p_worse_holm'])} worse / "
                   f"{fp(c['p_better_holm'])} better, {c['pairs']} pairs).")
    for task, vr in rep["versus_random"].items():
        if "friedman_p" in vr:
            cmp = "; ".join(f"{s} {c['median_paired_ratio']:.3f} (Holm p {fp(c['p_better_holm'])} better / "
                            f"{fp(c['p_worse_holm'])} worse)" for s, c in vr["comparisons"].items())
            out.append(f"{task} at {st['cpu_seconds']:g} CPU-s: Friedman p = {vr['friedman_p']:.2g} over {vr['blocks']} seeds; "
                       f"median per-seed ratio to random search: {cmp}.")
    for task, rc in rep["rank_correlation"].items():
        pr = rc["promotions"].get("all multi-fidelity", {})
        cu = rc["curves"].get("random", {})
        if pr and cu and (pr["0-1"]["n"] or cu["0-1"]["n"]):
            out.append(f"{task}: rank correlation of 1 vs 30 epochs is {_rho(cu['0-3'])} over random search's learning curves, "
                       f"{_rho(pr['0-3'])} over the promoted architectures; 1 vs 3 epochs {_rho(cu['0-1'])} "
                       f"(curves), 10 vs 30 {_rho(cu['2-3'])} (curves).")
    for task, w in rep["why"].items():
        if w["random_median_epochs"] is not None:
            out.append(f"{task}: with --patience {st['patience']}, random search's full trainings stopped after a median of "
                       f"{w['random_median_epochs']:g} of the 30 epochs allowed ({w['random_stopped_early']}/{w['random_trainings']} stopped "
                       f"early); multi-fidelity runs started a median of "
                       f"{', '.join(f'{s} {v:g}' for s, v in w['archs'].items() if s in MULTI + (THIRD,) and math.isfinite(v))} "
                       f"architectures and trained "
                       f"{', '.join(f'{s} {v:g}' for s, v in w['full'].items() if s in MULTI + (THIRD,) and math.isfinite(v))} "
                       f"to 30 epochs, against random search's {w['full'].get('random', math.nan):g}.")
    for task, per in rep["results"].items():
        ep = {n: v["summary"]["epochs_trained"] for n, v in per.items() if v["summary"]["epochs_trained"]["n"]}
        if "random" in ep and any(n in ep for n in MULTI):
            out.append(f"{task}: in the same {st['cpu_seconds']:g} CPU-s the searches trained "
                       + ", ".join(f"{n} {ms(e, 0)}" for n, e in ep.items() if n != THIRD)
                       + " epochs in all (mean ± std over seeds).")
        base = [b for b in rep["baselines"].get(task, []) if b["test"]["n"]]
        scored = {n: v["summary"]["retrained_test"] for n, v in per.items() if v["summary"]["retrained_test"]["n"]}
        if base and scored:
            best = min(base, key=lambda b: b["test"]["median"])
            above = [n for n, t in scored.items() if t["median"] > best["test"]["median"]]
            vals = {n: v["summary"]["retrained_val"] for n, v in per.items() if v["summary"]["retrained_val"]["n"]}
            txt = (f"{task}: the best baseline by test MSE is {best['name']} ({f4(best['test']['median'])}); "
                   f"{len(above)} of {len(scored)} searches have a higher median retrained test MSE"
                   + (f" ({', '.join(above)})" if above else ""))
            cv = [t["std"] / t["mean"] for t in scored.values() if t["mean"] > 0 and t["n"] > 1]
            if cv:
                txt += f"; the searches' retrained test MSE varies over seeds with a coefficient of variation of " \
                       f"{min(cv):.0%} to {max(cv):.0%}"
            if vals:
                txt += ("; retrained validation MSE, for comparison: "
                        + ", ".join(f"{n} {ms(v)}" for n, v in vals.items()))
            out.append(txt + ".")
        for name, v in per.items():
            s = v["summary"]
            if s.get("runs_without_top_rung") or s.get("selections_below_top_rung"):
                full = s["full"]
                head = (f"every {name} run trained at least one architecture to 30 epochs" if not s["runs_without_top_rung"]
                        else f"{s['runs_without_top_rung']} of {s['done']} {name} runs never trained an architecture to 30 epochs")
                out.append(f"{task}: {head} (per run {ms(full, 1)} did); {s['selections_below_top_rung']} of the {s['scored']} selections are "
                           "architectures last trained at a lower rung (the retraining picks the best of the top 3 candidates "
                           "by retrained validation MSE, and with fewer than 3 at the top rung the others come from below).")
    return out


def _clean(x: Any) -> Any:
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    if isinstance(x, np.generic):
        return _clean(x.item())
    return x


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--run", metavar="OUTDIR", help="run the races into OUTDIR/<task>-50 and OUTDIR/<task>-17, then analyse them")
    g.add_argument("--from", dest="from_dir", metavar="DIR", default=DEFAULT_FROM,
                   help=f"analyse the races stored as DIR/<task>-50/race.db and DIR/<task>-17/race.db (default {DEFAULT_FROM})")
    ap.add_argument("--tasks", default=",".join(TASKS))
    ap.add_argument("--src", help="the code the races ran (for the commit in the provenance line; default DIR/src if it "
                                  "exists, else this checkout)")
    ap.add_argument("--out", default=str(RESULTS / "multifidelity"), help="output stem (.md and .json)")
    args = ap.parse_args(argv)
    tasks = [t for t in args.tasks.split(",") if t]
    directory = Path(args.run or args.from_dir).resolve()
    if args.run:
        run_races(directory, tasks)
    src = Path(args.src) if args.src else (directory / "src" if (directory / "src").is_dir() and not args.run else ROOT)
    command = " ".join([".venv/bin/python bench/multifidelity.py", *(argv if argv is not None else sys.argv[1:])])
    report = analyse(directory, tasks, src, command)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(_clean(report), indent=1))
    out.with_suffix(".md").write_text(markdown(report))
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
