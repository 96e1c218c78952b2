"""Noise of the search objective: which cheaper-than-retraining objective selects architectures best.

One pool of distinct rnn-macro architectures on sunspots, race training (30 epochs, patience 5).
Every candidate is trained:

- with selection seeds 0, 1, 2 on the standard split (val MSE: ``single`` = seed 0, ``mean2`` =
  seeds 0-1, ``mean3`` = seeds 0-2; ``intensify-m`` = seed 0 for all, then the top m by it get
  seeds 1 and 2 and the pick is the best mean of the three);
- on two earlier chronological folds of the train+validation windows (``rolling``: train on all
  windows before the fold, validate on the fold; the third fold is the standard validation split,
  i.e. the seed-0 training; score = mean val MSE of the three folds). Folds are as long as the
  standard validation split, ``horizon - 1`` windows are dropped between train and validation as
  ``make_windows`` does, and the scaling stays the standard one (fitted on the training rows);
- with held-out truth seeds 1000, 1001, 1002 on the standard split: ground truth = mean TEST MSE.

Selection regret of a method on a pool = truth(pick) - min truth over the pool (and the ratio
truth(pick) / min). Pools: ``--boots`` random subsets of ``--pool`` candidates, and the full set.
Cost = measured CPU-seconds of the trainings a method needs, per candidate. An equal-budget table
gives each method as many candidates (of a random order) as the CPU-seconds ``single`` spends on
``3/4`` of the candidates allow, and measures regret against the best of all candidates.

Raw trainings go to the JSON as they finish (a re-run with the same settings resumes from it);
``--render`` rewrites the Markdown from the JSON only.

    .venv/bin/python bench/noise.py [--candidates 64] [--pool 30] [--boots 500] [--workers 2]
    .venv/bin/python bench/noise.py --render
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import replace
from datetime import UTC, datetime
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Callable

import numpy as np
from scipy.stats import spearmanr

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from seqnas.evaluation import TaskEvaluator, TrainBudget, trial_seed  # noqa: E402
from seqnas.evaluation.training import Diverged, seed_everything, train  # noqa: E402
from seqnas.models import build, learning_rate  # noqa: E402
from seqnas.space import Arch, get_space  # noqa: E402
from seqnas.tasks import TaskData, TaskSpec, load_task  # noqa: E402

TASK, SPACE = "sunspots", "rnn-macro"
BUDGET = TrainBudget(max_epochs=30, patience=5)
SELECT_SEEDS = (0, 1, 2)
TRUTH_SEEDS = (1000, 1001, 1002)
EXTRA_FOLDS = (1, 2)  # folds back from the standard validation split
INTENSIFY = (3, 5)
BOOT_SEED = 20240601
EQUAL_BUDGET_SHARE = 0.75
FAILED = float("inf")
DEFAULT_OUT = ROOT / "bench" / "results" / "noise.json"


# -- trainings (run in worker processes) ------------------------------------------------------------
def _init_worker() -> None:
    os.environ["OMP_NUM_THREADS"] = "1"
    import torch

    from seqnas.evaluation.training import warm_up_torch

    torch.set_num_threads(1)
    warm_up_torch()


def fold_data(data: TaskData, back: int) -> TaskData:
    """The fold ``back`` validation blocks before the standard one: its validation windows are
    the ``n_val`` windows ending ``back - 1`` blocks (of ``n_val + gap`` windows) before the end of
    the standard training windows; training is every window up to ``gap`` before them."""
    n_val, gap = len(data.X_val), int(data.info["gap"])
    val_end = len(data.X_train) - (back - 1) * (n_val + gap)
    val_start = val_end - n_val
    train_end = val_start - gap
    if train_end < n_val:
        raise ValueError(f"fold {back} leaves {train_end} training windows")
    return replace(data, X_train=data.X_train[:train_end], y_train=data.y_train[:train_end],
                   X_val=data.X_train[val_start:val_end], y_val=data.y_train[val_start:val_end],
                   info={**data.info, "fold": back, "train": train_end, "val": n_val})


def run_job(job: dict[str, Any]) -> dict[str, Any]:
    """One training: ``fold`` 0 is the standard split (through TaskEvaluator), else an earlier fold."""
    arch = Arch(job["arch"])
    out = {k: job[k] for k in ("key", "seed", "fold")}
    spec = TaskSpec(TASK)
    if job["fold"] == 0:
        r = TaskEvaluator(spec, SPACE, BUDGET)(arch, job["seed"])
        m = r.metrics
        out.update(ok=r.state.name == "COMPLETE", error=r.error, val_mse=m.get("val_mse"), test_mse=m.get("test_mse"),
                   cpu_seconds=m.get("cpu_seconds"), epochs=m.get("epochs"), params=m.get("params"))
        return out
    data = fold_data(load_task(spec), job["fold"])
    c0 = time.process_time()
    try:
        gen = seed_everything(trial_seed(job["seed"], arch))
        model = build(arch, SPACE, data.n_features, data.horizon)
        m = train(model, data, learning_rate(arch, SPACE), BUDGET, gen)
    except Diverged as e:
        out.update(ok=False, error=f"diverged: {e}", val_mse=None, cpu_seconds=time.process_time() - c0)
        return out
    # The fold model's test MSE is not recorded: nothing but the truth seeds looks at the test split.
    out.update(ok=True, error=None, val_mse=m["val_mse"], cpu_seconds=time.process_time() - c0, epochs=m["epochs"])
    return out


# -- running and resuming ------------------------------------------------------------------------------
def sample_candidates(n: int, seed: int) -> list[dict[str, Any]]:
    space, rng = get_space(SPACE), np.random.default_rng(seed)
    seen: dict[str, dict[str, Any]] = {}
    while len(seen) < n:
        a = space.sample(rng)
        seen.setdefault(a.key, a.to_dict())
    return [{"key": k, "arch": v} for k, v in seen.items()]


def job_list(cands: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Seed-0 trainings first (the cost estimate comes early), then truth, then the rest."""
    order = [(SELECT_SEEDS[0], 0), *((s, 0) for s in TRUTH_SEEDS), *((s, 0) for s in SELECT_SEEDS[1:]),
             *((SELECT_SEEDS[0], f) for f in EXTRA_FOLDS)]
    return [{"key": c["key"], "arch": c["arch"], "seed": s, "fold": f} for s, f in order for c in cands]


def run_id(r: dict[str, Any]) -> str:
    return f"{r['key']}:{r['seed']}:{r['fold']}"


def settings(args: argparse.Namespace) -> dict[str, Any]:
    return {"task": TASK, "space": SPACE, "budget": BUDGET.to_json(), "select_seeds": list(SELECT_SEEDS),
            "truth_seeds": list(TRUTH_SEEDS), "extra_folds": list(EXTRA_FOLDS), "sample_seed": args.seed}


def save(path: Path, doc: dict[str, Any]) -> None:
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(doc, indent=1))
    tmp.replace(path)


def machine() -> dict[str, Any]:
    import scipy
    import torch

    return {"nproc": os.cpu_count(), "python": platform.python_version(), "torch": torch.__version__,
            "numpy": np.__version__, "scipy": scipy.__version__, "platform": platform.platform(),
            "cpu": _cpu_model()}


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"


def run(args: argparse.Namespace, path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    if path.exists():
        doc = json.loads(path.read_text())
        if doc.get("settings") != settings(args):
            sys.exit(f"{path} holds a run with other settings {doc.get('settings')}; use another --out or delete it")
    cands = sample_candidates(args.candidates, args.seed)
    runs: dict[str, dict[str, Any]] = {run_id(r): r for r in doc.get("runs", [])}
    todo = [j for j in job_list(cands) if run_id(j) not in runs]
    wall_before = float(doc.get("wall_seconds", 0.0))
    doc.update(settings=settings(args), candidates=cands, runs=list(runs.values()),
               command=" ".join([".venv/bin/python", "bench/noise.py", *sys.argv[1:]]),
               commit=git_commit(), date=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), machine=machine(),
               workers=args.workers, pool=args.pool, boots=args.boots)
    print(f"{len(cands)} candidates, {len(runs)} trainings on file, {len(todo)} to run on {args.workers} workers", flush=True)
    t0 = time.perf_counter()
    done = 0
    if todo:
        with ProcessPoolExecutor(args.workers, mp_context=get_context("spawn"), initializer=_init_worker) as ex:
            pending = {ex.submit(run_job, j) for j in todo}
            last = t0
            while pending:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for f in finished:
                    r = f.result()
                    runs[run_id(r)] = r
                    done += 1
                doc["runs"] = list(runs.values())
                doc["wall_seconds"] = wall_before + time.perf_counter() - t0
                save(path, doc)
                if time.perf_counter() - last > 30 or not pending:
                    last = time.perf_counter()
                    cpu = [r["cpu_seconds"] for r in runs.values() if r.get("cpu_seconds") is not None]
                    el = time.perf_counter() - t0
                    print(f"  {done}/{len(todo)} in {el:.0f} s wall (eta {el / done * (len(todo) - done):.0f} s), "
                          f"median training {np.median(cpu):.2f} CPU-s", flush=True)
    doc["wall_seconds"] = wall_before + time.perf_counter() - t0
    save(path, doc)
    return doc


# -- analysis ------------------------------------------------------------------------------------------
class Table:
    """Per-candidate arrays from the raw runs (candidates without a finished truth training dropped)."""

    def __init__(self, doc: dict[str, Any]) -> None:
        runs = {run_id(r): r for r in doc["runs"]}
        keys = [c["key"] for c in doc["candidates"]]

        def get(field: str, seed: int, fold: int = 0) -> np.ndarray:
            vals = []
            for k in keys:
                r = runs.get(f"{k}:{seed}:{fold}")
                v = None if r is None else r.get(field)
                if r is None:
                    vals.append(np.nan)  # not run yet
                elif field == "cpu_seconds":
                    vals.append(float(v or 0.0))  # a failed training still cost what it ran
                else:
                    vals.append(float(v) if r["ok"] and v is not None else FAILED)
            return np.array(vals)

        self.val = np.stack([get("val_mse", s) for s in SELECT_SEEDS])  # (seeds, n)
        self.cpu_sel = np.stack([get("cpu_seconds", s) for s in SELECT_SEEDS])
        self.fold_val = np.stack([get("val_mse", SELECT_SEEDS[0], f) for f in EXTRA_FOLDS])
        self.cpu_fold = np.stack([get("cpu_seconds", SELECT_SEEDS[0], f) for f in EXTRA_FOLDS])
        test = np.stack([get("test_mse", s) for s in TRUTH_SEEDS])
        self.cpu_truth = np.stack([get("cpu_seconds", s) for s in TRUTH_SEEDS])
        self.truth_runs = np.where(np.isfinite(test), test, np.nan)
        with np.errstate(all="ignore"):
            truth = np.nanmean(self.truth_runs, axis=0)
        complete = (~np.isnan(self.val).any(0) & ~np.isnan(self.fold_val).any(0) & ~np.isnan(test).any(0)
                    & np.isfinite(truth))
        self.dropped = int((~complete).sum())
        self.failures = int(sum(1 for r in doc["runs"] if not r["ok"]))
        sel = np.flatnonzero(complete)
        self.keys = [keys[i] for i in sel]
        self.archs = [doc["candidates"][i]["arch"] for i in sel]
        self.truth = truth[sel]
        self.val, self.cpu_sel = self.val[:, sel], self.cpu_sel[:, sel]
        self.fold_val, self.cpu_fold = self.fold_val[:, sel], self.cpu_fold[:, sel]
        self.truth_runs, self.cpu_truth = self.truth_runs[:, sel], self.cpu_truth[:, sel]
        self.n = len(sel)


Method = Callable[[Table, np.ndarray], tuple[int, np.ndarray, float]]  # pool -> (pick index, scores, CPU-s)


def _mean_of(t: Table, idx: np.ndarray, k: int) -> np.ndarray:
    return t.val[:k, idx].mean(axis=0)  # a failed training (inf) makes the mean inf: never picked


def m_mean(k: int) -> Method:
    def f(t: Table, idx: np.ndarray) -> tuple[int, np.ndarray, float]:
        s = _mean_of(t, idx, k)
        return int(idx[np.argmin(s)]), s, float(t.cpu_sel[:k, idx].sum())
    return f


def m_rolling(t: Table, idx: np.ndarray) -> tuple[int, np.ndarray, float]:
    s = (t.val[0, idx] + t.fold_val[:, idx].sum(axis=0)) / (1 + len(EXTRA_FOLDS))
    return int(idx[np.argmin(s)]), s, float(t.cpu_sel[0, idx].sum() + t.cpu_fold[:, idx].sum())


def m_intensify(m: int) -> Method:
    def f(t: Table, idx: np.ndarray) -> tuple[int, np.ndarray, float]:
        s = t.val[0, idx].copy()
        top = np.argsort(s, kind="stable")[:m]
        s[top] = _mean_of(t, idx[top], len(SELECT_SEEDS))
        cost = t.cpu_sel[0, idx].sum() + t.cpu_sel[1:, idx[top]].sum()
        best = top[np.argmin(s[top])]
        return int(idx[best]), s, float(cost)
    return f


def m_fresh(m: int) -> Method:
    """seqnas's retraining: the top m by the search's training, picked by fresh seeds alone (the training they
    were selected on is optimistic: the winner's curse)."""
    def f(t: Table, idx: np.ndarray) -> tuple[int, np.ndarray, float]:
        s = t.val[0, idx].copy()
        top = np.argsort(s, kind="stable")[:m]
        s[top] = t.val[1:len(SELECT_SEEDS), idx[top]].mean(axis=0)
        cost = t.cpu_sel[0, idx].sum() + t.cpu_sel[1:, idx[top]].sum()
        best = top[np.argmin(s[top])]
        return int(idx[best]), s, float(cost)
    return f


METHODS: dict[str, Method] = {"single": m_mean(1), "mean2": m_mean(2), "mean3": m_mean(3), "rolling": m_rolling,
                              **{f"intensify-{m}": m_intensify(m) for m in INTENSIFY},
                              **{f"fresh-{m}": m_fresh(m) for m in INTENSIFY}}
DESCRIPTIONS = {
    "single": "1 training, val MSE (today's search)",
    "mean2": "mean val MSE of 2 seeds",
    "mean3": "mean val MSE of 3 seeds",
    "rolling": "mean val MSE of 3 rolling-origin folds",
    **{f"intensify-{m}": f"1 training each; top {m} get 2 more seeds, best mean of 3" for m in INTENSIFY},
    **{f"fresh-{m}": f"1 training each; top {m} get 2 more seeds, best mean of the 2 fresh ones (what seqnas does "
       "after a search, there with 3 fresh seeds)" for m in INTENSIFY},
}


def _rho(score: np.ndarray, truth: np.ndarray) -> float:
    finite = np.where(np.isfinite(score), score, np.finfo(float).max)
    return float(spearmanr(finite, truth).statistic)


def evaluate_pool(t: Table, idx: np.ndarray) -> dict[str, dict[str, float]]:
    best = float(t.truth[idx].min())
    out = {}
    for name, f in METHODS.items():
        pick, score, cost = f(t, idx)
        out[name] = {"regret": float(t.truth[pick]) - best, "ratio": float(t.truth[pick]) / best,
                     "rho": _rho(score, t.truth[idx]), "cpu": cost / len(idx), "pick": pick}
    return out


def equal_budget(t: Table, rng: np.random.Generator, boots: int) -> dict[str, dict[str, float]]:
    """Each method gets the CPU-seconds single spends on the first share of a random order."""
    k_single = max(2, int(round(EQUAL_BUDGET_SHARE * t.n)))
    global_best = float(t.truth.min())
    per: dict[str, list[tuple[float, int]]] = {name: [] for name in METHODS}
    for _ in range(boots):
        order = rng.permutation(t.n)
        budget = float(t.cpu_sel[0, order[:k_single]].sum())
        for name, f in METHODS.items():
            n = k_single
            if name != "single":  # the most candidates whose cost fits the budget (cost grows with n)
                lo, hi = 2, t.n
                while lo < hi:
                    mid = (lo + hi + 1) // 2
                    if f(t, order[:mid])[2] <= budget:
                        lo = mid
                    else:
                        hi = mid - 1
                n = lo
            pick = f(t, order[:n])[0]
            per[name].append((float(t.truth[pick]) - global_best, n))
    return {name: {"regret": float(np.mean([r for r, _ in v])), "sd": float(np.std([r for r, _ in v])),
                   "zero": float(np.mean([r == 0 for r, _ in v])), "n": float(np.mean([n for _, n in v])),
                   "k_single": k_single} for name, v in per.items()}


def analyse(doc: dict[str, Any]) -> dict[str, Any]:
    t = Table(doc)
    rng = np.random.default_rng(BOOT_SEED)
    pool = min(int(doc["pool"]), t.n)
    boots = [evaluate_pool(t, np.sort(rng.choice(t.n, pool, replace=False))) for _ in range(int(doc["boots"]))]
    full = evaluate_pool(t, np.arange(t.n))
    summary: dict[str, Any] = {"n": t.n, "pool": pool, "boots": len(boots), "dropped": t.dropped, "failures": t.failures,
                               "methods": {}, "full": full}
    single = np.array([b["single"]["regret"] for b in boots])
    for name in METHODS:
        reg = np.array([b[name]["regret"] for b in boots])
        summary["methods"][name] = {
            "cpu": float(np.mean([b[name]["cpu"] for b in boots])),
            "regret": float(reg.mean()), "sd": float(reg.std()),
            "ratio": float(np.mean([b[name]["ratio"] for b in boots])),
            "zero": float(np.mean(reg == 0)),
            "rho": float(np.mean([b[name]["rho"] for b in boots])),
            "better": float(np.mean(reg < single)), "worse": float(np.mean(reg > single)),
        }
    names = list(METHODS)
    summary["same_pick"] = {f"{a}|{b}": float(np.mean([x[a]["pick"] == x[b]["pick"] for x in boots]))
                            for i, a in enumerate(names) for b in names[i + 1:]}
    summary["equal_budget"] = equal_budget(t, rng, int(doc["boots"]))
    # Noise figures: how much two trainings of one candidate disagree, and how well one truth seed
    # agrees with another (the ceiling a selection objective can reach).
    v = t.val[:, np.isfinite(t.val).all(0)]
    tr = t.truth_runs[:, ~np.isnan(t.truth_runs).any(0)]
    summary["noise"] = {
        "val_seed_rho": float(np.mean([spearmanr(v[i], v[j]).statistic for i in range(3) for j in range(i + 1, 3)])),
        "test_seed_rho": float(np.mean([spearmanr(tr[i], tr[j]).statistic for i in range(3) for j in range(i + 1, 3)])),
        "val_cv": float(np.median(v.std(0, ddof=1) / v.mean(0))),
        "test_cv": float(np.median(tr.std(0, ddof=1) / tr.mean(0))),
        "truth_spread": float(t.truth.max() / t.truth.min()),
        "truth_top_gap": float(np.sort(t.truth)[1] / t.truth.min()),
        "fold_val_median": [float(np.median(t.fold_val[i])) for i in range(len(EXTRA_FOLDS))][::-1] + [float(np.median(t.val[0]))],
        "fold_rho": float(spearmanr(t.fold_val.mean(0), t.truth).statistic),
    }
    all_cpu = np.concatenate([t.cpu_sel.ravel(), t.cpu_truth.ravel()])
    picks = sorted({full[name]["pick"] for name in METHODS} | {int(np.argmin(t.truth))})
    summary["cpu"] = {
        "median_training": float(np.median(all_cpu)),
        "median_fold_training": float(np.median(t.cpu_fold)),
        "median_picked_training": float(np.median(np.concatenate([t.cpu_sel[:, picks].ravel(), t.cpu_truth[:, picks].ravel()]))),
        "total": float(all_cpu.sum() + t.cpu_fold.sum()),
    }
    summary["picks"] = [{"key": t.keys[i], "arch": t.archs[i], "truth": float(t.truth[i]),
                         "val": [float(x) for x in t.val[:, i]], "rolling": float(m_rolling(t, np.array([i]))[1][0]),
                         "cpu_median": float(np.median(t.cpu_sel[:, i])),
                         "by": [n for n in METHODS if full[n]["pick"] == i] + (["truth"] if i == int(np.argmin(t.truth)) else [])}
                        for i in picks]
    return summary


# -- report --------------------------------------------------------------------------------------------
def _arch(a: dict[str, Any]) -> str:
    layers = " / ".join(f"{a[f'cell{i}']}-{a[f'hidden{i}']}" for i in range(1, int(a["depth"]) + 1))
    extra = [f"dropout {a['dropout']}", f"lr {a['lr']}"] + (["residual"] if a.get("residual") else [])
    return f"{layers} ({', '.join(extra)})"


def winners(s: dict[str, Any]) -> tuple[str, str, dict[str, float]]:
    ms = s["methods"]
    overall = min(ms, key=lambda n: (ms[n]["regret"], ms[n]["cpu"]))
    base = ms["single"]
    # Regret removed per extra CPU-second per candidate, relative to single.
    eff = {n: (base["regret"] - m["regret"]) / (m["cpu"] - base["cpu"]) for n, m in ms.items() if n != "single"}
    per_cpu = max(eff, key=lambda n: eff[n])
    return overall, per_cpu, eff


def render(doc: dict[str, Any], s: dict[str, Any]) -> str:
    ms, full, eb, nz, cpu = s["methods"], s["full"], s["equal_budget"], s["noise"], s["cpu"]
    m = doc["machine"]
    overall, per_cpu, eff = winners(s)
    eb_best = min(eb, key=lambda n: eb[n]["regret"])
    lines = [
        "# Noise of the search objective: selecting architectures with cheaper-than-retraining objectives",
        "",
        f"- Command: `{doc['command']}`",
        f"- Commit: `{doc['commit']}`; date: {doc['date']}; wall time {doc.get('wall_seconds', 0) / 60:.1f} min "
        f"on {doc['workers']} worker processes (one torch thread each)",
        f"- Machine: {m['nproc']} CPUs ({m['cpu']}), Python {m['python']}, torch {m['torch']}, numpy {m['numpy']}, "
        f"scipy {m['scipy']}, {m['platform']}",
        f"- Task `{TASK}`, space `{SPACE}`, race training {BUDGET.max_epochs} epochs / patience {BUDGET.patience}; "
        f"{s['n']} distinct random architectures (sample seed {doc['settings']['sample_seed']})"
        + (f", {s['dropped']} dropped (unfinished truth)" if s["dropped"] else "")
        + f"; {s['failures']} of {len(doc['runs'])} trainings failed (diverged: scored +inf, never picked).",
        f"- Selection seeds {list(SELECT_SEEDS)} (standard split); rolling-origin folds use seed {SELECT_SEEDS[0]}; "
        f"ground truth = mean TEST MSE of held-out seeds {list(TRUTH_SEEDS)} on the standard split "
        "(no method sees them).",
        f"- Pools: {s['boots']} random subsets of {s['pool']} candidates (without replacement), and the full "
        f"{s['n']}. Regret = truth(pick) - min truth of the pool (scaled MSE); ratio = truth(pick) / min.",
        "",
        "Methods: " + "; ".join(f"`{n}` = {d}" for n, d in DESCRIPTIONS.items()) + ".",
        "",
        f"## Pools of {s['pool']} ({s['boots']} draws)",
        "",
        "| method | CPU-s / candidate | regret (mean ± sd) | regret ratio | P(regret = 0) | Spearman vs truth "
        "| P(better than single) | P(worse) | regret removed per extra CPU-s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for n, r in ms.items():
        vs = ("", "", "") if n == "single" else (f"{r['better']:.2f}", f"{r['worse']:.2f}", f"{eff[n]:.5f}")
        lines.append(f"| `{n}` | {r['cpu']:.2f} | {r['regret']:.4f} ± {r['sd']:.4f} | {r['ratio']:.3f} | {r['zero']:.2f} "
                     f"| {r['rho']:.3f} | {' | '.join(vs)} |")
    lines += [
        "",
        f"## Full pool of {s['n']}",
        "",
        "| method | CPU-s / candidate | regret | regret ratio | Spearman vs truth | pick |",
        "|---|---:|---:|---:|---:|---|",
    ]
    order = sorted(s["picks"], key=lambda p: p["truth"])
    for n, r in full.items():
        p = next(p for p in s["picks"] if n in p["by"])
        lines.append(f"| `{n}` | {r['cpu']:.2f} | {r['regret']:.4f} | {r['ratio']:.3f} | {r['rho']:.3f} "
                     f"| {_arch(p['arch'])}, truth {p['truth']:.4f} |")
    lines += [
        "",
        f"## Equal CPU budget ({eb['single']['k_single']} single trainings' CPU-seconds, {s['boots']} random orders)",
        "",
        f"Each method takes candidates in a random order until its measured CPU-seconds would exceed what `single` spends "
        f"on {eb['single']['k_single']} candidates; regret is against the best of all {s['n']} candidates.",
        "",
        "| method | candidates afforded (mean) | regret vs best of all (mean ± sd) | P(regret = 0) |",
        "|---|---:|---:|---:|",
    ]
    for n, r in eb.items():
        lines.append(f"| `{n}` | {r['n']:.1f} | {r['regret']:.4f} ± {r['sd']:.4f} | {r['zero']:.2f} |")
    lines += [
        "",
        "## Noise",
        "",
        f"- Spearman between two trainings' val MSE (selection seeds, mean of pairs): {nz['val_seed_rho']:.3f}; "
        f"between two truth seeds' test MSE: {nz['test_seed_rho']:.3f}.",
        f"- Median coefficient of variation over seeds of one candidate: val MSE {nz['val_cv']:.3f}, test MSE {nz['test_cv']:.3f}.",
        f"- Truth spread over the pool: worst / best = {nz['truth_spread']:.2f}; second best / best = {nz['truth_top_gap']:.3f}.",
        "- Rolling-origin folds, oldest first (the last is the standard validation split): median val MSE "
        + " / ".join(f"{v:.3f}" for v in nz["fold_val_median"])
        + f"; Spearman of the two earlier folds' mean val MSE with the truth: {nz['fold_rho']:.3f}.",
        f"- CPU-seconds: median race training {cpu['median_training']:.2f} (standard split, all seeds), median "
        f"rolling-fold training {cpu['median_fold_training']:.2f}, median training of the picked / best architectures "
        f"{cpu['median_picked_training']:.2f}; {cpu['total'] / 60:.1f} CPU-minutes in all.",
        "",
        "Picked architectures on the full pool (and the truth's best):",
        "",
        "| architecture | truth test MSE | val MSE seeds 0/1/2 | rolling score | median CPU-s | picked by |",
        "|---|---:|---|---:|---:|---|",
    ]
    for p in order:
        lines.append(f"| {_arch(p['arch'])} | {p['truth']:.4f} | {' / '.join(f'{v:.4f}' for v in p['val'])} "
                     f"| {p['rolling']:.4f} | {p['cpu_median']:.2f} | {', '.join(p['by'])} |")
    o, c, b = ms[overall], ms[per_cpu], ms["single"]
    ties = [n for n in ms if n != overall and ms[n]["regret"] == o["regret"]]
    same = s["same_pick"]

    def shared(a: str, b: str) -> float:
        return same.get(f"{a}|{b}", same.get(f"{b}|{a}", 0.0))

    tie = "".join(f"; `{n}` ties it (regret {ms[n]['regret']:.4f}, the same pick in {shared(n, overall):.0%} of pools) "
                  f"at {ms[n]['cpu']:.2f} CPU-s" for n in ties)
    lines += [
        "",
        "## Conclusion",
        "",
        f"On pools of {s['pool']}, today's `single` objective has mean regret {b['regret']:.4f} "
        f"(ratio {b['ratio']:.3f}, P(regret = 0) {b['zero']:.2f}, Spearman {b['rho']:.3f}) at {b['cpu']:.2f} CPU-s per "
        f"candidate. Lowest regret overall: `{overall}`, {o['regret']:.4f} ± {o['sd']:.4f} (ratio {o['ratio']:.3f}, "
        f"P(regret = 0) {o['zero']:.2f}, better than single in {o['better']:.0%} of pools, worse in {o['worse']:.0%}) "
        f"at {o['cpu']:.2f} CPU-s per candidate ({o['cpu'] / b['cpu']:.2f}x single{tie}). Most regret removed per extra "
        f"CPU-second: `{per_cpu}`, {c['regret']:.4f} at {c['cpu']:.2f} CPU-s per candidate "
        f"({c['cpu'] / b['cpu']:.2f}x single; {eff[per_cpu]:.5f} regret per extra CPU-s per candidate"
        + (", i.e. it does not beat single" if eff[per_cpu] <= 0 else "")
        + f"). At an equal CPU budget (what single spends on {eb['single']['k_single']} candidates), the lowest regret "
        f"against the best of all {s['n']} is `{eb_best}` ({eb[eb_best]['regret']:.4f} with {eb[eb_best]['n']:.1f} "
        f"candidates; single {eb['single']['regret']:.4f}). Pools overlap (subsets of one set of {s['n']} candidates) "
        f"and the truth is itself a mean of {len(TRUTH_SEEDS)} noisy trainings (two truth seeds agree with Spearman "
        f"{nz['test_seed_rho']:.3f}), so differences smaller than the between-pool sd are not established.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--candidates", type=int, default=64, help="distinct random architectures (default 64)")
    ap.add_argument("--pool", type=int, help="candidates per bootstrap pool (default 30; with --render, the run's)")
    ap.add_argument("--boots", type=int, help="bootstrap pools (default 500; with --render, the run's)")
    ap.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the candidate sample (default 0)")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="raw results JSON; the .md is written next to it")
    ap.add_argument("--render", action="store_true", help="only rewrite the .md from the .json")
    args = ap.parse_args(argv)
    path: Path = args.out
    path.parent.mkdir(parents=True, exist_ok=True)
    if args.render:
        doc = json.loads(path.read_text())
        doc.update({k: v for k, v in (("pool", args.pool), ("boots", args.boots)) if v is not None})
        summary = analyse(doc)
    else:
        args.pool, args.boots = args.pool or 30, args.boots or 500
        doc = run(args, path)
        doc["summary"] = summary = analyse(doc)
        save(path, doc)
    path.with_suffix(".md").write_text(render(doc, summary))
    print(f"wrote {path.with_suffix('.md')}")


if __name__ == "__main__":
    main()
