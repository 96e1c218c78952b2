"""Bayesian optimization: Optuna's TPE / GP samplers driven through ask/tell over a seqnas space."""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState as OptunaState
from optuna.trial import create_trial

from seqnas.space.base import Arch, SearchSpace
from seqnas.space.params import Categorical, Int, Param
from seqnas.strategies.base import Strategy
from seqnas.strategies.options import bool_option, choice_option, int_option
from seqnas.trial import Proposal, TrialRecord, TrialState

INFO_KEY = "optuna_system_attrs"  # where a trial's Optuna notes are stored (TrialRecord.info)


def distribution(param: Param) -> BaseDistribution:
    """The Optuna distribution of a seqnas parameter.

    Categoricals are handed to Optuna as choice indices: Optuna finds a value by equality, and
    in Python ``True == 1 == 1.0``, which seqnas spaces keep apart.
    """
    if isinstance(param, Categorical):
        return CategoricalDistribution(list(range(len(param.choices))))
    if isinstance(param, Int):
        return IntDistribution(param.low, param.high, log=param.log)
    return FloatDistribution(param.low, param.high, log=param.log)  # type: ignore[attr-defined]


def suggest(space: SearchSpace, trial: optuna.Trial) -> Arch:
    """Ask an Optuna trial for each active parameter in order; conditions decide what is asked."""
    out: dict[str, Any] = {}
    for p in space.params:
        if not space.is_active(p, out):
            continue
        if isinstance(p, Categorical):
            out[p.name] = p.choices[trial.suggest_categorical(p.name, list(range(len(p.choices))))]
        elif isinstance(p, Int):
            out[p.name] = trial.suggest_int(p.name, p.low, p.high, log=p.log)
        else:
            out[p.name] = trial.suggest_float(p.name, p.low, p.high, log=p.log)  # type: ignore[attr-defined]
    return space.canonical(out)


@contextmanager
def quiet_optuna() -> Iterator[None]:
    """Optuna logs every study it creates and warns about experimental options: not for our users."""
    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            warnings.filterwarnings("ignore", message=".*independent sampl.*")
            yield
    finally:
        optuna.logging.set_verbosity(level)


class BayesianSearch(Strategy):
    """Model-based search with Optuna's samplers; seqnas keeps the trials, Optuna only proposes.

    ``sampler="tpe"`` (default): multivariate TPE, grouped by the space's conditions, with the
    constant liar for trials still running; with several objectives the same sampler is
    Optuna's multi-objective TPE. ``sampler="gp"``: Optuna's Gaussian-process sampler (single-
    and multi-objective). ``n_startup_trials`` random trials come first.

    An in-memory Optuna study mirrors this study: one Optuna trial per proposal, in ask order,
    RUNNING until its result is told. Each ask uses a new sampler seeded from the per-ask
    generator, so a proposal depends only on the trials so far and the seed: on resume the
    Optuna study is rebuilt from the stored trials (without asking the sampler again) and the
    search continues exactly as an uninterrupted one. Failed trials are told as a value beyond
    the worst finished one of each objective (so the sampler learns to avoid them; before any
    trial finished, as failed). An architecture proposed before is told failed to Optuna
    (samplers ignore failed trials) and the sampler asked again, up to ``max_resample`` times;
    then an unseen neighbour of its last choice (one decision changed) is used.
    """

    name = "bayesian"
    multi_objective = True

    def __init__(self, space: SearchSpace, *, seed: int = 0, objectives: Sequence[str] = ("val_mse",),
                 sampler: str = "tpe", n_startup_trials: int = 10, n_ei_candidates: int = 24,
                 multivariate: bool = True, constant_liar: bool = True, max_resample: int = 2) -> None:
        super().__init__(space, seed=seed, objectives=objectives)
        n = self.name
        self.sampler = choice_option(n, "sampler", sampler, ("tpe", "gp"))
        self.n_startup_trials = int_option(n, "n_startup_trials", n_startup_trials, low=0)
        self.n_ei_candidates = int_option(n, "n_ei_candidates", n_ei_candidates, low=1)
        self.multivariate = bool_option(n, "multivariate", multivariate)
        self.constant_liar = bool_option(n, "constant_liar", constant_liar)
        self.max_resample = int_option(n, "max_resample", max_resample, low=1)
        self._conditional = any(p.condition is not None for p in space.params)
        self._dists = {p.name: distribution(p) for p in space.params}
        self._number: dict[str, int] = {}  # arch key -> its Optuna trial number
        self._low = [math.inf] * len(self.objectives)  # per objective, best and worst finished value
        self._high = [-math.inf] * len(self.objectives)
        with quiet_optuna():
            self.study = optuna.create_study(directions=["minimize"] * len(self.objectives))

    # -- the Optuna side ------------------------------------------------------------------------------
    def _make_sampler(self, seed: int) -> optuna.samplers.BaseSampler:
        if self.sampler == "gp":
            return optuna.samplers.GPSampler(seed=seed, n_startup_trials=self.n_startup_trials,
                                             warn_independent_sampling=False)
        group = self.multivariate and self._conditional
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=self.n_startup_trials,
                                          n_ei_candidates=self.n_ei_candidates, multivariate=self.multivariate,
                                          group=group, constant_liar=self.constant_liar)

    def _params(self, arch: Arch) -> dict[str, Any]:
        return {k: self.space[k].index(v) if isinstance(self.space[k], Categorical) else v  # type: ignore[attr-defined]
                for k, v in arch.items()}

    def _add_running(self, arch: Arch, system_attrs: dict[str, Any] | None = None) -> None:
        """Mirror a proposal the sampler did not make (a random fallback, a replayed trial)."""
        self.study.add_trial(create_trial(state=OptunaState.RUNNING, params=self._params(arch),
                                          distributions={k: self._dists[k] for k in arch}, system_attrs=system_attrs))
        self._number[arch.key] = len(self.study.get_trials(deepcopy=False)) - 1

    # -- the Strategy interface ----------------------------------------------------------------------
    def _propose(self, rng: np.random.Generator) -> Arch | Proposal | None:
        with quiet_optuna():
            self.study.sampler = self._make_sampler(int(rng.integers(2**31 - 1)))
            arch = None
            for _ in range(self.max_resample):
                trial = self.study.ask()
                arch = suggest(self.space, trial)
                if self.fresh(arch):
                    self._number[arch.key] = trial.number
                    # The sampler's notes on its trial (TPE keeps its joint sample there, and
                    # uses it while the trial runs) go into storage so that resume rebuilds them.
                    attrs = self.study.get_trials(deepcopy=False)[trial.number].system_attrs
                    return Proposal(arch=arch, info={INFO_KEY: dict(attrs)} if attrs else {})
                self.study.tell(trial, state=OptunaState.FAIL)  # ignored by the samplers
            # TPE keeps returning to its favourite region once it has one; asking it again is
            # slow and often returns the same point: take an unseen neighbour of its choice.
            fresh = None
            for _ in range(20):
                assert arch is not None
                arch = self.space.mutate(arch, rng)
                if self.fresh(arch):
                    fresh = arch
                    break
            fresh = fresh or self.sample_fresh(rng)
            if fresh is not None:
                self._add_running(fresh)
            return fresh

    def _observe(self, record: TrialRecord) -> None:
        if record.arch is None or record.arch.key not in self._number:
            return
        number = self._number[record.arch.key]
        values = [float(record.values.get(o, math.nan)) for o in self.objectives]
        with quiet_optuna():
            if record.state is TrialState.COMPLETE and all(math.isfinite(v) for v in values):
                self._low = [min(a, v) for a, v in zip(self._low, values, strict=True)]
                self._high = [max(a, v) for a, v in zip(self._high, values, strict=True)]
                self.study.tell(number, values)
            elif all(math.isfinite(h) for h in self._high):
                worst = [h + 0.1 * (h - lo) + 1e-9 * max(1.0, abs(h)) for lo, h in zip(self._low, self._high, strict=True)]
                self.study.tell(number, worst)
            else:
                self.study.tell(number, state=OptunaState.FAIL)

    def replay(self, records: Sequence[TrialRecord]) -> dict[int, Proposal]:
        """Rebuild the Optuna study from the stored trials without asking the sampler: every
        trial in ask order, then the results in the order they were told."""
        running: dict[int, Proposal] = {}
        ordered = sorted(records, key=lambda r: r.number)
        with quiet_optuna():
            for r in ordered:
                self.n_asked += 1
                if r.arch is not None and self.fresh(r.arch):
                    self.seen.add(r.arch.key)
                    self._add_running(r.arch, r.info.get(INFO_KEY))
                if r.arch is not None and not r.state.finished:
                    running[r.number] = Proposal(arch=r.arch, kind=r.kind, info=r.info)
        for r in sorted((r for r in ordered if r.state.finished), key=lambda r: (r.tell_seq is None, r.tell_seq or 0, r.number)):
            self.tell(r)
        return running
