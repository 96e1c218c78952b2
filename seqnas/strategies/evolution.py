"""Regularized (aging) evolution (Real et al. 2019), with NSGA-II selection for several objectives."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from seqnas.errors import ConfigError
from seqnas.pareto import crowding_distance, nondominated_sort
from seqnas.space.base import Arch, SearchSpace
from seqnas.strategies.base import Strategy
from seqnas.strategies.options import float_option, int_option
from seqnas.trial import TrialRecord, TrialState


class RegularizedEvolution(Strategy):
    """Aging evolution: tournament selection, mutation (optionally crossover), the oldest dies.

    The first ``population_size`` proposals are random. After that each proposal is the child
    of the best of ``sample_size`` members drawn from the population (the last
    ``population_size`` results told): a copy mutated in ``mutations`` decisions, crossed over
    first with a second tournament winner with probability ``crossover_prob``. Every result
    joins the population and the oldest member dies, except that the ``elitism`` best members
    are kept whatever their age.

    With several objectives, "best" is NSGA-II's order within the population: lower
    non-dominated front first, then larger crowding distance. Failed trials count as worst on
    every objective (they join the population but win no tournament against a finished one).

    Defaults are chosen for budgets of tens to hundreds of trials (see bench/efficiency.py):
    a small population turns over quickly, a tournament of a quarter of it keeps selection
    pressure moderate.
    """

    name = "evolution"
    multi_objective = True

    def __init__(self, space: SearchSpace, *, seed: int = 0, objectives: Sequence[str] = ("val_mse",),
                 population_size: int = 20, sample_size: int = 5, crossover_prob: float = 0.0,
                 mutations: int = 1, elitism: int = 1) -> None:
        super().__init__(space, seed=seed, objectives=objectives)
        self.population_size = int_option(self.name, "population_size", population_size, low=2)
        self.sample_size = int_option(self.name, "sample_size", sample_size, low=1)
        self.crossover_prob = float_option(self.name, "crossover_prob", crossover_prob, 0.0, 1.0)
        self.mutations = int_option(self.name, "mutations", mutations, low=1)
        self.elitism = int_option(self.name, "elitism", elitism, low=0)
        if self.elitism >= self.population_size:
            raise ConfigError(f"strategy 'evolution': option elitism ({self.elitism}) must be smaller than "
                              f"population_size ({self.population_size})")
        self.population: list[TrialRecord] = []
        self._order: np.ndarray | None = None  # cached selection order of the population (None: stale)

    # -- selection ---------------------------------------------------------------------------------
    def _vector(self, record: TrialRecord) -> np.ndarray:
        if record.state is not TrialState.COMPLETE:
            return np.full(len(self.objectives), np.inf)
        return np.array([float(record.values.get(o, np.inf)) for o in self.objectives])

    def _ranks(self) -> np.ndarray:
        """Position of each population member in the selection order (0 = best)."""
        if self._order is None:
            n = len(self.population)
            if len(self.objectives) == 1:
                scores = np.array([self.score(r) for r in self.population])
                # Ties (failed trials) are broken by age: the younger member ranks first.
                order = np.lexsort((-np.arange(n), scores))
            else:
                pts = _failed_as_worst(np.array([self._vector(r) for r in self.population]))
                front_of = np.empty(n, dtype=int)
                crowd = np.empty(n)
                for f, members in enumerate(nondominated_sort(pts)):
                    front_of[members] = f
                    crowd[members] = crowding_distance(pts[members])
                order = np.lexsort((-np.arange(n), -crowd, front_of))
            ranks = np.empty(n, dtype=int)
            ranks[order] = np.arange(n)
            self._order = ranks
        return self._order

    def _tournament(self, rng: np.random.Generator) -> TrialRecord:
        ranks = self._ranks()
        k = min(self.sample_size, len(self.population))
        picked = rng.choice(len(self.population), size=k, replace=False)
        return self.population[int(picked[np.argmin(ranks[picked])])]

    # -- the Strategy interface ----------------------------------------------------------------------
    def _propose(self, rng: np.random.Generator) -> Arch | None:
        if self.n_asked < self.population_size or not self.population:
            return self.sample_fresh(rng)
        parent = self._tournament(rng)
        assert parent.arch is not None
        child = parent.arch
        if len(self.population) > 1 and rng.random() < self.crossover_prob:
            other = self._tournament(rng)
            if other.arch is not None and other.arch != parent.arch:
                child = self.space.crossover(parent.arch, other.arch, rng)
        for _ in range(self.mutations):
            child = self.space.mutate(child, rng)
        # A child seen before: keep walking away from it (more mutations) before giving up on
        # the lineage; a random architecture is the last resort (small, nearly used-up spaces).
        for _ in range(30):
            if self.fresh(child):
                return child
            child = self.space.mutate(child, rng)
        return self.sample_fresh(rng)

    def _observe(self, record: TrialRecord) -> None:
        if record.arch is None:
            return
        self.population.append(record)
        self._order = None
        if len(self.population) > self.population_size:
            ranks = self._ranks()
            # The oldest member dies, unless it is one of the `elitism` best.
            victim = next(i for i in range(len(self.population)) if ranks[i] >= self.elitism)
            del self.population[victim]
            self._order = None

    def update(self, record: TrialRecord) -> None:
        """A promoted member's higher-rung result replaces its earlier one (it keeps its age)."""
        for i, m in enumerate(self.population):
            if record.arch is not None and m.arch is not None and m.arch.key == record.arch.key:
                self.population[i] = record
                self._order = None


def _failed_as_worst(pts: np.ndarray) -> np.ndarray:
    """Replace the +inf rows of failed trials by a point beyond the worst finished value of each
    objective, so that non-dominated sorting puts them last and crowding distances stay finite."""
    out = pts.copy()
    for k in range(out.shape[1]):
        col = out[:, k]
        finite = col[np.isfinite(col)]
        worst = float(finite.max()) + 1.0 + abs(float(finite.max())) if finite.size else 0.0
        col[~np.isfinite(col)] = worst
    return out
