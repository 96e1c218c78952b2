"""Forecasts from an exported model: ``seqnas predict`` and ``seqnas.load_model(path).predict(df)``.

An export (``seqnas export``) carries what a forecast needs: the columns the model reads (the
target first), the scaling fitted on the training part, the window and horizon, the calendar inputs
(if any, computed from the time column), the time step of the training data's time column and the
in-sample naive forecast's MAE (MASE's denominator).

- ``predict`` forecasts the ``horizon`` steps after the last row of the data, in the target's own
  units, the time column continued with the training data's step where the data has one;
- ``backtest`` slides over the data: every window of ``window`` rows followed by ``horizon``
  known rows is forecast, beside the truth, with the error measures of
  ``seqnas.evaluation.metrics``. On the training file the last windows are the search's test
  windows (a study that searched the window starts its own windows later, at its longest window).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seqnas.composite import Part
from seqnas.errors import TaskError, UserError
from seqnas.evaluation.metrics import MEASURES, errors
from seqnas.timeaxis import continue_times, infer_time_step, parse_times, time_text


class ModelError(UserError):
    """A path that is not a usable export."""


# -- the data -----------------------------------------------------------------------------------------------------
@dataclass
class _Data:
    values: np.ndarray  # (rows, model columns), target first, float64 as read
    times: pd.Series | None  # the time column as given (text from a file), None without one
    parsed: pd.Series | None  # the same, parsed


def _from_csv(path: str, columns: list[str], time_column: str | None) -> _Data:
    from seqnas.tasks.csv import load_csv

    if time_column is not None:
        try:
            header = [str(c) for c in pd.read_csv(path, nrows=0).columns]
        except Exception:  # noqa: BLE001 - load_csv reports what is wrong with the file
            header = [time_column]
        if time_column not in header:
            time_column = None  # forecasts without timestamps: the model does not read the time column
    values, _ = load_csv(path, columns[0], tuple(columns[1:]), time_column)
    if time_column is None:
        return _Data(values, None, None)
    times = pd.read_csv(path, usecols=[time_column], dtype=str, keep_default_na=False)[time_column].str.strip()
    return _Data(values, times.reset_index(drop=True), parse_times(times))


def _from_frame(df: pd.DataFrame, columns: list[str], time_column: str | None) -> _Data:
    names = [str(c) for c in df.columns]
    missing = [c for c in columns if c not in names]
    if missing:
        raise TaskError(f"column(s) {missing} not in the data; the model reads {columns} (the target {columns[0]!r} first)"
                        f" and the data has {names[:20]}{' ...' if len(names) > 20 else ''}")
    if len(df) == 0:
        raise TaskError("the data has no rows")
    out = np.empty((len(df), len(columns)), dtype=np.float64)
    for j, c in enumerate(columns):
        col = df[c]
        if isinstance(col, pd.DataFrame):
            raise TaskError(f"the data has more than one column named {c!r}")
        if pd.api.types.is_bool_dtype(col.dtype) or not pd.api.types.is_numeric_dtype(col.dtype):
            vals = np.empty(len(col), dtype=np.float64)
            for i, x in enumerate(col):
                try:
                    if isinstance(x, (bool, np.bool_)):
                        raise ValueError
                    vals[i] = float(str(x).strip()) if isinstance(x, str) else float(x)
                except (TypeError, ValueError):
                    raise TaskError(f"column {c!r} has non-numeric value {x!r} at data row {i + 1}; it must hold "
                                    "numbers only") from None
        else:
            vals = col.to_numpy(dtype=np.float64, na_value=np.nan)
        if np.isnan(vals).any():
            i = int(np.flatnonzero(np.isnan(vals))[0])
            raise TaskError(f"column {c!r} has {int(np.isnan(vals).sum())} missing value(s), first at data row {i + 1}; "
                            "fill or drop them")
        if not np.isfinite(vals).all():
            raise TaskError(f"column {c!r} has an infinite value at data row {int(np.flatnonzero(~np.isfinite(vals))[0]) + 1}")
        out[:, j] = vals
    if time_column is None or time_column not in names:
        return _Data(out, None, None)
    times = df[time_column].reset_index(drop=True)
    parsed = parse_times(times)
    bad = np.flatnonzero(parsed.isna().to_numpy())
    if len(bad):
        raise TaskError(f"time column {time_column!r} has {len(bad)} unreadable value(s), first at data row {bad[0] + 1}: "
                        f"{times.iloc[bad[0]]!r}")
    if parsed.duplicated().any() or not parsed.is_monotonic_increasing:
        raise TaskError(f"time column {time_column!r} is not sorted or has duplicated timestamps; sort the data by time")
    return _Data(out, times, parsed)


# -- the model ----------------------------------------------------------------------------------------------------
@dataclass
class Backtest:
    """Every window's forecast beside the truth (``forecasts``: one row per window and step) and the error
    measures over them (``errors``: one row for all steps, then one per step)."""

    forecasts: pd.DataFrame
    errors: pd.DataFrame
    windows: int


class Forecaster:
    """An exported model with what it needs to forecast: ``seqnas.load_model(path)``."""

    def __init__(self, model: Any, meta: dict[str, Any], path: str, parts: list[Part] | None = None) -> None:
        self.model = model  # the first part's model (an export of one network or ensemble: that model)
        self.meta = meta
        self.path = path
        self.columns: list[str] = [str(c) for c in meta["columns"]]
        self.target: str = str(meta.get("target") or self.columns[0])
        self.window: int = int(meta["window"])
        self.horizon: int = int(meta["horizon"])
        self.mean = np.asarray(meta["mean"], dtype=np.float64)
        self.std = np.asarray(meta["std"], dtype=np.float64)
        task = meta.get("task") or {}
        self.time_column: str | None = meta.get("time_column", task.get("time_column"))
        self.time_step: dict[str, Any] | None = meta.get("time_step")
        self.calendar: list[str] = [str(c) for c in meta.get("calendar") or []]  # calendar inputs from the time column
        scale = meta.get("naive_mae")
        self.naive_mae: float | None = float(scale) if scale is not None else None
        kind = "statistical" if meta.get("kind") == "statistical" else "network"
        self.parts = parts or [Part(kind, model, 1.0, self.window, tuple(self.calendar))]
        # The rows a forecast reads: the longest a part needs (a statistical model's lags can outreach the networks' window).
        self.window = max([self.window, *(int(getattr(p.model, "min_history", 1)) for p in self.parts if p.kind == "statistical")])

    def __repr__(self) -> str:
        return (f"Forecaster({self.path!r}: {self.target!r} from {self.columns}, window {self.window}, "
                f"horizon {self.horizon})")

    # The data: a DataFrame, a CSV file, or None for the task's own series.
    def _data(self, data: Any) -> _Data:
        if isinstance(data, pd.DataFrame):
            return _from_frame(data, self.columns, self.time_column)
        if isinstance(data, (str, Path)):
            return _from_csv(str(data), self.columns, self.time_column)
        if data is None:
            return self._own_data()
        raise UserError(f"give the data as a pandas DataFrame or a CSV file path, not {type(data).__name__}")

    def _own_data(self) -> _Data:
        task = self.meta.get("task") or {}
        if task.get("name") == "csv":
            if not task.get("csv") or not Path(task["csv"]).is_file():
                raise TaskError(f"the model's training file {task.get('csv')!r} is gone; give the data (--csv FILE)")
            return _from_csv(task["csv"], self.columns, self.time_column)
        from seqnas.tasks.builtin import BUILTIN_TASKS

        if task.get("name") not in BUILTIN_TASKS:
            raise TaskError("the export does not say which data it was trained on; give the data (--csv FILE)")
        return _Data(np.asarray(BUILTIN_TASKS[task["name"]].load(), dtype=np.float64), None, None)

    def _inputs(self, d: _Data, calendar: tuple[str, ...] | list[str]) -> np.ndarray:
        """Every row's model inputs: the columns scaled as the task's windows were, then the calendar inputs."""
        scaled = ((d.values - self.mean) / self.std).astype(np.float32)
        if not calendar:
            return scaled
        if d.times is None or self.time_column is None:
            raise TaskError(f"the model reads calendar inputs computed from the time column {self.time_column!r}; "
                            "give data with that column")
        from seqnas.tasks.calendar import calendar_features, wall_clock

        cal = calendar_features(wall_clock(d.times), list(calendar))
        return np.concatenate([scaled, cal.astype(np.float32)], axis=1)

    def _forecast(self, d: _Data, origins: np.ndarray) -> np.ndarray:
        """The forecasts (len(origins), horizon) in the target's units from the rows up to each origin (its last row):
        the weighted sum of the parts' (a network reads its ``window`` rows before, scaled; a statistical model the
        whole history of the target)."""
        from seqnas.evaluation.training import forecast, unscale

        total = np.zeros((len(origins), self.horizon), dtype=np.float64)
        inputs: dict[tuple[str, ...], np.ndarray] = {}  # the scaled rows, once per set of calendar inputs, not per part
        for part in self.parts:
            if part.kind == "statistical":
                out = np.asarray(part.model.forecast_origins(d.values[:, 0], origins), dtype=np.float64)
            else:
                if part.calendar not in inputs:
                    inputs[part.calendar] = self._inputs(d, part.calendar)
                X = inputs[part.calendar][origins[:, None] - part.window + 1 + np.arange(part.window)[None, :]]
                out = unscale(forecast(part.model, X), self.mean[0], self.std[0])
            total += part.weight * out
        return total

    def predict(self, data: Any = None) -> pd.DataFrame:
        """The ``horizon`` steps after the last row of ``data`` (a DataFrame with the model's columns, a
        CSV file, or None: the data the model was trained on), in the target's own units: columns
        ``step``, the time column (continued) where the data has one, ``forecast``."""
        d = self._data(data)
        if len(d.values) < self.window:
            raise TaskError(f"the data has {len(d.values)} rows, too few to forecast: the model reads the last "
                            f"{self.window} rows")
        pred = self._forecast(d, np.array([len(d.values) - 1]))[0]
        out: dict[str, Any] = {"step": np.arange(1, self.horizon + 1)}
        if d.parsed is not None and self.time_column is not None:
            step = self.time_step or infer_time_step(d.parsed)
            if step is not None:
                _check_time_kind(d.parsed, step, self.time_column)
                out[self.time_column] = time_text(continue_times(d.parsed.iloc[-1], step, self.horizon))
        out["forecast"] = pred
        return pd.DataFrame(out)

    def backtest(self, data: Any = None) -> Backtest:
        """Slide over ``data``: every window of ``window`` rows with ``horizon`` rows after it is forecast.
        ``forecasts`` has one row per window and step: ``window`` (its index, 0 first), ``origin`` (the time,
        or data row number, of its last input row), ``step``, the target's time (or ``row``), ``actual``,
        ``forecast``, ``error`` (forecast - actual); ``errors`` the error measures (all steps, then each)."""
        d = self._data(data)
        rows = len(d.values)
        n = rows - self.window - self.horizon + 1
        if n < 1:
            raise TaskError(f"the data has {rows} rows, too few for one backtest window: {self.window} input rows and "
                            f"{self.horizon} to compare with, {self.window + self.horizon} in all")
        idx = np.arange(n)[:, None]
        target_rows = idx + self.window + np.arange(self.horizon)[None, :]  # (n, horizon)
        pred = self._forecast(d, np.arange(n) + self.window - 1)
        actual = d.values[target_rows, 0]
        origin_rows = np.repeat(np.arange(n) + self.window - 1, self.horizon)
        flat_rows = target_rows.reshape(-1)
        frame: dict[str, Any] = {"window": np.repeat(np.arange(n), self.horizon)}
        if d.times is not None and self.time_column is not None:
            times = d.times.to_numpy()
            frame["origin"] = times[origin_rows]
            frame["step"] = np.tile(np.arange(1, self.horizon + 1), n)
            frame[self.time_column] = times[flat_rows]
        else:
            frame["origin"] = origin_rows + 1  # data row numbers, 1 first, as in the error messages
            frame["step"] = np.tile(np.arange(1, self.horizon + 1), n)
            frame["row"] = flat_rows + 1
        frame["actual"] = actual.reshape(-1)
        frame["forecast"] = pred.reshape(-1)
        frame["error"] = (pred - actual).reshape(-1)
        return Backtest(pd.DataFrame(frame), error_table(pred, actual, self.naive_mae), n)


def error_table(forecast: np.ndarray, actual: np.ndarray, scale: float | None) -> pd.DataFrame:
    """The error measures as a table: a row ``all`` (every step), then a row per step ("1", "2", ...)."""
    e = errors(forecast, actual, scale)
    measures = [m for m in MEASURES if m in e]
    steps = forecast.shape[1] if forecast.ndim == 2 else 1
    rows = [{"step": "all", **{m: e[m] for m in measures}}]
    rows += [{"step": str(k + 1), **{m: e[f"{m}_per_step"][k] for m in measures}} for k in range(steps)]
    return pd.DataFrame(rows, columns=["step", *measures])


def _check_time_kind(parsed: pd.Series, step: dict[str, Any], column: str) -> None:
    is_dt = pd.api.types.is_datetime64_any_dtype(parsed.dtype)
    if is_dt != (step["kind"] == "datetime"):
        raise TaskError(f"time column {column!r} holds {'timestamps' if is_dt else 'numbers'} here but "
                        f"{'timestamps' if step['kind'] == 'datetime' else 'numbers'} in the training data")


def load_model(path: str | Path) -> Forecaster:
    """An exported model (``seqnas export --out PATH``) ready to forecast: ``load_model(p).predict(df)``."""
    from seqnas.export import load_exported

    p = Path(path)
    if not (p / "arch.json").is_file():
        raise ModelError(f"{str(p)!r} is not a seqnas export (no arch.json); write one with `seqnas export --out DIR`")
    try:
        meta = json.loads((p / "arch.json").read_text())
    except (OSError, ValueError) as e:
        raise ModelError(f"cannot read {str(p / 'arch.json')!r}: {e}") from None
    if not isinstance(meta, dict) or "n_features" not in meta:
        raise ModelError(f"{str(p)!r} holds an architecture only (an objective-function study), no model to forecast with")
    if meta.get("kind") == "ensemble":
        from seqnas.composite import load_parts

        try:
            parts = load_parts(p, meta)
        except Exception as e:  # noqa: BLE001 - a damaged or missing file: one line, not a traceback
            raise ModelError(f"cannot load the ensemble in {str(p)!r} ({type(e).__name__}: {e}); export the study again") from None
        return Forecaster(parts[0].model, meta, str(p), parts)
    if meta.get("kind") == "statistical":
        import pickle

        try:
            return Forecaster(pickle.loads((p / "model.pkl").read_bytes()), meta, str(p))
        except Exception as e:  # noqa: BLE001 - a damaged or missing file: one line, not a traceback
            raise ModelError(f"cannot load the statistical model in {str(p)!r} ({type(e).__name__}); export the study again") from None
    if not (p / "model.pt").is_file():
        raise ModelError(f"{str(p)!r} has no model.pt; export the study again")
    try:
        model, meta = load_exported(p)
    except UserError:
        raise
    except Exception as e:  # noqa: BLE001 - a damaged or foreign file: one line, not a traceback
        raise ModelError(f"cannot load the model in {str(p)!r}: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}") from None
    return Forecaster(model, meta, str(p))


def format_number(v: Any) -> str:
    if isinstance(v, float):
        return "-" if not math.isfinite(v) else f"{v:.4g}"
    return str(v)


__all__ = ["Backtest", "Forecaster", "ModelError", "continue_times", "error_table", "infer_time_step", "load_model",
           "parse_times"]
