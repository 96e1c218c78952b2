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

INPUT_PARAMS = ("window", "calendar", "level", "base", "highway")
BASES = ("none", "last", "seasonal", "linear")  # seqnas.models.base_forecast (no torch here)
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


def parse_base(value: Any) -> tuple[str, ...] | None:
    """``--base``: None (no base parameter), "search" (every base), or one or several of ``BASES`` (comma-separated)."""
    if value is None or value is False or (isinstance(value, str) and value.strip().lower() == "off"):
        return None
    items = list(BASES) if isinstance(value, str) and value.strip().lower() == "search" else (
        [t.strip().lower() for t in value.split(",")] if isinstance(value, str) else [str(v).strip().lower() for v in value])
    bad = [b for b in items if b not in BASES]
    if bad or not items:
        raise TaskError(f"--base must be 'search', 'off' or one or more of {list(BASES)} (comma-separated); got {value!r}")
    return tuple(dict.fromkeys(items))


# Seasons by time step (seconds): a day of sub-daily steps, a week of days, a year of weeks, months, quarters.
_DAY, _WEEK = 86400.0, 604800.0


def step_season(spec: TaskSpec) -> int | None:
    """The season its time column's step implies: a day of sub-daily steps (hours: 24, half-hours: 48), a week of
    days (7), a year of weeks (52), months (12) or quarters (4); None without a time column or for other steps."""
    if spec.name != "csv" or not spec.time_column or not spec.csv:
        return None
    import pandas as pd

    from seqnas.timeaxis import infer_time_step, parse_times

    times = pd.read_csv(spec.csv, usecols=[spec.time_column], dtype=str, keep_default_na=False)[spec.time_column]
    step = infer_time_step(parse_times(times))
    if step is None or step["kind"] != "datetime" or not step.get("seconds"):
        return None
    sec = float(step["seconds"])
    if sec < _DAY and _DAY % sec == 0:
        return int(_DAY // sec)
    for low, high, season in ((_DAY, _DAY, 7), (_WEEK, _WEEK, 52), (28 * _DAY, 31 * _DAY, 12), (89 * _DAY, 92 * _DAY, 4)):
        if low <= sec <= high:
            return season
    return None


def season_of(spec: TaskSpec, values: np.ndarray) -> int | None:
    """The series' season in steps: ``step_season``, else the dominant period of the training part
    (``dominant_period``); None where neither gives one."""
    season = step_season(spec)
    if season is not None:
        return season
    target = np.asarray(values, dtype=np.float64)[:, 0]
    train = target[: max(8, int(len(target) * (1 - spec.val_fraction - spec.test_fraction)))]
    return dominant_period(train, max_lag=max(2, min(len(train) // 3, 4 * MAX_AUTO_WINDOW)))


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


def auto_windows(values: np.ndarray, train_fraction: float, season: int | None = None) -> tuple[tuple[int, ...], int | None]:
    """(window choices, the period they came from) for ``--window auto``: the dominant period of the
    training part times 0.5, 1, 2, 3.5, each at least 2 and at most a quarter of the training rows (and
    ``MAX_AUTO_WINDOW``); ``FALLBACK_WINDOWS`` (so capped) where no period stands out. A ``season`` that the
    time step gives (``step_season``) is the period instead, and a window of 7 seasons (a week of days) joins
    the choices: the linear base forecast and the highway profit from long windows."""
    target = np.asarray(values, dtype=np.float64)[:, 0]
    train = target[: max(8, int(len(target) * train_fraction))]
    cap = max(2, min(MAX_AUTO_WINDOW, len(train) // 4))
    period = season or dominant_period(train, max_lag=max(2, min(len(train) // 3, 4 * MAX_AUTO_WINDOW)))
    multiples = (*AUTO_MULTIPLES, 7.0) if season else AUTO_MULTIPLES
    raw = [round(period * m) for m in multiples] if period else list(FALLBACK_WINDOWS)
    windows = tuple(sorted({min(cap, max(2, int(w))) for w in raw}))
    return windows, period


def series_of(spec: TaskSpec) -> np.ndarray:
    if spec.name == "csv":
        from seqnas.tasks.csv import load_csv

        return load_csv(spec.csv or "", spec.target, spec.features, spec.time_column)[0]
    return BUILTIN_TASKS[builtin_name(spec.name)].load()


def with_inputs(space: SearchSpace, spec: TaskSpec, window: Any = None, calendar: Any = None,
                level: Any = None, base: Any = None, highway: Any = None) -> tuple[SearchSpace, TaskSpec]:
    """The space and task of a study with ``--window`` / ``--calendar`` / ``--level`` applied: one window sets
    the task's; several (or "auto") become the searched ``window`` parameter; calendar "on" sets the task's,
    "search" adds the ``calendar`` parameter; level "on" adds ``level`` with the one choice true, "search" true
    and false. The task's ``reach`` is then the longest window of the space."""
    windows = parse_window(window)
    mode, level_mode = parse_mode(calendar, "calendar"), parse_mode(level, "level")
    bases, highway_mode = parse_base(base), parse_mode(highway, "highway")
    given = [name for name, on in (("window", windows is not None or spec.window is not None), ("calendar", mode != "off"),
                                   ("level", level_mode != "off"), ("base", bases is not None),
                                   ("highway", highway_mode != "off")) if on and name in space.names]
    if given:
        raise TaskError(f"the space declares {given[0]!r} itself; drop --{given[0]} or the space's parameter")
    if windows is not None and is_bench_task(spec.name):
        raise TaskError(f"a {spec.name.split(':')[0]}: task has the window its table was made with; drop --window")
    if windows == AUTO:
        windows = auto_windows(series_of(spec), 1 - spec.val_fraction - spec.test_fraction, step_season(spec))[0]
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
    if bases is not None:
        bases, spec = _seasonal(bases, spec, searched=isinstance(base, str) and base.strip().lower() == "search")
        added.append(Categorical("base", list(bases)))
    if highway_mode != "off":
        added.append(Categorical("highway", [True] if highway_mode == "on" else [False, True]))
    if added:
        space = SearchSpace([*space.params, *added], name=space.name, family=space.family)
    return space, fit_reach(space, spec)


def _seasonal(bases: tuple[str, ...], spec: TaskSpec, searched: bool) -> tuple[tuple[str, ...], TaskSpec]:
    """The bases with the series' season set on the task where "seasonal" is one; a season the data cannot support
    (none found, or longer than half the training part) leaves "seasonal" out of a search and is refused when asked for."""
    if "seasonal" not in bases:
        return bases, spec
    values = series_of(spec)
    season = spec.season or season_of(spec, values)
    train_rows = int(len(values) * (1 - spec.val_fraction - spec.test_fraction))
    why = None
    if season is None:
        why = "no season: the series has no time column with a daily/weekly/yearly step and no clear period"
    elif season < 2 or season > train_rows // 2:
        why = f"its season of {season} steps is longer than half the training part ({train_rows} rows)"
    if why is None:
        return bases, replace(spec, season=season)
    if searched and len(bases) > 1:
        return tuple(b for b in bases if b != "seasonal"), spec
    raise TaskError(f"--base seasonal: {why}; choose another base (none, last, linear)")


def task_inputs(space: SearchSpace, task: Any = None, *, window: Any = None, calendar: Any = None, level: Any = None,
                base: Any = None, highway: Any = None, **task_args: Any) -> tuple[SearchSpace, TaskSpec]:
    """The space and checked task of a study: ``seqnas.tasks.task_spec(task, **task_args)`` with ``window`` /
    ``calendar`` applied (``with_inputs``), and every task variant the space can ask for loaded once, so that a
    bad CSV, window or time column is reported now, before any study is written."""
    from seqnas.tasks import load_task, task_spec

    one = parse_window(window)
    spec = task_spec(task, window=one if isinstance(one, int) else None, **task_args)
    space, spec = with_inputs(space, spec, None if isinstance(one, int) else one, calendar, level, base, highway)
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
        elif name == "base":
            ok = isinstance(p, Categorical) and all(v in BASES for v in values or [])
            what = f"names of base forecasts {list(BASES)} (categorical)"
        else:
            ok = isinstance(p, Categorical) and all(isinstance(v, bool) for v in values or [])
            what = "true / false (categorical)"
        if not ok:
            raise TaskError(f"parameter {name!r} must hold {what}; got {values if values is not None else p.type_name}")


def fit_reach(space: SearchSpace, spec: TaskSpec) -> TaskSpec:
    """The task with ``reach`` = the longest window the space may give an architecture (unchanged when it has no window)."""
    check_input_params(space)
    if "window" not in space.names:
        need = _seasonal_window(space, spec)
        return replace(spec, reach=max(need, spec.reach or 0)) if need > (spec.window or default_window(spec)) else spec
    p = space["window"]
    longest = int(max(p.choices)) if isinstance(p, Categorical) else int(p.high) if isinstance(p, Int) else 0
    reach = max(longest, spec.reach or 0, _seasonal_window(space, spec))
    # What reads the study's task without an architecture (the race's baselines, the val_mape check) uses the
    # task's own window: at most the reach, so that it starts at the same row as every trial.
    return replace(spec, reach=reach, window=min(spec.window or default_window(spec), reach))


def _seasonal_window(space: SearchSpace, spec: TaskSpec) -> int:
    """The window a seasonal base needs (one season), 0 where the space has none."""
    p = space["base"] if "base" in space.names else None
    return int(spec.season or 0) if isinstance(p, Categorical) and "seasonal" in p.choices else 0


def task_for(spec: TaskSpec, arch: Any) -> TaskSpec:
    """The task an architecture is trained on: its ``window`` and ``calendar``, where it has them; a seasonal base
    reads at least one season."""
    changes: dict[str, Any] = {}
    if "window" in arch:
        changes["window"] = int(arch["window"])
    if arch.get("base") == "seasonal" and spec.season:
        window = changes.get("window", spec.window or default_window(spec))
        if window < spec.season:
            changes["window"] = int(spec.season)
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
