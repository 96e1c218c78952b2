"""Throughput benchmark: trials per minute of inline, a 2-worker pool and 2-worker Ray, and Ray's per-trial overhead.

Part 1, throughput on the default task: random search of the rnn-macro space on sunspots with the
default training (``TrainBudget()``), the same seed for every executor, so each executor trains
the same architectures. Each executor is started and warmed up first (worker processes up, torch
imported), then timed on the search: trials per minute = trials / wall seconds of the search
(storage, strategy and runner included). Start-up time is reported apart. The pool and Ray
results are checked to be identical to inline's (non-timing metrics).

Part 2, per-trial overhead: a near-zero-cost objective (returns a constant), many trials on the
pool and on Ray, first through the executor alone (submit, collect: the round trip to a worker),
then through a whole search (adds the runner, strategy and in-memory storage, the same for
both). The difference of the executor figures is Ray's per-trial overhead over the pool.

Results: bench/results/throughput.{json,md}. The load average is recorded at start and end: on a
busy machine the figures are disturbed.

    .venv/bin/python bench/throughput.py [--trials 24] [--overhead-trials 300] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import seqnas  # noqa: E402
from seqnas.evaluation import TrainBudget  # noqa: E402
from seqnas.evaluation.evaluator import ObjectiveEvaluator  # noqa: E402
from seqnas.execution import Executor, InlineExecutor, PoolExecutor, RayExecutor  # noqa: E402
from seqnas.space import Arch  # noqa: E402
from seqnas.trial import Proposal  # noqa: E402

RESULTS = ROOT / "bench" / "results"
TIMING = {"train_seconds", "latency_ms", "cpu_seconds"}


def zero(arch: Any) -> float:
    """The near-zero-cost objective of part 2."""
    return 0.0


def _warm_up(ex: Executor) -> float:
    """Start the executor's workers (and their torch import); returns the seconds it took."""
    t0 = time.perf_counter()
    for i in range(ex.workers):
        ex.submit(-1 - i, ObjectiveEvaluator(zero), Proposal(arch=Arch({"warm": i})), 0)
    while ex.pending():
        ex.wait(timeout=5)
    return time.perf_counter() - t0


def _make(kind: str, workers: int, temp: str) -> tuple[Executor, float]:
    t0 = time.perf_counter()
    if kind == "inline":
        ex: Executor = InlineExecutor()
    elif kind == "pool":
        ex = PoolExecutor(workers=workers)
    else:
        ex = RayExecutor(workers=workers, temp_dir=temp)
    started = time.perf_counter() - t0
    return ex, started + (_warm_up(ex) if kind != "inline" else 0.0)


def _comparable(result: Any) -> list[Any]:
    return [(r.number, r.arch.key, r.state.value, r.values, {k: v for k, v in r.metrics.items() if k not in TIMING})
            for r in result.records]


def throughput(kinds: list[str], trials: int, workers: int, seed: int, temp: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    reference = None
    for kind in kinds:
        ex, startup = _make(kind, workers, temp)
        try:
            t0 = time.perf_counter()
            r = seqnas.search("rnn-macro", task="sunspots", strategy="random", trials=trials, seed=seed,
                              train=TrainBudget(), executor=ex, progress=False)
            wall = time.perf_counter() - t0
        finally:
            ex.shutdown()
        same = _comparable(r)
        reference = reference or same
        cpu = sum(float(t.metrics.get("cpu_seconds", 0.0) or 0.0) for t in r.records)
        out[kind] = {
            "workers": ex.workers, "trials": len(r.records), "failed": sum(t.state.value == "FAILED" for t in r.records),
            "startup_seconds": round(startup, 2), "wall_seconds": round(wall, 2),
            "trials_per_minute": round(60 * len(r.records) / wall, 3), "mean_trial_seconds": round(
                sum(t.duration for t in r.records) / max(1, len(r.records)), 3),
            "trial_cpu_seconds": round(cpu, 2), "identical_to_first": same == reference,
        }
        print(f"{kind:>6}: {out[kind]['trials_per_minute']:.2f} trials/min ({len(r.records)} trials in {wall:.1f} s; "
              f"start-up {startup:.1f} s)", flush=True)
    if "inline" in out:
        for kind in out:
            out[kind]["speedup_vs_inline"] = round(out[kind]["trials_per_minute"] / out["inline"]["trials_per_minute"], 3)
    return out


def _round_trips(ex: Executor, trials: int) -> float:
    """Seconds for ``trials`` near-zero trials through the executor alone, ``ex.workers`` in flight."""
    evaluator = ObjectiveEvaluator(zero)
    t0 = time.perf_counter()
    done = submitted = 0
    while done < trials:
        while submitted < trials and submitted - done < ex.workers:
            ex.submit(submitted, evaluator, Proposal(arch=Arch({"i": submitted})), 0)
            submitted += 1
        done += len(ex.wait(timeout=5))
    return time.perf_counter() - t0


def overhead(trials: int, workers: int, temp: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kind in ("pool", "ray"):
        ex, _ = _make(kind, workers, temp)
        try:
            raw = _round_trips(ex, trials)
            t0 = time.perf_counter()
            seqnas.search("rnn-macro", objective=zero, strategy="random", trials=trials, seed=0, executor=ex, progress=False)
            wall = time.perf_counter() - t0
        finally:
            ex.shutdown()
        out[kind] = {"trials": trials, "executor_ms_per_trial": round(1000 * raw / trials, 3),
                     "search_ms_per_trial": round(1000 * wall / trials, 3)}
        print(f"{kind:>6}: {out[kind]['executor_ms_per_trial']:.2f} ms per near-zero trial through the executor, "
              f"{out[kind]['search_ms_per_trial']:.2f} ms through a search", flush=True)
    out["ray_minus_pool_ms_per_trial"] = round(out["ray"]["executor_ms_per_trial"] - out["pool"]["executor_ms_per_trial"], 3)
    return out


def _markdown(res: dict[str, Any]) -> str:
    m = res["machine"]
    lines = [
        "# Throughput: inline vs process pool vs Ray", "",
        f"Machine: {m['cores']} cores ({m['processor'] or m['machine']}), Python {m['python']}, torch {m['torch']}, "
        f"ray {m['ray']}. Load average {m['load_start']} at start, {m['load_end']} at end.", "",
    ]
    if max(m["load_start"][0], m["load_end"][0]) > 0.5 * m["cores"]:
        lines += ["**Caveat: the machine was busy with other work while this ran (load average above half the cores), "
                  "so these figures are disturbed; rerun on a quiet machine.**", ""]
    t = res["throughput"]
    s = res["settings"]
    lines += [
        f"## Default task ({s['trials']} trials of random search, rnn-macro on sunspots, default training, seed {s['seed']})",
        "", "| executor | workers | trials/min | speedup vs inline | wall s | start-up s | mean trial s | identical to inline |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for kind, r in t.items():
        lines.append(f"| {kind} | {r['workers']} | {r['trials_per_minute']:.2f} | {r.get('speedup_vs_inline', float('nan')):.2f}x | "
                     f"{r['wall_seconds']:.1f} | {r['startup_seconds']:.1f} | {r['mean_trial_seconds']:.2f} | "
                     f"{'yes' if r['identical_to_first'] else 'NO'} |")
    pool = t.get("pool", {}).get("speedup_vs_inline")
    if pool is not None:
        lines += ["", f"Target: the {s['workers']}-worker pool at least 1.6x inline: "
                      f"{'met' if pool >= 1.6 else 'NOT met'} ({pool:.2f}x)."]
    o = res.get("overhead")
    if o:
        lines += [
            "", f"## Per-trial overhead ({o['pool']['trials']} trials of a near-zero-cost objective)", "",
            f"{s['workers']} trials in flight. *Executor*: submit and collect through the executor alone (the "
            "round trip to a worker and back). *Search*: a whole `seqnas.search` with an in-memory database (adds the "
            "runner, strategy and storage, the same for both).", "",
            "| executor | ms per trial, executor | ms per trial, search |", "|---|---|---|",
            *(f"| {k} | {o[k]['executor_ms_per_trial']:.2f} | {o[k]['search_ms_per_trial']:.2f} |" for k in ("pool", "ray")),
            "", f"Ray's per-trial overhead over the pool: {o['ray_minus_pool_ms_per_trial']:.2f} ms.",
        ]
    lines += ["", f"Produced by `{res['command']}` in {res['seconds']:.0f} s."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--trials", type=int, default=24, help="trials per executor on the default task")
    p.add_argument("--overhead-trials", type=int, default=300, help="near-zero trials per executor (0: skip part 2)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--executors", default="inline,pool,ray")
    p.add_argument("--out", default=str(RESULTS))
    args = p.parse_args(argv)
    import ray
    import torch

    t0 = time.perf_counter()
    res: dict[str, Any] = {
        "command": "python bench/throughput.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "settings": {"trials": args.trials, "workers": args.workers, "seed": args.seed, "task": "sunspots",
                     "space": "rnn-macro", "strategy": "random", "train": TrainBudget().to_json()},
        "machine": {"cores": len(os.sched_getaffinity(0)), "machine": platform.machine(), "processor": platform.processor(),
                    "python": platform.python_version(), "torch": torch.__version__, "ray": ray.__version__,
                    "load_start": [round(x, 2) for x in os.getloadavg()]},
    }
    temp = tempfile.mkdtemp(prefix="sqb-", dir="/tmp")  # short: Ray's socket paths live under it
    try:
        res["throughput"] = throughput(args.executors.split(","), args.trials, args.workers, args.seed, temp)
        if args.overhead_trials > 0:
            res["overhead"] = overhead(args.overhead_trials, args.workers, temp)
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    res["machine"]["load_end"] = [round(x, 2) for x in os.getloadavg()]
    res["seconds"] = round(time.perf_counter() - t0, 1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "throughput.json").write_text(json.dumps(res, indent=2) + "\n")
    (out / "throughput.md").write_text(_markdown(res))
    print(f"wrote {out / 'throughput.json'} and {out / 'throughput.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
