"""The executor interface and the unit of work every executor runs: ``run_trial``."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Sequence
from typing import Any, Callable

from seqnas.checks import optional_positive_number
from seqnas.trial import Proposal, Result

Evaluator = Callable[..., Result]


def run_trial(evaluator: Evaluator, proposal: Proposal, seed: int) -> Result:
    """Evaluate a proposal: an architecture with the evaluator, or a one-shot job.

    Never raises: an error inside becomes a FAILED result with the reason.
    """
    t0 = time.perf_counter()
    try:
        if proposal.job is not None:
            result = proposal.job(evaluator, seed)
        elif proposal.info.get("rung_epochs") is not None:  # a multi-fidelity rung
            result = evaluator(proposal.arch, seed, epochs=int(proposal.info["rung_epochs"]), resume=proposal.checkpoint)
        else:
            kwargs: dict[str, Any] = {}
            if proposal.cpu_limit is not None and getattr(evaluator, "accepts_cpu_limit", False):
                kwargs["cpu_limit"] = proposal.cpu_limit
            if proposal.kind == "final" and getattr(evaluator, "returns_weights", False):
                kwargs["weights"] = True  # a final retraining's weights are kept: the export deploys them
            result = evaluator(proposal.arch, seed, **kwargs)
        if not isinstance(result, Result):
            return Result.failed(f"evaluator returned {type(result).__name__}, not a Result", time.perf_counter() - t0)
        return result.check_finite()
    except Exception as e:  # noqa: BLE001 - one trial's error must not stop the search
        return Result.failed(f"{type(e).__name__}: {e}", time.perf_counter() - t0)


def timeout_result(limit: float, ran: float, cpu_seconds: float) -> Result:
    """The FAILED result of an architecture trial stopped for running past ``--trial-timeout``."""
    return Result.failed(f"timed out: ran {ran:.1f} s, over the --trial-timeout of {limit:g} s; its worker was stopped",
                         ran, timed_out=True, cpu_seconds=cpu_seconds)


def check_trial_timeout(trial_timeout: float | None) -> float | None:
    return optional_positive_number(trial_timeout, "--trial-timeout", unit="seconds")


class Executor(ABC):
    """Runs trials; the runner submits work tagged with the trial number and collects results.

    ``trial_timeout`` (seconds, None = no limit) applies to architecture trials, not to one-shot
    jobs such as a supernet search: an executor that enforces it stops the trial and returns a
    FAILED result whose error says so (``timeout_result``).
    """

    name = "base"

    def __init__(self, workers: int = 1, trial_timeout: float | None = None) -> None:
        self.workers = workers
        self.trial_timeout = check_trial_timeout(trial_timeout)

    @abstractmethod
    def submit(self, tag: int, evaluator: Evaluator, proposal: Proposal, seed: int) -> None: ...

    @abstractmethod
    def wait(self, timeout: float | None = None) -> list[tuple[int, Result]]:
        """Block until at least one submitted trial finishes (or ``timeout``); return the finished ones."""

    @abstractmethod
    def pending(self) -> int: ...

    def shutdown(self) -> None:
        """Stop the workers; unfinished trials are abandoned (they stay RUNNING in storage)."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.shutdown()


class SlotExecutor(Executor):
    """An executor whose trials run one at a time in each of ``workers`` replaceable slots (pool
    worker processes, Ray actors): the queue, the trials in flight, retrying the trial of a lost
    slot up to ``max_retries`` times, and the time limit on architecture trials.

    A slot has ``tag`` (the trial it runs, or None) and ``started`` (``time.monotonic()`` when it
    took the trial); ``_work`` maps a trial's tag to (proposal, what a slot needs to run it).
    """

    def __init__(self, workers: int, trial_timeout: float | None, max_retries: int) -> None:
        super().__init__(workers, trial_timeout=trial_timeout)
        self.max_retries = max_retries
        self.retries: dict[int, int] = {}
        self._queue: deque[int] = deque()
        self._work: dict[int, tuple[Proposal, Any]] = {}
        self._done: list[tuple[int, Result]] = []

    @abstractmethod
    def _slot_list(self) -> Sequence[Any]:
        """The current slots."""

    @abstractmethod
    def _replace(self, slot: Any) -> None:
        """Stop the slot (whatever it runs is abandoned) and put a fresh one in its place."""

    def _slot_cpu(self, slot: Any, ran: float) -> float:
        """CPU-seconds the slot's trial used, for a trial stopped at the time limit (default: wall time)."""
        return ran

    def pending(self) -> int:
        return len(self._work) + len(self._done)

    def _finish(self, tag: int, result: Result) -> None:
        self._work.pop(tag, None)
        self.retries.pop(tag, None)
        self._done.append((tag, result))

    def _lost(self, tag: int, why: str) -> None:
        """The slot running ``tag`` is gone: run the trial again, or fail it after ``max_retries``."""
        n = self.retries[tag] = self.retries.get(tag, 0) + 1
        if n > self.max_retries:
            self._finish(tag, Result.failed(f"{why} {n} times while running this trial; not retried again"))
        else:
            self._queue.appendleft(tag)

    def _limited(self, slot: Any) -> bool:
        return slot.tag is not None and slot.tag in self._work and self._work[slot.tag][0].kind == "arch"

    def _next_deadline(self) -> float | None:
        if self.trial_timeout is None:
            return None
        return min((s.started + self.trial_timeout for s in self._slot_list() if self._limited(s)), default=None)

    def _expire(self) -> None:
        """Stop every architecture trial past the time limit by replacing its slot; it comes back FAILED."""
        if self.trial_timeout is None:
            return
        now = time.monotonic()
        for s in list(self._slot_list()):
            if self._limited(s) and now - s.started >= self.trial_timeout:
                tag, ran = s.tag, now - s.started
                cpu = self._slot_cpu(s, ran)
                s.tag = None
                self._replace(s)
                self._finish(tag, timeout_result(self.trial_timeout, ran, cpu))

    def _clear(self) -> None:
        self._queue.clear()
        self._work.clear()
        self._done.clear()
