"""The strategy conformance suite: every strategy in STRATEGIES, on cheap objectives.

Each strategy must be deterministic for a seed, never propose an architecture twice, respect
the space's conditions, work with several trials in flight, exhaust a tiny space cleanly,
continue after replay exactly as an uninterrupted run, and treat failed trials as its contract
says. Architecture trials get cheap made-up results (no training). On spaces with a model
family the suite is task-backed: a one-shot job a strategy proposes (darts' supernet search)
really runs, on the built-in sunspots task with a tiny budget, so darts goes through the same
properties as every other strategy. A strategy is skipped on a case only when it cannot apply to
it, with the reason (a one-shot strategy on a space without a model family).

A multi-fidelity strategy (``MultiFidelity``: successive halving, Hyperband, ASHA over an inner
strategy) proposes an architecture once per rung it reaches, so for it "never twice" means never
the same (architecture, rung) twice, and every promotion continues a finished, not FAILED, trial
of the same architecture at the previous rung (``assert_no_repeats``). Its studies train for
MAX_EPOCHS epochs (rungs of 1, 3 and 9), and the made-up results depend on the rung's epochs
(closer to the architecture's true value the longer it trains), so promotions matter.
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
from seqnas.evaluation import TaskEvaluator
from seqnas.execution.base import run_trial
from seqnas.space import SearchSpace, rnn_macro_space, space_from_dict
from seqnas.space.base import Arch
from seqnas.strategies import STRATEGIES, MultiFidelity, make_strategy
from seqnas.strategies.base import WAIT, Strategy
from seqnas.tasks import task_spec
from seqnas.trial import Proposal, TrialRecord, TrialState
from tests.conftest import TINY_MACRO, TINY_TRAIN

NAMES = sorted(STRATEGIES)
TASK = task_spec("sunspots")  # what one-shot jobs train on, on spaces with a model family
MAX_EPOCHS = 9  # the study's training epochs, a multi-fidelity strategy's highest rung (rungs 1, 3, 9 with eta 3)


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


def tiny_macro_space() -> SearchSpace:
    """tests/conftest.py's TINY_MACRO: an rnn-macro-family space of 60 architectures (depth 1-2, 4-8 units)."""
    return space_from_dict({"name": "tiny-macro", **TINY_MACRO})


def tiny_macro_six() -> SearchSpace:
    """6 rnn-macro architectures, one decision conditional on the depth."""
    return space_from_dict({"name": "tiny-macro-six", "family": "rnn-macro", "params": [
        {"name": "depth", "type": "categorical", "choices": [1, 2]},
        {"name": "cell1", "type": "categorical", "choices": ["rnn_tanh", "gru"]},
        {"name": "hidden1", "type": "categorical", "choices": [4]},
        {"name": "hidden2", "type": "categorical", "choices": [4, 8], "condition": {"parent": "depth", "values": [2]}},
    ]})


SPACES: dict[str, Callable[[], SearchSpace]] = {"conditional": conditional_space, "rnn-macro": rnn_macro_space,
                                                "tiny-macro": tiny_macro_space}


def options(name: str, space: SearchSpace) -> dict[str, Any]:
    """Strategy options that keep a case fast: darts' supernet search in about a second (two epochs on
    a tiny space; one epoch training one sampled path per step on the full rnn-macro space)."""
    if name != "darts":
        return {}
    if space.name == "rnn-macro":
        return {"epochs": 1, "batch_size": 512, "weight_paths": "sampled"}
    return {"epochs": 2, "batch_size": 64}


# -- a cheap objective, and a driver that plays the runner -------------------------------------------------
def _u(arch: Arch, salt: str) -> float:
    return int(hashlib.sha256(f"{salt}:{arch.key}".encode()).hexdigest()[:12], 16) / 16**12


def fails(arch: Arch) -> bool:
    """About one architecture in five fails (deterministically)."""
    return _u(arch, "fail") < 0.2


def values(arch: Arch, objectives: tuple[str, ...], epochs: int | None = None) -> dict[str, float]:
    """Made-up objective values (lower is better). A multi-fidelity rung's trial (``epochs`` trained)
    sees the architecture's value plus noise that shrinks as it trains longer: rankings at a low
    rung differ from those at the full budget, and a promotion improves the value."""
    if epochs is None:
        return {o: _u(arch, o) for o in objectives}
    return {o: _u(arch, o) + _u(arch, f"{o}@{epochs}") / epochs for o in objectives}


class Driver:
    """Asks and tells like the runner does: up to ``in_flight`` trials running, results told in
    a seeded order, records carrying ``told_before`` / ``tell_seq``, strategy state saved after
    every tell. Architecture trials get made-up results (``fail`` decides which fail, from the
    architecture; ``fail_trial``, when given, from the whole record instead, e.g. its rung); a
    one-shot job runs for real (``run_trial``) on TASK when the space has a model family
    (``fail_jobs``: it fails instead), and skips the case on a space without one."""

    def __init__(self, strategy: Strategy, in_flight: int = 1, order_seed: int = 0,
                 fail: Callable[[Arch], bool] = fails, fail_jobs: bool = False,
                 fail_trial: Callable[[TrialRecord], bool] | None = None) -> None:
        self.s, self.in_flight, self.fail, self.fail_jobs = strategy, in_flight, fail, fail_jobs
        self.fail_trial = fail_trial or (lambda r: self.fail(r.arch))
        self.order = np.random.default_rng(order_seed)
        self.records: list[TrialRecord] = []
        self.running: list[TrialRecord] = []
        self.jobs: dict[int, Proposal] = {}  # trial number -> its one-shot job, while it runs
        self.tells = 0
        self.state: Any = None
        self.exhausted = False
        family = strategy.space.family
        self.evaluator = None if family is None else TaskEvaluator(TASK, family, TINY_TRAIN, objectives=strategy.objectives)

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
        if p.job is not None and self.evaluator is None:
            pytest.skip(f"{self.s.name} is one-shot: it proposed a {p.kind!r} job, which trains on a task; space "
                        f"{self.s.space.name!r} has no model family to train")
        assert (p.arch is None) != (p.job is None), f"{self.s.name} proposed {p!r}: an architecture or a job, one of them"
        r = TrialRecord(number=len(self.records), state=TrialState.RUNNING, arch=p.arch, kind=p.kind, info=dict(p.info),
                        told_before=told_before)
        if p.job is not None:
            self.jobs[r.number] = p
        self.records.append(r)
        self.running.append(r)
        return r

    def finish(self, r: TrialRecord) -> None:
        self.running.remove(r)
        job = self.jobs.pop(r.number, None)
        if job is not None and not self.fail_jobs:
            result = run_trial(self.evaluator, job, self.s.seed)
            r.state, r.values, r.metrics, r.error = result.state, dict(result.values), dict(result.metrics), result.error
            assert r.state is TrialState.COMPLETE, f"{self.s.name}'s {r.kind} job failed: {r.error}"
        elif job is not None or r.arch is None or self.fail_trial(r):
            r.state, r.error = TrialState.FAILED, "failed on purpose"
        else:
            r.state = TrialState.COMPLETE
            r.values = values(r.arch, self.s.objectives, r.info.get("rung_epochs"))
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


def strategy(name: str, space: SearchSpace, seed: int = 0, objectives: tuple[str, ...] = ("value",),
             **extra: Any) -> Strategy:
    """The strategy as a study of MAX_EPOCHS training epochs makes it (a multi-fidelity strategy's highest rung)."""
    try:
        return make_strategy(name, space, seed=seed, objectives=objectives, options={**options(name, space), **extra},
                             max_epochs=MAX_EPOCHS)
    except UserError as e:
        pytest.skip(f"{name} does not apply to space {space.name!r}: {e}")


def keys(records: list[TrialRecord]) -> list[str | None]:
    return [r.arch.key if r.arch is not None else f"{r.kind}#{r.number}" for r in records]


def arch_records(records: list[TrialRecord]) -> list[TrialRecord]:
    """The architecture trials (a one-shot job's trial has no architecture); each must carry its architecture."""
    out = [r for r in records if r.kind == "arch"]
    assert all(r.arch is not None for r in out)
    assert all(r.arch is None for r in records if r.kind != "arch"), "only architecture trials propose an architecture"
    return out


def promotions(records: list[TrialRecord]) -> list[TrialRecord]:
    """A multi-fidelity strategy's trials that continue an earlier trial (``info["parent"]``)."""
    return [r for r in records if r.info.get("parent") is not None]


def assert_no_repeats(s: Strategy, records: list[TrialRecord]) -> None:
    """Nothing is proposed twice: for most strategies, no architecture twice (each one-shot job is a
    trial of its own). A multi-fidelity strategy proposes an architecture once per rung it reaches,
    each run being a trial with ``info`` rung / rung_epochs / bracket / parent; for it:

    - never the same (architecture, rung) twice, and ``rung_epochs`` is that rung's epochs;
    - a trial without a parent starts an architecture new to the study, and all of a bracket's new
      architectures start at one rung (the bracket's first);
    - every promotion (a trial with a parent: a rung above its bracket's first) names as parent a
      trial of the same architecture in the same bracket at the previous rung, which had finished
      before the promotion was asked (its result told) and was not FAILED.
    """
    if not isinstance(s, MultiFidelity):
        assert len(set(keys(records))) == len(records), f"{s.name} proposed an architecture twice"
        return
    by_number = {r.number: r for r in records}
    runs: set[tuple[str, int]] = set()
    started: set[str] = set()  # architectures proposed so far
    first_rungs: dict[int, set[int]] = {}  # bracket -> rungs its new architectures started at
    for r in sorted(records, key=lambda r: r.number):
        assert r.kind == "arch" and r.arch is not None, f"{s.name} proposed a {r.kind!r} trial without an architecture"
        rung, parent, bracket = r.info["rung"], r.info["parent"], r.info["bracket"]
        assert 0 <= rung < len(s.rungs) and r.info["rung_epochs"] == s.rungs[rung], f"trial {r.number}: {r.info}"
        assert (r.arch.key, rung) not in runs, f"trial {r.number} runs {dict(r.arch)} at rung {rung} again"
        runs.add((r.arch.key, rung))
        if parent is None:
            assert r.arch.key not in started, f"trial {r.number} starts {dict(r.arch)} anew, proposed before"
            first_rungs.setdefault(bracket, set()).add(rung)
        else:
            p = by_number.get(parent)
            assert p is not None and p.number < r.number, f"trial {r.number}'s parent {parent} is no earlier trial"
            assert p.arch == r.arch, f"trial {r.number} continues trial {parent} of another architecture"
            assert (p.info["bracket"], p.info["rung"]) == (bracket, rung - 1), \
                f"trial {r.number} (bracket {bracket}, rung {rung}) continues trial {parent} at {p.info}"
            assert p.tell_seq is not None and p.tell_seq <= r.told_before, \
                f"trial {r.number} promotes trial {parent} before its result was told"
            assert p.state is TrialState.COMPLETE, f"trial {r.number} promotes trial {parent}, which {p.state.value}"
        started.add(r.arch.key)
    assert all(len(v) == 1 for v in first_rungs.values()), f"a bracket started architectures at several rungs: {first_rungs}"


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
@pytest.mark.parametrize("space_name, trials", [("small", 70), ("tiny-macro", 25)])
@pytest.mark.parametrize("name", NAMES)
def test_never_proposes_an_architecture_twice(name: str, space_name: str, trials: int, in_flight: int) -> None:
    """No architecture twice; for a multi-fidelity strategy no (architecture, rung) twice, and only
    finished, not FAILED trials promoted to the next rung (``assert_no_repeats``), and it promotes."""
    space = small_space() if space_name == "small" else tiny_macro_space()
    s = strategy(name, space, seed=1)
    records = Driver(s, in_flight=in_flight).run(trials)
    assert len(records) == trials
    assert_no_repeats(s, records)
    if isinstance(s, MultiFidelity):
        assert promotions(records), f"{name} promoted nothing in {trials} trials"


@pytest.mark.parametrize("space_name", list(SPACES))
@pytest.mark.parametrize("name", NAMES)
def test_every_proposal_respects_the_conditions(name: str, space_name: str) -> None:
    space = SPACES[space_name]()
    records = Driver(strategy(name, space, seed=2), in_flight=2).run(40)
    assert len(arch_records(records)) >= 30
    for r in arch_records(records):
        assert space.validate(r.arch) == r.arch  # canonical: exactly the active parameters, valid values


@pytest.mark.parametrize("space_name", ["conditional", "tiny-macro"])
@pytest.mark.parametrize("name", NAMES)
def test_several_trials_in_flight(name: str, space_name: str) -> None:
    space = SPACES[space_name]()
    d = Driver(strategy(name, space, seed=3), in_flight=6)
    first = [d.ask() for _ in range(6)]  # six asks before the first tell (a one-shot strategy waits for its job)
    assert first[0] is not None, "the first ask must propose something"
    asked = [r for r in first if r is not None]
    assert_no_repeats(d.s, asked)
    for r in reversed(asked):  # results arrive in another order than asked
        d.finish(r)
    more = d.run(len(d.records) + 15)
    assert len(more) >= len(asked) + 10
    assert_no_repeats(d.s, more)
    for r in arch_records(more):
        space.validate(r.arch)


@pytest.mark.parametrize("in_flight", [1, 3])
@pytest.mark.parametrize("space_name", ["tiny", "tiny-macro-six"])
@pytest.mark.parametrize("name", NAMES)
def test_exhausts_a_tiny_space_cleanly(name: str, space_name: str, in_flight: int) -> None:
    """Every architecture exactly once (a multi-fidelity strategy: started once, then promoted as it
    earns), then ask returns None, and again after the trials in flight have finished: a
    multi-fidelity strategy ends only once every promotion has run, answering WAIT (never with no
    trial running: the runner stops on that) while a trial in flight may still be promoted."""
    space = tiny_space() if space_name == "tiny" else tiny_macro_six()
    size = space.cardinality
    assert size == 6
    d = Driver(strategy(name, space, seed=4), in_flight=in_flight)
    d.run(10 * size)  # stops at the first None once nothing is running
    assert d.exhausted, f"{name} kept proposing on a space of {size} architectures"
    started = [r for r in arch_records(d.records) if r.info.get("parent") is None]
    assert sorted(r.arch.key for r in started) == sorted(a.key for a in space.grid()), "every architecture exactly once"
    assert_no_repeats(d.s, d.records)
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
    b.jobs = {n: p for n, p in rerun.items() if p.job is not None}  # a job in flight at the crash runs again
    b.tells = a.tells
    b.order = copy.deepcopy(a.order)
    a.run(45)
    b.run(45)
    assert keys(b.records) == keys(a.records)
    assert [r.state for r in b.records] == [r.state for r in a.records]


@pytest.mark.parametrize("name", NAMES)
def test_resume_during_the_first_trial_continues_as_an_uninterrupted_run(name: str) -> None:
    """A crash while the first trial runs (for darts: its supernet search): replay proposes it again."""
    if not getattr(STRATEGIES[name], "deterministic", True):
        pytest.skip(f"{name} declares itself non-deterministic")
    space = tiny_macro_space()
    whole = Driver(strategy(name, space, seed=12)).run(12)
    a = Driver(strategy(name, space, seed=12))
    assert a.ask() is not None
    stored = copy.deepcopy(a.records)  # one trial, RUNNING
    b_strategy = strategy(name, space, seed=12)
    rerun = b_strategy.replay(stored)
    assert sorted(rerun) == [0]
    assert rerun[0].arch == stored[0].arch and rerun[0].kind == stored[0].kind
    b = Driver(b_strategy)
    b.records, b.running = stored, list(stored)
    b.jobs = {n: p for n, p in rerun.items() if p.job is not None}
    assert keys(b.run(12)) == keys(whole)


@pytest.mark.parametrize("name", NAMES)
def test_resume_through_storage_matches_an_uninterrupted_study(name: str, tmp_path: Any) -> None:
    """A study searched in two calls (stored, continued) proposes what one call does, on an objective
    function (strategies that train on a task themselves: the _on_a_task test below)."""
    why = getattr(STRATEGIES[name], "requires_task", None)
    if why:
        pytest.skip(f"{name} {why}: it cannot search an objective function")
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


@pytest.mark.parametrize("name", [n for n in NAMES if getattr(STRATEGIES[n], "requires_task", False)])
def test_resume_through_storage_matches_an_uninterrupted_study_on_a_task(name: str, tmp_path: Any) -> None:
    """The same for strategies that only search tasks (one-shot): a task-backed study, trained for real."""
    space = tiny_macro_space()
    db = str(tmp_path / "runs.db")
    common = dict(task="sunspots", strategy=name, strategy_options=options(name, space), seed=6, train=TINY_TRAIN, db=db,
                  progress=False, final_repeats=0)
    whole = seqnas.search(space, trials=4, study="whole", **common)
    seqnas.search(space, trials=2, study="parts", **common)
    parts = seqnas.search(space, trials=4, study="parts", **common)
    assert len(arch_records(whole.records)) == 4
    assert keys(parts.records) == keys(whole.records)
    assert [r.values for r in parts.records] == [r.values for r in whole.records]


def make_strategy_or_none(name: str, space: SearchSpace) -> Strategy | None:
    try:
        s = make_strategy(name, space, seed=0, objectives=("value",), max_epochs=MAX_EPOCHS)
    except UserError:
        return None
    p = s.ask()
    return None if isinstance(p, Proposal) and p.job is not None else s


@pytest.mark.parametrize("name", NAMES)
def test_failed_trials_never_crash(name: str) -> None:
    space = conditional_space()
    # Every trial fails: the strategy must go on proposing valid, new architectures.
    d = Driver(strategy(name, space, seed=9), in_flight=2, fail=always_fail)
    records = d.run(20)
    assert len(records) == 20 and all(r.state is TrialState.FAILED for r in records if r.state.finished)
    assert len({r.arch.key for r in arch_records(records)}) == len(records)  # multi-fidelity: nothing to promote
    for r in records:
        space.validate(r.arch)
    # Mixed: some fail, the strategy keeps working.
    s = strategy(name, space, seed=9)
    mixed = Driver(s, in_flight=2).run(40)
    assert {TrialState.FAILED, TrialState.COMPLETE} <= {r.state for r in mixed}
    assert_no_repeats(s, mixed)


# -- what each strategy does with a failed trial (its contract), seen in what it proposes --------------------
def never_fail(arch: Arch) -> bool:
    return False


def planted_space() -> SearchSpace:
    """400 architectures; PLANTED fails every one whose ``op`` is "bad" (a quarter of them)."""
    return space_from_dict({"name": "planted", "params": [
        {"name": "op", "type": "categorical", "choices": ["ok1", "ok2", "ok3", "bad"]},
        {"name": "a", "type": "int", "low": 0, "high": 9},
        {"name": "b", "type": "categorical", "choices": list(range(10))},
    ]})


def planted(arch: Arch) -> bool:
    return arch["op"] == "bad"


def _results_change_nothing(name: str) -> None:
    """random and grid never look at results: whatever fails, the proposals are the same."""
    space = conditional_space()
    runs = [keys(Driver(strategy(name, space, seed=9), in_flight=2, fail=f).run(30)) for f in (always_fail, fails, never_fail)]
    assert runs[0] == runs[1] == runs[2]


def _no_failed_parent(name: str) -> None:
    """evolution: a failed trial wins no tournament against a finished one. With tournaments over the
    whole population (sample_size = population_size) every child after the random start is a mutation
    of the best finished member, never of a failed one, although failures fill the population."""
    space = small_space()
    s = strategy(name, space, seed=9, population_size=6, sample_size=6)
    parents: dict[int, Arch] = {}  # ask number -> the architecture its child was mutated from
    mutate = space.mutate

    def spy(arch: Arch, rng: np.random.Generator) -> Arch:
        parents.setdefault(s.n_asked, arch)  # the first mutation of an ask starts from the parent
        return mutate(arch, rng)

    space.mutate = spy  # type: ignore[method-assign]
    finished = iter(range(10**6))  # one trial at a time: the k-th result is trial k's
    records = Driver(s, in_flight=1, fail=lambda arch: next(finished) not in (0, 2)).run(30)
    assert [r.state is TrialState.COMPLETE for r in records[:4]] == [True, False, True, False]
    assert sorted(parents) == list(range(6, 30)), "every ask after the random start mutates a parent"
    for k, parent in parents.items():
        best = min((r for r in records[:k] if r.state is TrialState.COMPLETE), key=lambda r: r.values["value"])
        assert parent == best.arch, f"ask {k} mutated {dict(parent)}, not the best finished trial {dict(best.arch)}"


def _avoids_what_fails(name: str) -> None:
    """rl (failed = reward 0, the worst) and bayesian (failed = beyond the worst finished value): once
    a quarter of the space always fails, the strategy proposes it less than a quarter of the time.
    (Ignoring failures instead, or counting them as good, both propose it in more than half the later
    trials here.)"""
    records = Driver(strategy(name, planted_space(), seed=0), fail=planted).run(60)
    ops = [r.arch["op"] for r in records]
    assert "bad" in ops[:20], "the start must try the failing region, or there is nothing to learn"
    assert ops[20:].count("bad") < 0.2 * 40, f"{name} keeps proposing what failed: {ops[20:].count('bad')} of 40"


def _derived_order_whatever_fails(name: str) -> None:
    """darts: a failed supernet search leaves nothing to propose (ask returns None at once); failed
    architectures change nothing: the derived architectures are proposed in the supernet's order."""
    space = tiny_macro_space()
    d = Driver(strategy(name, space, seed=9), fail_jobs=True)
    records = d.run(10)
    assert [(r.kind, r.state) for r in records] == [("supernet", TrialState.FAILED)] and d.exhausted
    assert d.s.ask() is None
    runs = [Driver(strategy(name, space, seed=9), in_flight=2, fail=f).run(12) for f in (always_fail, never_fail)]
    assert keys(runs[0]) == keys(runs[1])
    derived = runs[0][0].metrics["derived"]
    assert [dict(r.arch) for r in arch_records(runs[0])] == derived[:11]


def _failed_never_improve(name: str) -> None:
    """local: a failed trial never improves on the current point, so the walk never moves to one: every
    architecture whose neighbourhood it explores (space.neighbors, spied) finished COMPLETE, although
    failing neighbours are proposed. (Counting a failure as an improvement moves there within a few trials.)"""
    space = planted_space()
    s = strategy(name, space, seed=9)
    centres: list[Arch] = []
    explore = space.neighbors

    def spy(arch: Arch, *args: Any, **kwargs: Any) -> Any:
        centres.append(arch)
        return explore(arch, *args, **kwargs)

    space.neighbors = spy  # type: ignore[method-assign]
    records = Driver(s, in_flight=2, fail=planted).run(60)
    state = {r.arch.key: r.state for r in arch_records(records)}
    assert len(centres) >= 3
    assert all(state[c.key] is TrialState.COMPLETE for c in centres), "the walk moved to a failed trial"
    assert sum(r.arch["op"] == "bad" for r in records[5:]) >= 3, "failing neighbours were proposed"


def _failed_never_promoted(name: str) -> None:
    """hyperband, bohb, asha-evolution: a FAILED trial is never promoted (no later trial names it as
    parent), whether it failed where its architecture started or at a rung it was promoted to, and
    the study goes on. Two thirds of the trials fail, each rung's on its own (an architecture can
    complete one rung and fail the next): the top 1/eta of a rung, failures counted (ranked last),
    then often holds failed trials, so a scheduler that did not leave failures out would promote
    some, and one that counted a failure as good would promote them first."""
    s = strategy(name, small_space(), seed=9)

    def fail_trial(r: TrialRecord) -> bool:
        return _u(r.arch, f"fail@{r.info['rung']}") < 2 / 3

    records = Driver(s, in_flight=2, fail_trial=fail_trial).run(60)
    assert len(records) == 60, f"{name} stopped after {len(records)} trials"
    failed = {r.number for r in records if r.state is TrialState.FAILED}
    promoted = promotions(records)
    assert len(promoted) >= 3, f"{name} promoted {len(promoted)} trials: nothing to check"
    assert any(r.state is TrialState.FAILED for r in promoted), "no promoted trial failed: the higher rungs go unchecked"
    assert not failed & {r.info["parent"] for r in promoted}, \
        f"{name} promoted failed trials {sorted(failed & {r.info['parent'] for r in promoted})}"
    assert_no_repeats(s, records)


FAILURE_CONTRACTS: dict[str, Callable[[str], None]] = {
    "random": _results_change_nothing, "grid": _results_change_nothing, "evolution": _no_failed_parent,
    "rl": _avoids_what_fails, "bayesian": _avoids_what_fails, "darts": _derived_order_whatever_fails,
    "local": _failed_never_improve,
    "hyperband": _failed_never_promoted, "bohb": _failed_never_promoted, "asha-evolution": _failed_never_promoted,
}


@pytest.mark.parametrize("name", NAMES)
def test_failed_trials_count_as_worst(name: str) -> None:
    if name not in FAILURE_CONTRACTS:
        pytest.fail(f"nothing tests what strategy {name!r} does with a failed trial: add its contract to FAILURE_CONTRACTS")
    FAILURE_CONTRACTS[name](name)


@pytest.mark.parametrize("space_name, trials", [("small", 40), ("tiny-macro", 20)])
@pytest.mark.parametrize("name", NAMES)
def test_several_objectives(name: str, space_name: str, trials: int) -> None:
    space = small_space() if space_name == "small" else tiny_macro_space()
    d = Driver(strategy(name, space, seed=10, objectives=("error", "size")), in_flight=2)
    records = d.run(trials)
    assert len(records) == trials
    assert_no_repeats(d.s, records)
    for r in arch_records(records):
        space.validate(r.arch)
