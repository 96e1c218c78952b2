"""A stand-in for the runner: asks and tells a strategy, with cheap made-up results.

Architecture trials get made-up objective values (no training), a deterministic function of the
architecture (``values``), and about one architecture in five fails (``fails``). A one-shot job
(a ``Proposal`` with a ``job``, e.g. darts' supernet search) runs for real with ``run_trial`` on a
task (sunspots with a tiny budget unless told) when the space has a model family, and skips the
check on a space without one: such a strategy cannot apply there.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from seqnas.evaluation import TaskEvaluator, TrainBudget
from seqnas.execution.base import run_trial
from seqnas.space.base import Arch
from seqnas.strategies.base import WAIT, Strategy
from seqnas.tasks import task_spec
from seqnas.tasks.base import TaskSpec
from seqnas.trial import Proposal, TrialRecord, TrialState

# The training budget of a one-shot job's task and of task-backed studies: real torch training, tiny.
TINY_TRAIN = TrainBudget(max_epochs=3, patience=2, batch_size=64)
# The study's training epochs the kit gives strategies: a multi-fidelity strategy's highest rung (rungs 1, 3, 9 with eta 3).
MAX_EPOCHS = 9


@functools.cache
def default_task() -> TaskSpec:
    """What one-shot jobs train on, on spaces with a model family: the built-in sunspots task."""
    return task_spec("sunspots")


# -- made-up results -----------------------------------------------------------------------------------
def uniform(arch: Arch, salt: str) -> float:
    """A number in [0, 1) that depends only on the architecture and ``salt``."""
    return int(hashlib.sha256(f"{salt}:{arch.key}".encode()).hexdigest()[:12], 16) / 16**12


def fails(arch: Arch) -> bool:
    """About one architecture in five fails (deterministically)."""
    return uniform(arch, "fail") < 0.2


def always_fail(arch: Arch) -> bool:
    return True


def never_fail(arch: Arch) -> bool:
    return False


def planted(arch: Arch) -> bool:
    """Fails every architecture of ``spaces.planted_space`` whose ``op`` is "bad"."""
    return arch["op"] == "bad"


def values(arch: Arch, objectives: tuple[str, ...], epochs: int | None = None) -> dict[str, float]:
    """Made-up objective values (lower is better). A multi-fidelity rung's trial (``epochs`` trained)
    sees the architecture's value plus noise that shrinks as it trains longer: rankings at a low
    rung differ from those at the full budget, and a promotion improves the value."""
    if epochs is None:
        return {o: uniform(arch, o) for o in objectives}
    return {o: uniform(arch, o) + uniform(arch, f"{o}@{epochs}") / epochs for o in objectives}


class Driver:
    """Asks and tells like the runner does: up to ``in_flight`` trials running, results told in
    a seeded order, records carrying ``told_before`` / ``tell_seq``, strategy state saved after
    every tell (through JSON, as the storage keeps it). Architecture trials get made-up results
    (``fail`` decides which fail, from the architecture; ``fail_trial``, when given, from the whole
    record instead, e.g. its rung); a one-shot job runs for real (``run_trial``) on ``task`` with
    ``train`` when the space has a model family (``fail_jobs``: it fails instead), and skips the
    check on a space without one."""

    def __init__(self, strategy: Strategy, in_flight: int = 1, order_seed: int = 0,
                 fail: Callable[[Arch], bool] = fails, fail_jobs: bool = False,
                 fail_trial: Callable[[TrialRecord], bool] | None = None,
                 task: TaskSpec | None = None, train: TrainBudget | None = None) -> None:
        self.s, self.in_flight, self.fail, self.fail_jobs = strategy, in_flight, fail, fail_jobs
        self.fail_trial = fail_trial or (lambda r: r.arch is not None and self.fail(r.arch))
        self.order = np.random.default_rng(order_seed)
        self.records: list[TrialRecord] = []
        self.running: list[TrialRecord] = []
        self.jobs: dict[int, Proposal] = {}  # trial number -> its one-shot job, while it runs
        self.tells = 0
        self.state: Any = None
        self.exhausted = False
        family = strategy.space.family
        self.evaluator = None if family is None else TaskEvaluator(task or default_task(), family, train or TINY_TRAIN,
                                                                   objectives=strategy.objectives)

    def ask(self) -> TrialRecord | None:
        """One ask: the new trial's record (RUNNING), or None (exhausted, or WAIT)."""
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
        """Finish a running trial (its made-up result, or its job run for real) and tell the strategy."""
        self.running.remove(r)
        job = self.jobs.pop(r.number, None)
        if job is not None and not self.fail_jobs:
            assert self.evaluator is not None
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
        """Go on until ``trials`` trials were proposed, or the strategy is exhausted and nothing runs."""
        while len(self.records) < trials and not (self.exhausted and not self.running):
            self.step()
        return self.records


__all__ = ["MAX_EPOCHS", "TINY_TRAIN", "Driver", "always_fail", "default_task", "fails", "never_fail", "planted", "uniform",
           "values"]
