"""The race's statistics: per-strategy summary over seeds, ranks, tests against random search, key findings.

Every strategy is judged on what a user gets: each run's selected architecture retrained with
fresh seeds, on the test split (``score``; without retraining, the single training's test MSE
of the selected architecture, and the finding says so). Seeds are blocks: seed k of every
strategy shares its training seeds, so strategies are compared seed by seed: a Friedman test
over all strategies, then each against random search with a one-sided Wilcoxon signed-rank test,
Holm-corrected over the comparisons (statsmodels); a claim is made only at Holm p < 0.05.

Longer than 350 lines: the findings sentences are written from the same per-seed scores and tests
they report, so the wording lives beside the statistics that license it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from seqnas.report.data import RaceData, Run

ALPHA = 0.05  # family-wise significance level (Holm) of the tests against random search
STABLE_CV = 0.10  # below this coefficient of variation over seeds a strategy counts as consistent


def wilcoxon_less(a: list[float], b: list[float]) -> float:
    """One-sided Wilcoxon signed-rank p-value for "paired values in ``a`` tend to be smaller than in ``b``"."""
    d = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    if len(d) == 0:
        return math.nan
    if not np.any(d != 0):
        return 1.0  # identical in every pair: no evidence either way
    return float(stats.wilcoxon(d, alternative="less", zero_method="zsplit").pvalue)


def smallest_p(n: int) -> float:
    """The smallest one-sided p-value an exact Wilcoxon signed-rank test can give with ``n`` pairs."""
    return 0.5 ** n if n else math.nan


def holm(pvalues: list[float]) -> list[float]:
    """Holm-corrected p-values (statsmodels), NaN where the raw p-value is NaN."""
    from statsmodels.stats.multitest import multipletests

    idx = [i for i, p in enumerate(pvalues) if math.isfinite(p)]
    out = [math.nan] * len(pvalues)
    if idx:
        corrected = multipletests([pvalues[i] for i in idx], alpha=ALPHA, method="holm")[1]
        for i, p in zip(idx, corrected):
            out[i] = float(p)
    return out


def seeds_for_claim(m: int, alpha: float = ALPHA) -> int:
    """The fewest seeds with which one of ``m`` Holm-corrected one-sided Wilcoxon tests can reach ``alpha``."""
    n = 1
    while m * smallest_p(n) >= alpha:
        n += 1
    return n


def bootstrap_ci(xs: list[float], level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean (scipy), NaN with fewer than 3 values or no spread."""
    if len(xs) < 3 or np.ptp(xs) == 0:
        return math.nan, math.nan
    res = stats.bootstrap((np.asarray(xs, dtype=float),), np.mean, confidence_level=level, n_resamples=2000,
                          method="percentile", rng=np.random.default_rng(0))
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def mean_std(xs: list[float]) -> tuple[float, float]:
    if not xs:
        return math.nan, math.nan
    return float(np.mean(xs)), float(np.std(xs, ddof=1)) if len(xs) > 1 else 0.0


@dataclass
class DartsSummary:
    """Collapse diagnostics of the one-shot runs of a strategy (from the supernet trials' metrics).

    ``detected`` counts the runs in which the collapse indicator fired at some epoch, whatever the
    remedy did about it; ``collapsed`` the runs whose derived architectures come from collapsed
    weights. A remedy that stops at the onset (darts+) has detected > 0 and collapsed 0: the
    finding says both, so it is never "no collapse" when collapse was seen.
    """

    runs: int
    collapsed: int
    final_param_free: list[float]  # of the architecture weights derived from
    first_entropy: list[float]
    final_entropy: list[float]
    threshold: float | None
    remedies: list[str]
    detected_at: list[int] = field(default_factory=list)  # per run where it fired: the first epoch
    derived_from: list[int | None] = field(default_factory=list)  # per such run: the epoch derived from
    derived_param_free: list[float] = field(default_factory=list)  # of the top-1 derived architecture itself

    def text(self) -> str:
        n = self.runs
        seeds = f"seed{'s' if n != 1 else ''}"
        if self.detected_at:
            k = len(self.detected_at)
            head = f"supernet collapse detected in {k} of {n} {seeds} (epoch {', '.join(map(str, self.detected_at))})"
            before = [(e, d) for e, d in zip(self.detected_at, self.derived_from) if d is not None and d < e]
            if before:
                head += f"; the remedy derived from the epoch before ({', '.join(str(d) for _, d in before)})"
            if self.collapsed:
                head += f"; derived from collapsed weights in {self.collapsed} of {n} {seeds}"
        elif self.collapsed:
            head = f"supernet collapsed in {self.collapsed}/{n} {seeds}"
        else:
            head = f"no supernet collapse detected in {n} {seeds}"
        details = []
        if self.final_param_free:
            pf = f"parameter-free share of the weights derived from {np.mean(self.final_param_free):.2f}"
            if self.threshold is not None:
                pf += f" (collapse at {self.threshold:.2f})"
            details.append(pf)
        if self.derived_param_free:
            details.append(f"of the derived architectures {np.mean(self.derived_param_free):.2f}")
        if self.final_entropy:
            ent = f"alpha entropy {np.mean(self.final_entropy):.2f}"
            if self.first_entropy:
                ent += f" (first epoch {np.mean(self.first_entropy):.2f})"
            details.append(ent)
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
    # The share of the weights the architectures were derived from (the last epoch's when not stored).
    pf = [v for d in diags if (v := _last(d.get("derivation_param_free_share", d.get("param_free_share")))) is not None]
    ent = [v for d in diags if (v := _last(d.get("entropy"))) is not None]
    ent0 = [v for d in diags if (v := _first(d.get("entropy"))) is not None]
    thresholds = [v for d in diags if (v := _last(d.get("collapse_threshold"))) is not None]
    fired = [d for d in diags if d.get("collapse_detected_epoch") is not None]
    remedies = []
    for d in diags:
        rem = d.get("remedy")
        if isinstance(rem, dict):
            remedies.append(", ".join(f"{k}={v}" for k, v in rem.items()))
        elif rem:
            remedies.append(str(rem))
    return DartsSummary(len(diags), sum(bool(d.get("collapsed")) for d in diags), pf, ent0, ent,
                        float(np.mean(thresholds)) if thresholds else None, remedies,
                        [int(d["collapse_detected_epoch"]) for d in fired],
                        [None if d.get("derived_from_epoch") is None else int(d["derived_from_epoch"]) for d in fired],
                        [v for d in diags if (v := _last(d.get("derived_param_free_share"))) is not None])


def _first(x: Any) -> float | None:
    return _last(x[:1]) if isinstance(x, (list, tuple)) and x else None


@dataclass
class StrategySummary:
    strategy: str
    planned: int  # runs (seeds) in the race
    seeds: list[int]  # seeds of the runs with a score
    scores: list[float]  # per seed: retrained test MSE of the selected architecture (what the race ranks on)
    retrained_val: list[float]  # per seed: its retrained validation MSE
    best_vals: list[float]  # per seed: the search's best single-training validation MSE (optimistic)
    retrained: bool  # scores are retrained figures (False: the single training's test MSE)
    cpu: list[float]  # CPU-seconds per run: evaluation (every finished trial, one-shot searches included) + retraining
    strategy_cpu: list[float]  # the strategy's own CPU-seconds per run (ask and tell)
    retrain_cpu: list[float]  # CPU-seconds of the retrainings per run (inside a CPU budget since one budget: seqnas.final)
    trials: int  # finished architecture trials, all runs
    failed: int
    running: int  # trials left RUNNING by an interruption
    unfinished: int  # runs that have not reached their budget
    errors: list[str]
    failed_jobs: list[str] = field(default_factory=list)  # "<kind>: <error>" of failed one-shot trials
    archs: int = 0  # distinct architectures started, all runs (multi-fidelity: fewer than trials)
    full: int = 0  # of them, trained to the full fidelity (multi-fidelity: reached the top rung)
    rank: int | None = None
    mean_rank: float | None = None  # mean per-seed rank over the seeds every strategy has a score for
    p_vs_baseline: float | None = None  # one-sided Wilcoxon: this strategy's scores < random search's, paired by seed
    p_holm: float | None = None  # the same, Holm-corrected over every strategy compared with random search
    p_worse: float | None = None  # one-sided Wilcoxon: scores > random search's
    p_holm_worse: float | None = None
    verdict: str = ""
    vs_baseline: tuple[str, float] | None = None  # (best reference row, relative difference of the mean score)
    ci: tuple[float, float] = (math.nan, math.nan)  # bootstrap 95% interval of the mean score
    darts: DartsSummary | None = None
    finding: str = ""

    @property
    def score_mean_std(self) -> tuple[float, float]:
        return mean_std(self.scores)

    @property
    def best_mean_std(self) -> tuple[float, float]:
        return mean_std(self.best_vals)

    @property
    def retrained_val_mean_std(self) -> tuple[float, float]:
        return mean_std(self.retrained_val)

    @property
    def cv(self) -> float | None:
        m, s = self.score_mean_std
        return s / m if len(self.scores) > 1 and m > 0 else None


@dataclass
class RaceStats:
    """Race-level statistics over the seeds every strategy has a score for (the complete blocks)."""

    blocks: int = 0
    friedman_stat: float | None = None
    friedman_p: float | None = None
    mean_ranks: dict[str, float] = field(default_factory=dict)
    cd: float | None = None  # Nemenyi critical difference of mean ranks at ALPHA
    comparisons: int = 0  # strategies tested against random search (the Holm family)

    def text(self) -> str:
        if self.friedman_p is None:
            return "Friedman test: needs at least 3 strategies and 2 seeds with a score for every strategy."
        out = (f"Friedman test over {len(self.mean_ranks)} strategies and {self.blocks} seeds: chi2 = {self.friedman_stat:.2f}, "
               f"p = {self.friedman_p:.2g} ({'the strategies differ' if self.friedman_p < ALPHA else 'no evidence that the strategies differ'}"
               f" at {ALPHA})")
        if self.cd is not None:
            out += f"; Nemenyi critical difference of mean ranks: {self.cd:.2f}"
        return out + "."


def summarize(data: RaceData, baseline: str = "random", alpha: float = ALPHA) -> list[StrategySummary]:
    """One summary per strategy, ranked by mean retrained test MSE (best first)."""
    return summarize_race(data, baseline, alpha)[0]


def summarize_race(data: RaceData, baseline: str = "random", alpha: float = ALPHA) -> tuple[list[StrategySummary], RaceStats]:
    out: list[StrategySummary] = []
    max_epochs = data.settings.train.max_epochs if data.settings is not None else None
    retrained = data.final_repeats > 0 or any(r.final is not None for r in data.runs)
    for strategy in data.strategies:
        runs = data.runs_of(strategy)
        scored = [(r, v) for r in runs if (v := _score(r, retrained)) is not None]
        out.append(StrategySummary(
            strategy=strategy, planned=len(runs), seeds=[r.seed for r, _ in scored], scores=[v for _, v in scored],
            retrained_val=[float(r.retrained_val) for r, _ in scored if r.retrained_val is not None],
            best_vals=[float(r.best_val) for r in runs if r.best_val is not None], retrained=retrained,
            cpu=[r.cpu_seconds + (r.final.cpu_seconds if r.final is not None else 0.0) for r in runs if r.records],
            strategy_cpu=[r.strategy_cpu_seconds for r in runs if r.records],
            retrain_cpu=[r.final.cpu_seconds for r in runs if r.final is not None], trials=sum(r.n_trials for r in runs),
            failed=sum(r.n_failed for r in runs), running=sum(r.n_running for r in runs),
            archs=sum(r.n_archs for r in runs), full=sum(r.n_full(max_epochs) for r in runs),
            unfinished=sum(not r.done for r in runs), errors=[r.error for r in runs if r.error],
            failed_jobs=[f"{j.kind}: {j.error}" for r in runs for j in r.failed_jobs], darts=darts_summary(runs),
        ))
    race = _rank(out, data)
    base = next((s for s in out if s.strategy == baseline), None)
    _test_against(out, base, race, alpha)
    refs = [(b.name, float(np.mean(list(b.test.values())))) for b in data.baselines if b.test]
    best_ref = min(refs, key=lambda t: t[1]) if refs else None
    for s in out:
        s.ci = bootstrap_ci(s.scores)
        if best_ref is not None and s.scores and best_ref[1] > 0:
            s.vs_baseline = (best_ref[0], s.score_mean_std[0] / best_ref[1] - 1.0)
        s.finding = key_finding(s, out, base, race, alpha)
    return sorted(out, key=lambda s: (s.rank is None, s.rank or 0, s.strategy)), race


def _score(run: Run, retrained: bool) -> float | None:
    if retrained:
        return run.retrained_test
    # Without retraining: the test MSE of the selected architecture's one training; an objective-function
    # study has no test split, so its best objective value.
    return run.test_of_best if run.test_of_best is not None else run.best_val


def _rank(out: list[StrategySummary], data: RaceData) -> RaceStats:
    """Rank by mean score; per-seed ranks over the complete blocks give the mean ranks, Friedman and Nemenyi."""
    ranked = sorted((s for s in out if s.scores), key=lambda s: s.score_mean_std[0])
    for i, s in enumerate(ranked, 1):
        s.rank = i
    race = RaceStats()
    cols = [s for s in out if s.scores]
    blocks = [k for k in data.seeds if all(k in s.seeds for s in cols)]
    if len(cols) < 2 or not blocks:
        return race
    M = np.array([[s.scores[s.seeds.index(k)] for s in cols] for k in blocks])  # seeds x strategies
    ranks = np.vstack([stats.rankdata(row) for row in M])
    race.blocks = len(blocks)
    race.mean_ranks = {s.strategy: float(r) for s, r in zip(cols, ranks.mean(axis=0))}
    for s in cols:
        s.mean_rank = race.mean_ranks[s.strategy]
    k, n = len(cols), len(blocks)
    if k >= 3 and n >= 2:
        if np.ptp(M, axis=1).any():
            res = stats.friedmanchisquare(*M.T)
            race.friedman_stat, race.friedman_p = float(res.statistic), float(res.pvalue)
        else:
            race.friedman_stat, race.friedman_p = 0.0, 1.0
        q = float(stats.studentized_range.ppf(1 - ALPHA, k, np.inf)) / math.sqrt(2)
        race.cd = q * math.sqrt(k * (k + 1) / (6.0 * n))
    return race


def _test_against(out: list[StrategySummary], base: StrategySummary | None, race: RaceStats, alpha: float) -> None:
    """Each strategy against ``base`` on the seeds both have, one-sided both ways, Holm over the strategies."""
    if base is None:
        return
    base.verdict = "baseline"
    others = [s for s in out if s is not base]
    better, worse = [], []
    for s in others:
        common = [k for k in s.seeds if k in base.seeds]
        a = [s.scores[s.seeds.index(k)] for k in common]
        b = [base.scores[base.seeds.index(k)] for k in common]
        better.append(wilcoxon_less(a, b))
        worse.append(wilcoxon_less(b, a))
    race.comparisons = sum(math.isfinite(p) for p in better)
    for s, p, ph, q, qh in zip(others, better, holm(better), worse, holm(worse)):
        if not math.isfinite(p):
            continue
        s.p_vs_baseline, s.p_holm, s.p_worse, s.p_holm_worse = p, ph, q, qh
        s.verdict = "better" if ph < alpha else "worse" if qh < alpha else "not distinguishable"


def key_finding(s: StrategySummary, all_: list[StrategySummary], base: StrategySummary | None, race: RaceStats,
                alpha: float = ALPHA) -> str:
    """One sentence computed from the data: rank, reference rows, random search, variability, optimism, failures."""
    parts: list[str] = []
    n_ranked = sum(1 for x in all_ if x.rank is not None)
    what = "retrained test MSE" if s.retrained else "test MSE of one training" if s.scores != s.best_vals else "best value"
    if s.rank is None:
        parts.append("no completed trial" if not s.best_vals else f"no {what}")
    else:
        r = f"rank {s.rank}/{n_ranked} by mean {what}"
        if s.mean_rank is not None and race.blocks > 1:
            r += f" (mean per-seed rank {s.mean_rank:.1f})"
        parts.append(r)
    if s.vs_baseline is not None:
        name, rel = s.vs_baseline
        parts.append(f"{rel:+.0%} vs {name}")
    if s.verdict == "baseline":
        parts.append("the reference for the tests")
    elif base is not None and s.p_holm is not None:
        n = sum(1 for k in s.seeds if k in base.seeds)
        if s.verdict in ("better", "worse"):
            p, ph = (s.p_vs_baseline, s.p_holm) if s.verdict == "better" else (s.p_worse, s.p_holm_worse)
            parts.append(f"{'better' if s.verdict == 'better' else 'worse'} than {base.strategy} search "
                         f"(Wilcoxon p={p:.2g}, Holm p={ph:.2g}, {n} seeds)")
        else:
            txt = (f"not distinguishable from {base.strategy} search at {n} seeds (Wilcoxon p={s.p_vs_baseline:.2g}, "
                   f"Holm p={s.p_holm:.2g}")
            need = seeds_for_claim(max(race.comparisons, 1), alpha)
            if n < need:
                txt += f"; a claim needs at least {need} seeds"
            parts.append(txt + ")")
    cv = s.cv
    if cv is not None:
        parts.append(f"{'consistent' if cv < STABLE_CV else 'varies'} across seeds (CV {cv:.0%})")
    if s.retrained_val and s.best_vals:
        # The winner's curse: the search's best single training against the same architecture retrained.
        opt = float(np.mean(s.retrained_val)) / float(np.mean(s.best_vals)) - 1.0
        parts.append(f"retrained validation MSE {opt:+.0%} vs the search's best")
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
