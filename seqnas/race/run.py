"""The race's entry points: ``compare`` (check the settings, store the race, run it), ``resume_race``,
and the ``RaceResult`` they return (its table and files built by the report, downward)."""

from __future__ import annotations

import dataclasses
import inspect
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from seqnas import baselines
from seqnas.checks import positive_int
from seqnas.errors import ConfigError
from seqnas.evaluation.budget import TrainBudget
from seqnas.execution.base import check_trial_timeout
from seqnas.final import DEFAULT_TOP, check_final, final_share
from seqnas.race.baselines import lstm_baseline_done, store_fixed_baselines
from seqnas.race.lanes import Job, run_lanes
from seqnas.race.progress import RaceProgress
from seqnas.race.spec import DEFAULT_RACE, RaceSpec, _store_spec, load_race_spec, resolve_seeds, resolve_strategies
from seqnas.space import SearchSpace, get_space
from seqnas.storage import Storage
from seqnas.study import Budget, StudySettings, make_evaluator, open_study
from seqnas.tasks.inputs import task_inputs

# The runner, the strategies (optuna), the evaluators (torch) and the report are imported where a race
# runs or is finished: importing this module trains nothing.


@dataclass
class RaceResult:
    """A finished (or interrupted) race: the result table, its report files, studies that failed."""

    race: str
    db: str
    table: pd.DataFrame
    files: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"RaceResult(race={self.race!r}, db={self.db!r}, strategies={len(self.table)}, errors={len(self.errors)})"


def compare(
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
    strategies: str | Sequence[str] = "all",
    strategy_options: dict[str, dict[str, Any]] | None = None,
    trials: int | None = None,
    cpu_seconds: float | None = None,
    seeds: int | Sequence[int] = 3,
    max_params: int | None = None,
    train: TrainBudget | dict[str, Any] | None = None,
    db: str | None = None,
    out: str | None = None,
    race: str = DEFAULT_RACE,
    workers: int | None = None,
    trial_timeout: float | None = None,
    final_repeats: int = 3,
    final_top: int = DEFAULT_TOP,
    charge_strategy: bool = True,
    progress: bool | None = None,
) -> RaceResult:
    """Race ``strategies`` on one task: same space, budget (``trials`` or ``cpu_seconds`` per run) and seeds.

    All trials go into one SQLite file (``db``, default ``<out>/race.db``); calling ``compare``
    again on the same database continues the race (more seeds, strategies or budget run only
    what is missing). With ``out`` the report (table, plots, Markdown, HTML) is written there.

    After its search, each run's selected architecture is retrained ``final_repeats`` times
    with fresh seeds (inside a ``cpu_seconds`` budget, ``seqnas.final.FINAL_SHARE`` of it; with ``final_top`` > 1 the best of that many
    candidates by mean retrained validation MSE is selected): the table ranks on these
    retrained figures. ``charge_strategy=False`` leaves the strategies' own CPU time out of a
    ``cpu_seconds`` budget.
    """
    from seqnas.strategies import STRATEGIES, make_strategy

    if db is None and out is None:
        raise ConfigError("give db= (the race's SQLite file) or out= (the report directory; the race is stored in <out>/race.db)")
    if not isinstance(race, str) or not race.strip() or "/" in race:
        raise ConfigError(f"--race must be a non-empty name without '/', got {race!r}")
    sp = get_space(space)
    sp, spec_task = task_inputs(sp, task, csv=csv, target=target, features=tuple(features), time_column=time_column,
                                window=window, horizon=horizon, calendar=calendar, level=level, base=base,
                               highway=highway)  # a bad CSV is reported now
    train_budget = train if isinstance(train, TrainBudget) else TrainBudget(**(train or {}))
    if trials is None and cpu_seconds is None:
        trials = 30
    check_final(final_repeats, final_top)
    budget = Budget(trials, None, cpu_seconds, charge_strategy, final_share=final_share(spec_task, cpu_seconds, final_repeats))
    settings = StudySettings(seed=0, objectives=("val_mse",), budget=budget,
                             task=spec_task, train=train_budget, max_params=max_params)
    names = resolve_strategies(strategies)
    options = {k: dict(v) for k, v in (strategy_options or {}).items()}
    unknown = sorted(set(options) - set(names))
    if unknown and strategies != "all":
        raise ConfigError(f"options given for {unknown[0]!r}, which is not in this race's strategies {list(names)}")
    for name in unknown:
        # "all" is whatever is registered today; options for a strategy that is not (yet) are set aside.
        print(f"seqnas: note: strategy {name!r} is not registered, its options are not used; "
              f"racing {', '.join(names)}", file=sys.stderr)
        del options[name]
    usable = []
    for name in names:
        given = name in options
        # A strategy that draws its own progress bar (in a worker) would tear the race's bar apart.
        if "progress" in inspect.signature(STRATEGIES[name]).parameters:
            options.setdefault(name, {}).setdefault("progress", False)
        try:
            make_strategy(name, sp, seed=0, objectives=settings.objectives, options=options.get(name),  # bad options fail now
                          max_epochs=settings.train.max_epochs)
        except ConfigError as e:
            if strategies != "all" or given:
                raise
            # "all" means every strategy that can search this space (e.g. darts needs a supernet family).
            print(f"seqnas: note: strategy {name!r} left out of the race: {e}", file=sys.stderr)
            options.pop(name, None)
            continue
        usable.append(name)
    names = tuple(usable)
    if not names:
        raise ConfigError("no registered strategy can search this space")
    make_evaluator(sp, settings)
    check_trial_timeout(trial_timeout)
    spec = RaceSpec(race, names, resolve_seeds(seeds), sp.to_json(), settings, options, out, trial_timeout, final_repeats,
                    final_top)
    return _run_race(spec, db or str(Path(out or ".") / "race.db"), out, workers, progress)


def resume_race(db: str, *, race: str | None = None, out: str | None = None, workers: int | None = None,
                trials: int | None = None, cpu_seconds: float | None = None, trial_timeout: float | None = None,
                final_repeats: int | None = None, final_top: int | None = None, progress: bool | None = None) -> RaceResult:
    """Continue a stored race: finished studies are kept, an interrupted one resumes (running trials re-run).

    ``trials`` / ``cpu_seconds`` replace the stored budget (to extend a race), ``trial_timeout`` the stored limit,
    ``final_repeats`` / ``final_top`` the stored retraining (more retrainings run only what is missing).
    """
    storage = Storage(db, create=False)
    try:
        spec = load_race_spec(storage, race)
    finally:
        storage.close()
    if trials is not None or cpu_seconds is not None:
        budget = Budget(trials, None, cpu_seconds, spec.settings.budget.charge_strategy,
                        final_share=final_share(spec.settings.task, cpu_seconds, spec.final_repeats)
                        if spec.settings.budget.final_share is not None else None)
        spec = dataclasses.replace(spec, settings=dataclasses.replace(spec.settings, budget=budget))
    if final_repeats is not None or final_top is not None:
        repeats, top = check_final(spec.final_repeats if final_repeats is None else final_repeats,
                                   spec.final_top if final_top is None else final_top)
        spec = dataclasses.replace(spec, final_repeats=repeats, final_top=top)
    if trial_timeout is not None:
        spec = dataclasses.replace(spec, trial_timeout=check_trial_timeout(trial_timeout))
    return _run_race(spec, db, out or spec.out, workers, progress)


def _run_race(spec: RaceSpec, db: str, out: str | None, workers: int | None, progress: bool | None) -> RaceResult:
    from seqnas.execution import default_workers

    if workers is not None:
        positive_int(workers, "--parallel-runs")
    if out is not None:
        Path(out).mkdir(parents=True, exist_ok=True)
    spec = dataclasses.replace(spec, out=str(out) if out is not None else spec.out)
    storage = Storage(db)
    try:
        spec = _store_spec(storage, spec)
        store_fixed_baselines(storage, spec)
        space = SearchSpace.from_json(spec.space)
        # The default LSTM first (a few short trainings per seed), then the studies.
        jobs = [Job(baselines.DEFAULT_LSTM, seed) for seed in spec.seeds
                if spec.settings.task is not None and not lstm_baseline_done(storage, spec, seed)]
        skipped = 0
        marker = spec.done_marker()
        for strategy, seed in spec.studies():
            settings = spec.settings_for(seed)
            row = open_study(storage, spec.study_name(strategy, seed), space, strategy,
                             spec.strategy_options.get(strategy, {}), settings)
            done = storage.get_state(row, "race_done")
            if done is not None and all(done.get(k) == v for k, v in marker.items()):
                skipped += 1
                continue
            jobs.append(Job(strategy, seed, row))
    finally:
        storage.close()

    show = sys.stderr.isatty() if progress is None else progress
    errors: dict[str, str] = {}
    n_lanes = max(1, min(workers or default_workers(), len(jobs)))
    with RaceProgress(spec, show) as bar:
        for strategy, seed in spec.studies():
            if not any(j.strategy == strategy and j.seed == seed for j in jobs):
                bar.set(spec.study_name(strategy, seed), bar.per_study)
        if skipped:
            bar.note(f"race {spec.name!r}: {skipped} finished studies kept, {sum(j.row is not None for j in jobs)} to run")
        if jobs:
            run_lanes(db, spec, jobs, n_lanes, bar, errors)
    return _finish(spec, db, out, errors)


def _finish(spec: RaceSpec, db: str, out: str | None, errors: dict[str, str]) -> RaceResult:
    from seqnas.report import build_report, race_table

    if out is not None:
        report = build_report(db, out, race=spec.name)
        return RaceResult(spec.name, db, report.table, report.files, errors)
    return RaceResult(spec.name, db, race_table(db, race=spec.name), {}, errors)
