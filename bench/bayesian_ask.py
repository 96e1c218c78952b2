"""The bayesian strategy's own CPU per ask, with Optuna's GP and TPE samplers, at 100 trials.

The strategy alone is driven through its ask/tell (one trial in flight, the order a sequential
run uses) on bench/efficiency.py's ``stacked`` landscape (a conditional rnn-macro-like space of
101,040 architectures), with planted failures: an architecture fails when a hash of it falls
below ``--fail`` (15% by default), the way ``--max-params`` fails a model without training it.
Each ask and each tell is timed with ``time.thread_time`` (the strategy CPU the runner charges
to a study's budget) and ``time.process_time`` (all threads); the CPU of an ask is its ``ask``
plus the ``tell`` of its result. Torch and BLAS get one thread (see below) unless the
environment says otherwise.

Figures are labelled (``--label``) so that one file keeps both sides of a change: ``--code``
imports seqnas from a copy of the tree as it was before the change, so that both sides can be
run in turns, seed by seed, under the same load. Runs of a label add up over calls.
Results: bench/results/bayesian_ask.{json,md}.

    .venv/bin/python bench/bayesian_ask.py --label after [--seeds 0,1,2] [--trials 100] [--samplers gp,tpe]
    .venv/bin/python bench/bayesian_ask.py --label before --code /tmp/before-tree --seeds 0
"""

from __future__ import annotations

import os

# One thread for torch and BLAS unless told otherwise (before they are imported): with a pool of
# threads, the asking thread spin-waits for the others and its CPU time grows with the machine's
# load (the same run measured 0.8 and 1.7 s per GP ask on a busy 2-core machine); one thread
# measures the work itself. GPSampler's documentation recommends the same.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
LANDSCAPE = "stacked"
LATE = 10  # "at 100 trials": the mean of the last LATE asks of a run, besides the mean over the run


def load(code: Path) -> None:
    """Import seqnas (and bench/efficiency.py) from ``code``: this tree, or a copy of it as it was
    before a change, so that both sides can be measured in turns under the same load."""
    sys.path.insert(0, str(code))
    global _landscape, make_strategy, TrialRecord, TrialState
    from bench.efficiency import _landscape
    from seqnas.strategies import make_strategy
    from seqnas.trial import TrialRecord, TrialState

    assert Path(sys.modules["seqnas"].__file__).resolve().parents[1] == code.resolve(), "seqnas imported from elsewhere"


def planted_failure(arch: Any, rate: float) -> bool:
    u = int(hashlib.sha256(f"fail:{arch.key}".encode()).hexdigest()[:12], 16) / 16**12
    return u < rate


def run(sampler: str, seed: int, trials: int, fail: float) -> dict[str, Any]:
    """One run: per-ask CPU (thread and process time) and the search's outcome."""
    land = _landscape(LANDSCAPE)
    strat = make_strategy("bayesian", land.space, seed=seed, objectives=("value",), options={"sampler": sampler})
    thread, process, keys, best, failed = [], [], [], np.inf, 0
    fits: list[float] = []  # the thread CPU of each GP kernel fit (a part of its ask)
    import optuna._gp.gp as gp

    fit = gp.fit_kernel_params

    def timed_fit(*args: Any, **kwargs: Any) -> Any:
        c = time.thread_time()
        try:
            return fit(*args, **kwargs)
        finally:
            fits.append(time.thread_time() - c)

    gp.fit_kernel_params = timed_fit
    for number in range(trials):
        t0, p0 = time.thread_time(), time.process_time()
        proposal = strat.ask()
        t1, p1 = time.thread_time(), time.process_time()
        if proposal is None:
            break
        arch = proposal.arch
        keys.append(arch.key)
        if planted_failure(arch, fail):
            failed += 1
            record = TrialRecord(number, TrialState.FAILED, arch, error="constraint: planted failure",
                                 told_before=number, tell_seq=number + 1)
        else:
            v = land.score(arch)
            best = min(best, v)
            record = TrialRecord(number, TrialState.COMPLETE, arch, values={"value": v}, told_before=number,
                                 tell_seq=number + 1)
        t2, p2 = time.thread_time(), time.process_time()
        strat.tell(record)
        t3, p3 = time.thread_time(), time.process_time()
        thread.append(round((t1 - t0) + (t3 - t2), 6))
        process.append(round((p1 - p0) + (p3 - p2), 6))
    gp.fit_kernel_params = fit
    # Optuna trials per seqnas trial: an ask that drew an architecture proposed before asks the sampler again.
    sampled = len(strat.study.get_trials(deepcopy=False))
    return {"sampler": sampler, "seed": seed, "thread": thread, "process": process, "failed": failed,
            "fits": len(fits), "fit_thread": float(np.sum(fits)), "sampler_asks": sampled,
            "regret": float(best - land.optimum), "trace": hashlib.sha256("\n".join(keys).encode()).hexdigest()[:16],
            "load": [round(x, 2) for x in os.getloadavg()], "when": time.strftime("%Y-%m-%d %H:%M"),
            "threads": os.environ.get("OMP_NUM_THREADS")}


def mean_std(xs: list[float]) -> tuple[float, float]:
    a = np.asarray(xs, dtype=float)
    return float(a.mean()), float(a.std(ddof=1)) if len(a) > 1 else 0.0


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per sampler: CPU per ask (mean over a run's asks, then mean ± std over seeds), of the last
    LATE asks, and the total of a run."""
    out: dict[str, Any] = {}
    for sampler in sorted({r["sampler"] for r in runs}):
        rs = sorted((r for r in runs if r["sampler"] == sampler), key=lambda r: r["seed"])
        s: dict[str, Any] = {"seeds": [r["seed"] for r in rs], "failed": [r["failed"] for r in rs], "load": [r["load"][0] for r in rs],
                             "regret": [r["regret"] for r in rs], "trace": [r["trace"] for r in rs]}
        s["sampler_asks"] = [r.get("sampler_asks") for r in rs]
        s["fit_share"] = [r["fit_thread"] / float(np.sum(r["thread"])) if "fit_thread" in r else None for r in rs]
        s["fit_per_fit"] = [r["fit_thread"] / r["fits"] if r.get("fits") else None for r in rs]
        for clock in ("thread", "process"):
            s[clock] = {
                "per_ask": mean_std([float(np.mean(r[clock])) for r in rs]),
                "per_ask_late": mean_std([float(np.mean(r[clock][-LATE:])) for r in rs]),
                "total": mean_std([float(np.sum(r[clock])) for r in rs]),
                "per_ask_by_trial": [round(float(np.mean([r[clock][i] for r in rs])), 6) for i in range(min(len(r[clock]) for r in rs))],
            }
        out[sampler] = s
    return out


def commit() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "seqnas/strategies/bayesian.py"], cwd=ROOT,
                               capture_output=True, text=True).stdout.strip()
        return head + (" + uncommitted seqnas/strategies/bayesian.py" if dirty else "")
    except OSError:
        return "unknown"


def _cell(xs: list[Any] | None, fmt: str) -> str:
    return "-" if not xs or any(x is None for x in xs) else ", ".join(format(x, fmt) for x in xs)


def markdown(report: dict[str, Any]) -> str:
    labels = list(report["labels"])
    lines = ["# The bayesian strategy's CPU per ask", "",
             f"Made with `bench/bayesian_ask.py`: the strategy alone driven through ask/tell on bench/efficiency.py's "
             f"`{LANDSCAPE}` landscape, one trial in flight, planted failures (an architecture fails when its hash falls below "
             "the failure rate, as a `--max-params` constraint failure does). CPU of an ask = its `ask` plus the `tell` of its "
             "result, `time.thread_time` (what the runner charges to a study) and `time.process_time` (all threads). "
             f"Per ask: the mean over a run's asks, then mean ± std over seeds; late: the mean of the last {LATE} asks. "
             "Total: one run's CPU. Sampler asks per trial: Optuna trials over seqnas trials (an architecture proposed "
             "before makes the strategy ask the sampler again). GP fit: the share of the asks' CPU spent fitting the GP's "
             "kernel, and the CPU of one fit. Per seed, in seed order.", ""]
    for label in labels:
        r = report["labels"][label]
        load = ", ".join(f"{x:.1f}" for s in r["samplers"].values() for x in s["load"]) if "runs" in r else \
            f"{r['load'][0][0]:.1f} at start, {r['load'][1][0]:.1f} at end"
        lines += [f"- **{label}**: {r['when']}, code: {r['commit']}{' (GP fits started cold: ablation)' if r.get('cold_gp') else ''}; "
                  f"torch/BLAS threads: {r.get('threads', 'default')}; {r['trials']} trials x seeds {r['seeds']}, failure rate "
                  f"{r['fail']:.0%}; 1-minute load average after each run: {load}; {r['wall_seconds']:.0f} s."]
    lines += ["", "| sampler | label | thread s / ask | late thread s / ask | thread s total | process s / ask | "
              "sampler asks / trial | GP fit share | s / GP fit | failed | regret | proposals (trace) |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    samplers = sorted({s for r in report["labels"].values() for s in r["samplers"]})
    for sampler in samplers:
        for label in labels:
            s = report["labels"][label]["samplers"].get(sampler)
            if s is None:
                continue
            t, p = s["thread"], s["process"]
            trials = report["labels"][label]["trials"]
            asks = [a / trials for a in s["sampler_asks"]] if s.get("sampler_asks") and None not in s["sampler_asks"] else None
            fit = s.get("fit_share") if sampler == "gp" else None
            lines.append(f"| {sampler} | {label} | {t['per_ask'][0]:.4f} ± {t['per_ask'][1]:.4f} | "
                         f"{t['per_ask_late'][0]:.4f} ± {t['per_ask_late'][1]:.4f} | {t['total'][0]:.2f} ± {t['total'][1]:.2f} | "
                         f"{p['per_ask'][0]:.4f} ± {p['per_ask'][1]:.4f} | {_cell(asks, '.2f')} | {_cell(fit, '.0%')} | "
                         f"{_cell(s.get('fit_per_fit') if sampler == 'gp' else None, '.4f')} | {_cell(s['failed'], 'd')} | "
                         f"{_cell(s['regret'], '.3f')} | {', '.join(s['trace'])} |")
    if "before" in labels:
        lines += ["", "Thread CPU per ask against **before** (mean over seeds; whole run, and late):", ""]
        for label in labels:
            if label == "before":
                continue
            for sampler in samplers:
                sa, sb = report["labels"]["before"]["samplers"].get(sampler), report["labels"][label]["samplers"].get(sampler)
                if sa and sb and report["labels"][label].get("threads") == report["labels"]["before"].get("threads"):
                    x, y = sa["thread"]["per_ask"][0], sb["thread"]["per_ask"][0]
                    xl, yl = sa["thread"]["per_ask_late"][0], sb["thread"]["per_ask_late"][0]
                    lines.append(f"- {label}, {sampler}: {x:.4f} s -> {y:.4f} s ({(y - x) / x:+.0%}); late {xl:.4f} s -> {yl:.4f} s "
                                 f"({(yl - xl) / xl:+.0%})")
    notes = report.get("notes")
    if notes:
        lines += ["", *notes]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--label", help="which side of a change this run measures (e.g. before, after)")
    ap.add_argument("--seeds", default="0,1,2", help="comma-separated seeds; runs of a label add up over calls")
    ap.add_argument("--trials", type=int, default=100)
    ap.add_argument("--samplers", default="gp,tpe")
    ap.add_argument("--fail", type=float, default=0.15, help="share of architectures that fail")
    ap.add_argument("--code", default=str(ROOT), help="the tree to import seqnas from (a copy of this one before a change)")
    ap.add_argument("--cold-gp", action="store_true",
                    help="ablation: every GP kernel fit starts from Optuna's default, none from the last ask's kernel")
    ap.add_argument("--note", action="append", default=[], help="a line for the report (repeatable)")
    ap.add_argument("--out", default=str(RESULTS / "bayesian_ask"))
    ap.add_argument("--replot", action="store_true", help="only rewrite the table from the stored JSON (and --note)")
    args = ap.parse_args(argv)
    out = Path(args.out)
    if args.replot:
        report = json.loads(out.with_suffix(".json").read_text())
        report["notes"] = list(dict.fromkeys(report.get("notes", []) + args.note))
        out.with_suffix(".json").write_text(json.dumps(report, indent=1))
        out.with_suffix(".md").write_text(markdown(report))
        return 0
    if not args.label:
        ap.error("--label is required (unless --replot)")
    code = Path(args.code)
    load(code)
    if args.cold_gp:
        bayesian = sys.modules["seqnas.strategies.bayesian"]
        if not hasattr(bayesian, "kernel_to_json"):
            ap.error("--cold-gp: this code keeps no kernel")
        bayesian.kernel_to_json = lambda gprs: None  # nothing kept: each ask's GP starts cold
    report = json.loads(out.with_suffix(".json").read_text()) if out.with_suffix(".json").exists() else {"labels": {}}
    made_at = commit() if code.resolve() == ROOT else f"a copy in {code}"  # before the runs: the code imported now
    _landscape(LANDSCAPE)  # built once, outside the timed runs
    t0 = time.perf_counter()
    entry = report["labels"].setdefault(args.label, {"runs": []})
    for sampler in [s for s in args.samplers.split(",") if s]:
        for seed in [int(x) for x in args.seeds.split(",") if x]:
            r = run(sampler, seed, args.trials, args.fail)
            entry["runs"] = [x for x in entry["runs"] if (x["sampler"], x["seed"]) != (sampler, seed)] + [r]
            print(f"{args.label} {sampler} seed {seed}: {np.mean(r['thread']):.4f} s/ask thread, "
                  f"{np.mean(r['process']):.4f} s/ask process, regret {r['regret']:.3f}, {r['failed']} failed, "
                  f"load {r['load'][0]}", flush=True)
    trials = {len(r["thread"]) for r in entry["runs"]}
    entry.update({"when": time.strftime("%Y-%m-%d %H:%M"), "commit": made_at, "trials": max(trials),
                  "threads": ", ".join(f"{v}={os.environ[v]}" for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
                                       if v in os.environ) or "default",
                  "seeds": sorted({r["seed"] for r in entry["runs"]}), "fail": args.fail, "cold_gp": args.cold_gp,
                  "wall_seconds": entry.get("wall_seconds", 0.0) + time.perf_counter() - t0,
                  "python": platform.python_version(), "samplers": summarize(entry["runs"])})
    report["notes"] = list(dict.fromkeys(report.get("notes", []) + args.note))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(report, indent=1))
    out.with_suffix(".md").write_text(markdown(report))
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
