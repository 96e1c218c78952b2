"""``StrategyConformance``: the conformance properties as pytest test methods of one base class.

A subclass named ``Test...`` implements ``make_strategy`` and pytest runs every property on it.
Architecture trials get cheap made-up results (``driver.Driver``); on spaces with a model family
a one-shot job the strategy proposes trains for real on sunspots with a tiny budget. A check is
skipped, with the reason, only when the strategy cannot apply to it (``make_strategy`` raises
``seqnas.errors.UserError`` for the space, or the strategy proposes a one-shot job on a space
without a model family).

Longer than 350 lines: one test method per conformance property of the public kit, each short; they
are one class so that a third-party author subclasses one thing.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

import pytest

from seqnas.errors import UserError
from seqnas.space.base import Arch, SearchSpace
from seqnas.strategies.base import Strategy
from seqnas.testing.checks import arch_records, assert_no_repeats, is_multi_fidelity, keys, promotions
from seqnas.testing.contracts import CONTRACTS, Contract
from seqnas.testing.driver import TINY_TRAIN, Driver, always_fail, fails, uniform
from seqnas.testing.spaces import SPACES, conditional_space, small_space, tiny_macro_six, tiny_macro_space, tiny_space
from seqnas.trial import Proposal, TrialState


def _continue() -> dict[str, Any]:
    """``search``'s arguments that continue a stored study (``load_if_exists``, where ``search`` has it)."""
    from seqnas.api import search

    return {"load_if_exists": True} if "load_if_exists" in inspect.signature(search).parameters else {}


class StrategyConformance:
    """Subclass it (as ``class TestMine(StrategyConformance)``) and implement ``make_strategy``.

    Optional class attributes (None: found out from the strategy itself):

    - ``registered_name``: the strategy's name in ``seqnas.strategies``; the storage test then runs
      ``seqnas.search(strategy=registered_name)``. Unset, the kit registers ``make_strategy`` under a
      temporary name for that test.
    - ``multi_fidelity``: the strategy proposes an architecture once per rung (``checks.assert_no_repeats``);
      default: it is a ``seqnas.strategies.MultiFidelity``.
    - ``one_shot``: True skips the spaces without a model family at once (default: when the strategy
      proposes a one-shot job on one).
    - ``deterministic``: False skips the resume checks; default: the strategy's ``deterministic``, else True.
    - ``requires_task``: the strategy trains on a task itself (a reason, or False); default: its ``requires_task``.
    - ``failure_contract``: what it does with a failed trial, a name in ``contracts.CONTRACTS`` or a
      function ``contract(make)``; unset, that test is skipped (``require_failure_contract``: fails).
    """

    registered_name: ClassVar[str | None] = None
    multi_fidelity: ClassVar[bool | None] = None
    one_shot: ClassVar[bool | None] = None
    deterministic: ClassVar[bool | None] = None
    requires_task: ClassVar[str | bool | None] = None
    failure_contract: ClassVar[str | Contract | None] = None
    require_failure_contract: ClassVar[bool] = False

    # -- what a subclass implements -----------------------------------------------------------------------
    def make_strategy(self, space: SearchSpace, *, seed: int, objectives: Sequence[str], **options: Any) -> Strategy:
        """A new strategy on ``space``. ``options`` are ``strategy_options(space)`` and what a failure
        contract asks for (none unless ``failure_contract`` names one that does). Raise
        ``seqnas.errors.UserError`` (e.g. ``ConfigError``) for a space the strategy cannot search."""
        raise NotImplementedError(f"{type(self).__name__} must implement make_strategy(space, *, seed, objectives)")

    def strategy_options(self, space: SearchSpace) -> dict[str, Any]:
        """Options for every strategy made on ``space`` (e.g. to keep a one-shot search fast); default none."""
        return {}

    # -- helpers --------------------------------------------------------------------------------------------
    @property
    def label(self) -> str:
        return self.registered_name or type(self).__name__

    def new_strategy(self, space: SearchSpace, *, seed: int = 0, objectives: Sequence[str] = ("value",),
                     **extra: Any) -> Strategy:
        """``make_strategy`` with ``strategy_options(space)`` and ``extra``; skips the check when the
        strategy does not apply to the space."""
        if self.one_shot and space.family is None:
            pytest.skip(f"{self.label} is one-shot: space {space.name!r} has no model family to train")
        options = {**self.strategy_options(space), **extra}
        try:
            s = self.make_strategy(space, seed=seed, objectives=tuple(objectives), **options)
        except UserError as e:
            pytest.skip(f"{self.label} does not apply to space {space.name!r}: {e}")
        assert isinstance(s, Strategy), f"{type(self).__name__}.make_strategy returned {s!r}, not a Strategy"
        return s

    def try_strategy(self, space: SearchSpace, **kw: Any) -> Strategy | None:
        """``new_strategy``, or None where the strategy does not apply to the space."""
        try:
            return self.new_strategy(space, **kw)
        except pytest.skip.Exception:
            return None

    def is_multi_fidelity(self, s: Strategy) -> bool:
        return is_multi_fidelity(s) if self.multi_fidelity is None else self.multi_fidelity

    def assert_no_repeats(self, s: Strategy, records: list[Any]) -> None:
        assert_no_repeats(s, records, self.is_multi_fidelity(s))

    @staticmethod
    def assert_valid(space: SearchSpace, records: list[Any]) -> None:
        """Every record proposes an architecture of ``space`` (``space.validate`` raises otherwise)."""
        for r in records:
            assert r.arch is not None, f"trial {r.number} ({r.kind}) has no architecture"
            space.validate(r.arch)

    def skip_unless_deterministic(self, s: Strategy) -> None:
        deterministic = getattr(s, "deterministic", True) if self.deterministic is None else self.deterministic
        if not deterministic:
            pytest.skip(f"{self.label} declares itself non-deterministic")

    @contextlib.contextmanager
    def registered(self) -> Iterator[str]:
        """The strategy's name in the registry: ``registered_name``, or ``make_strategy`` registered
        under a temporary name while the block runs."""
        if self.registered_name:
            yield self.registered_name
            return
        from seqnas.strategies import STRATEGIES

        case, name = self, f"conformance-{type(self).__name__.lower()}-{id(self):x}"

        class Registered(Strategy):  # make_strategy(name, ...) calls it: it returns what make_strategy returns
            def __new__(cls, space: SearchSpace, *, seed: int = 0, objectives: Sequence[str] = ("val_mse",), **options: Any) -> Strategy:  # type: ignore[misc]
                return case.make_strategy(space, seed=seed, objectives=tuple(objectives),
                                          **{**case.strategy_options(space), **options})

        Registered.name = name
        STRATEGIES[name] = Registered
        try:
            yield name
        finally:
            STRATEGIES.pop(name, None)

    # -- the properties ---------------------------------------------------------------------------------------
    @pytest.mark.parametrize("space_name", list(SPACES))
    def test_deterministic_for_a_seed(self, space_name: str) -> None:
        space = SPACES[space_name]()
        runs = [Driver(self.new_strategy(space, seed=seed), in_flight=2).run(25) for seed in (7, 7, 8)]
        assert keys(runs[0]) == keys(runs[1])
        assert [r.state for r in runs[0]] == [r.state for r in runs[1]]
        assert keys(runs[0]) != keys(runs[2]), "the seed does not change the proposals"

    @pytest.mark.parametrize("in_flight", [1, 3])
    @pytest.mark.parametrize("space_name, trials", [("small", 70), ("tiny-macro", 25)])
    def test_never_proposes_an_architecture_twice(self, space_name: str, trials: int, in_flight: int) -> None:
        """No architecture twice; for a multi-fidelity strategy no (architecture, rung) twice, and only
        finished, not FAILED trials promoted to the next rung (``assert_no_repeats``), and it promotes."""
        space = small_space() if space_name == "small" else tiny_macro_space()
        s = self.new_strategy(space, seed=1)
        records = Driver(s, in_flight=in_flight).run(trials)
        assert len(records) == trials
        self.assert_no_repeats(s, records)
        if self.is_multi_fidelity(s):
            assert promotions(records), f"{self.label} promoted nothing in {trials} trials"

    @pytest.mark.parametrize("space_name", list(SPACES))
    def test_every_proposal_respects_the_conditions(self, space_name: str) -> None:
        space = SPACES[space_name]()
        records = Driver(self.new_strategy(space, seed=2), in_flight=2).run(40)
        assert len(arch_records(records)) >= 30
        for r in arch_records(records):
            assert r.arch is not None and space.validate(r.arch) == r.arch  # canonical: exactly the active parameters, valid values

    @pytest.mark.parametrize("space_name", ["conditional", "tiny-macro"])
    def test_several_trials_in_flight(self, space_name: str) -> None:
        space = SPACES[space_name]()
        d = Driver(self.new_strategy(space, seed=3), in_flight=6)
        first = [d.ask() for _ in range(6)]  # six asks before the first tell (a one-shot strategy waits for its job)
        assert first[0] is not None, "the first ask must propose something"
        asked = [r for r in first if r is not None]
        self.assert_no_repeats(d.s, asked)
        for r in reversed(asked):  # results arrive in another order than asked
            d.finish(r)
        more = d.run(len(d.records) + 15)
        assert len(more) >= len(asked) + 10
        self.assert_no_repeats(d.s, more)
        self.assert_valid(space, arch_records(more))

    @pytest.mark.parametrize("in_flight", [1, 3])
    @pytest.mark.parametrize("space_name", ["tiny", "tiny-macro-six"])
    def test_exhausts_a_tiny_space_cleanly(self, space_name: str, in_flight: int) -> None:
        """Every architecture exactly once (a multi-fidelity strategy: started once, then promoted as it
        earns), then ask returns None, and again after the trials in flight have finished: a
        multi-fidelity strategy ends only once every promotion has run, answering WAIT (never with no
        trial running: the runner stops on that) while a trial in flight may still be promoted."""
        space = tiny_space() if space_name == "tiny" else tiny_macro_six()
        size = space.cardinality
        assert size == 6
        d = Driver(self.new_strategy(space, seed=4), in_flight=in_flight)
        d.run(10 * size)  # stops at the first None once nothing is running
        assert d.exhausted, f"{self.label} kept proposing on a space of {size} architectures"
        started = [r.arch.key for r in arch_records(d.records) if r.info.get("parent") is None and r.arch is not None]
        assert sorted(started) == sorted(a.key for a in space.grid()), "every architecture exactly once"
        self.assert_no_repeats(d.s, d.records)
        assert d.s.ask() is None and d.s.ask() is None  # and stays exhausted

    @pytest.mark.parametrize("in_flight", [1, 3])
    @pytest.mark.parametrize("space_name", list(SPACES))
    def test_resume_after_replay_continues_as_an_uninterrupted_run(self, space_name: str, in_flight: int) -> None:
        space = SPACES[space_name]()
        a = Driver(self.new_strategy(space, seed=5), in_flight=in_flight, order_seed=11)
        self.skip_unless_deterministic(a.s)
        a.run(23)
        while len(a.running) < in_flight and a.ask() is not None:  # cut while trials are in flight
            pass
        stored = copy.deepcopy(a.records)  # what the database holds at the crash
        b_strategy = self.new_strategy(space, seed=5)
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

    def test_resume_during_the_first_trial_continues_as_an_uninterrupted_run(self) -> None:
        """A crash while the first trial runs (for darts: its supernet search): replay proposes it again."""
        space = tiny_macro_space()
        whole_strategy = self.new_strategy(space, seed=12)
        self.skip_unless_deterministic(whole_strategy)
        whole = Driver(whole_strategy).run(12)
        a = Driver(self.new_strategy(space, seed=12))
        assert a.ask() is not None
        stored = copy.deepcopy(a.records)  # one trial, RUNNING
        b_strategy = self.new_strategy(space, seed=12)
        rerun = b_strategy.replay(stored)
        assert sorted(rerun) == [0]
        assert rerun[0].arch == stored[0].arch and rerun[0].kind == stored[0].kind
        b = Driver(b_strategy)
        b.records, b.running = stored, list(stored)
        b.jobs = {n: p for n, p in rerun.items() if p.job is not None}
        assert keys(b.run(12)) == keys(whole)

    def test_resume_through_storage_matches_an_uninterrupted_study(self, tmp_path: Path) -> None:
        """A study searched in two calls (stored, continued) proposes what one call does: on an objective
        function, or for a strategy that trains on the task itself (``requires_task``: one-shot,
        multi-fidelity) on a task-backed study trained for real (sunspots, tiny budget)."""
        why = self.requires_task
        if why is None:
            probe = self.try_strategy(conditional_space()) or self.try_strategy(tiny_macro_space())
            if probe is None:
                pytest.skip(f"{self.label} applies to neither space {conditional_space().name!r} nor {tiny_macro_space().name!r}")
            why = getattr(probe, "requires_task", None)
        if why:
            self._resume_through_storage_on_a_task(tmp_path)
        else:
            self._resume_through_storage_on_an_objective(tmp_path)

    def _resume_through_storage_on_an_objective(self, tmp_path: Path) -> None:
        import seqnas

        space = conditional_space()
        s = self.new_strategy(space)
        p = s.ask()
        if isinstance(p, Proposal) and p.job is not None:
            pytest.skip(f"{self.label} is one-shot: it proposed a {p.kind!r} job, which an objective function cannot run")

        def objective(arch: Arch) -> float:
            if fails(arch):
                raise ValueError("failed on purpose")
            return uniform(arch, "value")

        db = str(tmp_path / "runs.db")
        with self.registered() as name:
            common: dict[str, Any] = dict(objective=objective, strategy=name, seed=6, db=db, progress=False,
                                          strategy_options=self._stored_options(space))
            whole = seqnas.search(space, trials=24, study="whole", **common)
            seqnas.search(space, trials=10, study="parts", **common, **_continue())
            parts = seqnas.search(space, trials=24, study="parts", **common, **_continue())
        assert keys(parts.records) == keys(whole.records)

    def _resume_through_storage_on_a_task(self, tmp_path: Path) -> None:
        import seqnas

        space = tiny_macro_space()
        self.new_strategy(space)  # skips where the strategy does not apply
        db = str(tmp_path / "runs.db")
        with self.registered() as name:
            common: dict[str, Any] = dict(task="sunspots", strategy=name, strategy_options=self._stored_options(space),
                                          seed=6, train=TINY_TRAIN, db=db, progress=False, final_repeats=0)
            whole = seqnas.search(space, trials=4, study="whole", **common)
            seqnas.search(space, trials=2, study="parts", **common, **_continue())
            parts = seqnas.search(space, trials=4, study="parts", **common, **_continue())
        assert len(arch_records(whole.records)) == 4
        assert keys(parts.records) == keys(whole.records)
        assert [r.values for r in parts.records] == [r.values for r in whole.records]

    def _stored_options(self, space: SearchSpace) -> dict[str, Any] | None:
        """The study's strategy options: ``strategy_options`` for a registered strategy (the temporary
        registration adds them itself)."""
        return (self.strategy_options(space) or None) if self.registered_name else None

    def test_failed_trials_never_crash(self) -> None:
        space = conditional_space()
        # Every trial fails: the strategy must go on proposing valid, new architectures.
        d = Driver(self.new_strategy(space, seed=9), in_flight=2, fail=always_fail)
        records = d.run(20)
        assert len(records) == 20 and all(r.state is TrialState.FAILED for r in records if r.state.finished)
        assert len({r.arch.key for r in arch_records(records) if r.arch is not None}) == len(records)  # nothing to promote
        self.assert_valid(space, records)
        # Mixed: some fail, the strategy keeps working.
        s = self.new_strategy(space, seed=9)
        mixed = Driver(s, in_flight=2).run(40)
        assert {TrialState.FAILED, TrialState.COMPLETE} <= {r.state for r in mixed}
        self.assert_no_repeats(s, mixed)

    def test_failed_trials_count_as_worst(self) -> None:
        """The strategy's failure contract (``failure_contract``, ``contracts.CONTRACTS``)."""
        contract = inspect.getattr_static(self, "failure_contract")  # a function stays unbound
        if isinstance(contract, staticmethod):
            contract = contract.__func__
        if contract is None:
            why = (f"nothing tests what {self.label} does with a failed trial: set failure_contract "
                   f"(one of {sorted(CONTRACTS)}, or a function contract(make))")
            if self.require_failure_contract:
                pytest.fail(why)
            pytest.skip(why)
        if isinstance(contract, str):
            if contract not in CONTRACTS:
                pytest.fail(f"unknown failure_contract {contract!r}: use one of {sorted(CONTRACTS)} or a function")
            contract = CONTRACTS[contract]
        contract(self.new_strategy)

    @pytest.mark.parametrize("space_name, trials", [("small", 40), ("tiny-macro", 20)])
    def test_several_objectives(self, space_name: str, trials: int) -> None:
        space = small_space() if space_name == "small" else tiny_macro_space()
        d = Driver(self.new_strategy(space, seed=10, objectives=("error", "size")), in_flight=2)
        records = d.run(trials)
        assert len(records) == trials
        self.assert_no_repeats(d.s, records)
        self.assert_valid(space, arch_records(records))


__all__ = ["StrategyConformance"]
