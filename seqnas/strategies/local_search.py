"""Local search with random restarts (White, Nolen & Savani, "Exploring the loss landscape in
neural architecture search", UAI 2021): a simple baseline that is hard to beat on NAS benchmarks."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from seqnas.space.base import Arch, SearchSpace
from seqnas.strategies.base import Strategy
from seqnas.strategies.options import int_option
from seqnas.trial import TrialRecord


class LocalSearch(Strategy):
    """First-improvement hill climbing over ``SearchSpace.neighbors``, restarted at local optima.

    White, Nolen & Savani (UAI 2021; arXiv:2005.02960) find that this simplest of searches is a
    strong NAS baseline. Each *run* of the search:

    1. **Start.** Propose random architectures (the run's start sample); once ``n_start`` of them
       (the first run) or ``n_restart`` (every later run) have results, the best of those (the
       earliest proposed on a tie) is the current point. As in the authors' code (naszilla's
       ``local_search``), every run starts from the best of a small random sample.
    2. **Move.** Go through the current point's neighbours (every architecture one decision away)
       in a seeded random order. A neighbour whose result is already known (evaluated anywhere in
       the study) is not evaluated again: its known value is used, and a better one is moved to at
       once, for free. Any other neighbour not proposed before is proposed. The first result told
       that is better than the current point (strictly, on the primary objective) makes that
       neighbour the current point, and the walk goes on from there ("first improvement", the
       default of the authors' code; its other variant evaluates the whole neighbourhood first).
       A failed trial never improves.
    3. **Restart.** When every neighbour of the current point has a result and none is better, the
       current point is a local optimum (``local_optima`` lists them): a new run starts at 1.

    Several trials in flight (the runner asks again before results arrive): the strategy never
    waits while something new can be proposed, so it never answers ``WAIT``. During the walk it
    proposes further neighbours of the current point; the first result told that improves on the
    current point (from any of its neighbours, whatever order they were asked in) moves the walk;
    results that arrive later for neighbours of an earlier point are kept as known values. When
    every neighbour has been proposed but some still run, it proposes random architectures for
    the next run's start sample (dropped if a running neighbour then improves; their results stay
    known). While a start sample waits for its results it goes on sampling, and the start is the
    best of the first ``n_start`` (``n_restart``) results that arrive. With one trial at a time
    this is exactly the algorithm above; in every case what it proposes depends only on the seed
    and the order of asks and tells, so ``replay`` rebuilds it exactly. It answers None
    (exhausted) only when no architecture not proposed before is left.

    Several objectives: the first (primary) one alone decides, as in the other single-objective
    strategies.

    Defaults: ``n_start=5``. The authors' code starts each run from the best of 10 random
    architectures, for budgets of 150-300 trials; seqnas budgets are often 30 trials, where 10
    would spend a third of the budget before the walk begins. The best of 5 random architectures
    is expected to be in the best sixth of the space, and leaves 25 of 30 trials for the walk.
    ``n_restart`` defaults to ``n_start``, as in the authors' code (every run begins the same
    way); ``n_restart=1`` restarts from a single random architecture (the paper's simplest form).
    On bench/efficiency.py's three landscapes (20 seeds, 300 trials) n_start = n_restart = 5 was
    as good as 3 or 10 within the noise, and better at 300 trials than restarting from a single
    architecture (n_restart=1) on all three.
    """

    name = "local"

    def __init__(self, space: SearchSpace, *, seed: int = 0, objectives: Sequence[str] = ("val_mse",),
                 n_start: int = 5, n_restart: int | None = None) -> None:
        super().__init__(space, seed=seed, objectives=objectives)
        self.n_start = int_option(self.name, "n_start", n_start, low=1)
        self.n_restart = self.n_start if n_restart is None else int_option(self.name, "n_restart", n_restart, low=1)
        self.results: dict[str, float] = {}  # arch key -> primary score of every architecture told (failed: inf)
        self.runs = 1  # runs started: 1 + the number of restarts
        self.current: Arch | None = None  # the current point (None while a run's start sample is evaluated)
        self.current_score = math.inf
        self.local_optima: list[Arch] = []  # where each run ended, in order
        self.moves = 0  # times the current point was set (starts and moves): numbers the neighbour shuffles
        self._sample: list[Arch] = []  # the (next) run's start sample, in proposal order
        self._sample_size = self.n_start  # results of the sample the start waits for
        self._queue: list[Arch] = []  # neighbours of the current point still to look at (popped from the end)
        self._neighbors: set[str] = set()  # keys of all neighbours of the current point

    # -- the walk ------------------------------------------------------------------------------------
    def _move(self, arch: Arch) -> None:
        """Make ``arch`` (its result known) the current point and shuffle its neighbours."""
        self.current, self.current_score = arch, self.results[arch.key]
        neighbors = list(self.space.neighbors(arch))
        order = np.random.default_rng([self.seed, self.moves, 0x10CA1]).permutation(len(neighbors))
        self.moves += 1
        self._queue = [neighbors[i] for i in order[::-1]]  # pop() takes them in the shuffled order
        self._neighbors = {n.key for n in neighbors}
        self._sample = []  # a next run's sample begun while neighbours ran: not needed now

    def _maybe_start(self) -> None:
        """Start the walk once ``_sample_size`` results of the start sample are in: from the best of them."""
        told = [a for a in self._sample if a.key in self.results]
        if len(told) >= self._sample_size:
            self._move(min(told, key=lambda a: self.results[a.key]))  # min: the first proposed of equals

    def _restart(self) -> None:
        assert self.current is not None
        self.local_optima.append(self.current)
        self.current, self.current_score = None, math.inf
        self._queue, self._neighbors = [], set()
        self._sample_size = self.n_restart
        self.runs += 1
        self._maybe_start()  # the sample may have been proposed, and told, while the last neighbours ran

    def _sample_more(self, rng: np.random.Generator) -> Arch | None:
        arch = self.sample_fresh(rng)
        if arch is not None:
            self._sample.append(arch)
        return arch  # None: nothing new is left in the space

    def _propose(self, rng: np.random.Generator) -> Arch | None:
        while True:
            if self.current is None:  # a run's start: its random sample (more of it while results are awaited)
                return self._sample_more(rng)
            while self._queue:
                n = self._queue.pop()
                known = self.results.get(n.key)
                if known is not None:
                    if known < self.current_score:
                        self._move(n)  # a known better neighbour: move there without evaluating it
                    continue
                if self.fresh(n):
                    return n
                # Proposed before and still running: its result, when told, decides (_observe).
            if any(k in self.seen and k not in self.results for k in self._neighbors):
                return self._sample_more(rng)  # some neighbours still run: begin the next run's sample meanwhile
            self._restart()  # a local optimum

    def _observe(self, record: TrialRecord) -> None:
        if record.arch is None:
            return
        key, score = record.arch.key, self.score(record)
        self.results[key] = score
        if self.current is None:
            self._maybe_start()
        elif key in self._neighbors and score < self.current_score:
            self._move(record.arch)  # first improvement
