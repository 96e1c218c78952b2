"""The Strategy interface: propose (ask), learn from results (tell), rebuild from storage (replay)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Self

import numpy as np

from seqnas.space.base import Arch, SearchSpace
from seqnas.trial import Proposal, TrialRecord, TrialState


class _Wait:
    """Returned by ``ask`` when the strategy has nothing to propose until a running trial ends."""

    def __repr__(self) -> str:
        return "WAIT"


WAIT: Any = _Wait()


class Strategy:
    """Base class of every search strategy.

    A strategy never calls the executor or the storage. The runner calls ``ask`` whenever a
    worker is free (so several proposals can be in flight before the first ``tell``) and
    ``tell`` with each finished record, in the order results arrive.

    ``replay`` rebuilds a strategy from stored records by re-running the same sequence of asks
    and tells (each record knows how many tells preceded its ask), so a deterministic strategy
    continues exactly as an uninterrupted run would. Strategies that hold expensive state can
    also save it (``state_dict``) and restore it instead.

    Subclasses implement ``_propose`` (return an Arch/Proposal, ``WAIT`` when nothing can be
    proposed until a running trial finishes, or None when exhausted) and
    ``_observe``; the base class keeps the bookkeeping every strategy needs: the set of
    architectures already proposed (so no architecture is evaluated twice in a study), the
    results so far, and a per-ask random generator derived from the seed.
    """

    name = "base"
    _init_options: dict[str, Any] | None  # set by __new__: see init_options
    multi_objective = False  # True when the strategy uses several objectives itself
    max_duplicate_retries = 50  # _propose attempts per ask before the strategy counts as exhausted

    def __new__(cls, *args: Any, **kwargs: Any) -> Self:
        self = super().__new__(cls)
        # What the strategy is constructed with, so that a study searched with an instance records
        # its options and ``seqnas.resume`` can rebuild it by name (``init_options``).
        self._init_options = None if len(args) > 1 else {k: v for k, v in kwargs.items()
                                                           if k not in ("space", "seed", "objectives")}
        return self

    def init_options(self) -> dict[str, Any] | None:
        """The keyword options this strategy was constructed with, besides space, seed and objectives
        (``make_strategy(type(s).name, ..., options=s.init_options())`` builds the same strategy);
        None when it was given other positional arguments than the space."""
        opts = getattr(self, "_init_options", {})
        return None if opts is None else dict(opts)

    def __init__(self, space: SearchSpace, *, seed: int = 0, objectives: Sequence[str] = ("val_mse",)) -> None:
        self.space = space
        self.seed = int(seed)
        self.objectives = tuple(objectives)
        self.seen: set[str] = set()
        self.history: list[TrialRecord] = []
        self.n_asked = 0
        self.n_told = 0

    # -- what subclasses implement ---------------------------------------------------------
    def _propose(self, rng: np.random.Generator) -> Arch | Proposal | None:
        raise NotImplementedError

    def _observe(self, record: TrialRecord) -> None:
        """Learn from a finished record (COMPLETE or FAILED)."""

    # -- the interface ----------------------------------------------------------------------
    def ask(self) -> Proposal | None:
        """The next proposal, never an architecture proposed before; None when exhausted,
        ``WAIT`` when the next proposal depends on a trial still running."""
        for attempt in range(self.max_duplicate_retries):
            rng = np.random.default_rng([self.seed, self.n_asked, attempt, 0x5E9])
            out = self._propose(rng)
            if out is None or out is WAIT:
                return out
            proposal = out if isinstance(out, Proposal) else Proposal(arch=out)
            if proposal.arch is not None and not self.fresh(proposal.arch):
                continue  # the guarantee lives here, whatever the subclass does
            self.n_asked += 1
            if proposal.arch is not None:
                self.seen.add(proposal.arch.key)
            return proposal
        return None

    def tell(self, record: TrialRecord) -> None:
        if not record.state.finished:
            raise ValueError("tell() takes finished trials only")
        self.n_told += 1
        self.history.append(record)
        self._observe(record)

    def update(self, record: TrialRecord) -> None:
        """A later result of an architecture already told, at a higher fidelity (a multi-fidelity
        scheduler's promotion, ``strategies/multifidelity.py``). Default: ignored (the strategy
        learned from the first result)."""

    def released(self) -> list[int]:
        """Trials whose saved training state will never be continued (a multi-fidelity scheduler's
        stopped architectures), since the last call; the runner deletes their checkpoints."""
        return []

    def replay(self, records: Sequence[TrialRecord]) -> dict[int, Proposal]:
        """Re-run the stored sequence of asks and tells.

        Records still RUNNING are asked (they are in flight again) but not told; their
        proposals are returned (trial number -> Proposal) so the runner can run them again.
        Where the strategy proposes something other than what was stored (a non-deterministic
        strategy, another machine), the stored architecture wins.
        """
        running: dict[int, Proposal] = {}
        ordered = sorted(records, key=lambda r: r.number)
        tells = sorted((r for r in ordered if r.state.finished), key=lambda r: r.tell_order)
        told = 0
        for r in ordered:
            while told < len(tells) and told < r.told_before and tells[told].number < r.number:
                self.tell(tells[told])
                told += 1
            proposal = self.ask()
            if proposal is WAIT:
                proposal = None
            self._replayed(r, proposal)
            if not r.state.finished:
                if r.arch is not None:
                    running[r.number] = Proposal(arch=r.arch, kind=r.kind, info=r.info)
                elif proposal is not None and proposal.job is not None:
                    running[r.number] = proposal
        for t in tells[told:]:
            self.tell(t)
        return running

    def _replayed(self, stored: TrialRecord, proposed: Proposal | None) -> None:
        """Hook: a replayed ask produced ``proposed``; the stored record is the truth."""
        if stored.arch is not None:
            self.seen.add(stored.arch.key)
        if proposed is not None and proposed.arch is not None and stored.arch is not None and proposed.arch != stored.arch:
            self.seen.discard(proposed.arch.key)
            self.seen.add(stored.arch.key)

    def state_dict(self) -> dict[str, Any] | None:
        """Extra state to store with the study (None: replay alone rebuilds the strategy)."""
        return None

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what ``state_dict`` returned (called after ``replay``)."""

    # -- helpers for subclasses --------------------------------------------------------------
    def score(self, record: TrialRecord) -> float:
        """Primary objective of a record; FAILED counts as worst (+inf)."""
        if record.state is not TrialState.COMPLETE or not record.values:
            return float("inf")
        return float(record.values.get(self.objectives[0], next(iter(record.values.values()))))

    def fresh(self, arch: Arch) -> bool:
        return arch.key not in self.seen

    def sample_fresh(self, rng: np.random.Generator, tries: int = 1000) -> Arch | None:
        """A random architecture not proposed before (None when the space seems used up)."""
        for _ in range(tries):
            a = self.space.sample(rng)
            if self.fresh(a):
                return a
        card = self.space.cardinality
        if card is not None and card <= 200_000:
            # A small space that is almost used up: find what is left exhaustively.
            size, at = self.space.grid_sampler(resolution=max(p.size or 1 for p in self.space.params))
            start = int(rng.integers(size))
            for k in range(size):
                a = at((start + k) % size)
                if self.fresh(a):
                    return a
        return None
