"""Multi-fidelity search: successive halving, Hyperband and ASHA over any ask/tell strategy.

An architecture is first trained for a few epochs (the lowest rung); the best fraction
(1/``eta``) of each rung is promoted to the next, where training continues from the saved
state (weights, optimiser, early-stopping counters: ``evaluation.training.train(resume=)``)
up to ``eta`` times as many epochs in all, until ``max_epochs``. Each rung run of an
architecture is one stored trial (``info``: ``rung``, ``rung_epochs``, ``bracket``,
``parent`` = the trial it continues), so budgets, resume and crash safety work as for any
trial; the runner keeps the checkpoints (next to the database).

Schedulers (Li et al., JMLR 2018; Li et al., MLSys 2020):

- ``sh``: synchronous successive halving, brackets of ``eta**s_max`` architectures at the
  lowest rung, one after another; a rung is decided when all of its results are in.
- ``hyperband``: the brackets of Hyperband's Algorithm 1 in turn (``brackets``), from the most
  aggressive (many architectures, few epochs) to plain full-fidelity evaluation.
- ``asha``: asynchronous successive halving: whenever a worker is free, promote an
  architecture in the top 1/eta of its rung that has not been promoted yet (highest rung
  first), else start a new one; nobody waits for a rung to fill.

While every open bracket waits for results, ``sh`` and ``hyperband`` open the next bracket
rather than leave a worker idle.

The inner strategy proposes every new architecture and is told its first result (``tell``);
results at higher rungs reach it through ``Strategy.update``: evolution then ranks the member
by its highest-rung value, bayesian (BOHB) fits its model on the highest rung with at least
``n_startup_trials`` observations, random and rl ignore them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from seqnas.errors import ConfigError
from seqnas.space.base import Arch, SearchSpace
from seqnas.strategies.base import WAIT, Strategy
from seqnas.strategies.options import choice_option, int_option
from seqnas.trial import Proposal, TrialRecord

SCHEDULERS = ("asha", "hyperband", "sh")
OPTIONS = ("scheduler", "min_epochs", "max_epochs", "eta")  # what wraps any strategy (make_strategy)


def rung_epochs(min_epochs: int, max_epochs: int, eta: int) -> list[int]:
    """Epochs in all at each rung: ``max_epochs * eta**-k`` for k = s_max..0, where s_max is the
    largest power of ``eta`` that fits between ``min_epochs`` and ``max_epochs``."""
    s_max = 0
    while min_epochs * eta ** (s_max + 1) <= max_epochs:
        s_max += 1
    out: list[int] = []
    for k in range(s_max, -1, -1):
        e = max(1, round(max_epochs / eta**k))
        if not out or e > out[-1]:
            out.append(e)
    return out


def brackets(s_max: int, eta: int) -> list[list[tuple[int, int]]]:
    """Hyperband's brackets (Li et al. 2018, Algorithm 1), most aggressive first: bracket s
    starts n = ceil((s_max + 1) / (s + 1) * eta**s) architectures at rung s_max - s and keeps
    n // eta**i of them at its i-th rung. Each bracket is a list of (architectures, rung)."""
    out = []
    for s in range(s_max, -1, -1):
        n = math.ceil((s_max + 1) * eta**s / (s + 1))
        out.append([(n // eta**i, s_max - s + i) for i in range(s + 1)])
    return out


@dataclass
class _Bracket:
    """One bracket's bookkeeping. ``plan``: (architectures kept, rung) per stage (ASHA: no limits)."""

    id: int
    plan: list[tuple[int | None, int]]
    asked: list[list[str]] = field(default_factory=list)  # per stage: arch keys, in ask order
    results: list[dict[str, tuple[float, int]]] = field(default_factory=list)  # per stage: key -> (score, trial)
    queue: list[list[str]] = field(default_factory=list)  # per stage: decided promotions not yet asked
    decided: list[bool] = field(default_factory=list)  # per stage: promotions into it decided (sync)
    closed: bool = False  # no new architectures (the inner strategy is exhausted)

    def __post_init__(self) -> None:
        n = len(self.plan)
        self.asked, self.results = [[] for _ in range(n)], [{} for _ in range(n)]
        self.queue, self.decided = [[] for _ in range(n)], [False] * n

    def stage_done(self, i: int) -> bool:
        return len(self.results[i]) == len(self.asked[i])

    def ranked(self, i: int) -> list[str]:
        """Keys of finished stage-i results, best first (earliest trial on ties); failures last."""
        return [k for k, _ in sorted(self.results[i].items(), key=lambda kv: (kv[1][0], kv[1][1]))]


class MultiFidelity(Strategy):
    """A scheduler (``asha``, ``hyperband``, ``sh``) over an inner strategy (module docstring).

    Options: ``scheduler``, ``inner`` (a strategy name), ``inner_options``, ``min_epochs`` (the
    lowest rung, default 1), ``max_epochs`` (the highest; default the study's --max-epochs),
    ``eta`` (reduction factor, default 3). A study's selection ranks architectures by the
    highest rung they reached first (``trial.best_first``).
    """

    name = "multifidelity"
    requires_task = "trains each architecture for a number of epochs per rung"
    default_scheduler = "asha"
    default_inner = "random"

    def __init__(self, space: SearchSpace, *, seed: int = 0, objectives: Sequence[str] = ("val_mse",),
                 scheduler: str | None = None, inner: str | None = None, inner_options: dict[str, Any] | None = None,
                 min_epochs: int = 1, max_epochs: int | None = None, eta: int = 3) -> None:
        super().__init__(space, seed=seed, objectives=objectives)
        from seqnas.strategies import STRATEGIES, make_strategy

        n = self.name
        self.scheduler = choice_option(n, "scheduler", scheduler or self.default_scheduler, SCHEDULERS)
        inner = inner or self.default_inner
        if inner not in STRATEGIES or issubclass(STRATEGIES[inner], MultiFidelity):
            raise ConfigError(f"strategy {n!r}: option inner must be one of "
                              f"{sorted(k for k, c in STRATEGIES.items() if not issubclass(c, MultiFidelity))}, got {inner!r}")
        if inner == "darts":
            raise ConfigError(f"strategy {inner!r} trains one supernet, not architectures one by one: a scheduler does not apply to it")
        if max_epochs is None:
            raise ConfigError(f"strategy {n!r}: give option max_epochs (the study's --max-epochs is the usual choice)")
        self.eta = int_option(n, "eta", eta, low=2)
        self.min_epochs = int_option(n, "min_epochs", min_epochs, low=1)
        self.max_epochs = int_option(n, "max_epochs", max_epochs, low=1)
        if self.min_epochs >= self.max_epochs:
            raise ConfigError(f"strategy {n!r}: min_epochs ({self.min_epochs}) must be below max_epochs ({self.max_epochs})")
        if inner_options is not None and not isinstance(inner_options, dict):
            raise ConfigError(f"strategy {n!r}: option inner_options must be a mapping of the inner strategy's options")
        self.inner = make_strategy(inner, space, seed=seed, objectives=objectives, options=inner_options)
        self.rungs = rung_epochs(self.min_epochs, self.max_epochs, self.eta)
        s_max = len(self.rungs) - 1
        if self.scheduler == "asha":
            self._plans: list[list[tuple[int | None, int]]] = [[(None, k) for k in range(s_max + 1)]]
        elif self.scheduler == "sh":
            self._plans = [list(brackets(s_max, self.eta)[0])]
        else:
            self._plans = [list(b) for b in brackets(s_max, self.eta)]
        self.brackets: list[_Bracket] = []
        self.archs: dict[str, Arch] = {}
        self.exhausted = False  # the inner strategy has nothing more to propose
        self._released: list[int] = []  # trials of architectures a synchronous bracket stopped

    # -- proposals -----------------------------------------------------------------------------------
    def _job(self, b: _Bracket, i: int, key: str, parent: int | None, extra: dict[str, Any]) -> Proposal:
        b.asked[i].append(key)
        k = b.plan[i][1]
        info = {**extra, "rung": k, "rung_epochs": self.rungs[k], "bracket": b.id, "parent": parent}
        return Proposal(arch=self.archs[key], info=info)

    def _new(self, b: _Bracket) -> Proposal | None:
        """A new architecture from the inner strategy into the bracket's first stage (None: none now)."""
        if self.exhausted:
            return None
        p = self.inner.ask()
        if p is None:
            self.exhausted = True
            for x in self.brackets:
                x.closed = True
            return None
        if p is WAIT:
            return WAIT
        assert p.arch is not None
        self.archs[p.arch.key] = p.arch
        return self._job(b, 0, p.arch.key, None, p.info)

    def _promote(self, b: _Bracket, i: int) -> Proposal:
        key = b.queue[i].pop(0)
        return self._job(b, i, key, b.results[i - 1][key][1], {})

    def _sync_next(self, b: _Bracket) -> Proposal | None:
        """The bracket's next job, synchronous successive halving; None when it waits or is done."""
        n0 = b.plan[0][0]
        if not b.closed and n0 is not None and len(b.asked[0]) < n0:
            out = self._new(b)
            if out is not None:
                return out  # a new architecture, or WAIT from the inner strategy
            # the inner strategy is exhausted: the bracket is closed, its promotions go on
        for i in range(1, len(b.plan)):
            if not b.decided[i]:
                if not b.stage_done(i - 1):
                    return None
                b.decided[i] = True
                full = not b.closed or len(b.asked[0]) == n0
                # A bracket cut short (the space ran out) still trains its best to the top rung.
                keep = b.plan[i][0] if full else max(1, len(b.asked[i - 1]) // self.eta)
                b.queue[i] = [k for k in b.ranked(i - 1) if math.isfinite(b.results[i - 1][k][0])][:keep]
                self._released += [n for k, (_, n) in b.results[i - 1].items() if k not in b.queue[i]]
            if b.queue[i]:
                return self._promote(b, i)
        return None

    def _asha_next(self, b: _Bracket) -> Proposal | None:
        for i in range(len(b.plan) - 1, 0, -1):
            top = b.ranked(i - 1)[: len(b.results[i - 1]) // self.eta]
            done = set(b.asked[i])
            for key in top:
                if key not in done and math.isfinite(b.results[i - 1][key][0]):
                    b.queue[i] = [key]
                    return self._promote(b, i)
        return self._new(b)

    def ask(self) -> Proposal | None:
        """A promotion or a new architecture; WAIT while every bracket waits for a running trial
        and no new bracket can start; None when there is nothing left to run."""
        if self.scheduler == "asha":
            if not self.brackets:
                self.brackets.append(_Bracket(0, self._plans[0]))
            out = self._asha_next(self.brackets[0])
        else:
            out = None
            for b in self.brackets:
                if not self._finished(b):
                    out = self._sync_next(b)
                    if out is not None:
                        break
            while out is None and not self.exhausted:  # every open bracket waits: open the next one
                b = _Bracket(len(self.brackets), self._plans[len(self.brackets) % len(self._plans)])
                self.brackets.append(b)
                out = self._sync_next(b)
        if out is not None and out is not WAIT:
            self.n_asked += 1
        if out is None and any(not self._finished(b) for b in self.brackets):
            return WAIT  # promotions may still come from trials in flight
        return out

    def released(self) -> list[int]:
        out, self._released = self._released, []
        return out

    def _finished(self, b: _Bracket) -> bool:
        """No job of this bracket is running or can still be asked."""
        if any(not b.stage_done(i) for i in range(len(b.plan))):
            return False
        if self.scheduler == "asha":
            return self.exhausted
        n0 = b.plan[0][0]
        if not b.closed and n0 is not None and len(b.asked[0]) < n0:
            return False
        return all(b.decided[i] and not b.queue[i] for i in range(1, len(b.plan)))

    # -- results -----------------------------------------------------------------------------------------
    def _observe(self, record: TrialRecord) -> None:
        b = self.brackets[int(record.info["bracket"])]
        stage = next(i for i, (_, k) in enumerate(b.plan) if k == int(record.info["rung"]))
        assert record.arch is not None
        b.results[stage][record.arch.key] = (self.score(record), record.number)
        if stage == 0:
            self.inner.tell(record)
        else:
            self.inner.update(record)

    def _replayed(self, stored: TrialRecord, proposed: Proposal | None) -> None:
        """The stored record is the truth: where the replayed ask differs (a strategy that is not
        deterministic), put the stored architecture in its place."""
        if proposed is None or proposed.arch is None or stored.arch is None or proposed.arch == stored.arch:
            return
        b = self.brackets[int(proposed.info["bracket"])]
        stage = next(i for i, (_, k) in enumerate(b.plan) if k == int(proposed.info["rung"]))
        b.asked[stage][b.asked[stage].index(proposed.arch.key)] = stored.arch.key
        self.archs[stored.arch.key] = stored.arch
        if stage == 0:
            self.inner._replayed(stored, proposed)
