"""Forecast errors in the data's own units: MAE, RMSE, sMAPE, MAPE and MASE, overall and per horizon step.

Definitions (``F`` forecast, ``A`` actual value, both unscaled; means over every window and step):

- MAE = mean |F - A|; RMSE = sqrt(mean (F - A)^2), both in the target's units;
- sMAPE = 100 * mean 2|F - A| / (|A| + |F|), in percent (a term with A = F = 0 counts 0);
- MAPE = 100 * mean |F - A| / |A|, in percent; left out where an actual value is 0;
- MASE = MAE / the MAE of the in-sample naive forecast (each value predicted by the one before it,
  over the rows the training part covers; Hyndman & Koehler 2006). Below 1: better than repeating
  the last value one step ahead.

Every figure is also given per horizon step (``<split>_<measure>_per_step``: a list, step 1 first).
Pure numpy: usable without torch.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

MEASURES = ("mae", "rmse", "smape", "mape", "mase")
SPLITS = ("val", "test")
# The overall figures stored with each task trial (``<split>_<measure>``); the validation ones may be objectives.
UNIT_METRICS = tuple(f"{split}_{m}" for split in SPLITS for m in MEASURES)
VAL_UNIT_METRICS = tuple(f"val_{m}" for m in MEASURES)
DESCRIPTIONS = {
    "mae": "mean absolute error, target units",
    "rmse": "root mean squared error, target units",
    "smape": "symmetric mean absolute percentage error, %",
    "mape": "mean absolute percentage error, % (only where no actual value is 0)",
    "mase": "MAE / in-sample naive forecast's MAE (< 1 beats repeating the last value)",
}


def naive_scale(target: np.ndarray) -> float | None:
    """MAE of the in-sample naive forecast of a target series: mean |y_t - y_(t-1)| (None if undefined)."""
    y = np.asarray(target, dtype=np.float64).reshape(-1)
    if len(y) < 2:
        return None
    s = float(np.mean(np.abs(np.diff(y))))
    return s if math.isfinite(s) and s > 0 else None


def errors(forecast: np.ndarray, actual: np.ndarray, scale: float | None = None) -> dict[str, Any]:
    """The error measures of ``forecast`` against ``actual`` (both (windows, horizon), same units).

    Returns ``mae, rmse, smape[, mape][, mase]`` (floats) and the same with ``_per_step`` (lists of
    ``horizon`` floats). ``mape`` is left out when an actual value is 0, ``mase`` without a ``scale``
    (the in-sample naive MAE, ``naive_scale``).
    """
    f = np.asarray(forecast, dtype=np.float64)
    a = np.asarray(actual, dtype=np.float64)
    if f.ndim == 1:
        f, a = f[:, None], a[:, None]
    if f.shape != a.shape or f.ndim != 2 or f.size == 0:
        raise ValueError(f"forecast {f.shape} and actual {a.shape} must be the same non-empty (windows, horizon) shape")
    err = f - a
    absolute = np.abs(err)
    denom = np.abs(a) + np.abs(f)
    with np.errstate(divide="ignore", invalid="ignore"):
        sym = np.where(denom > 0, 2.0 * absolute / denom, 0.0)
    per_step: dict[str, np.ndarray] = {
        "mae": absolute.mean(axis=0),
        "rmse": np.sqrt((err**2).mean(axis=0)),
        "smape": 100.0 * sym.mean(axis=0),
    }
    overall: dict[str, float] = {
        "mae": float(absolute.mean()),
        "rmse": float(np.sqrt((err**2).mean())),
        "smape": float(100.0 * sym.mean()),
    }
    if not np.any(a == 0):
        rel = absolute / np.abs(a)
        per_step["mape"], overall["mape"] = 100.0 * rel.mean(axis=0), float(100.0 * rel.mean())
    if scale is not None and math.isfinite(scale) and scale > 0:
        per_step["mase"], overall["mase"] = per_step["mae"] / scale, overall["mae"] / scale
    out: dict[str, Any] = {}
    for m in MEASURES:
        if m in overall:
            out[m] = overall[m]
            out[f"{m}_per_step"] = [float(x) for x in per_step[m]]
    return out


def split_errors(split: str, forecast: np.ndarray, actual: np.ndarray, scale: float | None) -> dict[str, Any]:
    """``errors`` with every key prefixed by the split: ``val_mae``, ``val_mae_per_step``, ..."""
    return {f"{split}_{k}": v for k, v in errors(forecast, actual, scale).items()}


def unit_table(metrics: dict[str, Any], split: str) -> list[tuple[str, list[float | None]]]:
    """Rows (label, [overall, step 1, step 2, ...]) of the measures a trial's metrics hold for ``split``,
    for display; [] for a trial stored before these measures existed."""
    rows: list[tuple[str, list[float | None]]] = []
    for m in MEASURES:
        v = metrics.get(f"{split}_{m}")
        if v is None:
            continue
        steps = metrics.get(f"{split}_{m}_per_step") or []
        rows.append((m, [_float(v), *[_float(x) for x in steps]]))
    return rows


def _float(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


__all__ = ["DESCRIPTIONS", "MEASURES", "SPLITS", "UNIT_METRICS", "VAL_UNIT_METRICS", "errors", "naive_scale",
           "split_errors", "unit_table"]
