"""Calendar inputs: where in the day, the week and the year each row of a series falls, from its time column.

Each cycle is two inputs, the sine and cosine of its phase (so 23:30 is next to 00:00, Sunday next to
Monday). Only the cycles that the series' time step can resolve and that it covers at least twice
(a shorter span makes the phase a mere trend) are used: hour of the day for a step under a day, day
of the week under a week, time of the year under half a year; so a daily series of four years gets
day-of-week and time-of-year inputs, twelve weeks of half-hours hour-of-day and day-of-week. The phases are read from the
clock time as written in the file (a column with one time zone offset keeps it; the hour is never
shifted to UTC). Computed from the time column only, so a forecast computes the same inputs for
rows it has not seen.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from seqnas.errors import TaskError

DAY = 86400.0
# (name, length of the cycle in seconds, the time step must be under this many seconds to resolve it)
CYCLES = (("day", DAY, DAY), ("week", 7 * DAY, 7 * DAY), ("year", 365.2425 * DAY, 182 * DAY))


def calendar_names(step_seconds: float, span_seconds: float) -> list[str]:
    """The calendar input columns for a series with this time step and span: e.g. ['day_sin', 'day_cos', ...]."""
    return [f"{name}_{f}" for name, length, resolves in CYCLES if step_seconds < resolves and span_seconds >= 2 * length
            for f in ("sin", "cos")]


_OFFSET = re.compile(r"(\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)\s*(?:Z|UTC|[+-]\d{2}:?\d{2})$")


def wall_clock(column: pd.Series) -> pd.Series:
    """A time column as the clock on the wall read it: a text column's UTC offsets dropped before parsing
    (so a column whose offset changes with daylight saving keeps its hours), a zone-aware column's zone dropped."""
    from seqnas.timeaxis import parse_times

    if pd.api.types.is_datetime64_any_dtype(column.dtype):
        times = column.reset_index(drop=True)
    else:
        times = parse_times(column.astype(str).str.strip().str.replace(_OFFSET, r"\1", regex=True))
    if isinstance(times.dtype, pd.DatetimeTZDtype):
        times = times.dt.tz_localize(None)
    return times


def _phase(times: pd.Series, cycle: str) -> np.ndarray:
    """The phase in [0, 1) of each timestamp in its day, week or year (wall-clock time)."""
    t = pd.DatetimeIndex(times)
    day = (t.hour * 3600.0 + t.minute * 60.0 + t.second + t.microsecond / 1e6) / DAY
    if cycle == "day":
        return np.asarray(day, dtype=np.float64)
    if cycle == "week":
        return np.asarray((t.day_of_week + day) / 7.0, dtype=np.float64)
    days_in_year = np.where(t.is_leap_year, 366.0, 365.0)
    return np.asarray((t.day_of_year - 1 + day) / days_in_year, dtype=np.float64)


def calendar_features(times: pd.Series, names: list[str]) -> np.ndarray:
    """(rows, len(names)) float64 array of the named calendar inputs of parsed timestamps."""
    if not pd.api.types.is_datetime64_any_dtype(times.dtype):
        raise TaskError("calendar inputs need a time column of dates and times, not numbers")
    out = np.empty((len(times), len(names)), dtype=np.float64)
    phases: dict[str, np.ndarray] = {}
    for j, name in enumerate(names):
        cycle, fn = name.rsplit("_", 1)
        if cycle not in phases:
            phases[cycle] = _phase(times, cycle)
        angle = 2 * np.pi * phases[cycle]
        out[:, j] = np.sin(angle) if fn == "sin" else np.cos(angle)
    return out


def calendar_of(times: pd.Series, step: dict[str, Any] | None, what: str) -> tuple[np.ndarray, list[str]]:
    """The calendar inputs of a series' parsed time column and their names; ``what`` names the series in
    the one-line error when it has no usable step (numbers, or a single row)."""
    if step is None or step.get("kind") != "datetime":
        raise TaskError(f"calendar inputs need a time column of dates and times; {what} has "
                        f"{'numbers' if step else 'no usable time step'}: drop --calendar")
    span = float((times.iloc[-1] - times.iloc[0]).total_seconds())
    names = calendar_names(float(step["seconds"]), span)
    if not names:
        raise TaskError(f"{what} steps {step['seconds'] / DAY:g} days over {span / DAY:g} days: no daily, weekly or yearly "
                        "cycle that it resolves and covers twice; drop --calendar")
    return calendar_features(times, names), names
