"""The public Python entry points: search, resume, load."""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from seqnas.errors import ConfigError
from seqnas.evaluation.budget import TrainBudget
from seqnas.final import DEFAULT_TOP, Final, check_final, load_final, run_final, stored_final_settings
from seqnas.pareto import pareto_mask
from seqnas.space import Arch, SearchSpace, get_space
from seqnas.storage import Storage, StudyRow
from seqnas.study import Budget, StudySettings, make_evaluator, open_study
from seqnas.tasks import load_task, task_spec
from seqnas.trial import TrialRecord, TrialState, best_first

# What `load` and `seqnas show` do not need is imported where it is used: torch (the evaluators, via
# the executors and strategies), optuna (the strategies), pandas (the DataFrames), the progress bar.
if TYPE_CHECKING:
    import pandas as pd

    from seqnas.execution import Executor


@dataclass
class SearchResult:
    """A study as stored: its trials, the best architecture and (multi-objective) the Pareto front."""

    study: str
    db: str
    space: SearchSpace
    strategy: str
    settings: StudySettings
    records: list[TrialRecord]
    final: Final | None = None  # the selected architecture retrained with fresh seeds (``final_repeats``)

    @property
    def objectives(self) -> tuple[str, ...]:
        return self.settings.objectives

    @property
    def completed(self) -> list[TrialRecord]:
        return [r for r in self.records if r.kind == "arch" and r.state is TrialState.COMPLETE]

    @property
    def best_trial(self) -> TrialRecord | None:
        """The lowest primary objective (multi-fidelity: among the highest rung reached; ``trial.best_first``)."""
        ranked = best_first(self.records)
        return ranked[0] if ranked else None

    @property
    def best_arch(self) -> Arch | None:
        b = self.best_trial
        return b.arch if b else None

    @property
    def best_value(self) -> float | None:
        b = self.best_trial
        return b.value if b else None

    @property
    def trials(self) -> pd.DataFrame:
        """One row per trial: number, state, kind, value, arch, arch_hash, error, duration, curve (validation
        MSE per epoch), rung and rung_epochs (multi-fidelity studies; else empty), every metric."""
        rows = []
        for r in self.records:
            row: dict[str, Any] = {
                "number": r.number, "state": r.state.value, "kind": r.kind, "value": r.value,
                "arch": r.arch.to_dict() if r.arch else None, "arch_hash": r.arch.key if r.arch else None,
                "error": r.error, "duration": r.duration, "curve": r.curve,
                "rung": r.info.get("rung"), "rung_epochs": r.info.get("rung_epochs"),
            }
            row.update(r.metrics)
            row.update(r.values)
            rows.append(row)
        import pandas as pd

        cols = ["number", "state", "kind", "value", "arch", "arch_hash", "error", "duration", "curve", "rung", "rung_epochs"]
        return pd.DataFrame(rows, columns=cols + sorted({k for row in rows for k in row} - set(cols)))

    @property
    def pareto(self) -> pd.DataFrame:
        """The non-dominated completed trials over all objectives, best first."""
        done = self.completed
        if not done:
            return self.trials.iloc[0:0]
        pts = np.array([[float(r.values[o]) for o in self.objectives] for r in done])
        numbers = [r.number for r, keep in zip(done, pareto_mask(pts)) if keep]
        df = self.trials
        return df[df["number"].isin(numbers)].sort_values(list(self.objectives)).reset_index(drop=True)

    def __repr__(self) -> str:
        return (f"SearchResult(study={self.study!r}, strategy={self.strategy!r}, trials={len(self.records)}, "
                f"best_value={self.best_value!r})")


def _result(storage: Storage, row: StudyRow) -> SearchResult:
    settings = StudySettings.from_json(row.settings)
    records = storage.trials(row)
    return SearchResult(row.name, str(storage.path), SearchSpace.from_json(row.space), row.strategy, settings, records,
                        load_final(storage, row, records, settings.seed))


def _progress(progress: bool | None, label: str) -> Any:
    import sys

    from seqnas.progress import RichProgress
    from seqnas.runner import NoProgress

    show = sys.stderr.isatty() if progress is None else progress
    return RichProgress(label) if show else NoProgress()


def _check_picklable(objective: Callable[..., Any] | None, ex: Executor) -> None:
    # Ray sends functions by value (cloudpickle); the process pool only by reference.
    if objective is not None and ex.name == "pool":
        try:
            pickle.dumps(objective)
        except Exception:  # noqa: BLE001 - any pickling failure means the same thing here
            raise ConfigError("objective= must be a module-level function to run in worker processes (lambdas and "
                              "local functions cannot be sent to them); or use workers=1, or executor='ray'") from None


def _executor(executor: str | Executor | None, workers: int | None, trial_timeout: float | None, ray_address: str | None,
              options: dict[str, Any] | None, objective: Callable[..., Any] | None) -> tuple[Executor, bool]:
    """The executor to run on, and whether this call owns it (and shuts it down): a given instance is the caller's."""
    from seqnas.execution import Executor, make_executor

    if isinstance(executor, Executor):
        if trial_timeout is not None or ray_address is not None or options:
            raise ConfigError("give trial_timeout, ray_address and executor_options to the executor you pass, not here")
        _check_picklable(objective, executor)
        return executor, False
    ex = make_executor(executor, workers, trial_timeout=trial_timeout, ray_address=ray_address, **(options or {}))
    try:
        _check_picklable(objective, ex)
    except ConfigError:
        ex.shutdown()
        raise
    return ex, True


def _check_needs_task(strategy: Any, task: Any) -> None:
    """A strategy that trains on the task itself (a one-shot supernet, rungs of epochs) cannot search an objective function."""
    why = getattr(strategy, "requires_task", None)
    if task is None and why:
        raise ConfigError(f"strategy {strategy.name!r} {why}; it cannot search an objective "
                          "function: give a task (task=/csv=) or use another strategy")


def search(
    space: Any = "rnn-macro",
    *,
    task: Any = None,
    csv: str | None = None,
    target: str | None = None,
    features: Sequence[str] = (),
    time_column: str | None = None,
    window: int | None = None,
    horizon: int | None = None,
    objective: Callable[[Arch], Any] | None = None,
    strategy: str = "random",
    strategy_options: dict[str, Any] | None = None,
    trials: int | None = None,
    seconds: float | None = None,
    cpu_seconds: float | None = None,
    seed: int = 0,
    objectives: str | Sequence[str] | None = None,
    max_params: int | None = None,
    train: TrainBudget | dict[str, Any] | None = None,
    study: str | None = None,
    db: str | None = None,
    workers: int | None = 1,
    executor: str | Executor | None = None,
    executor_options: dict[str, Any] | None = None,
    trial_timeout: float | None = None,
    ray_address: str | None = None,
    final_repeats: int = 3,
    final_top: int = DEFAULT_TOP,
    progress: bool | None = None,
) -> SearchResult:
    """Search ``space`` on a task (built-in, or ``csv``/``target``) or on ``objective(arch) -> float``.

    With ``db`` the study is stored there; calling ``search`` again with the same ``study`` and
    ``db`` continues it (to the new budget) instead of starting over. On a task, the best
    architecture is then retrained ``final_repeats`` times with fresh seeds (``final_top`` > 1:
    the best of that many candidates by mean retrained validation MSE), in ``result.final``.
    """
    from seqnas.evaluation.evaluator import parse_objectives
    from seqnas.runner import Runner
    from seqnas.strategies import default_trials, make_strategy

    sp = get_space(space)
    if objective is not None:
        if task is not None or csv is not None:
            raise ConfigError("give either objective= or a task, not both")
        names = tuple(objectives.split(",")) if isinstance(objectives, str) else tuple(objectives or ("value",))
        spec = None
    else:
        names = parse_objectives(objectives)
        spec = task_spec(task, csv=csv, target=target, features=tuple(features), time_column=time_column,
                         window=window, horizon=horizon)
        load_task(spec)  # a bad CSV is reported now, before any study is written
    train_budget = train if isinstance(train, TrainBudget) else TrainBudget(**(train or {}))
    check_final(final_repeats, final_top)
    if trials is None and seconds is None and cpu_seconds is None:
        trials = default_trials(strategy)
    settings = StudySettings(seed=seed, objectives=names, budget=Budget(trials, seconds, cpu_seconds), task=spec,
                             train=train_budget, max_params=max_params)
    evaluator = make_evaluator(sp, settings, objective)
    strat = make_strategy(strategy, sp, seed=seed, objectives=names, options=strategy_options,
                          max_epochs=train_budget.max_epochs)
    _check_needs_task(strat, spec)
    ex, owned = _executor(executor, workers, trial_timeout, ray_address, executor_options, objective)
    storage = Storage(db or ":memory:")
    try:
        row = open_study(storage, study or f"{strategy}-seed{seed}", sp, strategy, strategy_options or {}, settings)
        storage.set_state(row, "trial_timeout", ex.trial_timeout)  # `resume` keeps the limit
        Runner(storage, row, strat, evaluator, ex, settings.budget, seed, _progress(progress, strategy)).run()
        if spec is not None:
            run_final(storage, row, evaluator, ex, seed, final_repeats, final_top)
        return _result(storage, storage.get_study(row.name))
    finally:
        if owned:
            ex.shutdown()
        storage.close()


def resume(study: str, db: str, *, workers: int | None = 1, executor: str | Executor | None = None,
           executor_options: dict[str, Any] | None = None, trial_timeout: float | None = None, ray_address: str | None = None,
           objective: Callable[[Arch], Any] | None = None, progress: bool | None = None) -> SearchResult:
    """Continue a stored study to its budget: finished trials are kept, running ones re-run.

    ``trial_timeout`` None keeps the limit the study was searched with; the best architecture is
    retrained as the study's search asked (its stored ``final_repeats``).
    """
    from seqnas.execution import Executor
    from seqnas.runner import Runner
    from seqnas.strategies import make_strategy

    storage = Storage(db, create=False)
    try:
        row = storage.get_study(study)
        sp = SearchSpace.from_json(row.space)
        settings = StudySettings.from_json(row.settings)
        evaluator = make_evaluator(sp, settings, objective)
        strat = make_strategy(row.strategy, sp, seed=settings.seed, objectives=settings.objectives, options=row.strategy_options,
                              max_epochs=settings.train.max_epochs)
        _check_needs_task(strat, settings.task)
        given = trial_timeout is not None
        if not given and executor != "inline" and not isinstance(executor, Executor):
            # Keep the study's limit; an explicit inline executor cannot enforce one, so runs without.
            trial_timeout = storage.get_state(row, "trial_timeout")
        ex, owned = _executor(executor, workers, trial_timeout, ray_address, executor_options, objective)
        try:
            if given:
                storage.set_state(row, "trial_timeout", ex.trial_timeout)  # the new limit, for later resumes
            Runner(storage, row, strat, evaluator, ex, settings.budget, settings.seed, _progress(progress, row.strategy)).run()
            stored = stored_final_settings(storage, row)
            if settings.task is not None and stored is not None:
                run_final(storage, row, evaluator, ex, settings.seed, *stored)
        finally:
            if owned:
                ex.shutdown()
        return _result(storage, storage.get_study(study))
    finally:
        storage.close()


def retrain(study: str, db: str, *, repeats: int = 3, top: int = DEFAULT_TOP, workers: int | None = 1,
            executor: str | Executor | None = None) -> SearchResult:
    """Retrain a stored study's best architecture (``top`` > 1: its best candidates) ``repeats`` times with
    fresh seeds; retrainings already stored are not run again."""
    check_final(repeats, top)
    storage = Storage(db, create=False)
    try:
        row = storage.get_study(study)
        sp = SearchSpace.from_json(row.space)
        settings = StudySettings.from_json(row.settings)
        if settings.task is None:
            raise ConfigError(f"study {study!r} searched an objective function; only task studies can be retrained")
        ex, owned = _executor(executor, workers, None, None, None, None)
        try:
            run_final(storage, row, make_evaluator(sp, settings), ex, settings.seed, repeats, top)
        finally:
            if owned:
                ex.shutdown()
        return _result(storage, storage.get_study(study))
    finally:
        storage.close()


def load(study: str, db: str) -> SearchResult:
    """The stored study as a SearchResult (read only)."""
    storage = Storage(db, create=False)
    try:
        return _result(storage, storage.get_study(study))
    finally:
        storage.close()
