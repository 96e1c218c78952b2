"""The time column of a series: parsed, its step inferred, continued past the last row.

Shared by ``seqnas export`` (which stores the training file's step) and ``seqnas predict`` (which
continues it after the data's last row).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd


def parse_times(column: pd.Series) -> pd.Series:
    """A time column as numbers (a step index, epoch seconds) or timestamps (time zones kept when the
    column has one; mixed offsets converted to UTC); NaN/NaT where unreadable."""
    if pd.api.types.is_datetime64_any_dtype(column.dtype):
        return column.reset_index(drop=True)
    if pd.api.types.is_numeric_dtype(column.dtype) and not pd.api.types.is_bool_dtype(column.dtype):
        return column.astype(np.float64).reset_index(drop=True)
    text = column.astype(str).str.strip().reset_index(drop=True)
    numbers = pd.to_numeric(text, errors="coerce")
    if len(text) and numbers.notna().all():
        return numbers.astype(np.float64)
    try:
        return pd.to_datetime(text, errors="coerce", format="mixed")
    except (ValueError, TypeError, OverflowError):  # mixed time zones
        try:
            return pd.to_datetime(text, errors="coerce", format="mixed", utc=True)
        except (ValueError, TypeError, OverflowError):
            return pd.Series([pd.NaT] * len(text))


def _mode(values: np.ndarray) -> float:
    vals, counts = np.unique(values, return_counts=True)
    return float(vals[int(np.argmax(counts))])


def infer_time_step(times: pd.Series) -> dict[str, Any] | None:
    """The step of a (parsed, sorted) time column: ``{"kind": "number", "step", "integer"}`` or
    ``{"kind": "datetime", "freq", "seconds"}`` (``freq``: pandas' inferred frequency such as "h" or
    "MS" where the column is regular, else None: then the most common difference, ``seconds``, is used)."""
    if len(times) < 2:
        return None
    if pd.api.types.is_datetime64_any_dtype(times.dtype):
        index = pd.DatetimeIndex(times)
        freq = None
        if len(index) >= 3:
            try:
                with warnings.catch_warnings():  # pandas 3 warns that it will return an offset, not its name
                    warnings.simplefilter("ignore")
                    inferred = pd.infer_freq(index)
                freq = inferred if inferred is None or isinstance(inferred, str) else str(inferred.freqstr)
            except (TypeError, ValueError):
                freq = None
        seconds = _mode(np.asarray((index[1:] - index[:-1]).total_seconds(), dtype=np.float64))
        return {"kind": "datetime", "freq": freq, "seconds": seconds}
    values = np.asarray(times, dtype=np.float64)
    step = _mode(np.diff(values))
    return {"kind": "number", "step": step, "integer": bool(np.all(values == np.round(values)) and step == round(step))}


def continue_times(last: Any, step: dict[str, Any], k: int) -> list[Any]:
    """The ``k`` time values after ``last`` with the training data's ``step``."""
    if step["kind"] == "number":
        out = [float(last) + i * float(step["step"]) for i in range(1, k + 1)]
        return [int(round(v)) for v in out] if step.get("integer") and float(last) == round(float(last)) else out
    if step.get("freq"):
        from pandas.tseries.frequencies import to_offset

        try:
            offset = to_offset(step["freq"])
            return [last + offset * i for i in range(1, k + 1)]
        except (ValueError, TypeError):
            pass
    return [last + pd.Timedelta(seconds=float(step["seconds"]) * i) for i in range(1, k + 1)]


def time_text(values: list[Any]) -> list[Any]:
    """Continued timestamps as text the way pandas writes the column (dates alone when all are midnight)."""
    if values and isinstance(values[0], pd.Timestamp):
        return list(pd.Series(values).astype(str))
    return values
