"""The runner: ask -> store RUNNING -> submit -> collect -> store result -> tell, within a budget."""

from __future__ import annotations

import dataclasses
import time
from typing import Any, Protocol

from seqnas.execution.base import Executor
from seqnas.storage import Storage, StudyRow
from seqnas.storage.checkpoints import Checkpoints
from seqnas.strategies.base import WAIT, Strategy
from seqnas.study import Budget, StudySettings
from seqnas.trial import Proposal, Result, TrialRecord, TrialState, best_first, oriented


class Progress(Protocol):
    def start(self, done: int, total: int | None, best: float | None) -> None: ...
    def update(self, done: int, best: float | None, failed: int) -> None: ...
    def close(self) -> None: ...


class NoProgress:
    def start(self, done: int, total: int | None, best: float | None) -> None: ...
    def update(self, done: int, best: float | None, failed: int) -> None: ...
    def close(self) -> None: ...


class Runner:
    """The only place that connects strategy, executor and storage.

    Keeps up to ``executor.workers`` trials in flight and asks for a new proposal whenever one
    finishes. Every trial is stored RUNNING before it is submitted and its result is stored
    (with the strategy's state) in one transaction as it arrives, so a crash loses at most the
    running trials, and ``run`` on the same study resumes: finished trials are replayed into
    the strategy, trials left RUNNING are run again.

    The executor belongs to the caller (one pool can serve many studies); the runner shuts it
    down only when it stops with trials still in flight (Ctrl-C, an error).

    A trial left RUNNING ``max_attempts`` times (each resume runs it again: a trial whose
    evaluation kills the process would kill every resume) is stored FAILED with the reason
    instead of run again. Multi-fidelity rungs: the runner keeps each rung's training state
    (``Checkpoints``), ships it with the trial that continues it, removes it once that trial is
    stored, and at the end of a study keeps only the selected architecture's.

    Strategies minimise: for a study that maximises an objective (``StudySettings.directions``)
    the runner hands every record to the strategy (``replay``, ``tell``) with that objective's
    value negated (``trial.oriented``); what is stored is the value as evaluated.
    """

    def __init__(self, storage: Storage, study: StudyRow, strategy: Strategy, evaluator: Any, executor: Executor,
                 budget: Budget, seed: int, progress: Progress | None = None, max_attempts: int = 3) -> None:
        self.storage, self.study, self.strategy = storage, study, strategy
        # A study whose budget keeps a share for the final retraining searches with the rest (Budget.search).
        self.evaluator, self.executor, self.budget, self.seed = evaluator, executor, budget.search(), seed
        self.progress = progress or NoProgress()
        settings = StudySettings.from_json(study.settings)
        self.maximized = settings.maximized
        self.sign = -1.0 if settings.maximize_primary else 1.0  # best-so-far: the lowest of sign * primary value
        self.max_attempts = max_attempts
        self.checkpoints = Checkpoints(storage, study)
        self.in_flight: dict[int, Proposal] = {}
        self.exhausted = False
        # CPU time of this thread inside ask() and tell() not yet attributed to a stored trial.
        self._strategy_cpu = 0.0

    # -- budget bookkeeping ----------------------------------------------------------------------
    def _load(self) -> list[TrialRecord]:
        records = self.storage.trials(self.study)
        self.finished = sum(1 for r in records if r.state.finished and r.kind == "arch")
        self.failed = sum(1 for r in records if r.state is TrialState.FAILED and r.kind == "arch")
        self.cpu_used = sum(self.budget.charged(r.metrics) for r in records if r.state.finished)
        self.elapsed_before = float(self.storage.get_state(self.study, "elapsed") or 0.0)
        self.best = min((v for r in records if r.kind == "arch" and (v := r.value) is not None),
                        key=lambda v: self.sign * v, default=None)
        return records

    def _elapsed(self) -> float:
        return self.elapsed_before + (time.monotonic() - self._t0)

    def _may_start(self, kind: str) -> bool:
        b = self.budget
        if b.trials is not None and kind == "arch":
            if self.finished + sum(1 for p in self.in_flight.values() if p.kind == "arch") >= b.trials:
                return False
        if b.seconds is not None and self._elapsed() >= b.seconds:
            return False
        return not (b.cpu_seconds is not None and self.cpu_used >= b.cpu_seconds)

    def _budget_left(self) -> bool:
        return self._may_start("arch") or (self.budget.trials is not None and self._may_start("job"))

    # -- the loop --------------------------------------------------------------------------------
    def run(self) -> None:
        self._t0 = time.monotonic()
        self.storage.acquire(self.study)
        try:
            records = self._load()
            resumed = self.strategy.replay([oriented(r, self.maximized) for r in records])
            state = self.storage.get_state(self.study, "strategy")
            if state is not None:
                self.strategy.load_state_dict(state)
            self.progress.start(self.finished, self.budget.trials, self.best)
            attempts = self.storage.attempts(self.study)
            for number, proposal in resumed.items():
                if attempts.get(number, 1) >= self.max_attempts:
                    self.in_flight[number] = proposal
                    self._finish(number, Result.failed(
                        f"not run again: the process running it ended {attempts[number]} times before it finished "
                        "(a crash, a kill, out of memory); it counts as failed"))
                    continue
                self.storage.restart_trial(self.study, number)
                self._submit(number, proposal)
            self._loop()
            best = best_first(self.storage.trials(self.study), maximize=self.sign < 0)
            self.checkpoints.keep_only({best[0].number} if best else set())
        finally:
            if self.in_flight:
                # Interrupted or failed: abandon what runs (it stays RUNNING; resume re-runs it).
                self.executor.shutdown()
            self.storage.set_state(self.study, "elapsed", self._elapsed())
            self.storage.release(self.study)
            self.progress.close()

    def _submit(self, number: int, proposal: Proposal) -> None:
        parent = proposal.info.get("parent")
        if parent is not None and proposal.checkpoint is None:
            # A promotion continues its previous rung (without a kept state it trains from scratch to the same numbers).
            proposal = dataclasses.replace(proposal, checkpoint=self.checkpoints.read(int(parent)))
        if self.budget.cpu_seconds is not None and proposal.kind == "arch" and proposal.info.get("rung_epochs") is None:
            # What is left of the CPU budget, shared with the trials in flight: a trial that would spend more stops
            # training at the epoch that reaches it (its best epoch so far is its result), so one long trial cannot
            # run the study far past its budget.
            share = 1 + sum(1 for p in self.in_flight.values() if p.kind == "arch")
            left = max(0.0, self.budget.cpu_seconds - self.cpu_used) / share
            proposal = dataclasses.replace(proposal, cpu_limit=left)
        self.in_flight[number] = proposal
        self.executor.submit(number, self.evaluator, proposal, self.seed)

    def _fill(self) -> None:
        while not self.exhausted and len(self.in_flight) < self.executor.workers and self._budget_left():
            told_before = self.strategy.n_told
            c0 = time.thread_time()
            proposal = self.strategy.ask()
            self._strategy_cpu += time.thread_time() - c0
            for n in self.strategy.released():  # architectures the scheduler stopped: their state is not needed
                self.checkpoints.drop(n)
            if proposal is WAIT:
                if not self.in_flight:
                    raise RuntimeError(f"strategy {self.strategy.name!r} waits with no trial running")
                return
            if proposal is None:
                self.exhausted = True
                return
            if not self._may_start(proposal.kind):
                # The strategy wants something the budget no longer allows: stop asking.
                self.exhausted = True
                return
            number = self.storage.add_trial(self.study, proposal, told_before)
            self._submit(number, proposal)

    def _loop(self) -> None:
        self._fill()
        while self.in_flight:
            for number, result in self.executor.wait(timeout=1.0):
                self._finish(number, result)
            self._fill()

    def _finish(self, number: int, result: Result) -> None:
        proposal = self.in_flight.pop(number)
        record = TrialRecord(
            number=number, state=result.state, arch=proposal.arch, kind=proposal.kind, values=result.values,
            metrics=result.metrics, error=result.error, info=proposal.info, duration=result.duration, curve=result.curve,
        )
        # The checkpoint file goes in place before the result is stored: a stored rung always has its state.
        checkpoint = self.checkpoints.write(number, result.checkpoint) if result.checkpoint is not None else None
        result.checkpoint = None
        c0 = time.thread_time()
        self.strategy.tell(oriented(record, self.maximized))
        state = self.strategy.state_dict()
        # The strategy's own work since the last stored trial (its asks, this tell) is stored with
        # this trial and charged to the CPU budget: thread time, so the other lanes of a race
        # running in this process are not counted.
        result.metrics["strategy_cpu_seconds"] = self._strategy_cpu + (time.thread_time() - c0)
        self._strategy_cpu = 0.0
        record.tell_seq = self.storage.finish_trial(self.study, number, result, state, checkpoint=checkpoint)
        if proposal.info.get("parent") is not None and result.state is TrialState.COMPLETE:
            self.checkpoints.drop(int(proposal.info["parent"]))  # continued and stored: no longer needed
        self.cpu_used += self.budget.charged(result.metrics)
        self.storage.set_state(self.study, "elapsed", self._elapsed())  # a killed run still counts its time
        if proposal.kind == "arch":
            self.finished += 1
            if result.state is TrialState.FAILED:
                self.failed += 1
            if record.value is not None and (self.best is None or self.sign * record.value < self.sign * self.best):
                self.best = record.value
        self.progress.update(self.finished, self.best, self.failed)
