"""Benchmark: one-shot search (darts) against evolution at equal CPU-seconds, with and without the remedy.

For each seed, on one task and space:

1. ``darts`` with its default anti-collapse remedy evaluates the top ``--trials`` derived
   architectures (standard evaluator, trained from scratch). Its CPU-seconds C (supernet
   search included) are the budget of the race.
2. ``darts`` with ``remedy=none`` (plain DARTS), same trials.
3. ``evolution`` with ``cpu_seconds=C`` and one worker: the same CPU-seconds.

Reported per seed: the derived architecture's validation MSE (top-1 and best of the top
``--trials``), the CPU-seconds of the search and of the whole run, the collapse diagnostics,
and evolution's best validation MSE at the CPU-seconds darts used for its top-1 and at C
(the first from the same evolution run: its trials up to that CPU total, which is exactly
what a smaller budget would have run).

One training run of an architecture is a noisy measurement (on sunspots the same cell scores
0.57 or 0.72 with two initialisations), and "the best of N trials" picks the luckiest draw. So
the architectures each arm *selected* (darts's top-1 and best of its top-k, the same for plain
DARTS, evolution's best) are also retrained from scratch with ``--repeats`` further seeds, outside every budget, and
their mean validation MSE is reported: that compares what the searches found rather than
how lucky their training runs were.

    .venv/bin/python bench/darts.py                   # sunspots, rnn-cell, 3 seeds, --trials 3
    .venv/bin/python bench/darts.py --seeds 5 --out bench/results

Writes ``darts.json`` and ``darts.md`` (``--name``) into ``--out`` (default bench/results).
``--task logistic-map`` runs the same race on a generated, strongly non-linear series.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import seqnas  # noqa: E402
from seqnas.evaluation import TaskEvaluator, TrainBudget  # noqa: E402
from seqnas.models.supernet import DERIVATIONS  # noqa: E402
from seqnas.report.stats import mean_std  # noqa: E402
from seqnas.result import SearchResult  # noqa: E402
from seqnas.space import get_space  # noqa: E402
from seqnas.strategies import STRATEGIES  # noqa: E402
from seqnas.strategies.darts import DEFAULT_REMEDY, DartsConfig  # noqa: E402
from seqnas.tasks import task_spec  # noqa: E402
from seqnas.trial import TrialState  # noqa: E402

TRAIN = TrainBudget(max_epochs=60, patience=8, batch_size=32)  # the study default


def _cumulative(result: SearchResult) -> list[tuple[float, float | None, str]]:
    """(cumulative CPU-seconds, val MSE of an arch trial or None, kind) in told order."""
    out, cpu = [], 0.0
    for r in sorted((r for r in result.records if r.state.finished), key=lambda r: (r.tell_seq is None, r.tell_seq, r.number)):
        cpu += float(r.metrics.get("cpu_seconds", 0.0) or 0.0)
        out.append((cpu, r.value if r.kind == "arch" and r.state is TrialState.COMPLETE else None, r.kind))
    return out


def best_within(result: SearchResult, cpu: float) -> float | None:
    vals = [v for c, v, _ in _cumulative(result) if v is not None and c <= cpu + 1e-9]
    return min(vals) if vals else None


def logistic_map_csv(path: Path, n: int = 400, r: float = 3.9) -> Path:
    """The chaotic logistic map x' = r x (1 - x): a task whose one-step map is strongly non-linear."""
    x = [0.3]
    for _ in range(n - 1):
        x.append(r * x[-1] * (1 - x[-1]))
    path.write_text("x\n" + "\n".join(f"{v:.8f}" for v in x) + "\n")
    return path


def task_args(task: str, tmp: str) -> dict[str, Any]:
    if task == "logistic-map":
        return {"csv": str(logistic_map_csv(Path(tmp) / "logistic.csv")), "target": "x", "window": 8, "horizon": 1}
    return {"task": task}


def _derive(options: dict[str, Any]) -> str:
    return str(options.get("derive", DartsConfig().derive))


def _other_derive(options: dict[str, Any]) -> str:
    return next(d for d in DERIVATIONS if d != _derive(options))


def darts_run(task: dict[str, Any], space: str, seed: int, trials: int, db: str, options: dict[str, Any]) -> dict[str, Any]:
    t0 = time.perf_counter()
    r = seqnas.search(space, **task, strategy="darts", strategy_options=options, trials=trials, seed=seed, train=TRAIN,
                      study=f"darts-{options.get('remedy', 'default')}-{_derive(options)}-{seed}", db=db, workers=1, executor="inline",
                      progress=False)
    sup = next(t for t in r.records if t.kind == "supernet")
    derived = [t for t in r.records if t.kind == "arch"]
    cum = _cumulative(r)
    first_arch_cpu = next((c for c, v, k in cum if k == "arch"), None)
    d = sup.metrics.get("darts", {})
    return {
        "remedy": d.get("remedy"), "mixing": d.get("mixing"), "supernet_state": sup.state.value, "supernet_error": sup.error,
        "search_cpu_seconds": float(sup.metrics.get("cpu_seconds", 0.0)), "search_epochs": sup.metrics.get("search_epochs"),
        "collapsed": d.get("collapsed"), "final_param_free_share": (d.get("param_free_share") or [None])[-1],
        "collapse_detected_epoch": d.get("collapse_detected_epoch"), "stop_reason": d.get("stop_reason"),
        "derivation_param_free_share": d.get("derivation_param_free_share"),
        "derived_param_free_share": d.get("derived_param_free_share"),
        "collapse_threshold": d.get("collapse_threshold"), "final_entropy": (d.get("entropy") or [None])[-1],
        "supernet_val_mse": sup.metrics.get("supernet_val_mse"),
        "top1_val_mse": derived[0].value if derived else None, "top1_cpu_seconds": first_arch_cpu,
        "best_val_mse": r.best_value, "total_cpu_seconds": cum[-1][0] if cum else 0.0,
        "derived_val_mse": [t.value for t in derived], "derived": [dict(t.arch) for t in derived if t.arch is not None],
        "wall_seconds": time.perf_counter() - t0,
    }


def retrained(task: dict[str, Any], space: str, arch: dict[str, Any] | None, repeats: int) -> tuple[list[float], list[float]]:
    """Validation and test MSE of ``arch`` trained from scratch with ``repeats`` fresh seeds (measurement only, no budget)."""
    if arch is None or repeats <= 0:
        return [], []
    sp = get_space(space)
    spec = task_spec(task.get("task"), **{k: v for k, v in task.items() if k != "task"})
    evaluator = TaskEvaluator(spec, sp.family, TRAIN)
    val, test = [], []
    for k in range(repeats):
        r = evaluator(sp.validate(arch), 10_000 + k)
        if r.values:
            val.append(float(r.values["val_mse"]))
            test.append(float(r.metrics["test_mse"]))
    return val, test


def _best_of(run: dict[str, Any]) -> tuple[dict[str, Any] | None, float | None]:
    """The derived architecture with the lowest validation MSE (the darts study's best) and that MSE."""
    scored = [(v, a) for v, a in zip(run["derived_val_mse"], run["derived"]) if v is not None]
    if not scored:
        return None, None
    v, a = min(scored, key=lambda t: t[0])
    return a, v


def add_retrained(row: dict[str, Any], task: dict[str, Any], space: str, repeats: int) -> None:
    """Retrain each arm's selected architectures with fresh seeds (keys ``<arm>_retrained``, ``<arm>_selected_mean``).

    Arms: darts's top-1 and best of its top-k (the study's best), the same for plain DARTS, and
    evolution's best. An architecture already retrained in this row is not trained again; keys
    already in the row (a stored result) are kept.
    """
    d, n = row["darts"], row["darts_none"]
    arms = [("darts", (d["derived"] or [None])[0], d["top1_val_mse"]), ("darts_best", *_best_of(d)),
            ("darts_none", (n["derived"] or [None])[0], n["top1_val_mse"]), ("darts_none_best", *_best_of(n)),
            ("evolution", row.get("evolution_best_arch"), row["evolution_best"])]
    if "darts_alt" in row:  # the other derivation of the same supernet search
        a = row["darts_alt"]
        arms += [("darts_alt", (a["derived"] or [None])[0], a["top1_val_mse"]), ("darts_alt_best", *_best_of(a))]
    done: dict[str, tuple[list[float], list[float]]] = {}
    for key, arch, first in arms:
        known = json.dumps(arch, sort_keys=True, default=str)
        if f"{key}_retrained" not in row:
            if known not in done:
                done[known] = retrained(task, space, arch, repeats)
            row[f"{key}_retrained"], row[f"{key}_retrained_test"] = done[known]
        else:
            done[known] = (row[f"{key}_retrained"], row.get(f"{key}_retrained_test", []))
        again = row[f"{key}_retrained"]
        row[f"{key}_selected_mean"] = _mean([first, *again]) if first is not None else _mean(again)
    row["ratio_selected_vs_evolution"] = _ratio(row["darts_best_selected_mean"], row["evolution_selected_mean"])
    row["ratio_top1_retrained_vs_evolution"] = _ratio(row["darts_selected_mean"], row["evolution_selected_mean"])
    row["ratio_none_selected"] = _ratio(row["darts_none_best_selected_mean"], row["darts_best_selected_mean"])
    row["ratio_none_top1_retrained"] = _ratio(row["darts_none_selected_mean"], row["darts_selected_mean"])


def evolution_run(task: dict[str, Any], space: str, seed: int, cpu_seconds: float, db: str) -> SearchResult:
    return seqnas.search(space, **task, strategy="evolution", cpu_seconds=cpu_seconds, seed=seed, train=TRAIN,
                         study=f"evolution-{seed}", db=db, workers=1, executor="inline", progress=False)


def _fmt(v: Any, digits: int = 4) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.{digits}g}"
    return str(v)


def _pf(d: dict[str, Any]) -> str:
    """Parameter-free share of the weights derived from / of the top-1 derived architecture."""
    return f"pf {_fmt(d['derivation_param_free_share'], 2)} / top-1 {_fmt(d['derived_param_free_share'], 2)}"


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def _top1_collapsed(d: dict[str, Any]) -> bool:
    share, threshold = d.get("derived_param_free_share"), d.get("collapse_threshold")
    return share is not None and threshold is not None and share >= threshold


def _mean(values: list[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return statistics.fmean(vals) if vals else None


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    def med(key: str) -> float | None:
        vals = [r[key] for r in rows if r.get(key) is not None]
        return statistics.median(vals) if vals else None

    return {
        "median_ratio_top1_vs_evolution_at_top1_cpu": med("ratio_top1"),
        "median_ratio_best_vs_evolution_at_equal_cpu": med("ratio_best"),
        "median_ratio_none_top1_vs_remedy_top1": med("ratio_none_top1"),
        "median_ratio_none_best_vs_remedy_best": med("ratio_none_best"),
        "seeds_within_1_25x_top1": sum(1 for r in rows if r.get("ratio_top1") is not None and r["ratio_top1"] <= 1.25),
        "seeds_within_1_25x_best": sum(1 for r in rows if r.get("ratio_best") is not None and r["ratio_best"] <= 1.25),
        "seeds": len(rows),
        "mean_derived_val_mse_with_remedy": _mean([v for r in rows for v in r["darts"]["derived_val_mse"]]),
        "mean_derived_val_mse_without_remedy": _mean([v for r in rows for v in r["darts_none"]["derived_val_mse"]]),
        "mean_evolution_trial_val_mse": _mean([v for r in rows for v in r["evolution_val_mse"]]),
        "collapsed_with_remedy": sum(1 for r in rows if r["darts"]["collapsed"]),
        "top1_beyond_threshold_with_remedy": sum(1 for r in rows if _top1_collapsed(r["darts"])),
        "top1_beyond_threshold_without_remedy": sum(1 for r in rows if _top1_collapsed(r["darts_none"])),
        "collapsed_without_remedy": sum(1 for r in rows if r["darts_none"]["collapsed"]),
        "median_ratio_selected_darts_vs_evolution": med("ratio_selected_vs_evolution"),
        "median_ratio_top1_retrained_vs_evolution": med("ratio_top1_retrained_vs_evolution"),
        "median_ratio_selected_none_vs_remedy": med("ratio_none_selected"),
        "median_ratio_top1_retrained_none_vs_remedy": med("ratio_none_top1_retrained"),
        "seeds_remedy_selected_better": sum(1 for r in rows if r.get("ratio_none_selected") is not None and r["ratio_none_selected"] > 1),
        "seeds_remedy_top1_retrained_better": sum(1 for r in rows if r.get("ratio_none_top1_retrained") is not None
                                                   and r["ratio_none_top1_retrained"] > 1),
        "mean_selected_darts": _mean([r.get("darts_best_selected_mean") for r in rows]),
        "mean_selected_none": _mean([r.get("darts_none_best_selected_mean") for r in rows]),
        "mean_top1_retrained_darts": _mean([r.get("darts_selected_mean") for r in rows]),
        "mean_top1_retrained_none": _mean([r.get("darts_none_selected_mean") for r in rows]),
        "mean_selected_evolution": _mean([r.get("evolution_selected_mean") for r in rows]),
    }


def markdown(meta: dict[str, Any], rows: list[dict[str, Any]], summary: dict[str, Any]) -> str:
    lines = [
        f"# darts vs evolution at equal CPU-seconds ({meta['task']}, {meta['space']})",
        "",
        f"darts remedy (default): `{meta['remedy']}`; `--trials {meta['trials']}` derived architectures per darts run; "
        f"evolution gets the CPU-seconds of the darts run (supernet search included), one worker. "
        f"Training of every architecture: max_epochs={TRAIN.max_epochs}, patience={TRAIN.patience}, "
        f"batch_size={TRAIN.batch_size}. Validation MSE on the task's validation split (scaled units), lower is better.",
        "",
        "| seed | darts top-1 | evolution at same CPU | darts best of top-k | evolution at equal CPU | darts CPU-s search / run "
        "| darts: epochs, collapsed (pf) | plain DARTS top-1 / best | plain DARTS: collapsed (pf) | plain DARTS CPU-s search / run |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        d, n = r["darts"], r["darts_none"]
        lines.append(
            f"| {r['seed']} | {_fmt(d['top1_val_mse'])} | {_fmt(r['evolution_at_top1_cpu'])} | {_fmt(d['best_val_mse'])} "
            f"| {_fmt(r['evolution_best'])} ({r['evolution_trials']} trials) | {_fmt(d['search_cpu_seconds'], 3)} / "
            f"{_fmt(d['total_cpu_seconds'], 3)} | {d['search_epochs']}{' (stop: ' + d['stop_reason'] + ')' if d['stop_reason'] else ''}, "
            f"{_fmt(d['collapsed'])} ({_pf(d)}) | {_fmt(n['top1_val_mse'])} / {_fmt(n['best_val_mse'])} "
            f"| {_fmt(n['collapsed'])} ({_pf(n)}) | {_fmt(n['search_cpu_seconds'], 3)} / {_fmt(n['total_cpu_seconds'], 3)} |")
    if any("darts_best_selected_mean" in r for r in rows):
        reps = meta.get("repeats", 0)
        lines += [
            "",
            f"Retrained: each arm's selected architecture trained from scratch again with {reps} fresh seeds; the mean "
            "validation MSE over those and its search run (min-max in brackets). \"best\" is the study's best "
            f"(darts: the best of its top {meta['trials']}, evolution: the best of its trials), the architecture a user gets.",
            "",
            "| seed | darts top-1 | darts best | plain DARTS top-1 | plain DARTS best | evolution best | darts best / evolution "
            "| plain / darts (best) | plain / darts (top-1) |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for r in rows:
            cells = []
            for key, first in (("darts", r["darts"]["top1_val_mse"]), ("darts_best", _best_of(r["darts"])[1]),
                               ("darts_none", r["darts_none"]["top1_val_mse"]), ("darts_none_best", _best_of(r["darts_none"])[1]),
                               ("evolution", r["evolution_best"])):
                vals = [v for v in [first, *r.get(f"{key}_retrained", [])] if v is not None]
                cells.append(f"{_fmt(r.get(f'{key}_selected_mean'))} ({_fmt(min(vals), 3)}-{_fmt(max(vals), 3)})" if vals else "-")
            lines.append(f"| {r['seed']} | {' | '.join(cells)} | {_fmt(r.get('ratio_selected_vs_evolution'), 3)} "
                         f"| {_fmt(r.get('ratio_none_selected'), 3)} | {_fmt(r.get('ratio_none_top1_retrained'), 3)} |")
    if any("darts_alt" in r for r in rows):
        lines += derivation_section(meta, rows)
    s = summary
    lines += [
        "",
        f"- darts top-1 / evolution at the same CPU-seconds, median over seeds: {_fmt(s['median_ratio_top1_vs_evolution_at_top1_cpu'], 3)} "
        f"(within 1.25x in {s['seeds_within_1_25x_top1']}/{s['seeds']} seeds)",
        f"- darts best of top-{meta['trials']} / evolution at equal CPU-seconds, median: "
        f"{_fmt(s['median_ratio_best_vs_evolution_at_equal_cpu'], 3)} (within 1.25x in {s['seeds_within_1_25x_best']}/{s['seeds']} seeds)",
        f"- plain DARTS / darts with the remedy, median: top-1 {_fmt(s['median_ratio_none_top1_vs_remedy_top1'], 3)}, "
        f"best {_fmt(s['median_ratio_none_best_vs_remedy_best'], 3)}; collapse flagged in "
        f"{s['collapsed_without_remedy']}/{s['seeds']} seeds without the remedy, {s['collapsed_with_remedy']}/{s['seeds']} with it; "
        f"the top-1 derived architecture itself is beyond the threshold in {s['top1_beyond_threshold_without_remedy']}/{s['seeds']} "
        f"without and {s['top1_beyond_threshold_with_remedy']}/{s['seeds']} with the remedy",
        *([f"- retrained, mean over seeds: darts best {_fmt(s['mean_selected_darts'])} (top-1 {_fmt(s['mean_top1_retrained_darts'])}), "
           f"plain DARTS best {_fmt(s['mean_selected_none'])} (top-1 {_fmt(s['mean_top1_retrained_none'])}), evolution best "
           f"{_fmt(s['mean_selected_evolution'])}; darts best / evolution median {_fmt(s['median_ratio_selected_darts_vs_evolution'], 3)} "
           f"(top-1: {_fmt(s['median_ratio_top1_retrained_vs_evolution'], 3)}); plain / darts median "
           f"{_fmt(s['median_ratio_selected_none_vs_remedy'], 3)} for the best, {_fmt(s['median_ratio_top1_retrained_none_vs_remedy'], 3)} "
           f"for the top-1 (the remedy's better in {s['seeds_remedy_selected_better']}/{s['seeds']} and "
           f"{s['seeds_remedy_top1_retrained_better']}/{s['seeds']} seeds)"] if s.get("mean_selected_darts") is not None else []),
        f"- mean validation MSE of one trained architecture: derived by darts {_fmt(s['mean_derived_val_mse_with_remedy'])}, "
        f"by plain DARTS {_fmt(s['mean_derived_val_mse_without_remedy'])}, proposed by evolution "
        f"{_fmt(s['mean_evolution_trial_val_mse'])} (its population of 20 is still random at these budgets)",
        "",
        "pf: the parameter-free (identity-activation) share of the architecture weights the derived architectures "
        "come from, and of the top-1 derived cell itself; collapsed: pf went more than half-way from uniform to 1 "
        f"(threshold {_fmt(rows[0]['darts']['collapse_threshold'], 3) if rows else '-'}).",
        "",
        f"Machine: {meta['machine']}; total wall time {meta['wall_seconds']:.0f} s (CPU-seconds are process time, "
        "so other load on the machine inflates wall time more than CPU-seconds).",
    ]
    return "\n".join(lines) + "\n"


def _mean_std(values: list[float]) -> str:
    if not values:
        return "-"
    m, sd = mean_std(values)
    return f"{m:.4f} ± {sd:.4f}"


def derivation_section(meta: dict[str, Any], rows: list[dict[str, Any]]) -> list[str]:
    """The two derivations of the same supernet search, each arm's top-1 and best of top-k retrained (val and test)."""
    mine, other = meta.get("derive", "joint"), meta.get("derive_alt", "argmax")
    lines = ["", f"## Derivation: derive={mine} vs derive={other} (same supernet search, same seeds)", "",
             f"Each darts run derives its top {meta['trials']} architectures from the same architecture weights in two ways "
             "(joint: by the joint log-probability of the active choices; argmax: DARTS's per-decision argmax first). "
             f"The arm's top-1 and its best (lowest search validation MSE of its top {meta['trials']}, the study's selection) "
             f"are retrained with {meta.get('repeats', 0)} fresh seeds: mean retrained validation / test MSE.", "",
             f"| seed | {mine}: top-1 depth | {mine}: best val / test | {other}: top-1 depth | {other}: best val / test "
             f"| {mine}: top-1 val / test | {other}: top-1 val / test |", "|---|---|---|---|---|---|---|"]
    per: dict[str, dict[str, list[float]]] = {k: {"val": [], "test": []} for k in ("darts_best", "darts_alt_best", "darts", "darts_alt")}
    for r in rows:
        if "darts_alt" not in r:
            continue
        cells = []
        for key in ("darts_best", "darts_alt_best", "darts", "darts_alt"):
            v, t = r.get(f"{key}_retrained", []), r.get(f"{key}_retrained_test", [])
            if v and t:
                per[key]["val"].append(statistics.fmean(v))
                per[key]["test"].append(statistics.fmean(t))
            cells.append(f"{_fmt(statistics.fmean(v)) if v else '-'} / {_fmt(statistics.fmean(t)) if t else '-'}")
        depth = [(r[k]["derived"] or [{}])[0].get("depth", "-") for k in ("darts", "darts_alt")]
        lines.append(f"| {r['seed']} | {depth[0]} | {cells[0]} | {depth[1]} | {cells[1]} | {cells[2]} | {cells[3]} |")
    lines += [""]
    for label, a, b in (("best (the selection)", "darts_best", "darts_alt_best"), ("top-1", "darts", "darts_alt")):
        ta, tb = per[a]["test"], per[b]["test"]
        wins = sum(1 for x, y in zip(ta, tb) if y < x)
        ratio = statistics.median([y / x for x, y in zip(ta, tb)]) if ta and tb else None
        lines.append(f"- {label}, retrained test MSE over seeds: {mine} {_mean_std(ta)}, {other} {_mean_std(tb)}; "
                     f"{other} lower in {wins}/{len(ta)} seeds, median ratio {other}/{mine} {_fmt(ratio, 3)} "
                     f"(validation: {mine} {_mean_std(per[a]['val'])}, {other} {_mean_std(per[b]['val'])})")
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--task", default="sunspots", help="a built-in task, or logistic-map (generated, strongly non-linear)")
    ap.add_argument("--space", default="rnn-cell")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--trials", type=int, default=3, help="derived architectures evaluated per darts run")
    ap.add_argument("--repeats", type=int, default=3,
                    help="extra training seeds for each arm's selected architecture (0: none)")
    ap.add_argument("--option", action="append", default=[], metavar="KEY=VALUE", help="extra darts option (both arms)")
    ap.add_argument("--derive-alt", action="store_true",
                    help="also run darts with the other derivation (argmax vs joint) on the same supernet search, retrained")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results"))
    ap.add_argument("--name", default="darts", help="output file stem (default darts: darts.json, darts.md)")
    ap.add_argument("--db", default=None, help="SQLite file to keep (default: a temporary one)")
    ap.add_argument("--render", metavar="JSON", help="only rewrite the Markdown (and summary) of a stored result file "
                    "(retraining what it lacks of the selected architectures)")
    args = ap.parse_args(argv)
    if args.render:
        stored = json.loads(Path(args.render).read_text())
        if args.repeats and any("darts_best_retrained" not in r for r in stored["runs"]):
            # A result stored before the best-of-k arms were retrained: add them (same seeds, same code).
            with tempfile.TemporaryDirectory() as tmp:
                task = task_args(stored["meta"]["task"], tmp)
                for r in stored["runs"]:
                    add_retrained(r, task, stored["meta"]["space"], stored["meta"].get("repeats", args.repeats))
        summary = summarise(stored["runs"])
        stored["summary"] = summary
        Path(args.render).write_text(json.dumps(stored, indent=2, default=str))
        Path(args.render).with_suffix(".md").write_text(markdown(stored["meta"], stored["runs"], summary))
        print(markdown(stored["meta"], stored["runs"], summary))
        return 0
    if "evolution" not in STRATEGIES:
        print("bench/darts.py: the evolution strategy is not registered yet", file=sys.stderr)
        return 1
    extra = {k: json.loads(v) if v[:1] in "0123456789-[{tf" else v for k, _, v in (o.partition("=") for o in args.option)}
    t0 = time.perf_counter()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db or str(Path(tmp) / "darts-bench.db")
        task = task_args(args.task, tmp)
        for seed in range(args.seeds):
            d = darts_run(task, args.space, seed, args.trials, db, dict(extra))
            n = darts_run(task, args.space, seed, args.trials, db, {**extra, "remedy": "none"})
            alt = darts_run(task, args.space, seed, args.trials, db, {**extra, "derive": _other_derive(extra)}) if args.derive_alt else None
            evo = evolution_run(task, args.space, seed, d["total_cpu_seconds"], db)
            cum = _cumulative(evo)
            row = {
                "seed": seed, "darts": d, "darts_none": n,
                "evolution_best": evo.best_value, "evolution_cpu_seconds": cum[-1][0] if cum else 0.0,
                "evolution_best_arch": dict(evo.best_arch) if evo.best_arch is not None else None,
                "evolution_trials": sum(1 for t in evo.records if t.kind == "arch"),
                "evolution_val_mse": [t.value for t in evo.records if t.kind == "arch"],
                "evolution_at_top1_cpu": best_within(evo, d["top1_cpu_seconds"] or 0.0),
                **({"darts_alt": alt} if alt is not None else {}),
            }
            add_retrained(row, task, args.space, args.repeats)
            row["ratio_top1"] = _ratio(d["top1_val_mse"], row["evolution_at_top1_cpu"])
            row["ratio_best"] = _ratio(d["best_val_mse"], row["evolution_best"])
            row["ratio_none_top1"] = _ratio(n["top1_val_mse"], d["top1_val_mse"])
            row["ratio_none_best"] = _ratio(n["best_val_mse"], d["best_val_mse"])
            rows.append(row)
            print(f"seed {seed}: darts top-1 {_fmt(d['top1_val_mse'])} best {_fmt(d['best_val_mse'])} "
                  f"(CPU {d['total_cpu_seconds']:.0f} s, collapsed {d['collapsed']}); plain DARTS {_fmt(n['top1_val_mse'])} / "
                  f"{_fmt(n['best_val_mse'])} (collapsed {n['collapsed']}); evolution {_fmt(row['evolution_at_top1_cpu'])} / "
                  f"{_fmt(evo.best_value)} in {row['evolution_trials']} trials; retrained means: darts "
                  f"{_fmt(row['darts_selected_mean'])}, plain {_fmt(row['darts_none_selected_mean'])}, "
                  f"evolution {_fmt(row['evolution_selected_mean'])}", flush=True)
    summary = summarise(rows)
    meta = {"task": args.task, "space": args.space, "seeds": args.seeds, "trials": args.trials, "options": extra,
            "repeats": args.repeats, "derive": _derive(extra), **({"derive_alt": _other_derive(extra)} if args.derive_alt else {}),
            "remedy": extra.get("remedy", DEFAULT_REMEDY), "train": TRAIN.to_json(),
            "machine": f"{platform.machine()} {platform.system()}, Python {platform.python_version()}",
            "wall_seconds": time.perf_counter() - t0}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{args.name}.json").write_text(json.dumps({"meta": meta, "summary": summary, "runs": rows}, indent=2, default=str))
    (out / f"{args.name}.md").write_text(markdown(meta, rows, summary))
    print(markdown(meta, rows, summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
