"""The strategy race: every strategy on the same task, space, budget and seeds, in one SQLite file."""

from __future__ import annotations

import dataclasses
import inspect
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from seqnas import baselines
from seqnas.errors import ConfigError, StudyError
from seqnas.evaluation.budget import TrainBudget
from seqnas.execution.base import check_trial_timeout
from seqnas.execution.pool import PoolExecutor
from seqnas.final import DEFAULT_TOP, check_final, final_seeds, run_final, train_each
from seqnas.space import SearchSpace, get_space
from seqnas.storage import Storage, StudyRow
from seqnas.study import Budget, StudySettings, make_evaluator, open_study
from seqnas.tasks import TaskSpec, load_task, task_spec
from seqnas.trial import Proposal, Result, TrialState

# The runner, the strategies (optuna) and the evaluators (torch) are imported where a race runs:
# `seqnas report` reads a race through this module and trains nothing.
if TYPE_CHECKING:
    from seqnas.runner import Runner

RACE_KEY = "race:"  # meta-table key prefix of a race's record
BASELINES_KEY = "race-baselines:"  # + race name: the deterministic baselines (persistence, linear)
LSTM_KEY = "race-baseline-lstm:"  # + race name + "/seed<k>": the default LSTM's retrainings for race seed k
DEFAULT_RACE = "race"
BASELINE = "random"


# -- what a race is ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RaceSpec:
    """A race's settings, stored in the database so that ``--resume`` and ``report`` need nothing else.

    Every study of the race is ``StudySettings`` = ``settings`` with its own seed; the study of
    strategy ``s`` and seed ``k`` is named ``<name>/<s>/seed<k>``.
    """

    name: str
    strategies: tuple[str, ...]
    seeds: tuple[int, ...]
    space: dict[str, Any]
    settings: StudySettings  # the seed in here is a placeholder; each study gets its own
    strategy_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    out: str | None = None
    trial_timeout: float | None = None
    final_repeats: int = 0  # retrainings of each run's selected architecture (0: none; races before it had none)
    final_top: int = 1  # candidates retrained per run; the best by mean retrained validation MSE is selected

    def study_name(self, strategy: str, seed: int) -> str:
        return f"{self.name}/{strategy}/seed{seed}"

    def settings_for(self, seed: int) -> StudySettings:
        return dataclasses.replace(self.settings, seed=seed)

    def studies(self) -> list[tuple[str, int]]:
        """(strategy, seed) of every study, seed-major: an interrupted race has whole seeds done."""
        return [(s, k) for k in self.seeds for s in self.strategies]

    def to_json(self) -> dict[str, Any]:
        settings = self.settings.to_json()
        settings.pop("seed")
        return {"version": 1, "name": self.name, "strategies": list(self.strategies), "seeds": list(self.seeds),
                "space": self.space, "settings": settings, "strategy_options": self.strategy_options, "out": self.out,
                "trial_timeout": self.trial_timeout, "final_repeats": self.final_repeats, "final_top": self.final_top}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> RaceSpec:
        return cls(name=d["name"], strategies=tuple(d["strategies"]), seeds=tuple(int(k) for k in d["seeds"]),
                   space=d["space"], settings=StudySettings.from_json({**d["settings"], "seed": 0}),
                   strategy_options={k: dict(v) for k, v in (d.get("strategy_options") or {}).items()}, out=d.get("out"),
                   trial_timeout=d.get("trial_timeout"), final_repeats=int(d.get("final_repeats", 0)),
                   final_top=int(d.get("final_top", 1)))

    def identity(self) -> dict[str, Any]:
        """What must match for a stored race to be continued (strategies, seeds, budget and retraining may grow)."""
        return {"space": self.space, "settings": self.settings.identity()}

    def done_marker(self) -> dict[str, Any]:
        """Stored with a finished study: a resume skips the study while this matches."""
        return {"budget": self.settings.budget.to_json(), "final": [self.final_repeats, self.final_top]}


def resolve_strategies(strategies: str | Sequence[str]) -> tuple[str, ...]:
    """``"all"`` = every registered strategy now (random first: it is the baseline), or a checked list."""
    from seqnas.strategies import STRATEGIES

    names = [s.strip() for s in strategies.split(",")] if isinstance(strategies, str) else [str(s).strip() for s in strategies]
    names = [s for s in names if s]
    if names == ["all"]:
        return tuple(sorted(STRATEGIES, key=lambda s: (s != BASELINE, list(STRATEGIES).index(s))))
    unknown = [s for s in names if s not in STRATEGIES]
    if not names or unknown:
        raise ConfigError(f"unknown strategy {unknown[0] if unknown else ''!r} in --strategies; use 'all' or a "
                          f"comma-separated list of {list(STRATEGIES)}")
    if len(set(names)) != len(names):
        raise ConfigError(f"--strategies repeats a name: {names}")
    return tuple(names)


def resolve_seeds(seeds: int | Sequence[int]) -> tuple[int, ...]:
    """``3`` = seeds 0, 1, 2; or an explicit list of distinct non-negative seeds."""
    if isinstance(seeds, bool):
        raise ConfigError(f"--seeds must be a positive integer, got {seeds!r}")
    if isinstance(seeds, int):
        if seeds < 1:
            raise ConfigError(f"--seeds must be a positive integer, got {seeds!r}")
        return tuple(range(seeds))
    out = tuple(int(k) for k in seeds)
    if not out or any(k < 0 for k in out) or len(set(out)) != len(out):
        raise ConfigError(f"seeds must be distinct non-negative integers, got {list(seeds)}")
    return out


# -- running the studies: lanes --------------------------------------------------------------------------
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


class RaceProgress:
    """One progress bar (with ETA) over the whole race, fed by every lane's runner."""

    def __init__(self, spec: RaceSpec, show: bool) -> None:
        budget = spec.settings.budget
        self.unit = "trials" if budget.trials is not None else "cpu"
        self.per_study = float(budget.trials if budget.trials is not None else budget.cpu_seconds or 0.0)
        self.n = len(spec.studies())
        self._values: dict[str, float] = {}
        self._lock = threading.Lock()
        self._bar: Any = None
        self._task: Any = None
        from rich.console import Console

        self.console = Console(stderr=True)
        if show:
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

            what = "trials" if self.unit == "trials" else "CPU-s"
            self._bar = Progress(TextColumn("[bold]race"), BarColumn(),
                                 TextColumn("{task.completed:.0f}/{task.total:.0f} " + what),
                                 TextColumn("{task.fields[studies]}"), TimeElapsedColumn(), TextColumn("ETA"),
                                 TimeRemainingColumn(), console=self.console)

    def __enter__(self) -> RaceProgress:
        if self._bar is not None:
            self._bar.start()
            self._task = self._bar.add_task("race", total=self.n * self.per_study, studies=self._studies_text())
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._bar is not None:
            self._bar.stop()

    def _studies_text(self) -> str:
        done = sum(1 for v in self._values.values() if v >= self.per_study)
        return f"{done}/{self.n} studies"

    def set(self, study: str, value: float) -> None:
        with self._lock:
            self._values[study] = min(float(value), self.per_study)
            if self._bar is not None and self._task is not None:
                self._bar.update(self._task, completed=sum(self._values.values()), studies=self._studies_text())

    def note(self, line: str) -> None:
        with self._lock:
            self.console.print(line, highlight=False)

    def for_study(self, study: str) -> _StudyProgress:
        return _StudyProgress(self, study)


class _StudyProgress:
    """The runner's Progress protocol for one study, reported into the race's bar."""

    def __init__(self, race: RaceProgress, study: str) -> None:
        self.race, self.study = race, study
        self.runner: Runner | None = None

    def _value(self, done: int) -> float:
        if self.race.unit == "trials":
            return float(done)
        return float(self.runner.cpu_used) if self.runner is not None else 0.0

    def start(self, done: int, total: int | None, best: float | None) -> None:
        self.race.set(self.study, self._value(done))

    def update(self, done: int, best: float | None, failed: int) -> None:
        self.race.set(self.study, self._value(done))

    def close(self) -> None: ...


@dataclass
class _Job:
    strategy: str  # or baselines.DEFAULT_LSTM: the default LSTM's retrainings for this race seed
    seed: int
    row: StudyRow | None = None


def _run_job(storage: Storage, executor: _LaneExecutor, spec: RaceSpec, job: _Job, progress: RaceProgress) -> None:
    from seqnas.runner import Runner
    from seqnas.strategies import make_strategy

    if job.row is None:
        _run_lstm_baseline(storage, executor, spec, job.seed, progress)
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
    # What the user gets: the selected architecture trained again with fresh seeds (outside the budget).
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


def _run_lstm_baseline(storage: Storage, executor: _LaneExecutor, spec: RaceSpec, seed: int, progress: RaceProgress) -> None:
    """Train the default LSTM with race seed ``seed``'s retraining seeds; each result is stored as it arrives."""
    from seqnas.evaluation.evaluator import TaskEvaluator

    key = f"{LSTM_KEY}{spec.name}/seed{seed}"
    runs: dict[str, Any] = dict(storage.get_meta(key) or {})
    evaluator = TaskEvaluator(spec.settings.task, "rnn-macro", spec.settings.train)  # type: ignore[arg-type]
    arch = baselines.default_lstm_arch()

    def store(_: Any, s: int, entry: dict[str, Any]) -> None:
        runs[str(s)] = entry
        storage.set_meta(key, runs)

    train_each(executor, evaluator, [(arch, s) for s in _lstm_seeds(spec, seed) if str(s) not in runs], store)
    ok = [r["test_mse"] for r in runs.values() if "test_mse" in r]
    progress.note(f"[green]done[/green] {baselines.label(baselines.DEFAULT_LSTM)} seed {seed}: test MSE "
                  f"{sum(ok) / len(ok) if ok else float('nan'):.4g} ({len(ok)} trainings)")


def store_fixed_baselines(storage: Storage, spec: RaceSpec) -> None:
    """Persistence and ridge regression: deterministic, computed once per race (cheap)."""
    if spec.settings.task is None or storage.get_meta(BASELINES_KEY + spec.name):
        return
    data = load_task(spec.settings.task)
    storage.set_meta(BASELINES_KEY + spec.name, {baselines.PERSISTENCE: baselines.persistence(data),
                                                  baselines.LINEAR: baselines.ridge(data)})


def _lstm_seeds(spec: RaceSpec, seed: int) -> list[int]:
    """The default LSTM trains with the strategies' retraining seeds (once even without retraining)."""
    return final_seeds(seed, max(1, spec.final_repeats))


def lstm_baseline_done(storage: Storage, spec: RaceSpec, seed: int) -> bool:
    runs = storage.get_meta(f"{LSTM_KEY}{spec.name}/seed{seed}") or {}
    return all(str(s) in runs for s in _lstm_seeds(spec, seed))


def _lane(db: str, spec: RaceSpec, queue: deque[_Job], lock: threading.Lock, stop: threading.Event,
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


# -- the entry points --------------------------------------------------------------------------------------
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


def list_races(storage: Storage) -> list[str]:
    return [k[len(RACE_KEY):] for k in storage.meta_keys(RACE_KEY)]


def load_race_spec(storage: Storage, race: str | None = None) -> RaceSpec:
    """The stored race (``race`` None: the only race in the database)."""
    names = list_races(storage)
    if race is None:
        if len(names) != 1:
            raise StudyError(f"{str(storage.path)!r} has no race; run `seqnas compare` first" if not names else
                             f"{str(storage.path)!r} holds several races ({', '.join(names)}); pick one with --race")
        race = names[0]
    d = storage.get_meta(RACE_KEY + race)
    if d is None:
        raise StudyError(f"no race {race!r} in {str(storage.path)!r}" + (f"; races here: {', '.join(names)}" if names else ""))
    return RaceSpec.from_json(d)


def _store_spec(storage: Storage, spec: RaceSpec) -> RaceSpec:
    """Create the race record, or continue a stored race whose task, space and training match."""
    old_d = storage.get_meta(RACE_KEY + spec.name)
    if old_d is not None:
        old = RaceSpec.from_json(old_d)
        if old.identity() != spec.identity():
            what = "space" if old.space != spec.space else "settings (task, training, objectives, constraints)"
            raise StudyError(f"race {spec.name!r} already exists in {str(storage.path)!r} with a different {what}; "
                             "use another --race name or --db, or `seqnas compare --resume` to continue it")
    storage.set_meta(RACE_KEY + spec.name, {**spec.to_json(), "machine": machine_info()})
    return spec


def compare(
    space: Any = "rnn-macro",
    *,
    task: Any = None,
    csv: str | None = None,
    target: str | None = None,
    features: Sequence[str] = (),
    time_column: str | None = None,
    window: int | None = None,
    horizon: int | None = None,
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
    with fresh seeds (outside the budget; with ``final_top`` > 1 the best of that many
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
    spec_task = task_spec(task, csv=csv, target=target, features=tuple(features), time_column=time_column,
                          window=window, horizon=horizon)
    load_task(spec_task)  # a bad CSV is reported now, before anything is written
    train_budget = train if isinstance(train, TrainBudget) else TrainBudget(**(train or {}))
    if trials is None and cpu_seconds is None:
        trials = 30
    check_final(final_repeats, final_top)
    settings = StudySettings(seed=0, objectives=("val_mse",), budget=Budget(trials, None, cpu_seconds, charge_strategy),
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
        budget = Budget(trials, None, cpu_seconds, spec.settings.budget.charge_strategy)
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

    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise ConfigError(f"--workers must be a positive integer, got {workers!r}")
    if out is not None:
        Path(out).mkdir(parents=True, exist_ok=True)
    spec = dataclasses.replace(spec, out=str(out) if out is not None else spec.out)
    storage = Storage(db)
    try:
        spec = _store_spec(storage, spec)
        store_fixed_baselines(storage, spec)
        space = SearchSpace.from_json(spec.space)
        # The default LSTM first (a few short trainings per seed), then the studies.
        jobs = [_Job(baselines.DEFAULT_LSTM, seed) for seed in spec.seeds
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
            jobs.append(_Job(strategy, seed, row))
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
            _run_lanes(db, spec, jobs, n_lanes, bar, errors)
    return _finish(spec, db, out, errors)


def _run_lanes(db: str, spec: RaceSpec, jobs: list[_Job], n_lanes: int, bar: RaceProgress, errors: dict[str, str]) -> None:
    """Run the studies on ``n_lanes`` lanes, each a thread with its own storage connection and worker.

    Each study runs its trials one after another, so its results do not depend on how many
    lanes there are (sequential strategies see every result before they propose again), and
    both cores stay busy with different studies, the one-shot ones included.
    """
    import torch

    queue = deque(jobs)
    lock, stop = threading.Lock(), threading.Event()
    # The cores belong to the workers; a strategy's own model (e.g. rl's controller) trains in this
    # process, from several lanes at once, and one thread keeps its numbers independent of timing.
    threads_before = torch.get_num_threads()
    torch.set_num_threads(1)
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
    finally:
        torch.set_num_threads(threads_before)
    if stop.is_set():
        raise KeyboardInterrupt  # a lane was stopped


def _finish(spec: RaceSpec, db: str, out: str | None, errors: dict[str, str]) -> RaceResult:
    from seqnas.report import build_report, race_table

    if out is not None:
        report = build_report(db, out, race=spec.name)
        return RaceResult(spec.name, db, report.table, report.files, errors)
    return RaceResult(spec.name, db, race_table(db, race=spec.name), {}, errors)


def machine_info() -> dict[str, Any]:
    """Where a race ran, stored with it for the report."""
    import platform

    import torch

    n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return {"cpus": n, "system": f"{platform.system()} {platform.machine()}", "python": platform.python_version(),
            "torch": torch.__version__}
