"""Running a race's studies on lanes: each lane is a thread with its own storage connection and one
persistent worker process, taking jobs (a study, or the default LSTM of a seed) from a shared queue."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from seqnas import baselines
from seqnas.execution.pool import PoolExecutor
from seqnas.final import run_final
from seqnas.race.baselines import run_lstm_baseline
from seqnas.race.progress import RaceProgress
from seqnas.race.spec import RaceSpec
from seqnas.space import SearchSpace
from seqnas.storage import Storage, StudyRow
from seqnas.study import make_evaluator
from seqnas.tasks import TaskSpec, load_task
from seqnas.threads import one_thread
from seqnas.trial import Proposal, Result, TrialState


class _Stopped(Exception):
    """The race was interrupted; the lane's running study stops (its running trial stays RUNNING)."""


class _LaneExecutor(PoolExecutor):
    """One persistent worker process that runs all the studies of one lane, one trial at a time.

    The worker imports torch once for the whole race. ``wait`` notices an interruption within
    its timeout, so the runner of the lane's study stops the same way as on Ctrl-C.
    """

    def __init__(self, stop: threading.Event, trial_timeout: float | None = None) -> None:
        super().__init__(workers=1, trial_timeout=trial_timeout)
        self._stop = stop

    def submit(self, tag: int, evaluator: Any, proposal: Proposal, seed: int) -> None:
        if self._stop.is_set():
            raise _Stopped()
        super().submit(tag, evaluator, proposal, seed)

    def wait(self, timeout: float | None = None) -> list[tuple[int, Result]]:
        if self._stop.is_set():
            raise _Stopped()
        return super().wait(timeout)

    def warm(self, task: TaskSpec | None) -> None:
        """Start the worker and load the task now, so no study's first trial is charged for it."""
        job = _Warmup(task)
        super().submit(-1, job, Proposal(job=job, kind="warmup"), 0)  # a job ignores the evaluator it is given
        while not super().wait(timeout=1.0):
            if self._stop.is_set():
                raise _Stopped()


@dataclass(frozen=True)
class _Warmup:
    """A one-shot job that loads the task in a fresh worker (which warmed torch up as it started)."""

    task: TaskSpec | None

    def __call__(self, evaluator: Any, seed: int) -> Result:
        if self.task is not None:
            load_task(self.task)
        return Result(TrialState.COMPLETE)


@dataclass
class Job:
    """One unit of a lane's queue: a study (with its row), or the default LSTM of race seed ``seed`` (no row)."""

    strategy: str  # or baselines.DEFAULT_LSTM: the default LSTM's retrainings for this race seed
    seed: int
    row: StudyRow | None = None


def _run_job(storage: Storage, executor: _LaneExecutor, spec: RaceSpec, job: Job, progress: RaceProgress) -> None:
    from seqnas.runner import Runner
    from seqnas.strategies import make_strategy

    if job.row is None:
        run_lstm_baseline(storage, executor, spec, job.seed, progress)
        return
    settings = spec.settings_for(job.seed)
    space = SearchSpace.from_json(spec.space)
    row = storage.get_study(job.row.name)
    sp = progress.for_study(row.name)
    evaluator = make_evaluator(space, settings)
    runner = Runner(storage, row, make_strategy(job.strategy, space, seed=job.seed, objectives=settings.objectives,
                                                options=spec.strategy_options.get(job.strategy),
                                                max_epochs=settings.train.max_epochs),
                    evaluator, executor, settings.budget, job.seed, sp)
    sp.runner = runner
    runner.run()
    # What the user gets: the selected architecture trained again with fresh seeds (inside a CPU budget: seqnas.final).
    final = run_final(storage, row, evaluator, executor, job.seed, spec.final_repeats, spec.final_top)
    # The study reached its budget (or its strategy ran out of proposals) and is retrained: a resume skips it.
    storage.set_state(row, "race_done", {**spec.done_marker(), "at": time.time()})
    storage.set_state(row, "race_error", None)
    progress.set(row.name, progress.per_study)
    best = runner.best
    retrained = "" if final is None else f"; retrained test MSE {final.test_mse:.4g} ({len(final.test)} seeds)"
    progress.note(f"[green]done[/green] {job.strategy} seed {job.seed}: best {settings.objectives[0]} "
                  f"{'-' if best is None else f'{best:.4g}'} after {runner.finished} trials "
                  f"({runner.failed} failed, {runner.cpu_used:.0f} CPU-s){retrained}")


def _lane(db: str, spec: RaceSpec, queue: deque[Job], lock: threading.Lock, stop: threading.Event,
          progress: RaceProgress, errors: dict[str, str]) -> None:
    storage = Storage(db)
    executor = _LaneExecutor(stop, spec.trial_timeout)
    try:
        try:
            executor.warm(spec.settings.task)
        except _Stopped:
            return
        while True:
            with lock:
                if stop.is_set() or not queue:
                    return
                job = queue.popleft()
            try:
                _run_job(storage, executor, spec, job, progress)
            except (_Stopped, KeyboardInterrupt):
                stop.set()
                return
            except Exception as e:  # noqa: BLE001 - one broken study must not stop the others
                msg = f"{type(e).__name__}: {e}"
                if job.row is None:
                    errors[f"{spec.name}/{baselines.label(job.strategy)}/seed{job.seed}"] = msg
                else:
                    errors[job.row.name] = msg
                    storage.set_state(job.row, "race_error", msg)
                progress.note(f"[red]error[/red] {job.strategy} seed {job.seed}: {msg}")
    finally:
        executor.shutdown()
        storage.close()


def run_lanes(db: str, spec: RaceSpec, jobs: list[Job], n_lanes: int, bar: RaceProgress, errors: dict[str, str]) -> None:
    """Run the studies on ``n_lanes`` lanes, each a thread with its own storage connection and worker.

    Each study runs its trials one after another, so its results do not depend on how many
    lanes there are (sequential strategies see every result before they propose again), and
    both cores stay busy with different studies, the one-shot ones included.
    """
    queue = deque(jobs)
    lock, stop = threading.Lock(), threading.Event()
    # The cores belong to the workers; a strategy's own model (e.g. rl's controller) trains in this
    # process, from several lanes at once, and one thread keeps its numbers independent of timing.
    with one_thread():
        threads = [threading.Thread(target=_lane, args=(db, spec, queue, lock, stop, bar, errors), daemon=True,
                                    name=f"seqnas-lane-{i}") for i in range(n_lanes)]
        for t in threads:
            t.start()
        try:
            while any(t.is_alive() for t in threads):
                for t in threads:
                    t.join(timeout=0.5)
        except KeyboardInterrupt:
            stop.set()
            for t in threads:
                t.join(timeout=10.0)
            raise
    if stop.is_set():
        raise KeyboardInterrupt  # a lane was stopped
