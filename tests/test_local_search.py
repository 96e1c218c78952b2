"""Local search (seqnas/strategies/local_search.py) on planted landscapes, driven through ask/tell as the runner does."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from seqnas.errors import ConfigError
from seqnas.space import Categorical, Int, SearchSpace
from seqnas.space.base import Arch
from seqnas.strategies import STRATEGIES, make_strategy
from seqnas.strategies.base import WAIT
from seqnas.strategies.local_search import LocalSearch
from seqnas.trial import TrialRecord, TrialState

Score = Callable[[Arch], float]


# -- planted landscapes ------------------------------------------------------------------------------------
def separable(d: int = 6, m: int = 5, seed: int = 0) -> tuple[SearchSpace, Score, Arch]:
    """d categorical decisions of m options; the score adds one table per decision, each a permutation of
    0..m-1 scaled by m**i, so every architecture has its own score (its base-m digits). Separable, hence one
    local optimum under one-decision moves: the global one."""
    rng = np.random.default_rng(seed)
    tables = [rng.permutation(m) * m**i for i in range(d)]
    space = SearchSpace([Categorical(f"x{i}", list(range(m))) for i in range(d)], name="separable")
    best = Arch({f"x{i}": int(np.argmin(tables[i])) for i in range(d)})
    return space, lambda a: float(sum(tables[i][a[f"x{i}"]] for i in range(d))), best


TRAP, SPIKE = Arch({"x": 2, "y": 2}), Arch({"x": 9, "y": 9})


def trap() -> tuple[SearchSpace, Score]:
    """x, y in 0..9 (neighbours: one step in x or y). A bowl around TRAP (a local optimum, score 0.5) holds
    99 of the 100 architectures; the global optimum SPIKE (score 0) is isolated: its neighbours score 50."""
    space = SearchSpace([Int("x", 0, 9), Int("y", 0, 9)], name="trap")

    def score(a: Arch) -> float:
        return 0.0 if a == SPIKE else abs(a["x"] - 2) + abs(a["y"] - 2) + 0.5

    return space, score


def neighbors(space: SearchSpace, arch: Arch) -> set[str]:
    return {n.key for n in space.neighbors(arch)}


def differ(a: Arch, b: Arch) -> int:
    return sum(a[k] != b[k] for k in a)


# -- a driver like bench/efficiency.py's run_strategy, with several trials in flight (told first in, first out)
class Run:
    def __init__(self, strategy: LocalSearch, score: Score, fail: Callable[[Arch], bool] = lambda a: False,
                 in_flight: int = 1) -> None:
        self.s, self.score, self.fail, self.in_flight = strategy, score, fail, in_flight
        self.records: list[TrialRecord] = []
        self.running: list[TrialRecord] = []
        self.tells = 0

    def ask(self) -> TrialRecord | None:
        told_before = self.s.n_told
        p = self.s.ask()
        assert p is not WAIT, "local search waits only when nothing new can be proposed; here there always is"
        if p is None:
            return None
        r = TrialRecord(number=len(self.records), state=TrialState.RUNNING, arch=p.arch, told_before=told_before)
        self.records.append(r)
        self.running.append(r)
        return r

    def tell(self, r: TrialRecord | None = None) -> TrialRecord:
        r = r or self.running[0]
        self.running.remove(r)
        if self.fail(r.arch):
            r.state, r.error = TrialState.FAILED, "failed on purpose"
        else:
            r.state, r.values = TrialState.COMPLETE, {"val_mse": self.score(r.arch)}
        self.tells += 1
        r.tell_seq = self.tells
        self.s.tell(r)
        return r

    def step(self) -> TrialRecord | None:
        """Fill the free slots; tell the oldest running trial. The record just asked (None when exhausted)."""
        asked = None
        while len(self.running) < self.in_flight:
            asked = self.ask()
            if asked is None:
                break
        if self.running:
            self.tell()
        return asked

    def run(self, trials: int) -> list[TrialRecord]:
        while len(self.records) < trials:
            if self.step() is None and not self.running:
                break
        while self.running:
            self.tell()
        return self.records


def local(space: SearchSpace, seed: int = 0, **options) -> LocalSearch:
    s = make_strategy("local", space, seed=seed, objectives=("val_mse",), options=options)
    assert isinstance(s, LocalSearch)
    return s


# -- the algorithm -----------------------------------------------------------------------------------------
def test_registered_as_local():
    assert STRATEGIES["local"] is LocalSearch and LocalSearch.name == "local"


@pytest.mark.parametrize("seed", range(4))
def test_moves_to_the_first_improving_neighbour(seed):
    """After the start sample, every proposal is a neighbour of the best architecture so far (until its
    neighbourhood is used up): an improving neighbour is moved to at once, not after the rest of the old
    neighbourhood (best improvement would propose those, most of which are not its neighbours)."""
    space, score, best = separable(seed=seed)
    s = local(space, seed=seed, n_start=3)
    run = Run(s, score)
    for _ in range(3):
        assert run.step() is not None
    assert s.current is not None and score(s.current) == min(score(r.arch) for r in run.records)
    moves = 0
    for _ in range(24 * 25):  # at most 24 moves (each gains a decision at least one rank), each after <= 24 neighbours
        centre = min((r.arch for r in run.records), key=score)  # every score differs
        if neighbors(space, centre) <= {r.arch.key for r in run.records}:
            break  # the global optimum's neighbourhood is used up: the first run ends
        r = run.step()
        assert r is not None
        assert differ(r.arch, centre) == 1, f"proposal {len(run.records)} {dict(r.arch)} is not a neighbour of {dict(centre)}"
        if score(r.arch) < score(centre):
            moves += 1
            assert s.current == r.arch
    else:
        pytest.fail("the walk did not use up the global optimum's neighbourhood")
    assert centre == best and s.current == best
    assert moves >= 2, "the walk never moved: the test would not tell first from best improvement"
    # The first run ends at the global optimum; the next proposal starts a new run.
    r = run.step()
    assert s.local_optima == [best] and s.runs == 2 and s.current is None
    assert differ(r.arch, best) > 1


@pytest.mark.parametrize("n_restart", [1, 5])
@pytest.mark.parametrize("seed", range(3))
def test_restarts_from_random_architectures_at_a_local_optimum(seed, n_restart):
    space, score = trap()
    s = local(space, seed=seed, n_start=5, n_restart=n_restart)
    run = Run(s, score)
    while not s.local_optima:
        assert run.step() is not None and len(run.records) < 100, "no local optimum recognised"
    optimum = s.local_optima[0]
    assert optimum in (TRAP, SPIKE)
    known = {r.arch.key: score(r.arch) for r in run.records if r.state.finished}
    assert all(known[k] > score(optimum) for k in neighbors(space, optimum)), "every neighbour evaluated, none better"
    assert s.runs == 2
    # The restart: n_restart random architectures, then the walk goes on from the best of them.
    start = len(run.records) - 1  # the step that found the local optimum asked (and told) the first of them
    while len(run.records) < start + n_restart:
        assert s.current is None
        assert run.step() is not None
    sample = [r.arch for r in run.records[start:start + n_restart]]
    assert not neighbors(space, optimum) & {a.key for a in sample}
    assert max(abs(a["x"] - optimum["x"]) + abs(a["y"] - optimum["y"]) for a in sample) >= 3, "not a random restart"
    assert s.current == min(sample, key=score), "the new run starts from the best of its sample"
    r = run.ask()  # (it may first move, for free, to a better neighbour known from the first run)
    assert r.arch.key in neighbors(space, s.current) and score(s.current) <= min(score(a) for a in sample)


def test_known_results_are_used_not_evaluated_again():
    """Later runs walk into ground an earlier run covered: a known better neighbour is moved to without
    proposing it again, so the trap is found again (a second local optimum) with no architecture proposed twice."""
    space, score = trap()
    for seed in range(3):
        s = local(space, seed=seed, n_start=1)
        records = Run(s, score).run(60)
        assert len({r.arch.key for r in records}) == len(records)
        assert s.local_optima.count(TRAP) >= 2, f"seed {seed}: local optima {s.local_optima}"


@pytest.mark.parametrize("seed", range(10))
def test_finds_the_optimum_of_a_separable_landscape_quickly(seed):
    """15,625 architectures, one local optimum: local search reaches it within 100 trials on every seed
    (it took 16-60 on seeds 0-19); random search, with 100 trials, finds it with probability 0.6%."""
    space, score, best = separable(seed=seed)
    records = Run(local(space, seed=seed), score).run(100)
    assert best in [r.arch for r in records]
    random = make_strategy("random", space, seed=seed, objectives=("val_mse",))
    assert best not in [random.ask().arch for _ in range(100)]


def test_several_in_flight_a_told_improvement_moves_the_walk_and_it_never_waits():
    space, score, best = separable(seed=1)
    s = local(space, seed=3, n_start=4)
    run = Run(s, score, in_flight=4)
    records = run.run(150)
    assert best in [r.arch for r in records]
    assert len({r.arch.key for r in records}) == len(records)
    # Replayed from the records, the strategy is where the uninterrupted one is.
    again = local(space, seed=3, n_start=4)
    again.replay(records)
    assert (again.current, again.runs, again.local_optima, again.moves) == (s.current, s.runs, s.local_optima, s.moves)


def test_a_start_sample_still_running_gets_company_rather_than_a_wait():
    space, score, _ = separable()
    s = local(space, n_start=2)
    run = Run(s, score, in_flight=3)
    first = [run.ask() for _ in range(3)]  # two for the sample, and one more while both run
    assert all(r is not None for r in first) and s.current is None
    run.tell(first[1])
    assert s.current is None
    run.tell(first[2])  # two results in: the start is the better of those two, whatever the third gives
    assert s.current == min((first[1].arch, first[2].arch), key=score)


# -- failures ------------------------------------------------------------------------------------------------
def test_a_failed_neighbour_never_improves():
    """x0 == 0 fails, on the best side of the landscape: counted as better (or as its would-be value), the
    walk would move there; counted as not improving, it never does, and the best completed architecture
    (every architecture with x0 == 1, the rest optimal) is reached instead."""
    space, score, best = separable(seed=2)
    x0_order = np.argsort([score(Arch({"x0": v, **{f"x{i}": 0 for i in range(1, 6)}})) for v in range(5)])
    bad, good = int(x0_order[0]), int(x0_order[1])  # x0's best option fails; its second best is the best that completes

    def fails(a: Arch) -> bool:
        return a["x0"] == bad

    for seed in range(4):
        s = local(space, seed=seed, n_start=5)
        run = Run(s, score, fail=fails)
        while len(run.records) < 150:
            assert run.step() is not None
            assert s.current is None or not fails(s.current), "moved to a failed architecture"
        assert any(fails(r.arch) for r in run.records[5:]), "failing neighbours were proposed"
        completed = [r for r in run.records if r.state is TrialState.COMPLETE]
        assert min(completed, key=lambda r: score(r.arch)).arch == Arch({**best, "x0": good})
        assert all(o["x0"] != bad for o in s.local_optima)


def test_everything_failing_still_walks_and_restarts():
    space, score, _ = separable(d=3, m=4)
    s = local(space, n_start=2)
    records = Run(s, score, fail=lambda a: True, in_flight=2).run(40)
    assert len(records) == 40 and len({r.arch.key for r in records}) == 40
    assert s.runs >= 3 and all(r.state is TrialState.FAILED for r in records)


# -- options ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("options, message", [
    ({"n_start": 0}, "option n_start must be an integer >= 1, got 0"),
    ({"n_start": "5"}, "option n_start must be an integer >= 1, got '5'"),
    ({"n_start": 2.5}, "option n_start must be an integer >= 1, got 2.5"),
    ({"n_restart": 0}, "option n_restart must be an integer >= 1, got 0"),
    ({"n_restart": True}, "option n_restart must be an integer >= 1, got True"),
    ({"population_size": 5}, "bad option for strategy 'local'"),
])
def test_a_bad_option_is_a_one_line_config_error(options, message):
    space, _, _ = separable()
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")) as e:
        make_strategy("local", space, options=options)
    assert "\n" not in str(e.value)


def test_options_are_used():
    space, score, _ = separable()
    s = local(space, n_start=3.0, n_restart=1)  # JSON writers may give 3.0
    assert (s.n_start, s.n_restart) == (3, 1)
    run = Run(s, score)
    for _ in range(3):
        run.step()
    assert s.current is not None  # the walk begins after three results
    assert local(space).n_start == local(space).n_restart == 5
