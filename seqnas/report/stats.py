"""The race's statistics: per-strategy summary over seeds, ranks, tests against random search, key findings."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from seqnas.report.data import RaceData, Run

ALPHA = 0.05  # significance level of the one-sided Mann-Whitney test against the baseline
STABLE_CV = 0.10  # below this coefficient of variation over seeds a strategy counts as consistent


def mann_whitney_less(a: list[float], b: list[float]) -> float:
    """One-sided Mann-Whitney U p-value for "values in ``a`` tend to be smaller than in ``b``"."""
    if not a or not b:
        return math.nan
    return float(stats.mannwhitneyu(a, b, alternative="less").pvalue)


def smallest_p(n1: int, n2: int) -> float:
    """The smallest one-sided p-value an exact Mann-Whitney test can give with these sample sizes."""
    return 1.0 / math.comb(n1 + n2, n1) if n1 and n2 else math.nan


def _mean_std(xs: list[float]) -> tuple[float, float]:
    if not xs:
        return math.nan, math.nan
    return float(np.mean(xs)), float(np.std(xs, ddof=1)) if len(xs) > 1 else 0.0


@dataclass
class DartsSummary:
    """Collapse diagnostics of the one-shot runs of a strategy (from the supernet trials' metrics)."""

    runs: int
    collapsed: int
    final_param_free: list[float]
    first_entropy: list[float]
    final_entropy: list[float]
    threshold: float | None
    remedies: list[str]

    def text(self) -> str:
        details = []
        if self.final_param_free:
            pf = f"final parameter-free share {np.mean(self.final_param_free):.2f}"
            if self.threshold is not None:
                pf += f" (collapse at {self.threshold:.2f})"
            details.append(pf)
        if self.final_entropy:
            ent = f"alpha entropy {np.mean(self.final_entropy):.2f}"
            if self.first_entropy:
                ent += f" (first epoch {np.mean(self.first_entropy):.2f})"
            details.append(ent)
        head = (f"supernet collapsed in {self.collapsed}/{self.runs} seeds" if self.collapsed
                else f"no supernet collapse in {self.runs} seed{'s' if self.runs != 1 else ''}")
        out = head + (f": {', '.join(details)}" if details else "")
        remedies = sorted(set(self.remedies))
        if remedies:
            out += f"; remedy: {', '.join(remedies)}"
        return out


def _last(x: Any) -> float | None:
    if isinstance(x, (list, tuple)) and x:
        x = x[-1]
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def darts_summary(runs: list[Run]) -> DartsSummary | None:
    diags = [d for r in runs if (d := r.darts) is not None]
    if not diags:
        return None
    pf = [v for d in diags if (v := _last(d.get("param_free_share"))) is not None]
    ent = [v for d in diags if (v := _last(d.get("entropy"))) is not None]
    ent0 = [v for d in diags if (v := _first(d.get("entropy"))) is not None]
    thresholds = [v for d in diags if (v := _last(d.get("collapse_threshold"))) is not None]
    remedies = []
    for d in diags:
        rem = d.get("remedy")
        if isinstance(rem, dict):
            remedies.append(", ".join(f"{k}={v}" for k, v in rem.items()))
        elif rem:
            remedies.append(str(rem))
    return DartsSummary(len(diags), sum(bool(d.get("collapsed")) for d in diags), pf, ent0, ent,
                        float(np.mean(thresholds)) if thresholds else None, remedies)


def _first(x: Any) -> float | None:
    return _last(x[:1]) if isinstance(x, (list, tuple)) and x else None


@dataclass
class StrategySummary:
    strategy: str
    planned: int  # runs (seeds) in the race
    seeds: list[int]  # seeds of the runs with a result
    best_vals: list[float]
    test_vals: list[float]
    cpu: list[float]  # CPU-seconds per run (every finished trial, one-shot searches included)
    trials: int  # finished architecture trials, all runs
    failed: int
    running: int  # trials left RUNNING by an interruption
    unfinished: int  # runs that have not reached their budget
    errors: list[str]
    failed_jobs: list[str] = field(default_factory=list)  # "<kind>: <error>" of failed one-shot trials
    rank: int | None = None
    mean_rank: float | None = None
    p_vs_baseline: float | None = None  # one-sided: this strategy's best MSE < the baseline's
    p_worse: float | None = None  # one-sided: this strategy's best MSE > the baseline's
    verdict: str = ""
    darts: DartsSummary | None = None
    finding: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def best_mean_std(self) -> tuple[float, float]:
        return _mean_std(self.best_vals)

    @property
    def test_mean_std(self) -> tuple[float, float]:
        return _mean_std(self.test_vals)

    @property
    def cpu_mean_std(self) -> tuple[float, float]:
        return _mean_std(self.cpu)

    @property
    def cv(self) -> float | None:
        m, s = self.best_mean_std
        return s / m if len(self.best_vals) > 1 and m > 0 else None


def summarize(data: RaceData, baseline: str = "random", alpha: float = ALPHA) -> list[StrategySummary]:
    """One summary per strategy, ranked by mean best validation MSE (best first)."""
    out: list[StrategySummary] = []
    for strategy in data.strategies:
        runs = data.runs_of(strategy)
        scored = [r for r in runs if r.best_val is not None]
        out.append(StrategySummary(
            strategy=strategy, planned=len(runs), seeds=[r.seed for r in scored],
            best_vals=[float(r.best_val) for r in scored],  # type: ignore[arg-type]
            test_vals=[t for r in scored if (t := r.test_of_best) is not None],
            cpu=[r.cpu_seconds for r in runs if r.records], trials=sum(r.n_trials for r in runs),
            failed=sum(r.n_failed for r in runs), running=sum(r.n_running for r in runs),
            unfinished=sum(not r.done for r in runs), errors=[r.error for r in runs if r.error],
            failed_jobs=[f"{j.kind}: {j.error}" for r in runs for j in r.failed_jobs], darts=darts_summary(runs),
        ))
    _rank(out, data)
    base = next((s for s in out if s.strategy == baseline), None)
    for s in out:
        if base is not None and s is not base and s.best_vals and base.best_vals:
            s.p_vs_baseline = mann_whitney_less(s.best_vals, base.best_vals)
            s.p_worse = mann_whitney_less(base.best_vals, s.best_vals)
            if s.p_vs_baseline <= alpha:
                s.verdict = "better"
            elif s.p_worse <= alpha:
                s.verdict = "worse"
            else:
                s.verdict = "no significant difference"
        elif s is base:
            s.verdict = "baseline"
        s.finding = key_finding(s, out, base, alpha)
    return sorted(out, key=lambda s: (s.rank is None, s.rank or 0, s.strategy))


def _rank(out: list[StrategySummary], data: RaceData) -> None:
    """Rank by mean best MSE; the mean rank over seeds says how often that order holds seed by seed."""
    ranked = sorted((s for s in out if s.best_vals), key=lambda s: s.best_mean_std[0])
    for i, s in enumerate(ranked, 1):
        s.rank = i
    per_seed: dict[str, list[float]] = {s.strategy: [] for s in out}
    for seed in data.seeds:
        vals = {s.strategy: s.best_vals[s.seeds.index(seed)] for s in out if seed in s.seeds}
        if len(vals) < 2:
            continue
        ranks = stats.rankdata(list(vals.values()))
        for name, rk in zip(vals, ranks):
            per_seed[name].append(float(rk))
    for s in out:
        if per_seed[s.strategy]:
            s.mean_rank = float(np.mean(per_seed[s.strategy]))


def key_finding(s: StrategySummary, all_: list[StrategySummary], base: StrategySummary | None, alpha: float = ALPHA) -> str:
    """One sentence computed from the data: rank, against random search, variability, failures, diagnostics."""
    parts: list[str] = []
    n_ranked = sum(1 for x in all_ if x.rank is not None)
    if s.rank is None:
        parts.append("no completed trial")
    else:
        r = f"rank {s.rank}/{n_ranked}"
        if s.mean_rank is not None and len(s.best_vals) > 1:
            r += f" (mean per-seed rank {s.mean_rank:.1f})"
        if s.rank > 1:
            top = min(x.best_mean_std[0] for x in all_ if x.best_vals)
            if top > 0:
                r += f", {s.best_mean_std[0] / top:.2f}x the best"
        parts.append(r)
    if s.verdict == "baseline":
        parts.append("the baseline")
    elif base is not None and s.p_vs_baseline is not None:
        n1, n2 = len(s.best_vals), len(base.best_vals)
        floor = smallest_p(n1, n2)
        if s.verdict in ("better", "worse"):
            p = s.p_vs_baseline if s.verdict == "better" else s.p_worse
            txt = f"beats {base.strategy} search" if s.verdict == "better" else f"worse than {base.strategy} search"
            if p is not None and math.isclose(p, floor):
                # The exact test's floor: every seed of one is better than every seed of the other.
                parts.append(f"{txt} (one-sided Mann-Whitney p={p:.2g}, the smallest possible with {n1} vs {n2} seeds: "
                             f"{'every' if s.verdict == 'better' else 'no'} seed below every {base.strategy} seed)")
            else:
                parts.append(f"{txt} (one-sided Mann-Whitney p={p:.2g}, {n1} vs {n2} seeds)")
        else:
            txt = f"no significant difference from {base.strategy} search (p={s.p_vs_baseline:.2g}"
            if floor > alpha / 5:
                txt += f"; {n1} vs {n2} seeds allow p >= {floor:.2g} at best"
            parts.append(txt + ")")
    cv = s.cv
    if cv is not None:
        parts.append(f"{'consistent' if cv < STABLE_CV else 'varies'} across seeds (CV {cv:.0%})")
    if s.failed:
        parts.append(f"{s.failed} failed trial{'s' if s.failed != 1 else ''}")
    if s.failed_jobs:
        kind, _, why = s.failed_jobs[0].partition(": ")
        n = len(s.failed_jobs)
        parts.append(f"{n} failed {kind} trial{'s' if n != 1 else ''} ({why[:120]})")
    if s.darts is not None:
        parts.append(s.darts.text())
    if s.unfinished:
        parts.append(f"{s.unfinished}/{s.planned} runs not finished")
    if s.errors:
        parts.append(f"error: {s.errors[0]}")
    return "; ".join(parts)
