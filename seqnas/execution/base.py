"""The executor interface and the unit of work every executor runs: ``run_trial``."""

from __future__ import annotations

import math
import time
from abc import ABC, abstractmethod
from typing import Any, Callable

from seqnas.errors import ConfigError
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


def timeout_result(limit: float, ran: float, cpu_seconds: float) -> Result:
    """The FAILED result of an architecture trial stopped for running past ``--trial-timeout``."""
    return Result.failed(f"timed out: ran {ran:.1f} s, over the --trial-timeout of {limit:g} s; its worker was stopped",
                         ran, timed_out=True, cpu_seconds=cpu_seconds)


def check_trial_timeout(trial_timeout: float | None) -> float | None:
    if trial_timeout is None:
        return None
    if isinstance(trial_timeout, bool) or not isinstance(trial_timeout, (int, float)) or not math.isfinite(trial_timeout) \
            or trial_timeout <= 0:
        raise ConfigError(f"--trial-timeout must be a positive number of seconds, got {trial_timeout!r}")
    return float(trial_timeout)


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
