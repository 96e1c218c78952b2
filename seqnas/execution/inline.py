"""Inline executor: runs each trial in the calling process, one at a time (for debugging)."""

from __future__ import annotations

from collections import deque

from seqnas.errors import ConfigError
from seqnas.execution.base import Evaluator, Executor, run_trial
from seqnas.trial import Proposal, Result


class InlineExecutor(Executor):
    """Trials run in this process, one after another: nothing can stop one that runs too long,
    so ``trial_timeout`` is refused (the pool or Ray enforce it, by stopping the worker)."""

    name = "inline"

    def __init__(self, workers: int = 1, trial_timeout: float | None = None) -> None:
        if trial_timeout is not None:
            raise ConfigError("--trial-timeout needs --executor pool or ray: the inline executor runs trials in this "
                              "process and cannot stop one (with --workers 1, leave --executor out to get a 1-worker pool)")
        super().__init__(1)
        self._queue: deque[tuple[int, Evaluator, Proposal, int]] = deque()
        self._warm = False

    def submit(self, tag: int, evaluator: Evaluator, proposal: Proposal, seed: int) -> None:
        self._queue.append((tag, evaluator, proposal, seed))

    def wait(self, timeout: float | None = None) -> list[tuple[int, Result]]:
        if not self._queue:
            return []
        tag, evaluator, proposal, seed = self._queue.popleft()
        if not self._warm and getattr(evaluator, "task", None) is not None:
            # Torch's one-time costs, before the first trial's clock starts (as pool workers do).
            from seqnas.evaluation.training import warm_up_torch

            warm_up_torch()
            self._warm = True
        return [(tag, run_trial(evaluator, proposal, seed))]

    def pending(self) -> int:
        return len(self._queue)

    def shutdown(self) -> None:
        self._queue.clear()
