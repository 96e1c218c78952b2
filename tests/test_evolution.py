"""Regularized evolution: options, aging with elitism, tournament and mutation, NSGA-II selection."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from seqnas.errors import ConfigError
from seqnas.pareto import pareto_mask
from seqnas.space import space_from_dict
from seqnas.strategies import make_strategy
from seqnas.strategies.evolution import RegularizedEvolution
from seqnas.trial import TrialRecord, TrialState

SPACE = space_from_dict({"params": {f"x{i}": [0, 1, 2, 3, 4] for i in range(5)}})


def table(seed: int = 0) -> dict[str, float]:
    """A random additive + pairwise landscape on SPACE: arch key -> value."""
    rng = np.random.default_rng(seed)
    h, j = rng.normal(size=(5, 5)), rng.normal(0, 0.5, (5, 5, 5, 5))
    out = {}
    for combo in itertools.product(range(5), repeat=5):
        arch = SPACE.canonical({f"x{i}": v for i, v in enumerate(combo)})
        out[arch.key] = float(sum(h[i, v] for i, v in enumerate(combo))
                              + sum(j[a, b, combo[a], combo[b]] for a in range(5) for b in range(a + 1, 5)))
    return out


def record(number: int, arch, value: float | None, **values: float) -> TrialRecord:
    if value is None and not values:
        return TrialRecord(number=number, state=TrialState.FAILED, arch=arch, error="boom")
    return TrialRecord(number=number, state=TrialState.COMPLETE, arch=arch, values=values or {"value": value})


def test_bad_options_are_config_errors():
    for options, fragment in (({"population_size": 1}, "population_size"), ({"sample_size": 0}, "sample_size"),
                              ({"crossover_prob": 1.5}, "crossover_prob"), ({"elitism": 20}, "elitism"),
                              ({"mutations": "two"}, "mutations"), ({"tournament": 3}, "tournament")):
        with pytest.raises(ConfigError, match=fragment):
            make_strategy("evolution", SPACE, options=options)


def test_children_are_one_mutation_from_a_population_member():
    values = table()
    s = RegularizedEvolution(SPACE, seed=1, objectives=("value",), population_size=10, sample_size=3)
    told = []
    for n in range(60):
        arch = s.ask().arch
        if n >= 10:
            distances = [sum(arch[k] != t[k] for k in arch) for t in (r.arch for r in s.population)]
            assert min(distances) >= 1
            # One mutation away from a member, unless the child had been seen and it walked on.
            told.append(min(distances) == 1)
        s.tell(record(n, arch, values[arch.key]))
        assert len(s.population) <= 10
    assert sum(told) >= 0.9 * len(told)


def test_the_oldest_dies_but_the_elite_survive():
    s = RegularizedEvolution(SPACE, seed=2, objectives=("value",), population_size=4, sample_size=2, elitism=1)
    archs = [s.ask().arch for _ in range(8)]
    for n, a in enumerate(archs):
        s.tell(record(n, a, -1.0 if n == 0 else float(n)))  # the first one is the best
    assert [r.number for r in s.population] == [0, 5, 6, 7]
    s0 = RegularizedEvolution(SPACE, seed=2, objectives=("value",), population_size=4, sample_size=2, elitism=0)
    for n, a in enumerate(archs):
        s0.tell(record(n, a, -1.0 if n == 0 else float(n)))
    assert [r.number for r in s0.population] == [4, 5, 6, 7]


def test_a_failed_member_never_wins_a_tournament_against_a_finished_one():
    s = RegularizedEvolution(SPACE, seed=3, objectives=("value",), population_size=2, sample_size=2)
    a, b = s.ask().arch, s.ask().arch
    s.tell(record(0, a, None))
    s.tell(record(1, b, 5.0))
    for _ in range(20):
        assert s._tournament(np.random.default_rng(_)).number == 1


def test_nsga2_order_puts_the_pareto_front_first_and_prefers_its_extremes():
    s = RegularizedEvolution(SPACE, seed=4, objectives=("err", "size"), population_size=10, sample_size=2)
    pts = [(1.0, 9.0), (2.0, 5.0), (3.0, 4.0), (9.0, 1.0), (4.0, 6.0), (5.0, 9.5)]
    for n, (e, z) in enumerate(pts):
        s.tell(record(n, s.ask().arch, None, err=e, size=z))
    s.tell(record(6, s.ask().arch, None))  # failed: last
    ranks = s._ranks()
    front = [0, 1, 2, 3]
    assert max(ranks[front]) < min(ranks[[4, 5, 6]])
    assert ranks[6] == 6
    assert {ranks[0], ranks[3]} == {0, 1}  # the extremes of the front have infinite crowding distance


def _hypervolume(points: np.ndarray, ref: tuple[float, float]) -> float:
    front = points[pareto_mask(points)]
    front = front[np.argsort(front[:, 0])]
    hv, last = 0.0, ref[1]
    for x, y in front:
        if x < ref[0] and y < last:
            hv += (ref[0] - x) * (last - y)
            last = y
    return hv


def test_multi_objective_evolution_finds_a_better_front_than_random():
    v1, v2 = table(1), table(2)

    def run(name: str, seed: int) -> float:
        s = make_strategy(name, SPACE, seed=seed, objectives=("a", "b"))
        pts = []
        for n in range(120):
            arch = s.ask().arch
            p = (v1[arch.key], v2[arch.key])
            pts.append(p)
            s.tell(record(n, arch, None, a=p[0], b=p[1]))
        return _hypervolume(np.array(pts), (10.0, 10.0))

    evo = np.mean([run("evolution", k) for k in range(4)])
    rnd = np.mean([run("random", k) for k in range(4)])
    assert evo > rnd
