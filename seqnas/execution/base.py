"""The executor interface and the unit of work every executor runs: ``run_trial``."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from typing import Any, Callable

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
        else:
            result = evaluator(proposal.arch, seed)
        if not isinstance(result, Result):
            return Result.failed(f"evaluator returned {type(result).__name__}, not a Result", time.perf_counter() - t0)
        return result.check_finite()
    except Exception as e:  # noqa: BLE001 - one trial's error must not stop the search
        return Result.failed(f"{type(e).__name__}: {e}", time.perf_counter() - t0)


class Executor(ABC):
    """Runs trials; the runner submits work tagged with the trial number and collects results."""

    name = "base"

    def __init__(self, workers: int = 1) -> None:
        self.workers = workers

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
