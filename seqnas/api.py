"""The public Python entry points: search, resume, load.

Longer than 350 lines: ``search`` takes every task, budget and execution option as a keyword (issue 28's
TaskOptions will gather the task's), and resume/retrain share its executor and strategy checks."""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from seqnas.candidates import run_statistical
from seqnas.errors import ConfigError, StudyError
from seqnas.evaluation.budget import TrainBudget
from seqnas.final import DEFAULT_TOP, check_final, final_share, run_final, stored_final_settings
from seqnas.result import SearchResult, result_of
from seqnas.space import Arch, SearchSpace, get_space
from seqnas.storage import Storage, StudyRow
from seqnas.study import Budget, StudySettings, make_evaluator, open_study, parse_directions
from seqnas.tasks import is_bench_task
from seqnas.tasks.inputs import task_inputs

# What `load` and `seqnas show` do not need is imported where it is used: torch (the evaluators, via
# the executors and strategies), optuna (the strategies), pandas (the DataFrames), the progress bar.
if TYPE_CHECKING:

    from seqnas.execution import Executor
    from seqnas.strategies.base import Strategy


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


def default_study_name(strategy: str, seed: int) -> str:
    """The study name ``search`` (and `seqnas search`) use without one: ``<strategy>-seed<seed>``."""
    return f"{strategy}-seed{seed}"


@dataclass
class _StrategyChoice:
    """The strategy a search runs and what its study records of it."""

    strategy: Strategy
    name: str  # the registry name, stored with the study
    options: dict[str, Any]  # stored with the study: ``make_strategy(name, options=...)`` rebuilds it
    not_rebuildable: str | None = None  # why ``resume`` needs the instance again (None: it rebuilds it)


def _instance(strategy: Strategy, space: SearchSpace, seed: int | None, objectives: tuple[str, ...],
              given: str = "seed={} was given") -> int:
    """Check a strategy instance against the search; returns the study seed (the instance's when none is given)."""
    cls = type(strategy)
    if strategy.space.to_json() != space.to_json():
        raise ConfigError(f"strategy= ({cls.__name__}) was constructed on space {strategy.space.name!r}, not on the space "
                          f"searched ({space.name!r}): construct it on the same space")
    if seed is not None and seed != strategy.seed:
        raise ConfigError(f"strategy= ({cls.__name__}) was constructed with seed={strategy.seed}, but {given.format(seed)}: "
                          "construct it with the same seed")
    if tuple(strategy.objectives) != objectives:
        raise ConfigError(f"strategy= ({cls.__name__}) was constructed with objectives={list(strategy.objectives)}, but the "
                          f"study's objectives are {list(objectives)}: construct it with objectives={list(objectives)}")
    if strategy.n_asked or strategy.n_told:
        raise ConfigError(f"strategy= ({cls.__name__}) has been used already (it has proposed or been told trials): "
                          "give a newly constructed strategy")
    return strategy.seed


def _choose_strategy(strategy: str | Strategy, space: SearchSpace, seed: int | None, objectives: tuple[str, ...],
                     options: dict[str, Any] | None, max_epochs: int) -> tuple[_StrategyChoice, int]:
    """The strategy to run (by registry name, or an instance already constructed on ``space``) and the study seed."""
    import json

    from seqnas.strategies import STRATEGIES, make_strategy
    from seqnas.strategies.base import Strategy

    if not isinstance(strategy, Strategy):
        if not isinstance(strategy, str):
            raise ConfigError(f"strategy= must be a strategy name or a Strategy instance, got {strategy!r}")
        seed = 0 if seed is None else seed
        strat = make_strategy(strategy, space, seed=seed, objectives=objectives, options=options, max_epochs=max_epochs)
        return _StrategyChoice(strat, strategy, dict(options or {})), seed
    if options:
        raise ConfigError("strategy= is a constructed strategy: give its options to its constructor, not strategy_options=")
    seed = _instance(strategy, space, seed, objectives)
    name, opts = type(strategy).name, strategy.init_options()
    why = None
    if opts is None:
        why = "it was constructed with positional arguments besides the space"
    elif STRATEGIES.get(name) is not type(strategy):
        why = f"its class {type(strategy).__qualname__} is not the registered strategy {name!r}"
    else:
        try:
            if json.loads(json.dumps(opts)) != opts:
                why = "its options are not plain JSON values"
        except (TypeError, ValueError):
            why = "its options are not plain JSON values"
    if why is None:
        try:  # what resume would build
            make_strategy(name, space, seed=seed, objectives=objectives, options=opts, max_epochs=max_epochs)
        except Exception as e:  # noqa: BLE001 - any failure means the same: resume cannot rebuild it
            why = f"rebuilding it from its name and options fails ({e})"
    return _StrategyChoice(strategy, name, opts if why is None and opts is not None else {}, why), seed


REBUILD_KEY = "strategy_not_rebuildable"  # study state: why resume needs the strategy instance again


def search(
    space: Any = "rnn-macro",
    *,
    task: Any = None,
    csv: str | None = None,
    target: str | None = None,
    features: Sequence[str] = (),
    time_column: str | None = None,
    window: int | Sequence[int] | str | None = None,
    horizon: int | None = None,
    calendar: bool | str | None = None,
    level: bool | str | None = None,
    base: str | Sequence[str] | None = None,
    highway: bool | str | None = None,
    objective: Callable[[Arch], Any] | None = None,
    strategy: str | Strategy = "random",
    strategy_options: dict[str, Any] | None = None,
    trials: int | None = None,
    seconds: float | None = None,
    cpu_seconds: float | None = None,
    seed: int | None = None,
    objectives: str | Sequence[str] | None = None,
    directions: str | Sequence[str] | None = None,
    max_params: int | None = None,
    train: TrainBudget | dict[str, Any] | None = None,
    study: str | None = None,
    db: str | None = None,
    load_if_exists: bool = False,
    workers: int | None = 1,
    executor: str | Executor | None = None,
    executor_options: dict[str, Any] | None = None,
    trial_timeout: float | None = None,
    ray_address: str | None = None,
    final_repeats: int = 3,
    final_top: int = DEFAULT_TOP,
    progress: bool | None = None,
) -> SearchResult:
    """Search ``space`` on a task (built-in, or ``csv``/``target``) or on ``objective(arch) -> float``
    (or a mapping of objective name -> float, with ``objectives=[...]``).

    ``window``: the task's input length, or several (``[24, 48, 96]``) or ``"auto"`` (derived from the
    series' dominant period) to search it; ``calendar``: ``True`` adds hour-of-day / day-of-week /
    time-of-year inputs from ``time_column``, ``"search"`` searches them on/off; ``level``: ``True`` forecasts
    the change from each window's last value (for a trend), ``"search"`` searches it (``seqnas.tasks.inputs``);
    ``base``: a base forecast the network corrects ("none", "last", "seasonal", "linear", several, or "search");
    ``highway``: a linear path from the window to the output, ``True`` or ``"search"`` (``seqnas.models.base_forecast``).
    ``strategy``: a registered name (options in ``strategy_options``) or a strategy instance
    constructed on ``space`` (its seed is the study's when ``seed`` is not given; default seed 0).
    ``directions``: per objective, "minimize" (default) or "maximize" (only a Python objective's).
    With ``db`` the study is stored there, named ``study`` (default ``<strategy>-seed<seed>``). A
    study of that name that exists already is an error unless ``load_if_exists=True``, which
    continues it (to the new budget; its settings must match). On a task, the best architecture is
    then retrained ``final_repeats`` times with fresh seeds (``final_top`` > 1: the best of that
    many candidates by mean retrained validation MSE), in ``result.final``.
    """
    from seqnas.evaluation.evaluator import parse_objectives
    from seqnas.runner import Runner
    from seqnas.strategies import default_trials

    if not isinstance(load_if_exists, bool):
        raise ConfigError(f"load_if_exists must be True or False, got {load_if_exists!r}")
    sp = get_space(space)
    if objective is not None:
        if task is not None or csv is not None:
            raise ConfigError("give either objective= or a task, not both")
        names = tuple(objectives.split(",")) if isinstance(objectives, str) else tuple(objectives or ("value",))
        spec = None
    else:
        names = parse_objectives(objectives)
        sp, spec = task_inputs(sp, task, csv=csv, target=target, features=tuple(features), time_column=time_column,
                               window=window, horizon=horizon, calendar=calendar, level=level, base=base,
                               highway=highway)
    train_budget = train if isinstance(train, TrainBudget) else TrainBudget(**(train or {}))
    check_final(final_repeats, final_top)
    choice, seed = _choose_strategy(strategy, sp, seed, names, strategy_options, train_budget.max_epochs)
    if trials is None and seconds is None and cpu_seconds is None:
        trials = default_trials(choice.name)
    # One budget: with --cpu-seconds, the final retraining is paid from it (Budget.final_share).
    budget = Budget(trials, seconds, cpu_seconds, final_share=final_share(spec, cpu_seconds, final_repeats))
    settings = StudySettings(seed=seed, objectives=names, budget=budget, task=spec,
                             train=train_budget, max_params=max_params, directions=parse_directions(directions, names))
    evaluator = make_evaluator(sp, settings, objective)
    strat = choice.strategy
    _check_needs_task(strat, spec)
    ex, owned = _executor(executor, workers, trial_timeout, ray_address, executor_options, objective)
    storage = Storage(db or ":memory:")
    row = None
    try:
        row = open_study(storage, study or default_study_name(choice.name, seed), sp, choice.name, choice.options, settings,
                         load_if_exists=load_if_exists)
        storage.set_state(row, "trial_timeout", ex.trial_timeout)  # `resume` keeps the limit
        if choice.not_rebuildable is not None:
            storage.set_state(row, REBUILD_KEY, choice.not_rebuildable)
        Runner(storage, row, strat, evaluator, ex, settings.budget, seed, _progress(progress, choice.name)).run()
        if spec is not None:
            if not is_bench_task(spec.name):
                run_statistical(storage, row, spec)  # the forecasts to beat, from the budget's retraining share
            run_final(storage, row, evaluator, ex, seed, final_repeats, final_top)
        return result_of(storage, storage.get_study(row.name))
    finally:
        if owned:
            ex.shutdown()
        if row is not None:
            storage.release(row)  # open_study leased a new study to this process; the runner released it unless it failed first
        storage.close()


def _resume_strategy(storage: Storage, row: StudyRow, sp: SearchSpace, settings: StudySettings,
                     strategy: Strategy | None) -> Strategy:
    """The strategy that continues a stored study: rebuilt from its name and options, or the instance given."""
    from seqnas.strategies import make_strategy

    why = storage.get_state(row, REBUILD_KEY)
    if strategy is None:
        if why:
            raise StudyError(f"study {row.name!r} was searched with a strategy instance that cannot be rebuilt from its name and "
                             f"options ({why}); resume it from Python: seqnas.resume({row.name!r}, db, "
                             f"strategy=<a new {row.strategy!r} instance built the same way>)")
        return make_strategy(row.strategy, sp, seed=settings.seed, objectives=settings.objectives, options=row.strategy_options,
                             max_epochs=settings.train.max_epochs)
    from seqnas.strategies.base import Strategy

    if not isinstance(strategy, Strategy):
        raise ConfigError(f"strategy= must be a Strategy instance (resume rebuilds the study's own by name), got {strategy!r}")
    if type(strategy).name != row.strategy:
        raise ConfigError(f"strategy= is a {type(strategy).name!r} strategy, but study {row.name!r} was searched with "
                          f"{row.strategy!r}")
    _instance(strategy, sp, settings.seed, settings.objectives, given="the study's seed is {}")
    if not why and strategy.init_options() != row.strategy_options:
        raise ConfigError(f"strategy= was constructed with options {strategy.init_options()}, but study {row.name!r} was "
                          f"searched with {row.strategy_options}")
    return strategy


def resume(study: str, db: str, *, workers: int | None = 1, executor: str | Executor | None = None,
           executor_options: dict[str, Any] | None = None, trial_timeout: float | None = None, ray_address: str | None = None,
           objective: Callable[[Arch], Any] | None = None, strategy: Strategy | None = None,
           progress: bool | None = None) -> SearchResult:
    """Continue a stored study to its budget: finished trials are kept, running ones re-run.

    ``trial_timeout`` None keeps the limit the study was searched with; the best architecture is
    retrained as the study's search asked (its stored ``final_repeats``). The strategy is rebuilt
    from the name and options stored with the study; a study searched with a strategy instance
    that cannot be rebuilt that way needs ``strategy=`` a new instance built the same way.
    """
    from seqnas.execution import Executor
    from seqnas.runner import Runner

    storage = Storage(db, create=False)
    try:
        row = storage.get_study(study)
        sp = SearchSpace.from_json(row.space)
        settings = StudySettings.from_json(row.settings)
        evaluator = make_evaluator(sp, settings, objective)
        strat = _resume_strategy(storage, row, sp, settings, strategy)
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
        return result_of(storage, storage.get_study(study))
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
        return result_of(storage, storage.get_study(study))
    finally:
        storage.close()


def load(study: str, db: str) -> SearchResult:
    """The stored study as a SearchResult (read only)."""
    storage = Storage(db, create=False)
    try:
        return result_of(storage, storage.get_study(study))
    finally:
        storage.close()
