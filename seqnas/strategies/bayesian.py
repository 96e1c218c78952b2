"""Bayesian optimization: Optuna's TPE / GP samplers driven through ask/tell over a seqnas space."""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Container, Iterator, Sequence
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.storages import InMemoryStorage
from optuna.trial import FrozenTrial, create_trial
from optuna.trial import TrialState as OptunaState

from seqnas.space.base import Arch, SearchSpace
from seqnas.space.params import Categorical, Int, Param
from seqnas.strategies.base import Strategy
from seqnas.strategies.options import bool_option, choice_option, int_option
from seqnas.threads import one_thread
from seqnas.trial import Proposal, TrialRecord, TrialState

INFO_KEY = "optuna_system_attrs"  # where a trial's Optuna notes are stored (TrialRecord.info)
KERNEL_KEY = "gp_kernel"  # where the GP's fitted kernel after an ask is stored (TrialRecord.info): the next fit's start


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


def penalty(low: Sequence[float], high: Sequence[float]) -> list[float]:
    """What a failed trial counts as: per objective, beyond the worst finished value by a tenth of
    the finished values' range (and a hair more, so that it is worse even when they are all equal)."""
    return [h + 0.1 * (h - lo) + 1e-9 * max(1.0, abs(h)) for lo, h in zip(low, high, strict=True)]


class PenaltyStorage(InMemoryStorage):
    """The mirror study's in-memory storage: it shows every failed trial with the current penalty.

    Optuna cannot change a finished trial, and the penalty moves as results arrive; so a failed
    trial is stored FAIL and, wherever the samplers read the trials (``get_all_trials``), shown
    COMPLETE with ``penalty`` once one is set (before any success it stays FAIL: ignored).
    """

    def __init__(self) -> None:
        super().__init__()
        self.failed: set[int] = set()  # trial numbers (one study: number == trial id)
        self.penalty: list[float] | None = None
        # BOHB: when set, the samplers see only these trials, with these values (one rung's results).
        self.view: dict[int, list[float]] | None = None
        self._shown: dict[int, FrozenTrial] = {}  # failed trial number -> as shown under ``penalty``

    def set_penalty(self, values: list[float] | None) -> None:
        if values != self.penalty:
            self.penalty = values
            self._shown.clear()

    def _show(self, trial: FrozenTrial) -> FrozenTrial:
        shown = self._shown.get(trial.number)
        if shown is None:
            shown = copy.copy(trial)
            shown.state, shown.values = OptunaState.COMPLETE, self.penalty
            self._shown[trial.number] = shown
        return shown

    def get_all_trials(self, study_id: int, deepcopy: bool = True,
                       states: Container[OptunaState] | None = None) -> list[FrozenTrial]:
        if self.view is not None and states != (OptunaState.WAITING,):
            trials = [self._at_rung(t) for t in super().get_all_trials(study_id, deepcopy=False)]
            return [t for t in trials if states is None or t.state in states]
        if self.penalty is None or not self.failed or states == (OptunaState.WAITING,):
            return super().get_all_trials(study_id, deepcopy=deepcopy, states=states)
        trials = [self._show(t) if t.number in self.failed else t
                  for t in super().get_all_trials(study_id, deepcopy=False)]
        if states is not None:
            trials = [t for t in trials if t.state in states]
        return copy.deepcopy(trials) if deepcopy else trials


    def _at_rung(self, trial: FrozenTrial) -> FrozenTrial:
        """A finished trial as the view shows it: COMPLETE with the rung's values, or FAIL (ignored)."""
        assert self.view is not None
        if trial.state is OptunaState.RUNNING:
            return trial
        shown = copy.copy(trial)
        if trial.number in self.view:
            shown.state, shown.values = OptunaState.COMPLETE, self.view[trial.number]
        else:
            shown.state, shown.values = OptunaState.FAIL, None
        return shown


def kernel_to_json(gprs: Sequence[Any] | None) -> list[dict[str, Any]] | None:
    """GPSampler's fitted kernels (one per objective), as plain floats (None: none, or an Optuna
    that keeps them otherwise)."""
    try:
        return [{"inverse_squared_lengthscales": g.inverse_squared_lengthscales.detach().reshape(-1).tolist(),
                 "kernel_scale": float(g.kernel_scale), "noise_var": float(g.noise_var)} for g in gprs] if gprs else None
    except (AttributeError, TypeError):
        return None


def kernel_from_json(kernels: Sequence[dict[str, Any]]) -> list[Any]:
    """What GPSampler starts its next kernel fit from (it reads only these three attributes)."""
    import torch

    return [SimpleNamespace(inverse_squared_lengthscales=torch.tensor(k["inverse_squared_lengthscales"], dtype=torch.float64),
                            kernel_scale=torch.tensor(k["kernel_scale"], dtype=torch.float64),
                            noise_var=torch.tensor(k["noise_var"], dtype=torch.float64)) for k in kernels]


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
    search continues exactly as an uninterrupted one.

    Failed trials, whatever failed them (an error, a non-finite value, a ``--max-params``
    constraint), follow one rule, whatever the order their results arrive in: at each ask the
    sampler sees every failed trial with the same penalty, computed from the successes told so
    far (per objective, the worst finished value plus a tenth of their range), so it learns to
    avoid what fails; they count as finished trials, ``n_startup_trials`` included. Before the
    first success there is no penalty and failures are left out (failed: samplers ignore them);
    the first success brings them all in, and as later successes move the penalty, every
    failure, early or late, moves with it (``PenaltyStorage``).

    An architecture proposed before is told failed to Optuna (samplers ignore failed trials) and
    the sampler asked again, up to ``max_resample`` times; then an unseen neighbour of its last
    choice (one decision changed) is used.

    ``sampler="gp"`` keeps what GPSampler keeps between asks when used for a whole study: each
    fit of its kernel starts from the last ask's fitted kernel. That start changes the fit, so it
    travels with each proposal (``TrialRecord.info``, a few floats) and resume restores it from
    the last stored trial: a resumed study still continues exactly.
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
        self._kernel: list[dict[str, Any]] | None = None  # GP: the last fitted kernel, the next fit's start
        self._by_rung: dict[int, dict[int, list[float]]] = {}  # multi-fidelity: rung -> Optuna trial -> values
        self.storage = PenaltyStorage()
        with quiet_optuna():
            self.study = optuna.create_study(storage=self.storage, directions=["minimize"] * len(self.objectives))

    # -- the Optuna side ------------------------------------------------------------------------------
    def _make_sampler(self, seed: int) -> optuna.samplers.BaseSampler:
        if self.sampler == "gp":
            gp = optuna.samplers.GPSampler(seed=seed, n_startup_trials=self.n_startup_trials,
                                           warn_independent_sampling=False)
            if self._kernel is not None and hasattr(gp, "_gprs_cache_list"):  # private: an Optuna without it starts cold
                gp._gprs_cache_list = kernel_from_json(self._kernel)  # where a kept GPSampler would start
            return gp
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
    def _kept(self, sampler: optuna.samplers.BaseSampler) -> dict[str, Any]:
        """What this ask leaves for the next (GP: its fitted kernel), and the info that carries it."""
        if isinstance(sampler, optuna.samplers.GPSampler):
            self._kernel = kernel_to_json(getattr(sampler, "_gprs_cache_list", None)) or self._kernel
        return {KERNEL_KEY: self._kernel} if self._kernel is not None else {}

    def _propose(self, rng: np.random.Generator) -> Arch | Proposal | None:
        # GPSampler fits and searches with small torch tensors: on a 2-core machine a second
        # intra-op thread made each GP ask cost 10x the CPU (bench/results/bayesian_ask.md).
        self.storage.view = self._rung_view()
        with quiet_optuna(), one_thread():
            sampler = self.study.sampler = self._make_sampler(int(rng.integers(2**31 - 1)))
            arch = None
            for _ in range(self.max_resample):
                trial = self.study.ask()
                arch = suggest(self.space, trial)
                if self.fresh(arch):
                    self._number[arch.key] = trial.number
                    # The sampler's notes on its trial (TPE keeps its joint sample there, and
                    # uses it while the trial runs) go into storage so that resume rebuilds them.
                    attrs = self.study.get_trials(deepcopy=False)[trial.number].system_attrs
                    info = {INFO_KEY: dict(attrs)} if attrs else {}
                    return Proposal(arch=arch, info={**info, **self._kept(sampler)})
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
            if fresh is None:
                return None
            self._add_running(fresh)
            return Proposal(arch=fresh, info=self._kept(sampler))

    def _rung_view(self) -> dict[int, list[float]] | None:
        """BOHB (Falkner et al. 2018): under a multi-fidelity scheduler the model is fitted on one
        rung's results only, the highest rung with at least ``n_startup_trials`` of them (before
        that, the rung with the most); None outside a scheduler."""
        if not self._by_rung:
            return None
        enough = [k for k, v in self._by_rung.items() if len(v) >= max(1, self.n_startup_trials)]
        rung = max(enough) if enough else max(self._by_rung, key=lambda k: (len(self._by_rung[k]), k))
        return self._by_rung[rung]

    def update(self, record: TrialRecord) -> None:
        self._observe_rung(record)

    def _observe_rung(self, record: TrialRecord) -> None:
        if record.arch is None or record.arch.key not in self._number or record.info.get("rung") is None:
            return
        values = [float(record.values.get(o, math.nan)) for o in self.objectives]
        if record.state is TrialState.COMPLETE and all(math.isfinite(v) for v in values):
            self._by_rung.setdefault(int(record.info["rung"]), {})[self._number[record.arch.key]] = values

    def _observe(self, record: TrialRecord) -> None:
        if record.arch is None or record.arch.key not in self._number:
            return
        self._observe_rung(record)
        number = self._number[record.arch.key]
        values = [float(record.values.get(o, math.nan)) for o in self.objectives]
        with quiet_optuna():
            if record.state is TrialState.COMPLETE and all(math.isfinite(v) for v in values):
                self._low = [min(a, v) for a, v in zip(self._low, values, strict=True)]
                self._high = [max(a, v) for a, v in zip(self._high, values, strict=True)]
                self.study.tell(number, values)
                self.storage.set_penalty(penalty(self._low, self._high))
            else:  # shown with the penalty of the moment, whenever it came (PenaltyStorage)
                self.study.tell(number, state=OptunaState.FAIL)
                self.storage.failed.add(number)

    def replay(self, records: Sequence[TrialRecord]) -> dict[int, Proposal]:
        """Rebuild the Optuna study from the stored trials without asking the sampler: every
        trial in ask order, then the results in the order they were told; and (GP) the kernel
        the last stored ask left."""
        running: dict[int, Proposal] = {}
        ordered = sorted(records, key=lambda r: r.number)
        with quiet_optuna():
            for r in ordered:
                self.n_asked += 1
                self._kernel = r.info.get(KERNEL_KEY, self._kernel)
                if r.arch is not None and self.fresh(r.arch):
                    self.seen.add(r.arch.key)
                    self._add_running(r.arch, r.info.get(INFO_KEY))
                if r.arch is not None and not r.state.finished:
                    running[r.number] = Proposal(arch=r.arch, kind=r.kind, info=r.info)
        for r in sorted((r for r in ordered if r.state.finished), key=lambda r: r.tell_order):
            self.tell(r)
        return running
