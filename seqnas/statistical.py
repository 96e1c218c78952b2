"""Statistical and tabular forecasters scored on exactly the networks' target rows.

Each model is fitted once on the training part of the target (``data.series[:scaling_rows, 0]``),
then forecasts every validation and test window from its origin (the row before the window's first
target) without refitting: statsforecast's ``cross_validation(refit=False)`` semantics, parameters
fixed by the training fit and state updated by the history observed up to the origin. ``val_mse`` /
``test_mse`` are in standardised units on ``data.y_val`` / ``data.y_test``, the networks' own truth.

- ``seasonal_naive`` (numpy): the value one season back, ``y[origin + h - season * ceil(h / season)]``;
  without a season the last value. Needs a season of at most half the training part.
- ``auto_ets`` (statsforecast ``AutoETS(season_length=season or 1)``): ETS chosen by AICc. All origins
  from one filter pass: ``forward`` re-runs the fixed-parameter filter from the fitted initial state,
  so its state at row ``o`` is the pass's state after row ``o`` (equal to ``forward`` to rounding).
- ``auto_theta`` (statsforecast ``AutoTheta(season_length=season or 1)``): a loop over origins calling
  ``forward`` (it re-tests and re-estimates the seasonal decomposition on each history, so no one pass).
- ``ridge`` (numpy): ridge regression of the next ``horizon`` values on seven seasons of lags (at least 24, at most 336;
  relative to the last value) and a one-hot of the origin's position in the season; penalty on the last 15% of the
  training windows. 0.17 CPU-s on the 8,760-row hourly series below (test MSE 0.52 vs LightGBM's 0.57).
- ``lightgbm`` (lightgbm): one booster per horizon step (direct strategy). Features: the last value,
  the ``L - 1`` values before it minus the last value (``L = max(2 * season, 24)``, capped at half
  the training part less the horizon), and the target time's position in the season (row index mod
  season); the label is the target minus the last value. 300 trees at most, learning rate 0.1,
  early stopping (20 rounds) on the last 15% of the training windows, ``deterministic=True``, one
  thread, seed 0. Direct rather than recursive, measured on 8,760-row hourly series (daily + weekly
  sines + AR(0.9) noise, horizon 24, 30% held out): test MSE 63.5 direct vs 68.5 recursive (naive 491,
  seasonal naive 138) for 5.0 vs 0.3 CPU-s; on ``y[t] = 0.8 y[t-24] + noise`` both 1.03.

The season is the caller's (e.g. 24 for hourly data); ``None`` or 1 means none.
Everything runs on one thread (OMP/MKL variables and threadpoolctl, restored afterwards).

Costs measured (2 busy cores, process CPU time). statsforecast 2.1.1 uses no numba (its models are
compiled C++ in ``statsforecast._lib``; numba is not installed): nothing is compiled on first use,
importing it costs ~1.0 CPU-s and a first fit no more than later ones. ``score`` on the 8,760-row
hourly series above (window 48, horizon 24, 15%/15% validation/test: 2,592 origins), season 24:
seasonal_naive <0.01 s, auto_ets 3.9 s (2.8 s of it the fit; it picked ETS(A,N,N) there),
lightgbm 5.6 s, auto_theta 59 s (23 ms per origin: statsforecast's theta filter is quadratic in the
history's length, 1.4 ms at 2,000 rows and 19 ms at 8,000, so its cost grows with the cube of a
series' length: leave it out of ``models`` for long series).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from seqnas.errors import ConfigError, TaskError
from seqnas.tasks.base import TaskData
from seqnas.threads import ONE_THREAD_ENV, environment

MODELS = ("seasonal_naive", "auto_ets", "auto_theta", "lightgbm", "ridge")
RIDGE_PENALTIES = tuple(float(a) for a in np.logspace(-3, 4, 15))
LGB_PARAMS: dict[str, Any] = {"objective": "l2", "learning_rate": 0.1, "num_leaves": 31, "min_data_in_leaf": 20,
                              "seed": 0, "deterministic": True, "force_col_wise": True, "num_threads": 1, "verbose": -1}
LGB_ROUNDS, LGB_PATIENCE, LGB_HOLDOUT, LGB_MIN_WINDOWS = 300, 20, 0.15, 20


class ModelUnavailable(TaskError):
    """A model that cannot run on this data (season too long, too few rows): ``score_all`` leaves it out."""


@contextmanager
def _one_thread() -> Iterator[None]:
    from threadpoolctl import threadpool_limits

    with environment(ONE_THREAD_ENV), threadpool_limits(limits=1):
        yield


class Fitted:
    """A model fitted on a task's training part: forecasts ``horizon`` steps from any origin (picklable)."""

    name: str
    season: int | None
    horizon: int
    min_history = 1  # rows needed up to the origin

    def __init__(self, name: str, season: int | None, horizon: int) -> None:
        self.name, self.season, self.horizon = name, season, horizon

    def forecast(self, history: np.ndarray) -> np.ndarray:
        """The forecast (horizon,) after ``history``: every target value up to the origin, data units."""
        y = _series(history)
        with _one_thread():
            return np.asarray(self._forecast(y), dtype=np.float64).reshape(self.horizon)

    def forecast_origins(self, series: np.ndarray, origins: np.ndarray) -> np.ndarray:
        """Forecasts (len(origins), horizon) from each origin: the index of its last observed row of ``series``."""
        y, o = _series(series), np.asarray(origins, dtype=np.int64).reshape(-1)
        if len(o) == 0:
            return np.zeros((0, self.horizon))
        if o.min() < self.min_history - 1 or o.max() >= len(y):
            raise ValueError(f"{self.name}: origins must lie in [{self.min_history - 1}, {len(y) - 1}]")
        with _one_thread():
            return np.asarray(self._origins(y, o), dtype=np.float64).reshape(len(o), self.horizon)

    def _forecast(self, y: np.ndarray) -> np.ndarray:
        if len(y) < self.min_history:
            raise ValueError(f"{self.name} needs at least {self.min_history} rows of history, got {len(y)}")
        return self._origins(y, np.array([len(y) - 1]))[0]

    def _origins(self, y: np.ndarray, origins: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class SeasonalNaive(Fitted):
    def __init__(self, season: int | None, horizon: int) -> None:
        super().__init__("seasonal_naive", season, horizon)
        self.min_history = season or 1

    def _origins(self, y: np.ndarray, origins: np.ndarray) -> np.ndarray:
        h = np.arange(1, self.horizon + 1)
        back = np.zeros_like(h) if self.season is None else h - self.season * ((h + self.season - 1) // self.season)
        return y[origins[:, None] + back[None, :]]  # back: 0 (the last value) or h - season * ceil(h / season)


class StatsForecastModel(Fitted):
    """A fitted statsforecast model (AutoETS or AutoTheta): forecasts by ``forward(y=history, h=horizon)``."""

    def __init__(self, name: str, season: int | None, horizon: int, model: Any) -> None:
        super().__init__(name, season, horizon)
        self.model = model

    def _forecast(self, y: np.ndarray) -> np.ndarray:
        return np.asarray(self.model.forward(y=y, h=self.horizon)["mean"])

    def _origins(self, y: np.ndarray, origins: np.ndarray) -> np.ndarray:
        if self.name != "auto_ets":
            return np.stack([self._forecast(y[: o + 1]) for o in origins])
        from statsforecast.ets import forecast_ets, forward_ets

        run = forward_ets(self.model.model_, y[: int(origins.max()) + 1])  # states[t + 1]: after row t
        states = run["states"]
        return np.stack([forecast_ets({**run, "states": states[o + 1: o + 2]}, h=self.horizon)["mean"] for o in origins])


class LightGBMDirect(Fitted):
    """One LightGBM booster per horizon step on lag features relative to the last value."""

    def __init__(self, season: int | None, horizon: int, lags: int, boosters: list[Any]) -> None:
        super().__init__("lightgbm", season, horizon)
        self.lags, self.boosters, self.min_history = lags, boosters, lags

    def _origins(self, y: np.ndarray, origins: np.ndarray) -> np.ndarray:
        base = _lag_block(y, origins, self.lags)
        out = np.empty((len(origins), self.horizon))
        for h, booster in enumerate(self.boosters, start=1):
            X = _with_position(base, origins, h, self.season)
            out[:, h - 1] = booster.predict(X, num_threads=1) + y[origins]
        return out


class RidgeDirect(Fitted):
    """Ridge regression of the next ``horizon`` values (relative to the last one) on a long window of lags (relative to
    the last value) and the origin's position in the season (one-hot): DLinear's point, with the season's profile."""

    def __init__(self, season: int | None, horizon: int, lags: int, coef: np.ndarray, intercept: np.ndarray) -> None:
        super().__init__("ridge", season, horizon)
        self.lags, self.coef, self.intercept, self.min_history = lags, coef, intercept, lags

    def _origins(self, y: np.ndarray, origins: np.ndarray) -> np.ndarray:
        return _ridge_features(y, origins, self.lags, self.season) @ self.coef + self.intercept + y[origins][:, None]


def _ridge_features(y: np.ndarray, origins: np.ndarray, lags: int, season: int | None) -> np.ndarray:
    block = _lag_block(y, origins, lags)[:, 1:]  # the level itself left out: everything is relative to it
    if season is None:
        return block
    return np.hstack([block, np.eye(season)[(origins + 1) % season]])


def _fit_ridge(y: np.ndarray, season: int | None, horizon: int) -> RidgeDirect:
    """Lags: seven seasons (a week of an hourly or daily-cycled series), at least 24, at most a third of the training
    part and 336; the penalty is the one with the lowest MSE on the last 15% of the training windows, then refitted on
    all of them."""
    lags = min(max(7 * (season or 0), 24), (len(y) - horizon) // 3, 336)
    origins = np.arange(lags - 1, len(y) - horizon)
    if lags < 2 or len(origins) < LGB_MIN_WINDOWS:
        raise ModelUnavailable(f"ridge: {len(y)} training rows leave fewer than {LGB_MIN_WINDOWS} windows")
    X = _ridge_features(y, origins, lags, season)
    T = y[origins[:, None] + np.arange(1, horizon + 1)[None, :]] - y[origins][:, None]
    cut = len(origins) - max(1, int(round(LGB_HOLDOUT * len(origins))))

    def solve(A: np.ndarray, B: np.ndarray, penalty: float) -> tuple[np.ndarray, np.ndarray]:
        mean_a, mean_b = A.mean(axis=0), B.mean(axis=0)
        Ac = A - mean_a
        coef = np.linalg.solve(Ac.T @ Ac + penalty * len(A) * np.eye(A.shape[1]), Ac.T @ (B - mean_b))
        return coef, mean_b - mean_a @ coef

    scores = []
    for penalty in RIDGE_PENALTIES:
        coef, icpt = solve(X[:cut], T[:cut], penalty)
        scores.append(float(np.mean((X[cut:] @ coef + icpt - T[cut:]) ** 2)))
    coef, icpt = solve(X, T, RIDGE_PENALTIES[int(np.argmin(scores))])
    return RidgeDirect(season, horizon, lags, coef, icpt)


def _lag_block(y: np.ndarray, origins: np.ndarray, lags: int) -> np.ndarray:
    w = y[origins[:, None] - np.arange(lags)[None, :]]  # lag 0 (the last value) first
    return np.hstack([w[:, :1], w[:, 1:] - w[:, :1]])


def _with_position(base: np.ndarray, origins: np.ndarray, h: int, season: int | None) -> np.ndarray:
    return base if season is None else np.hstack([base, ((origins + h) % season)[:, None].astype(np.float64)])


def _series(values: np.ndarray) -> np.ndarray:
    y = np.asarray(values, dtype=np.float64)
    if y.ndim != 1:
        raise ValueError(f"a target series must be 1-D, got shape {y.shape}")
    return y


@dataclass
class StatForecast:
    """One model scored on a task: forecasts in the target's units, MSEs in standardised units."""

    name: str
    val: np.ndarray
    test: np.ndarray
    val_mse: float
    test_mse: float
    cpu_seconds: float
    fitted: Fitted


def _season(season: int | None) -> int | None:
    if season is None:
        return None
    if isinstance(season, bool) or not isinstance(season, int | np.integer) or season < 1:
        raise ConfigError(f"a season must be a positive whole number of rows or None, got {season!r}")
    return int(season) if season > 1 else None


def _training(data: TaskData) -> np.ndarray:
    if data.series is None:
        raise ModelUnavailable(f"task {data.name!r} carries no series (built by hand): statistical models need it")
    return _series(data.series[: int(data.info["scaling_rows"]), 0])


def fit(name: str, data: TaskData, season: int | None) -> Fitted:
    """Fit model ``name`` on the training part of the target: ``data.series[: scaling_rows, 0]``."""
    if name not in MODELS:
        raise ConfigError(f"unknown statistical model {name!r}; choose from {', '.join(MODELS)}")
    s, y, horizon = _season(season), _training(data), data.horizon
    with _one_thread():
        if name == "seasonal_naive":
            if s is not None and s > len(y) / 2:
                raise ModelUnavailable(f"seasonal_naive: season {s} is longer than half the training part ({len(y)} rows)")
            return SeasonalNaive(s, horizon)
        if name == "lightgbm":
            return _fit_lightgbm(y, s, horizon)
        if name == "ridge":
            return _fit_ridge(y, s, horizon)
        from statsforecast.models import AutoETS, AutoTheta

        model = (AutoETS if name == "auto_ets" else AutoTheta)(season_length=s or 1)
        try:
            model.fit(y)
        except NotImplementedError as e:  # statsforecast's "tiny datasets"
            raise ModelUnavailable(f"{name}: {len(y)} training rows are too few ({e})") from e
        return StatsForecastModel(name, s, horizon, model)


def _fit_lightgbm(y: np.ndarray, season: int | None, horizon: int) -> LightGBMDirect:
    import lightgbm as lgb

    lags = min(max(2 * (season or 0), 24), (len(y) - horizon) // 2)
    origins = np.arange(lags - 1, len(y) - horizon)  # every target of every window inside the training part
    if lags < 2 or len(origins) < LGB_MIN_WINDOWS:
        raise ModelUnavailable(f"lightgbm: {len(y)} training rows leave fewer than {LGB_MIN_WINDOWS} windows")
    cut = len(origins) - max(1, int(round(LGB_HOLDOUT * len(origins))))
    base = _lag_block(y, origins, lags)
    boosters = []
    for h in range(1, horizon + 1):
        X, target = _with_position(base, origins, h, season), y[origins + h] - y[origins]
        train = lgb.Dataset(X[:cut], target[:cut], free_raw_data=True)
        valid = lgb.Dataset(X[cut:], target[cut:], reference=train)
        booster = lgb.train(LGB_PARAMS, train, LGB_ROUNDS, valid_sets=[valid],
                            callbacks=[lgb.early_stopping(LGB_PATIENCE, verbose=False)])
        best = booster.best_iteration or booster.current_iteration()
        boosters.append(lgb.Booster(model_str=booster.model_to_string(num_iteration=best)))  # keeps only the best trees
    return LightGBMDirect(season, horizon, lags, boosters)


def _standardised_mse(forecast: np.ndarray, scaled_truth: np.ndarray, data: TaskData) -> float:
    scaled = (forecast - float(data.mean[0])) / float(data.std[0])
    return float(np.mean((scaled - np.asarray(scaled_truth, dtype=np.float64)) ** 2))


def score(name: str, data: TaskData, season: int | None) -> StatForecast:
    """Fit ``name`` on the training part, then forecast every validation and test window without refitting."""
    start = time.process_time()
    fitted = fit(name, data, season)
    assert data.series is not None  # fit checked it
    series = _series(data.series[:, 0])
    val = fitted.forecast_origins(series, data.target_rows("val")[:, 0] - 1)
    test = fitted.forecast_origins(series, data.target_rows("test")[:, 0] - 1)
    cpu = time.process_time() - start
    bad = [split for split, f in (("validation", val), ("test", test)) if not np.isfinite(f).all()]
    if bad:
        raise ModelUnavailable(f"{name}: non-finite forecasts on the {' and '.join(bad)} windows of {data.name!r}")
    return StatForecast(name=name, val=val, test=test, val_mse=_standardised_mse(val, data.y_val, data),
                        test_mse=_standardised_mse(test, data.y_test, data), cpu_seconds=cpu, fitted=fitted)


def score_all(data: TaskData, season: int | None, models: Sequence[str] = MODELS, *,
              skipped: dict[str, str] | None = None) -> dict[str, StatForecast]:
    """Score each model; one that cannot run on this data is left out (its reason goes into ``skipped``)."""
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        raise ConfigError(f"unknown statistical model(s) {unknown}; choose from {', '.join(MODELS)}")
    out: dict[str, StatForecast] = {}
    for name in models:
        try:
            out[name] = score(name, data, season)
        except ModelUnavailable as e:
            if skipped is not None:
                skipped[name] = str(e)
    return out


__all__ = ["MODELS", "Fitted", "ModelUnavailable", "StatForecast", "fit", "score", "score_all"]
