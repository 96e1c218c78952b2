"""Statistical forecasters: hand computations and planted series, scored on the networks' own target rows."""

from __future__ import annotations

import dataclasses
import os
import pickle

import numpy as np
import pytest

from seqnas import statistical as st
from seqnas.baselines import persistence
from seqnas.errors import ConfigError
from seqnas.tasks.base import TaskData, make_windows


def task(y: np.ndarray, window: int = 24, horizon: int = 6, reach: int | None = None) -> TaskData:
    return make_windows(np.asarray(y, dtype=np.float64)[:, None], 0, window, horizon, 0.15, 0.15,
                        name="planted", columns=["y"], reach=reach)


def seasonal_series(n: int = 600) -> np.ndarray:
    t = np.arange(n)
    return 10.0 + np.sin(2 * np.pi * t / 12) + 0.002 * t  # period 12, a small trend, no noise


@pytest.fixture(scope="module")
def seasonal() -> tuple[TaskData, dict[str, st.StatForecast]]:
    data = task(seasonal_series())
    return data, st.score_all(data, 12)


def test_seasonal_naive_is_the_value_one_season_back_by_hand() -> None:
    y = np.random.default_rng(3).normal(size=60).round(3)
    fitted = st.fit("seasonal_naive", task(y, window=4), 4)
    # origin 19, season 4: steps 1-4 look one season back (rows 16..19), steps 5-6 two seasons back (16, 17)
    assert np.array_equal(fitted.forecast(y[:20]), np.array([y[16], y[17], y[18], y[19], y[16], y[17]]))
    naive = st.fit("seasonal_naive", task(y, window=4), None)
    assert np.array_equal(naive.forecast(y[:20]), np.full(6, y[19]))
    assert np.array_equal(naive.forecast_origins(y, np.array([7, 30])), np.array([[y[7]] * 6, [y[30]] * 6]))


def test_planted_seasonal_series_is_forecast_almost_exactly(seasonal: tuple[TaskData, dict[str, st.StatForecast]]) -> None:
    data, scores = seasonal
    assert set(scores) == set(st.MODELS)
    # seasonal naive misses exactly one season of trend (horizon 6 < season 12): 0.002 * 12 in the data's units
    assert scores["seasonal_naive"].test_mse == pytest.approx((0.002 * 12 / data.std[0]) ** 2, rel=1e-3)
    # standardised units: the series' variance over the training part is 1
    assert scores["auto_ets"].test_mse < 0.02, scores["auto_ets"].test_mse
    assert scores["auto_theta"].test_mse < 0.02, scores["auto_theta"].test_mse
    for s in scores.values():
        assert s.cpu_seconds > 0 and s.name in st.MODELS and np.isfinite(s.val_mse)


def test_random_walk_no_model_is_wildly_worse_than_naive() -> None:
    data = task(np.cumsum(np.random.default_rng(0).normal(size=600)))
    scores = st.score_all(data, None)
    naive = scores["seasonal_naive"].test_mse
    for name, s in scores.items():
        assert s.test_mse < 1.5 * naive, (name, s.test_mse, naive)


def test_fit_uses_only_the_training_part_and_forecasts_do_not_leak() -> None:
    y = seasonal_series(300) + np.random.default_rng(1).normal(scale=0.1, size=300)
    data = task(y)
    train_end, test_first = int(data.info["scaling_rows"]), int(data.target_rows("test")[0, 0])
    changed_test, changed_later = y.copy(), y.copy()
    changed_test[test_first:] = 3 * y[test_first:] + 5
    changed_later[train_end:] = 2 * y[train_end:] - 4
    for name in st.MODELS:
        a = st.score(name, data, 12)
        b = st.score(name, dataclasses.replace(data, series=changed_test[:, None]), 12)
        assert np.array_equal(a.val, b.val), name  # the validation forecasts never see the test part
        assert not np.allclose(a.test, b.test), name
        refit = st.fit(name, dataclasses.replace(data, series=changed_later[:, None]), 12)
        assert np.array_equal(refit.forecast(y[:train_end]), a.fitted.forecast(y[:train_end])), name


def test_lightgbm_learns_a_planted_lag_structure() -> None:
    rng = np.random.default_rng(2)
    y = rng.normal(size=1500)
    for t in range(24, len(y)):
        y[t] = 0.8 * y[t - 24] + rng.normal()
    data = task(y, window=48, horizon=3)
    gbm, naive = st.score("lightgbm", data, 24), st.score("seasonal_naive", data, None)
    # best possible: 1 / var(y) = 0.36 of the variance; naive about 2 * (1 - 0) = 2
    assert gbm.test_mse < 0.5 * naive.test_mse, (gbm.test_mse, naive.test_mse)
    assert gbm.test_mse < 0.5


def test_forecasts_are_on_the_studys_own_target_rows() -> None:
    y = seasonal_series(400) + np.random.default_rng(4).normal(scale=0.3, size=400)
    data = task(y, window=48, horizon=3, reach=96)
    assert int(data.info["first_target"]) == 96
    scores = st.score_all(data, 12)
    assert set(scores) == set(st.MODELS)
    for name, s in scores.items():
        assert s.val.shape == data.y_val.shape and s.test.shape == data.y_test.shape, name
        val = np.mean(((s.val - data.mean[0]) / data.std[0] - data.y_val.astype(np.float64)) ** 2)
        test = np.mean(((s.test - data.mean[0]) / data.std[0] - data.y_test.astype(np.float64)) ** 2)
        assert s.val_mse == pytest.approx(val, rel=1e-12) and s.test_mse == pytest.approx(test, rel=1e-12), name
    naive = st.score("seasonal_naive", data, None)
    rows = data.target_rows("val")
    assert np.array_equal(naive.val, np.repeat(y[rows[:, :1] - 1], 3, axis=1))  # the row just before each window's targets
    expected = persistence(data)  # the networks' persistence baseline, computed from the windows
    assert naive.val_mse == pytest.approx(expected["val_mse"], rel=1e-5)
    assert naive.test_mse == pytest.approx(expected["test_mse"], rel=1e-5)


def test_fitted_models_pickle_and_forecast_one_history_like_many(seasonal: tuple[TaskData, dict[str, st.StatForecast]]) -> None:
    data, scores = seasonal
    assert data.series is not None
    y = data.series[:, 0]
    origins = data.target_rows("test")[:, 0] - 1
    for name, s in scores.items():
        fitted = s.fitted
        back = pickle.loads(pickle.dumps(fitted))
        assert (back.name, back.season, back.horizon) == (name, 12, data.horizon)
        many = fitted.forecast_origins(y, origins)
        assert np.array_equal(many, s.test), name
        assert np.array_equal(back.forecast_origins(y, origins), many), name
        for i in (0, len(origins) // 2, len(origins) - 1):
            np.testing.assert_allclose(fitted.forecast(y[: origins[i] + 1]), many[i], rtol=1e-10, atol=1e-10, err_msg=name)


def test_a_model_that_cannot_run_is_left_out() -> None:
    data = task(seasonal_series(200), window=12, horizon=2)
    season = int(data.info["scaling_rows"]) // 2 + 1
    skipped: dict[str, str] = {}
    scores = st.score_all(data, season, ("seasonal_naive", "auto_ets"), skipped=skipped)
    assert "seasonal_naive" not in scores and "season" in skipped["seasonal_naive"]
    assert "auto_ets" in scores
    with pytest.raises(st.ModelUnavailable):
        st.score("seasonal_naive", data, season)
    with pytest.raises(ConfigError):
        st.score_all(data, 12, ("arima",))


def test_threads_are_restored() -> None:
    before = os.environ.get("OMP_NUM_THREADS")
    st.score("lightgbm", task(seasonal_series(200), window=12, horizon=2), 12)
    assert os.environ.get("OMP_NUM_THREADS") == before


def test_ridge_recovers_a_planted_linear_recurrence():
    """y[t] = 1.2 y[t-1] - 0.5 y[t-2] + noise: a linear function of the last values, so the ridge's one-step forecasts
    are at the noise level (MSE about the noise variance 0.01), below repeating the last value."""
    from seqnas.statistical import score
    from seqnas.tasks.base import make_windows

    rng = np.random.default_rng(3)
    y = np.zeros(1500)
    y[:2] = 1.0
    for t in range(2, len(y)):
        y[t] = 1.2 * y[t - 1] - 0.5 * y[t - 2] + rng.normal(0, 0.1)
    data = make_windows(y[:, None], 0, 30, 1, 0.15, 0.15, name="ar2", columns=["y"])
    ridge, naive = score("ridge", data, None), score("seasonal_naive", data, None)
    test_rows = data.target_rows("test")[:, 0]
    unit_mse = float(np.mean((ridge.test[:, 0] - y[test_rows]) ** 2))
    assert unit_mse < 0.013  # the noise's variance is 0.01
    assert ridge.test_mse < naive.test_mse
