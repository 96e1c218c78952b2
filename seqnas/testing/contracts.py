"""What a strategy does with a failed trial (its failure contract), seen in what it proposes.

Each contract is a function of ``make(space, *, seed, objectives=("value",), **options) -> Strategy``
(``StrategyConformance.new_strategy``) that raises AssertionError when the strategy breaks it. A
conformance class names its strategy's contract in ``failure_contract``: one of ``CONTRACTS``'
names, or a function of the same form.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from seqnas.space.base import Arch
from seqnas.strategies.base import Strategy
from seqnas.testing.checks import arch_records, assert_no_repeats, keys, promotions
from seqnas.testing.driver import Driver, always_fail, fails, never_fail, planted, uniform
from seqnas.testing.spaces import conditional_space, planted_space, small_space, tiny_macro_space
from seqnas.trial import TrialRecord, TrialState

MakeStrategy = Callable[..., Strategy]
Contract = Callable[[MakeStrategy], None]


def results_change_nothing(make: MakeStrategy) -> None:
    """random and grid never look at results: whatever fails, the proposals are the same."""
    space = conditional_space()
    runs = [keys(Driver(make(space, seed=9), in_flight=2, fail=f).run(30)) for f in (always_fail, fails, never_fail)]
    assert runs[0] == runs[1] == runs[2]


def no_failed_parent(make: MakeStrategy) -> None:
    """evolution: a failed trial wins no tournament against a finished one. With tournaments over the
    whole population (options population_size = sample_size = 6) every child after the random start
    is a mutation of the best finished member, never of a failed one, although failures fill the
    population. (The first ``space.mutate`` of each ask, spied, is taken as that child's parent.)"""
    space = small_space()
    s = make(space, seed=9, population_size=6, sample_size=6)
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
        assert parent == best.arch, f"ask {k} mutated {dict(parent)}, not the best finished trial {dict(best.arch or {})}"


def avoids_what_fails(make: MakeStrategy) -> None:
    """rl (failed = reward 0, the worst) and bayesian (failed = beyond the worst finished value): once
    a quarter of the space always fails, the strategy proposes it less than a quarter of the time.
    (Ignoring failures instead, or counting them as good, both propose it in more than half the later
    trials here.)"""
    s = make(planted_space(), seed=0)
    records = Driver(s, fail=planted).run(60)
    ops = [r.arch["op"] for r in records if r.arch is not None]
    assert "bad" in ops[:20], "the start must try the failing region, or there is nothing to learn"
    assert ops[20:].count("bad") < 0.2 * 40, f"{s.name} keeps proposing what failed: {ops[20:].count('bad')} of 40"


def derived_order_whatever_fails(make: MakeStrategy) -> None:
    """darts (one-shot): a failed supernet search leaves nothing to propose (ask returns None at once);
    failed architectures change nothing: the derived architectures (the job's ``metrics["derived"]``)
    are proposed in the supernet's order."""
    space = tiny_macro_space()
    d = Driver(make(space, seed=9), fail_jobs=True)
    records = d.run(10)
    assert len(records) == 1 and records[0].kind != "arch" and records[0].state is TrialState.FAILED and d.exhausted, \
        f"after a failed one-shot job: {[(r.kind, r.state.value) for r in records]}"
    assert d.s.ask() is None
    runs = [Driver(make(space, seed=9), in_flight=2, fail=f).run(12) for f in (always_fail, never_fail)]
    assert keys(runs[0]) == keys(runs[1])
    derived = runs[0][0].metrics["derived"]
    assert [dict(r.arch) for r in arch_records(runs[0]) if r.arch is not None] == derived[:11]


def failed_never_improve(make: MakeStrategy) -> None:
    """local: a failed trial never improves on the current point, so the walk never moves to one: every
    architecture whose neighbourhood it explores (space.neighbors, spied) finished COMPLETE, although
    failing neighbours are proposed. (Counting a failure as an improvement moves there within a few trials.)"""
    space = planted_space()
    s = make(space, seed=9)
    centres: list[Arch] = []
    explore = space.neighbors

    def spy(arch: Arch, *args: Any, **kwargs: Any) -> Any:
        centres.append(arch)
        return explore(arch, *args, **kwargs)

    space.neighbors = spy  # type: ignore[method-assign]
    records = Driver(s, in_flight=2, fail=planted).run(60)
    state = {r.arch.key: r.state for r in arch_records(records) if r.arch is not None}
    assert len(centres) >= 3
    assert all(state[c.key] is TrialState.COMPLETE for c in centres), "the walk moved to a failed trial"
    assert sum(r.arch is not None and r.arch["op"] == "bad" for r in records[5:]) >= 3, "failing neighbours were proposed"


def failed_never_promoted(make: MakeStrategy) -> None:
    """hyperband, bohb, asha-evolution (multi-fidelity): a FAILED trial is never promoted (no later
    trial names it as parent), whether it failed where its architecture started or at a rung it was
    promoted to, and the study goes on. Two thirds of the trials fail, each rung's on its own (an
    architecture can complete one rung and fail the next): the top 1/eta of a rung, failures counted
    (ranked last), then often holds failed trials, so a scheduler that did not leave failures out
    would promote some, and one that counted a failure as good would promote them first."""
    s = make(small_space(), seed=9)

    def fail_trial(r: TrialRecord) -> bool:
        assert r.arch is not None
        return uniform(r.arch, f"fail@{r.info['rung']}") < 2 / 3

    records = Driver(s, in_flight=2, fail_trial=fail_trial).run(60)
    assert len(records) == 60, f"{s.name} stopped after {len(records)} trials"
    failed = {r.number for r in records if r.state is TrialState.FAILED}
    promoted = promotions(records)
    assert len(promoted) >= 3, f"{s.name} promoted {len(promoted)} trials: nothing to check"
    assert any(r.state is TrialState.FAILED for r in promoted), "no promoted trial failed: the higher rungs go unchecked"
    assert not failed & {r.info["parent"] for r in promoted}, \
        f"{s.name} promoted failed trials {sorted(failed & {r.info['parent'] for r in promoted})}"
    assert_no_repeats(s, records, multi_fidelity=True)


CONTRACTS: dict[str, Contract] = {
    "results_change_nothing": results_change_nothing, "no_failed_parent": no_failed_parent,
    "avoids_what_fails": avoids_what_fails, "derived_order_whatever_fails": derived_order_whatever_fails,
    "failed_never_improve": failed_never_improve, "failed_never_promoted": failed_never_promoted,
}

__all__ = ["CONTRACTS", "Contract", "MakeStrategy", "avoids_what_fails", "derived_order_whatever_fails",
           "failed_never_improve", "failed_never_promoted", "no_failed_parent", "results_change_nothing"]
