"""Forecasting tasks: a series cut into windows, split chronologically, scaled on train only."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from seqnas.errors import TaskError


@dataclass(frozen=True)
class TaskSpec:
    """Everything needed to rebuild a task in any process: small, hashable, JSON-able.

    ``name`` is a built-in task or ``"csv"`` (then ``csv``, ``target`` and optional
    ``features`` / ``time_column`` say where the data is). ``window`` and ``horizon`` of
    ``None`` take the task's defaults. ``calendar`` adds hour-of-day / day-of-week / time-of-year
    inputs from the time column (``seqnas.tasks.calendar``). ``reach`` is the longest window any
    trial of a study may use (a study that searches the window sets it): the splits are then built
    on target times from row ``reach`` on, so that every window length is measured on the same
    validation and test target time points.
    """

    name: str
    csv: str | None = None
    target: str | None = None
    features: tuple[str, ...] = ()
    time_column: str | None = None
    window: int | None = None
    horizon: int | None = None
    val_fraction: float = 0.15
    test_fraction: float = 0.15
    calendar: bool = False
    reach: int | None = None
    season: int | None = None  # the series' season in steps, for a seasonal base forecast (seqnas.models.base_forecast)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["features"] = list(self.features)
        for name in ("calendar", "reach", "season"):  # left out at their defaults: stored as before they existed
            if not d[name]:
                d.pop(name)
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> TaskSpec:
        d = dict(d)
        d["features"] = tuple(d.get("features") or ())
        return cls(**d)

    @property
    def label(self) -> str:
        return f"csv:{self.csv}:{self.target}" if self.name == "csv" else self.name


@dataclass
class TaskData:
    """Windows ready for training: X is (n, window, features), y is (n, horizon), scaled.

    Window ``i`` of the whole series forecasts the target (column 0) at rows ``first + i .. first + i +
    horizon - 1`` from the ``window`` rows before them, where ``first = info["first_target"]`` (the
    window itself, or a study's longest window: ``TaskSpec.reach``); the validation windows start at
    ``info["val_start"]``, the test windows at ``info["test_start"]`` (window indices). X's last
    ``len(info["calendar"])`` columns, if any, are calendar inputs (not scaled: they are in [-1, 1]).
    """

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    columns: list[str]
    target: str
    mean: np.ndarray  # per column, fitted on the training part only
    std: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)
    # The series as read, unscaled (time, columns), target first: the truth of the error measures in
    # the data's own units (None for a TaskData built by hand: they are then unscaled from y).
    series: np.ndarray | None = None

    @property
    def n_features(self) -> int:
        return int(self.X_train.shape[2])

    @property
    def window(self) -> int:
        return int(self.X_train.shape[1])

    @property
    def horizon(self) -> int:
        return int(self.y_train.shape[1])

    def target_rows(self, split: str) -> np.ndarray:
        """The series rows (windows, horizon) of the targets of a split's windows ("train", "val" or "test")."""
        y = {"train": self.y_train, "val": self.y_val, "test": self.y_test}[split]
        start = 0 if split == "train" else int(self.info[f"{split}_start"])
        first = int(self.info.get("first_target", self.window))
        return (start + np.arange(len(y)))[:, None] + first + np.arange(self.horizon)[None, :]


def make_windows(
    values: np.ndarray,
    target_index: int,
    window: int,
    horizon: int,
    val_fraction: float,
    test_fraction: float,
    *,
    name: str,
    columns: list[str],
    min_windows_per_split: int = 4,
    reach: int | None = None,
    calendar: tuple[np.ndarray, list[str]] | None = None,
) -> TaskData:
    """Cut a (time, columns) array into windows and split them chronologically.

    The splits are made on target times: the first window's first target is row ``max(window,
    reach)``, so windows of every length up to ``reach`` forecast the same target rows, split the
    same way. ``calendar``: (rows, k) inputs and their names, appended to every window's columns.

    Each window's split is the split its targets fall in: with a horizon above 1, the
    ``horizon - 1`` windows whose targets straddle a split boundary are dropped, so no target
    row belongs to two splits. The scaling statistics are fitted on the series up to the last
    training target, so nothing from validation or test leaks into them (inputs of the first
    validation windows may come from the training period, which is only the past).
    """
    if values.ndim != 2:
        raise TaskError("series must be a 2-D array (time, columns)")
    if window < 1 or horizon < 1:
        raise TaskError(f"window and horizon must be at least 1, got window={window}, horizon={horizon}")
    if not (0 < val_fraction < 1 and 0 < test_fraction < 1 and val_fraction + test_fraction < 0.9):
        raise TaskError("val and test fractions must be in (0, 1) and leave at least 10% for training")
    first = max(window, reach or 0)  # the first window's first target row
    n = len(values) - first - horizon + 1
    gap = horizon - 1  # windows dropped at each of the two split boundaries
    need = first + horizon + 3 * min_windows_per_split + 2 * gap - 1
    if n < 3 * min_windows_per_split + 2 * gap:
        raise TaskError(
            f"series {name!r} has {len(values)} rows, too short for window {first} + horizon {horizon}: "
            f"need at least {need} rows, or use a smaller --window/--horizon"
        )
    usable = n - 2 * gap
    n_test = max(min_windows_per_split, int(round(usable * test_fraction)))
    n_val = max(min_windows_per_split, int(round(usable * val_fraction)))
    n_train = usable - n_val - n_test
    if n_train < min_windows_per_split:
        raise TaskError(f"series {name!r} is too short to split into train/validation/test; need at least {need} rows")
    train_end = n_train - 1 + first + horizon  # rows seen by the training targets
    fit = values[:train_end]
    with np.errstate(over="ignore", invalid="ignore"):
        mean = fit.mean(axis=0)
        std = fit.std(axis=0)
    huge = [columns[i] for i in np.flatnonzero(~(np.isfinite(mean) & np.isfinite(std)))]
    if huge:
        raise TaskError(f"column(s) {huge} of {name!r} hold values too large to standardise (overflow); rescale them")
    const = [columns[i] for i in np.flatnonzero(std < 1e-12)]
    if const:
        raise TaskError(f"column(s) {const} are constant over the training part of {name!r}; drop them or pick another target")
    scaled64 = (values - mean) / std
    far = np.abs(scaled64) > 1e6  # float32 training would overflow long before; it is a unit mistake or a glitch
    if far.any():
        row, col = (int(i) for i in np.argwhere(far)[0])
        raise TaskError(f"column {columns[col]!r} of {name!r} at data row {row + 1} is {scaled64[row, col]:.3g} standard "
                        "deviations from the training part's mean; fix that value or rescale the column")
    scaled = scaled64.astype(np.float32)
    names: list[str] = []
    if calendar is not None:
        cal, names = calendar
        scaled = np.concatenate([scaled, cal.astype(np.float32)], axis=1)
    idx = np.arange(n)[:, None]
    X = scaled[idx + (first - window) + np.arange(window)[None, :]]  # (n, window, columns)
    y = scaled[idx + first + np.arange(horizon)[None, :], target_index]  # (n, horizon)
    a = n_train + gap  # first validation window
    b = a + n_val + gap  # first test window
    return TaskData(
        name=name,
        X_train=X[:n_train], y_train=y[:n_train], X_val=X[a:a + n_val], y_val=y[a:a + n_val], X_test=X[b:], y_test=y[b:],
        columns=columns, target=columns[target_index], mean=mean, std=std,
        info={"rows": len(values), "windows": n, "train": n_train, "val": n_val, "test": n_test, "gap": gap,
              "window": window, "horizon": horizon, "scaling_rows": train_end, "val_start": a, "test_start": b,
              "first_target": first, "calendar": names},
        series=values,
    )
