"""Random and grid search: no duplicates, reproducible, exhaustive then stop; resume = replay."""

from __future__ import annotations

import math

import pytest

import seqnas
from seqnas.space import space_from_dict
from seqnas.strategies import make_strategy
from seqnas.strategies.grid import GridSearch
from seqnas.trial import TrialRecord, TrialState

SMALL = {"params": [
    {"name": "depth", "type": "categorical", "choices": [1, 2, 3]},
    {"name": "w", "type": "int", "low": 1, "high": 3},
    {"name": "extra", "type": "categorical", "choices": ["a", "b"], "condition": {"parent": "depth", "values": [3]}},
]}  # 1*3 + 1*3 + 2*3 = 12 architectures


def _score(arch) -> float:
    if "depth" not in arch:
        return float(sum(v for v in arch.values()))
    return (arch["depth"] - 2) ** 2 + arch["w"] / 10 + (0.5 if arch.get("extra") == "b" else 0.0)


def _drain(strategy, limit: int = 10_000) -> list:
    out = []
    for _ in range(limit):
        p = strategy.ask()
        if p is None:
            return out
        out.append(p.arch)
        strategy.tell(TrialRecord(number=len(out) - 1, state=TrialState.COMPLETE, arch=p.arch, values={"value": _score(p.arch)}))
    raise AssertionError("the strategy never ran out")


@pytest.mark.parametrize("name", ["random", "grid"])
def test_every_architecture_once_then_exhausted(name):
    space = space_from_dict(SMALL)
    archs = _drain(make_strategy(name, space, seed=3))
    assert len(archs) == 12 == space.cardinality
    assert len({a.key for a in archs}) == 12
    assert {a.key for a in archs} == {a.key for a in space.grid()}


@pytest.mark.parametrize("name", ["random", "grid"])
def test_same_seed_same_order_other_seed_other_order(name):
    space = space_from_dict(SMALL)
    a = [x.key for x in _drain(make_strategy(name, space, seed=1))]
    b = [x.key for x in _drain(make_strategy(name, space, seed=1))]
    assert a == b
    others = {tuple(x.key for x in _drain(make_strategy(name, space, seed=s))) for s in range(2, 8)}
    assert len(others - {tuple(a)}) >= 3


def test_random_search_on_a_large_space_never_repeats():
    space = seqnas.get_space("rnn-macro")
    s = make_strategy("random", space, seed=0)
    keys = [s.ask().arch.key for _ in range(500)]
    assert len(set(keys)) == 500


def test_random_search_finds_the_last_free_architectures_of_a_nearly_used_up_space():
    space = space_from_dict({"params": {"a": list(range(40))}})
    s = make_strategy("random", space, seed=0)
    got = {p.arch["a"] for p in iter(s.ask, None)}
    assert got == set(range(40))


@pytest.mark.parametrize("seed", [0, 1, 5])
def test_shuffled_grid_order_is_a_permutation_of_the_grid(seed):
    space = seqnas.get_space("rnn-macro")
    g = GridSearch(space, seed=seed)
    assert g.size == 4_041_840 and math.gcd(g._a, g.size) == 1
    first = [g.ask().arch for _ in range(300)]
    assert len({a.key for a in first}) == 300
    # A shuffled walk covers the grid rather than one corner of it: the first 300 indices fall in
    # every tenth of the index range.
    indices = [(g._a * k + g._b) % g.size for k in range(300)]
    assert [g.space.grid_at(i) for i in indices[:20]] == first[:20]
    assert {10 * i // g.size for i in indices} == set(range(10))
    small = space_from_dict(SMALL)
    order = [a.key for a in _drain(GridSearch(small, seed=seed))]
    lexicographic = [a.key for a in small.grid()]
    assert sorted(order) == sorted(lexicographic) and len(order) == len(set(order))


def test_unshuffled_grid_is_lexicographic_and_resolution_applies():
    small = space_from_dict(SMALL)
    assert [a.key for a in _drain(GridSearch(small, shuffle=False))] == [a.key for a in small.grid()]
    space = space_from_dict({"params": {"x": {"type": "float", "low": 0.0, "high": 1.0}, "n": [1, 2]}})
    archs = _drain(make_strategy("grid", space, options={"resolution": 3}))
    assert len(archs) == 6 and sorted({a["x"] for a in archs}) == [0.0, 0.5, 1.0]


def test_a_grid_study_stops_when_the_grid_is_done(db):
    r = seqnas.search(space_from_dict(SMALL), objective=_score, strategy="grid", trials=50, seed=0, study="g", db=db)
    assert len(r.records) == 12 and r.best_value == pytest.approx(0.1)
    assert r.best_arch == {"depth": 2, "w": 1}


@pytest.mark.parametrize("name", ["random", "grid"])
def test_continuing_a_study_gives_what_an_uninterrupted_run_gives(db, name):
    space = seqnas.get_space("rnn-macro")

    def f(a):
        return a["hidden1"] / 128 + a["depth"] / 4

    whole = seqnas.search(space, objective=f, strategy=name, trials=20, seed=4, study="whole", db=db)
    # Continued by calling search again with a larger budget ...
    seqnas.search(space, objective=f, strategy=name, trials=7, seed=4, study="parts", db=db)
    parts = seqnas.search(space, objective=f, strategy=name, trials=20, seed=4, study="parts", db=db, load_if_exists=True)
    assert parts.trials["arch_hash"].tolist() == whole.trials["arch_hash"].tolist()
    assert parts.trials["value"].tolist() == whole.trials["value"].tolist()

    # ... and interrupted (Ctrl-C inside trial 9), then resumed: trial 9 runs again, nothing else does.
    calls = []

    def interrupted(a):
        calls.append(a.key)
        if len(calls) == 10:
            raise KeyboardInterrupt
        return f(a)

    with pytest.raises(KeyboardInterrupt):
        seqnas.search(space, objective=interrupted, strategy=name, trials=20, seed=4, study="stopped", db=db)
    stopped = seqnas.load("stopped", db)
    assert [r.state for r in stopped.records] == [TrialState.COMPLETE] * 9 + [TrialState.RUNNING]
    calls.clear()
    done = seqnas.resume("stopped", db, objective=f)
    assert done.trials["arch_hash"].tolist() == whole.trials["arch_hash"].tolist()
    assert done.trials["value"].tolist() == whole.trials["value"].tolist()
