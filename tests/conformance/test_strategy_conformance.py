"""The strategy conformance suite: every strategy in STRATEGIES, on cheap objectives, no training.

Each strategy must be deterministic for a seed, never propose an architecture twice, respect
the space's conditions, work with several trials in flight, exhaust a tiny space cleanly,
continue after replay exactly as an uninterrupted run, and survive failed trials. A strategy
is skipped on a case only when it cannot apply to it, with the reason (e.g. a one-shot
strategy whose proposals are supernet jobs that need a task to train on).
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import seqnas
from seqnas.errors import UserError
from seqnas.space import SearchSpace, rnn_macro_space, space_from_dict
from seqnas.space.base import Arch
from seqnas.strategies import STRATEGIES, make_strategy
from seqnas.strategies.base import WAIT, Strategy
from seqnas.trial import Proposal, TrialRecord, TrialState

NAMES = sorted(STRATEGIES)


# -- spaces -------------------------------------------------------------------------------------------
def conditional_space() -> SearchSpace:
    """Categoricals, an int, a log float, and conditions two levels deep (no model family)."""
    return space_from_dict({"name": "conditional", "params": [
        {"name": "kind", "type": "categorical", "choices": ["a", "b", "c"]},
        {"name": "n", "type": "int", "low": 1, "high": 6, "condition": {"parent": "kind", "values": ["a", "b"]}},
        {"name": "mode", "type": "categorical", "choices": [True, False], "condition": {"parent": "kind", "values": ["b"]}},
        {"name": "rate", "type": "float", "low": 1e-4, "high": 1e-1, "log": True, "condition": {"parent": "mode", "values": [True]}},
        {"name": "width", "type": "categorical", "choices": [8, 16, 32]},
        {"name": "extra", "type": "int", "low": 0, "high": 3, "condition": {"parent": "width", "values": [32]}},
    ]})


def small_space() -> SearchSpace:
    """90 architectures (also on the grid): small enough that duplicates would happen, large enough not to run out."""
    return space_from_dict({"name": "small", "params": [
        {"name": "a", "type": "categorical", "choices": [0, 1, 2]},
        {"name": "b", "type": "categorical", "choices": ["x", "y", "z"]},
        {"name": "c", "type": "int", "low": 0, "high": 4, "condition": {"parent": "a", "values": [2]}},
        {"name": "d", "type": "categorical", "choices": [1, 2], "condition": {"parent": "a", "values": [0, 1]}},
        {"name": "e", "type": "categorical", "choices": [False, True], "condition": {"parent": "b", "values": ["x", "y"]}},
        {"name": "f", "type": "categorical", "choices": [0.5, 1.5]},
    ]})


def tiny_space() -> SearchSpace:
    """6 architectures, one of them with a conditional parameter."""
    return space_from_dict({"name": "tiny", "params": [
        {"name": "a", "type": "categorical", "choices": [0, 1, 2]},
        {"name": "b", "type": "categorical", "choices": ["x", "y"], "condition": {"parent": "a", "values": [2]}},
        {"name": "c", "type": "int", "low": 0, "high": 1, "condition": {"parent": "a", "values": [0, 1]}},
    ]})


SPACES: dict[str, Callable[[], SearchSpace]] = {"conditional": conditional_space, "rnn-macro": rnn_macro_space}


# -- a cheap objective, and a driver that plays the runner -------------------------------------------------
def _u(arch: Arch, salt: str) -> float:
    return int(hashlib.sha256(f"{salt}:{arch.key}".encode()).hexdigest()[:12], 16) / 16**12


def fails(arch: Arch) -> bool:
    """About one architecture in five fails (deterministically)."""
    return _u(arch, "fail") < 0.2


def values(arch: Arch, objectives: tuple[str, ...]) -> dict[str, float]:
    return {o: _u(arch, o) for o in objectives}


class Driver:
    """Asks and tells like the runner does: up to ``in_flight`` trials running, results told in
    a seeded order, records carrying ``told_before`` / ``tell_seq``, strategy state saved after
    every tell."""

    def __init__(self, strategy: Strategy, in_flight: int = 1, order_seed: int = 0,
                 fail: Callable[[Arch], bool] = fails) -> None:
        self.s, self.in_flight, self.fail = strategy, in_flight, fail
        self.order = np.random.default_rng(order_seed)
        self.records: list[TrialRecord] = []
        self.running: list[TrialRecord] = []
        self.tells = 0
        self.state: Any = None
        self.exhausted = False

    def ask(self) -> TrialRecord | None:
        told_before = self.s.n_told
        p = self.s.ask()
        if p is None:
            self.exhausted = True
            return None
        if p is WAIT:
            assert self.running, f"{self.s.name} answered WAIT with no trial running"
            return None
        assert isinstance(p, Proposal), f"{self.s.name}.ask() returned {p!r}"
        if p.job is not None and self.fail is not always_fail:
            pytest.skip(f"{self.s.name} is one-shot: it proposed a {p.kind!r} job, which needs a task to train "
                        "a supernet; this case uses a cheap objective")
        r = TrialRecord(number=len(self.records), state=TrialState.RUNNING, arch=p.arch, kind=p.kind, info=dict(p.info),
                        told_before=told_before)
        self.records.append(r)
        self.running.append(r)
        return r

    def finish(self, r: TrialRecord) -> None:
        self.running.remove(r)
        if r.arch is None or self.fail(r.arch):
            r.state, r.error = TrialState.FAILED, "failed on purpose"
        else:
            r.state = TrialState.COMPLETE
            r.values = values(r.arch, self.s.objectives)
            r.metrics = dict(r.values)
        self.tells += 1
        r.tell_seq = self.tells
        self.s.tell(copy.deepcopy(r))
        state = self.s.state_dict()
        if state is not None:
            self.state = json.loads(json.dumps(state))  # what the storage keeps

    def step(self) -> None:
        """Fill the free slots, then finish one running trial (chosen by the seeded order)."""
        while not self.exhausted and len(self.running) < self.in_flight:
            if self.ask() is None:
                break
        if self.running:
            self.finish(self.running[int(self.order.integers(len(self.running)))])

    def run(self, trials: int) -> list[TrialRecord]:
        while len(self.records) < trials and not (self.exhausted and not self.running):
            self.step()
        return self.records


def always_fail(arch: Arch) -> bool:
    return True


def strategy(name: str, space: SearchSpace, seed: int = 0, objectives: tuple[str, ...] = ("value",)) -> Strategy:
    try:
        return make_strategy(name, space, seed=seed, objectives=objectives)
    except UserError as e:
        pytest.skip(f"{name} does not apply to space {space.name!r}: {e}")


def keys(records: list[TrialRecord]) -> list[str | None]:
    return [r.arch.key if r.arch is not None else f"{r.kind}#{r.number}" for r in records]


# -- the suite ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("space_name", list(SPACES))
@pytest.mark.parametrize("name", NAMES)
def test_deterministic_for_a_seed(name: str, space_name: str) -> None:
    space = SPACES[space_name]()
    runs = [Driver(strategy(name, space, seed=seed), in_flight=2).run(25) for seed in (7, 7, 8)]
    assert keys(runs[0]) == keys(runs[1])
    assert [r.state for r in runs[0]] == [r.state for r in runs[1]]
    assert keys(runs[0]) != keys(runs[2]), "the seed does not change the proposals"


@pytest.mark.parametrize("in_flight", [1, 3])
@pytest.mark.parametrize("name", NAMES)
def test_never_proposes_an_architecture_twice(name: str, in_flight: int) -> None:
    space = small_space()
    records = Driver(strategy(name, space, seed=1), in_flight=in_flight).run(70)
    assert len(records) == 70
    assert len(set(keys(records))) == len(records)


@pytest.mark.parametrize("space_name", list(SPACES))
@pytest.mark.parametrize("name", NAMES)
def test_every_proposal_respects_the_conditions(name: str, space_name: str) -> None:
    space = SPACES[space_name]()
    for r in Driver(strategy(name, space, seed=2), in_flight=2).run(40):
        assert r.arch is not None
        assert space.validate(r.arch) == r.arch  # canonical: exactly the active parameters, valid values


@pytest.mark.parametrize("name", NAMES)
def test_several_trials_in_flight(name: str) -> None:
    space = conditional_space()
    d = Driver(strategy(name, space, seed=3), in_flight=6)
    first = [d.ask() for _ in range(6)]  # six asks before the first tell
    assert first[0] is not None, "the first ask must propose something"
    asked = [r for r in first if r is not None]
    assert len(set(keys(asked))) == len(asked)
    for r in reversed(asked):  # results arrive in another order than asked
        d.finish(r)
    more = d.run(len(d.records) + 15)
    assert len(set(keys(more))) == len(more) >= len(asked) + 10
    for r in more:
        space.validate(r.arch)


@pytest.mark.parametrize("in_flight", [1, 3])
@pytest.mark.parametrize("name", NAMES)
def test_exhausts_a_tiny_space_cleanly(name: str, in_flight: int) -> None:
    space = tiny_space()
    size = space.cardinality
    assert size == 6
    d = Driver(strategy(name, space, seed=4), in_flight=in_flight)
    d.run(10 * size)  # stops at the first None once nothing is running
    assert d.exhausted, f"{name} kept proposing on a space of {size} architectures"
    assert sorted(keys(d.records)) == sorted(a.key for a in space.grid()), "every architecture exactly once"
    assert d.s.ask() is None and d.s.ask() is None  # and stays exhausted


@pytest.mark.parametrize("in_flight", [1, 3])
@pytest.mark.parametrize("space_name", list(SPACES))
@pytest.mark.parametrize("name", NAMES)
def test_resume_after_replay_continues_as_an_uninterrupted_run(name: str, space_name: str, in_flight: int) -> None:
    if not getattr(STRATEGIES[name], "deterministic", True):
        pytest.skip(f"{name} declares itself non-deterministic")
    space = SPACES[space_name]()
    a = Driver(strategy(name, space, seed=5), in_flight=in_flight, order_seed=11)
    a.run(23)
    while len(a.running) < in_flight and a.ask() is not None:  # cut while trials are in flight
        pass
    stored = copy.deepcopy(a.records)  # what the database holds at the crash
    b_strategy = strategy(name, space, seed=5)
    rerun = b_strategy.replay(stored)
    if a.state is not None:
        b_strategy.load_state_dict(a.state)
    assert sorted(rerun) == [r.number for r in a.running]
    for number, p in rerun.items():
        assert p.arch == stored[number].arch
    b = Driver(b_strategy, in_flight=in_flight, order_seed=11)
    b.records = stored
    b.running = [r for r in stored if r.state is TrialState.RUNNING]
    b.tells = a.tells
    b.order = copy.deepcopy(a.order)
    a.run(45)
    b.run(45)
    assert keys(b.records) == keys(a.records)


@pytest.mark.parametrize("name", NAMES)
def test_resume_through_storage_matches_an_uninterrupted_study(name: str, tmp_path: Any) -> None:
    space = conditional_space()
    if make_strategy_or_none(name, space) is None:
        pytest.skip(f"{name} does not apply to an objective-only space")

    def objective(arch: Arch) -> float:
        if fails(arch):
            raise ValueError("failed on purpose")
        return _u(arch, "value")

    db = str(tmp_path / "runs.db")
    whole = seqnas.search(space, objective=objective, strategy=name, trials=24, seed=6, study="whole", db=db, progress=False)
    seqnas.search(space, objective=objective, strategy=name, trials=10, seed=6, study="parts", db=db, progress=False)
    parts = seqnas.search(space, objective=objective, strategy=name, trials=24, seed=6, study="parts", db=db, progress=False)
    assert keys(parts.records) == keys(whole.records)


def make_strategy_or_none(name: str, space: SearchSpace) -> Strategy | None:
    try:
        s = make_strategy(name, space, seed=0, objectives=("value",))
    except UserError:
        return None
    p = s.ask()
    return None if isinstance(p, Proposal) and p.job is not None else s


@pytest.mark.parametrize("name", NAMES)
def test_failed_trials_count_as_worst_and_never_crash(name: str) -> None:
    space = conditional_space()
    # Every trial fails: the strategy must go on proposing valid, new architectures.
    d = Driver(strategy(name, space, seed=9), in_flight=2, fail=always_fail)
    records = d.run(20)
    assert len(records) == 20 and all(r.state is TrialState.FAILED for r in records if r.state.finished)
    arch_records = [r for r in records if r.arch is not None]
    assert len({r.arch.key for r in arch_records}) == len(arch_records)
    failed = next(r for r in records if r.state is TrialState.FAILED)
    assert d.s.score(failed) == float("inf")
    # Mixed: some fail, the strategy keeps working.
    mixed = Driver(strategy(name, space, seed=9), in_flight=2).run(40)
    assert {TrialState.FAILED, TrialState.COMPLETE} <= {r.state for r in mixed}


@pytest.mark.parametrize("name", NAMES)
def test_several_objectives(name: str) -> None:
    space = small_space()
    d = Driver(strategy(name, space, seed=10, objectives=("error", "size")), in_flight=2)
    records = d.run(40)
    assert len(set(keys(records))) == len(records) == 40
    for r in records:
        space.validate(r.arch)
