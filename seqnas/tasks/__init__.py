"""Tasks: built-in and CSV series, windowed and split; ``load_task`` is cached per process."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from seqnas.checks import optional_positive_int
from seqnas.errors import TaskError
from seqnas.tasks.base import TaskData, TaskSpec, make_windows
from seqnas.tasks.builtin import BUILTIN_TASKS

DEFAULT_TASK = "sunspots"
DEFAULT_CSV_WINDOW = 24
# "bench:<task>": the tabular benchmark's results on a built-in task, looked up instead of trained
# (seqnas.tabular); its data are the built-in task's, windowed as the table was made.
BENCH_PREFIX = "bench:"


def is_bench_task(name: str | None) -> bool:
    return bool(name) and str(name).startswith(BENCH_PREFIX)


def builtin_name(name: str) -> str:
    """The built-in task behind a task name: 'bench:sunspots' -> 'sunspots'."""
    return name[len(BENCH_PREFIX):] if name.startswith(BENCH_PREFIX) else name


def task_spec(task: str | TaskSpec | None = None, *, csv: str | None = None, target: str | None = None,
              features: tuple[str, ...] | list[str] = (), time_column: str | None = None,
              window: int | None = None, horizon: int | None = None) -> TaskSpec:
    """Normalise the ways a user names a task into a checked TaskSpec."""
    if isinstance(task, TaskSpec):
        return task
    if csv is not None:
        if task not in (None, "csv"):
            raise TaskError("give either a built-in task or --csv, not both")
        spec = TaskSpec("csv", csv=str(Path(csv).resolve()), target=target, features=tuple(features),
                        time_column=time_column, window=window, horizon=horizon)
    else:
        name = task or DEFAULT_TASK
        if builtin_name(name) not in BUILTIN_TASKS:
            raise TaskError(f"unknown task {name!r}; use one of {sorted(BUILTIN_TASKS)}, a tabular benchmark task "
                            f"{BENCH_PREFIX}<task>, or --csv FILE --target COLUMN")
        if target or features:
            raise TaskError("--target and --features are for --csv tasks")
        if name.startswith(BENCH_PREFIX) and (window is not None or horizon is not None):
            raise TaskError(f"a {BENCH_PREFIX} task has the window and horizon its table was made with; drop --window/--horizon")
        spec = TaskSpec(name, window=window, horizon=horizon)
    for label, v in (("window", window), ("horizon", horizon)):
        optional_positive_int(v, f"--{label}", TaskError)
    return spec


def load_task(spec: TaskSpec) -> TaskData:
    """Load and window a task. Cached: each process reads a file once (keyed by mtime)."""
    mtime = Path(spec.csv).stat().st_mtime_ns if spec.name == "csv" and spec.csv and Path(spec.csv).exists() else 0
    return _load(spec, mtime)


@lru_cache(maxsize=32)  # a study that searches 4 windows with and without calendar inputs: 8 variants
def _load(spec: TaskSpec, _mtime: int) -> TaskData:
    calendar = None
    if spec.name == "csv":
        from seqnas.tasks.csv import load_csv  # pandas: imported only when a CSV task is loaded

        values, columns = load_csv(spec.csv or "", spec.target, spec.features, spec.time_column)
        horizon = spec.horizon or 1
        name = spec.label
        if spec.calendar:
            from seqnas.tasks.csv import load_calendar

            calendar = load_calendar(spec.csv or "", spec.time_column)
    else:
        if builtin_name(spec.name) not in BUILTIN_TASKS:
            raise TaskError(f"unknown task {spec.name!r}; use one of {sorted(BUILTIN_TASKS)}")
        if spec.calendar:
            raise TaskError(f"task {spec.name!r} has no time column: calendar inputs are for a CSV with --time-column; "
                            "drop --calendar")
        b = BUILTIN_TASKS[builtin_name(spec.name)]
        values, columns = b.load(), [builtin_name(spec.name)]
        horizon = spec.horizon or b.horizon
        name = spec.name
    data = make_windows(values, 0, spec.window or default_window(spec), horizon, spec.val_fraction, spec.test_fraction, name=name,
                        columns=columns, reach=spec.reach, calendar=calendar)
    data.info["season"] = spec.season
    return data


def default_window(spec: TaskSpec) -> int:
    """The window a task uses when none is given: the built-in task's, 24 for a CSV."""
    if spec.name == "csv":
        return DEFAULT_CSV_WINDOW
    return BUILTIN_TASKS[builtin_name(spec.name)].window if builtin_name(spec.name) in BUILTIN_TASKS else DEFAULT_CSV_WINDOW


__all__ = ["BENCH_PREFIX", "BUILTIN_TASKS", "DEFAULT_TASK", "default_window", "builtin_name", "is_bench_task", "TaskData", "TaskSpec", "load_task", "task_spec"]
