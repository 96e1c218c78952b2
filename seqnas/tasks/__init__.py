"""Tasks: built-in and CSV series, windowed and split; ``load_task`` is cached per process."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from seqnas.checks import optional_positive_int
from seqnas.errors import TaskError
from seqnas.tasks.base import TaskData, TaskSpec, make_windows
from seqnas.tasks.builtin import BUILTIN_TASKS

DEFAULT_TASK = "sunspots"


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
        if name not in BUILTIN_TASKS:
            raise TaskError(f"unknown task {name!r}; use one of {sorted(BUILTIN_TASKS)} or --csv FILE --target COLUMN")
        if target or features:
            raise TaskError("--target and --features are for --csv tasks")
        spec = TaskSpec(name, window=window, horizon=horizon)
    for label, v in (("window", window), ("horizon", horizon)):
        optional_positive_int(v, f"--{label}", TaskError)
    return spec


def load_task(spec: TaskSpec) -> TaskData:
    """Load and window a task. Cached: each process reads a file once (keyed by mtime)."""
    mtime = Path(spec.csv).stat().st_mtime_ns if spec.name == "csv" and spec.csv and Path(spec.csv).exists() else 0
    return _load(spec, mtime)


@lru_cache(maxsize=8)
def _load(spec: TaskSpec, _mtime: int) -> TaskData:
    if spec.name == "csv":
        from seqnas.tasks.csv import load_csv  # pandas: imported only when a CSV task is loaded

        values, columns = load_csv(spec.csv or "", spec.target, spec.features, spec.time_column)
        window, horizon = spec.window or 24, spec.horizon or 1
        name = spec.label
    else:
        if spec.name not in BUILTIN_TASKS:
            raise TaskError(f"unknown task {spec.name!r}; use one of {sorted(BUILTIN_TASKS)}")
        b = BUILTIN_TASKS[spec.name]
        values, columns = b.load(), [spec.name]
        window, horizon = spec.window or b.window, spec.horizon or b.horizon
        name = spec.name
    return make_windows(values, 0, window, horizon, spec.val_fraction, spec.test_fraction, name=name, columns=columns)


__all__ = ["BUILTIN_TASKS", "DEFAULT_TASK", "TaskData", "TaskSpec", "load_task", "task_spec"]
