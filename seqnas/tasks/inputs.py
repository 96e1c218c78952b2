"""What a model reads, as searchable parameters: the lookback ``window``, the ``calendar`` inputs, ``level``.

Three parameter names of a search space belong to no model family: ``window`` (how many past rows a
model reads) and ``calendar`` (whether hour-of-day / day-of-week / time-of-year inputs are added;
``seqnas.tasks.calendar``) are the task's; ``level`` (the target read relative to each window's last
value, the change from it forecast; ``seqnas.models.level``) wraps any family's model. A space gets
them from ``--window 24,48,96`` / ``--window auto``, ``--calendar search``, ``--level search``
(``with_inputs``), or declares them itself (a YAML space with a ``window`` parameter). The evaluator
then loads, per architecture, the task with that window and calendar (``task_for``); every strategy
searches them like any other parameter.

Every window length is measured on the same validation and test target time points: the study's
task records the longest window it may use (``TaskSpec.reach``), and the splits are built on
target times from that row on (``seqnas.tasks.base.make_windows``).

``--window auto`` derives the choices from the series: the dominant period of the training part
(the first strong peak of the autocorrelation of its first differences) times 0.5, 1, 2 and 3.5;
for a half-hourly series with a daily cycle that is 24, 48, 96 and 168 steps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from seqnas.errors import ConfigError, SpaceError, TaskError
from seqnas.space.base import SearchSpace
from seqnas.space.params import Categorical, Int
from seqnas.tasks import BUILTIN_TASKS, builtin_name, default_window, is_bench_task
from seqnas.tasks.base import TaskSpec

INPUT_PARAMS = ("window", "calendar", "level")
AUTO = "auto"
MODES = ("off", "on", "search")  # --calendar and --level
AUTO_MULTIPLES = (0.5, 1.0, 2.0, 3.5)
MAX_AUTO_WINDOW = 336  # an RNN's cost grows with its window: a week of hours, or a week of half-hours / 2
FALLBACK_WINDOWS = (12, 24, 48, 96)
MIN_PEAK = 0.2  # a weaker autocorrelation peak is not a period (noise in a long series clears 2/sqrt(n))  # --window auto on a series without a clear period

_WINDOW_HELP = "a positive integer, a comma-separated list of them (24,48,96,168) or 'auto'"


def parse_window(value: Any) -> int | tuple[int, ...] | str | None:
    """``--window``: None (the task's default), one length, several (searched) or "auto" (derived)."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip().lower()
        if text == AUTO:
            return AUTO
        items: list[Any] = [t.strip() for t in text.split(",")]
    elif isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        items = [value]
    elif isinstance(value, Sequence):
        items = list(value)
    else:
        raise TaskError(f"--window must be {_WINDOW_HELP}; got {value!r}")
    out = []
    for item in items:
        try:
            n = int(item) if not isinstance(item, (bool, float)) else None
        except (TypeError, ValueError):
            n = None
        if n is None or n < 1 or (isinstance(item, str) and not item.isdigit()):
            raise TaskError(f"--window must be {_WINDOW_HELP}; {item!r} is not a positive integer")
        out.append(n)
    if not out:
        raise TaskError(f"--window must be {_WINDOW_HELP}; got an empty list")
    if len(set(out)) != len(out):
        raise TaskError(f"--window lists a length twice: {value!r}")
    return out[0] if len(out) == 1 else tuple(sorted(out))


def parse_mode(value: Any, flag: str = "calendar") -> str:
    """``--calendar`` / ``--level``: "off" (default), "on" (always) or "search" (a searched on/off parameter)."""
    if value is None or value is False:
        return "off"
    if value is True:
        return "on"
    text = str(value).strip().lower()
    if text not in MODES:
        raise TaskError(f"--{flag} must be one of {list(MODES)}, got {value!r}")
    return text


def dominant_period(y: np.ndarray, max_lag: int) -> int | None:
    """The series' dominant period in steps, from the autocorrelation of its first differences (a trend
    removed): the first local peak above 0.2 and the 2/sqrt(n) noise band that reaches at least half the highest
    such peak (the daily cycle of a half-hourly series, not its weekly one). None where there is none."""
    d = np.diff(np.asarray(y, dtype=np.float64).reshape(-1))
    d = d - d.mean()
    n = len(d)
    if n < 8 or not np.any(d):
        return None
    size = 1 << int(np.ceil(np.log2(2 * n)))
    f = np.fft.rfft(d, size)
    acf = np.fft.irfft(f * np.conj(f), size)[: max_lag + 2]
    acf = acf / acf[0]
    band = max(MIN_PEAK, 2.0 / np.sqrt(n))
    peaks = [k for k in range(2, min(max_lag, len(acf) - 2) + 1)
             if acf[k] > band and acf[k] > acf[k - 1] and acf[k] >= acf[k + 1]]
    if not peaks:
        return None
    top = max(acf[k] for k in peaks)
    return next(k for k in peaks if acf[k] >= 0.5 * top)


def auto_windows(values: np.ndarray, train_fraction: float) -> tuple[tuple[int, ...], int | None]:
    """(window choices, the period they came from) for ``--window auto``: the dominant period of the
    training part times 0.5, 1, 2, 3.5, each at least 2 and at most a quarter of the training rows (and
    ``MAX_AUTO_WINDOW``); ``FALLBACK_WINDOWS`` (so capped) where no period stands out."""
    target = np.asarray(values, dtype=np.float64)[:, 0]
    train = target[: max(8, int(len(target) * train_fraction))]
    cap = max(2, min(MAX_AUTO_WINDOW, len(train) // 4))
    period = dominant_period(train, max_lag=max(2, min(len(train) // 3, 4 * MAX_AUTO_WINDOW)))
    raw = [round(period * m) for m in AUTO_MULTIPLES] if period else list(FALLBACK_WINDOWS)
    windows = tuple(sorted({min(cap, max(2, int(w))) for w in raw}))
    return windows, period


def _series(spec: TaskSpec) -> np.ndarray:
    if spec.name == "csv":
        from seqnas.tasks.csv import load_csv

        return load_csv(spec.csv or "", spec.target, spec.features, spec.time_column)[0]
    return BUILTIN_TASKS[builtin_name(spec.name)].load()


def with_inputs(space: SearchSpace, spec: TaskSpec, window: Any = None, calendar: Any = None,
                level: Any = None) -> tuple[SearchSpace, TaskSpec]:
    """The space and task of a study with ``--window`` / ``--calendar`` / ``--level`` applied: one window sets
    the task's; several (or "auto") become the searched ``window`` parameter; calendar "on" sets the task's,
    "search" adds the ``calendar`` parameter; level "on" adds ``level`` with the one choice true, "search" true
    and false. The task's ``reach`` is then the longest window of the space."""
    windows = parse_window(window)
    mode, level_mode = parse_mode(calendar, "calendar"), parse_mode(level, "level")
    given = [name for name, on in (("window", windows is not None or spec.window is not None), ("calendar", mode != "off"),
                                   ("level", level_mode != "off")) if on and name in space.names]
    if given:
        raise TaskError(f"the space declares {given[0]!r} itself; drop --{given[0]} or the space's parameter")
    if windows is not None and is_bench_task(spec.name):
        raise TaskError(f"a {spec.name.split(':')[0]}: task has the window its table was made with; drop --window")
    if windows == AUTO:
        windows = auto_windows(_series(spec), 1 - spec.val_fraction - spec.test_fraction)[0]
    added = []
    if isinstance(windows, tuple):
        if len(windows) == 1:
            windows = windows[0]
        else:
            added.append(Categorical("window", list(windows)))
    if isinstance(windows, int):
        spec = replace(spec, window=windows)
    if mode == "on":
        spec = replace(spec, calendar=True)
    elif mode == "search":
        added.append(Categorical("calendar", [False, True]))
    if level_mode != "off":
        added.append(Categorical("level", [True] if level_mode == "on" else [False, True]))
    if added:
        space = SearchSpace([*space.params, *added], name=space.name, family=space.family)
    return space, fit_reach(space, spec)


def task_inputs(space: SearchSpace, task: Any = None, *, window: Any = None, calendar: Any = None, level: Any = None,
                **task_args: Any) -> tuple[SearchSpace, TaskSpec]:
    """The space and checked task of a study: ``seqnas.tasks.task_spec(task, **task_args)`` with ``window`` /
    ``calendar`` applied (``with_inputs``), and every task variant the space can ask for loaded once, so that a
    bad CSV, window or time column is reported now, before any study is written."""
    from seqnas.tasks import load_task, task_spec

    one = parse_window(window)
    spec = task_spec(task, window=one if isinstance(one, int) else None, **task_args)
    space, spec = with_inputs(space, spec, None if isinstance(one, int) else one, calendar, level)
    load_task(spec)
    for name in ("window", "calendar"):  # the task's parameters
        p = space[name] if name in space.names else None
        if isinstance(p, Categorical):
            for value in p.choices:
                load_task(task_for(spec, {name: value}))
    return space, spec


def check_input_params(space: SearchSpace) -> None:
    """A space's ``window`` must hold positive integers, its ``calendar`` and ``level`` true/false, unconditionally."""
    for name in INPUT_PARAMS:
        if name not in space.names:
            continue
        p = space[name]
        if p.condition is not None:
            raise TaskError(f"parameter {name!r} is read for every architecture: it cannot have a condition")
        values = list(p.choices) if isinstance(p, Categorical) else ([p.low, p.high] if isinstance(p, Int) else None)
        if name == "window":
            ok = values is not None and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 1 for v in values)
            what = "positive integers (categorical or int)"
        else:
            ok = isinstance(p, Categorical) and all(isinstance(v, bool) for v in values or [])
            what = "true / false (categorical)"
        if not ok:
            raise TaskError(f"parameter {name!r} must hold {what}; got {values if values is not None else p.type_name}")


def fit_reach(space: SearchSpace, spec: TaskSpec) -> TaskSpec:
    """The task with ``reach`` = the longest window the space may give an architecture (unchanged when it has no window)."""
    check_input_params(space)
    if "window" not in space.names:
        return spec
    p = space["window"]
    longest = int(max(p.choices)) if isinstance(p, Categorical) else int(p.high) if isinstance(p, Int) else 0
    reach = max(longest, spec.reach or 0)
    # What reads the study's task without an architecture (the race's baselines, the val_mape check) uses the
    # task's own window: at most the reach, so that it starts at the same row as every trial.
    return replace(spec, reach=reach, window=min(spec.window or default_window(spec), reach))


def task_for(spec: TaskSpec, arch: Any) -> TaskSpec:
    """The task an architecture is trained on: its ``window`` and ``calendar``, where it has them."""
    changes: dict[str, Any] = {}
    if "window" in arch:
        changes["window"] = int(arch["window"])
    if "calendar" in arch:
        changes["calendar"] = bool(arch["calendar"])
    return replace(spec, **changes) if changes else spec


def model_space(space: SearchSpace) -> SearchSpace:
    """The space without its input parameters: what the model family must be able to build."""
    if not any(name in space.names for name in INPUT_PARAMS):
        return space
    return SearchSpace([p for p in space.params if p.name not in INPUT_PARAMS], name=space.name, family=space.family)


def fixed_inputs(space: SearchSpace, fixed: dict[str, Any]) -> dict[str, Any]:
    """The input parameters a search that cannot vary them uses (darts' supernet): ``fixed`` values, else the
    parameter's default (its first choice)."""
    out = {}
    for name in (n for n in INPUT_PARAMS if n in space.names):
        try:
            out[name] = space[name].check(fixed[name]) if name in fixed else space[name].default
        except SpaceError as e:
            raise ConfigError(f"strategy 'darts': option fixed: {e}") from None
    return out
